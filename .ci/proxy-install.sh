#!/usr/bin/env bash
# Proves that the released modules install from outside a checkout, as a user
# will install them once the v0.1.0 tags are pushed (RELEASING.md):
#   1. publish them at v0.1.0 into a file-based module proxy built from this
#      checkout (.ci/localproxy.sh, internal/modproxy);
#   2. in a scratch module in a temporary directory, with GOWORK=off and
#      GOPROXY=file://<proxy>,<the machine's GOPROXY>, `go get` the core and
#      every adapter at v0.1.0, then build and run .ci/installcheck, which uses
#      them all against an in-process fake API on loopback;
#   3. `go install github.com/safecheck/safecheck/cmd/safecheck@v0.1.0` into a
#      temporary GOBIN and run the installed binary.
# Everything it writes is under one temporary directory (its GOPATH, module
# cache and GOBIN included), removed on exit. Needs only Go, git and the
# module proxy. -trimpath keeps the build cache useful across the temporary
# module caches (without it every run recompiles gin, otel and the rest).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. .ci/localproxy.sh

start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/safecheck-proxy-install.XXXXXX")
trap 'localproxy_cleanup "$tmp"' EXIT

echo "-- publishing the released modules at $RELEASE_VERSION into file://$tmp/proxy"
localproxy_env "$tmp"
export GOFLAGS="$GOFLAGS -trimpath"
echo "   GOPROXY=$GOPROXY GONOSUMDB=$GONOSUMDB GOWORK=$GOWORK"

echo "-- go get in a scratch module outside the checkout"
mkdir "$tmp/scratch"
cp .ci/installcheck/main.go "$tmp/scratch/main.go"
cd "$tmp/scratch"
go mod init example.com/installcheck >/dev/null 2>&1
go get github.com/safecheck/safecheck@"$RELEASE_VERSION" \
	github.com/safecheck/safecheck/adapters/gin@"$RELEASE_VERSION" \
	github.com/safecheck/safecheck/adapters/otel@"$RELEASE_VERSION" \
	github.com/safecheck/safecheck/adapters/prometheus@"$RELEASE_VERSION" \
	github.com/safecheck/safecheck/adapters/redis@"$RELEASE_VERSION" 2>&1 | grep -v '^go: downloading' || true
for m in github.com/safecheck/safecheck github.com/safecheck/safecheck/adapters/gin \
	github.com/safecheck/safecheck/adapters/otel github.com/safecheck/safecheck/adapters/prometheus \
	github.com/safecheck/safecheck/adapters/redis; do
	got=$(go list -m -f '{{.Version}} {{.Dir}}' "$m")
	case "$got" in
	"$RELEASE_VERSION $GOMODCACHE/"*) echo "   $m ${got%% *} (from the module cache, not the checkout)" ;;
	*) echo "proxy-install: $m resolved to $got, want $RELEASE_VERSION from the module cache" >&2; exit 1 ;;
	esac
done

echo "-- build and run a program that uses the core and every adapter"
go build -o "$tmp/installcheck" . 2>&1 | grep -v '^go: downloading' || true
"$tmp/installcheck"

echo "-- go install github.com/safecheck/safecheck/cmd/safecheck@$RELEASE_VERSION"
cd "$tmp"
# As a user types it, without -mod=mod. (The safecheck modules' checksums
# are taken as downloaded here, GONOSUMDB; after the release they come from
# the checksum database like any other module's.)
GOFLAGS=${GOFLAGS//-mod=mod/} go install github.com/safecheck/safecheck/cmd/safecheck@"$RELEASE_VERSION" 2>&1 |
	grep -v '^go: downloading' || true
bin="$GOBIN/safecheck"
[ -x "$bin" ] || { echo "proxy-install: $bin was not installed" >&2; exit 1; }
go version -m "$bin" | grep -E "^[[:space:]]+(path|mod|dep)[[:space:]]+github.com/safecheck/" | sed 's/^/  /'
go version -m "$bin" | grep -qE "^[[:space:]]+dep[[:space:]]+github.com/safecheck/safecheck[[:space:]]+$RELEASE_VERSION" ||
	{ echo "proxy-install: the installed binary is not built from the core at $RELEASE_VERSION" >&2; exit 1; }
"$bin" help >"$tmp/help.txt"
grep -q '^Usage:' "$tmp/help.txt" || { echo "proxy-install: safecheck help printed no usage" >&2; cat "$tmp/help.txt" >&2; exit 1; }
"$bin" help eval >/dev/null
echo "   safecheck help: $(head -n 1 "$tmp/help.txt")"

echo "proxy-install: ok in $((SECONDS - start)) s"
