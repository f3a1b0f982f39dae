#!/usr/bin/env bash
# go mod tidy in every module of go.work, with the versions aligned across
# modules; RELEASING.md says when to run it.
#
# A released module requires github.com/safecheck/safecheck at v0.1.0, which
# the public proxy does not serve until it is tagged, so tidying one with
# GOWORK=off needs the sibling modules from somewhere: this script serves them
# from a file-based proxy built from the checkout (.ci/localproxy.sh). The
# go.sum lines that records for github.com/safecheck/... are checksums of the
# working tree, not of the release, so they are removed again: go.work needs
# none, and a stale one would fail an outside build once the tag exists.
#
# Then every requirement is raised to the version the workspace builds with
# (what go work sync does, without the extra lines it adds: see align) and
# the modules are tidied again, until nothing changes. Running the script a
# second time changes nothing.
#
# To move a dependency: go mod edit -require=MODULE@VERSION in the module
# that uses it (go get in a released module would look for v0.1.0 of the
# core on the public proxy), then run this script.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. .ci/localproxy.sh

modules=$(go list -m -f '{{.Dir}}')
tmp=$(mktemp -d "${TMPDIR:-/tmp}/safecheck-tidy.XXXXXX")
trap 'localproxy_cleanup "$tmp"' EXIT

tidy_all() { # PASS
	# The core first, alone: the proxy then serves its go.mod as v0.1.0's.
	echo "== go mod tidy: ."
	(cd "$ROOT" && GOWORK=off go mod tidy)
	(
		localproxy_env "$tmp/pass$1" >/dev/null
		for dir in $modules; do
			[ "$dir" = "$ROOT" ] && continue
			echo "== go mod tidy: ${dir#$ROOT/}"
			(cd "$dir" && go mod tidy)
			if [ -f "$dir/go.sum" ]; then
				grep -v '^github.com/safecheck/' "$dir/go.sum" >"$tmp/go.sum" || true
				cat "$tmp/go.sum" >"$dir/go.sum"
			fi
		done
	)
}

# requirements DIR: "path version" for each requirement in DIR's go.mod.
requirements() {
	(cd "$1" && go mod edit -json) | awk '
		/"Path":/    { p = $2; gsub(/[",]/, "", p); next }
		/"Version":/ { v = $2; gsub(/[",]/, "", v); if (p != "") print p, v }
		             { p = "" }'
}

# align raises each requirement of each module to the version the workspace
# builds with and prints how many it raised. go work sync does the same but
# also writes a requirement for every module of a module's graph that it
# raised, needed or not (the core would list testify and protobuf), and tidy
# keeps such lines; here only what a module already lists is touched.
# Reads the workspace's build list from $tmp/buildlist.
align() {
	local raised=0 dir path version want
	for dir in $modules; do
		while read -r path version; do
			case "$path" in github.com/safecheck/*) continue ;; esac
			want=$(awk -v p="$path" '$1 == p { print $2 }' "$tmp/buildlist")
			if [ -n "$want" ] && [ "$want" != "$version" ]; then
				echo "   ${dir#$ROOT/}: $path $version => $want" >&2
				(cd "$dir" && go mod edit -require="$path@$want")
				raised=$((raised + 1))
			fi
		done < <(requirements "$dir")
	done
	echo "$raised"
}

for pass in 1 2 3; do
	tidy_all "$pass"
	go list -m -f '{{.Path}} {{.Version}}' all >"$tmp/buildlist"
	raised=$(align)
	if [ "$raised" = 0 ]; then
		echo "tidy: every module tidy and aligned (pass $pass)"
		exit 0
	fi
done
echo "tidy: versions still moving after 3 passes" >&2
exit 1
