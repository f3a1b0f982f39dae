# Sourced by .ci/proxy-install.sh and .ci/tidy.sh (bash). Publishes the
# released modules of this checkout into a file-based module proxy and points
# the go command at it, so that they resolve at $RELEASE_VERSION before that
# version is tagged, as they will from the public proxy afterwards.
#
# localproxy_env TMP writes the proxy to TMP/proxy and exports:
#   GOPROXY     file://TMP/proxy, then the machine's own GOPROXY as the fallback
#   GOWORK=off  nothing of go.work: modules resolve as an outside user's do
#   GONOSUMDB   the safecheck modules are not in the checksum database (yet)
#   GOPATH, GOMODCACHE, GOBIN  under TMP: the unpublished v0.1.0 never enters
#               the machine's module cache, where it would outlive this run
#               and shadow the real release
#   GOFLAGS     the machine's, plus -mod=mod -modcacherw (so TMP can be removed)
# The build cache (GOCACHE) stays shared: it is keyed by content.
# The caller removes TMP (see localproxy_cleanup).

: "${RELEASE_VERSION:=v0.1.0}"
# The released modules, core first. Each requires the siblings it uses at
# RELEASE_VERSION (modproxy refuses any other version).
RELEASED_MODULES=". adapters/gin adapters/otel adapters/prometheus adapters/redis cmd/safecheck"

localproxy_build() { # DIR: (re)write the proxy from the working tree
	(cd "$ROOT" && go run ./internal/modproxy -version "$RELEASE_VERSION" -o "$1" $RELEASED_MODULES)
}

localproxy_env() { # TMP
	local tmp=$1 fallback flags nosumdb
	fallback=$(go env GOPROXY)
	flags=$(go env GOFLAGS)
	nosumdb=$(go env GONOSUMDB)
	localproxy_build "$tmp/proxy"
	export GOPROXY="file://$tmp/proxy,$fallback"
	export GOWORK=off
	export GONOSUMDB="github.com/safecheck/*${nosumdb:+,$nosumdb}"
	export GOPATH="$tmp/gopath" GOMODCACHE="$tmp/gopath/pkg/mod" GOBIN="$tmp/bin"
	export GOFLAGS="${flags:+$flags }-mod=mod -modcacherw"
}

localproxy_cleanup() { # TMP
	[ -n "$1" ] && [ -d "$1" ] || return 0
	chmod -R u+w "$1" 2>/dev/null || true
	rm -rf "$1"
}
