#!/usr/bin/env bash
# Load test of `safecheck eval` (issue 5's performance target).
#
# Starts `safecheck serve-fake` on a free loopback port with every answer
# delayed by LATENCY (200ms), evaluates CASES (2000) unique cases for one
# test type with -concurrency CONCURRENCY (50), and prints the wall time.
# The target is under 12 s; pure waiting is CASES x LATENCY / CONCURRENCY
# = 8 s. Exits 1 when the run fails or misses the target.
#
#   cmd/safecheck/scripts/loadtest.sh
#   CASES=5000 CONCURRENCY=100 cmd/safecheck/scripts/loadtest.sh
set -euo pipefail

CASES=${CASES:-2000}
CONCURRENCY=${CONCURRENCY:-50}
LATENCY=${LATENCY:-200ms}
TARGET=${TARGET:-12}

cd "$(dirname "$0")/.."
work=$(mktemp -d)
fake=
cleanup() {
	if [ -n "$fake" ]; then kill "$fake" 2>/dev/null || true; wait "$fake" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

GOWORK=off go build -o "$work/safecheck" .

"$work/safecheck" serve-fake -addr 127.0.0.1:0 -latency "$LATENCY" >"$work/fake.out" 2>&1 &
fake=$!
url=
for _ in $(seq 50); do
	url=$(sed -n 's/^fake AssuranceHub API listening on //p' "$work/fake.out")
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { echo "serve-fake did not start:"; cat "$work/fake.out"; exit 1; }
key=$(sed -n 's/^test key (fake, accepted only here): //p' "$work/fake.out")

# Unique texts, so the verdict cache answers none of them; every 10th is toxic.
awk -v n="$CASES" 'BEGIN {
	for (i = 1; i <= n; i++) {
		r = "Here is answer number " i "."
		if (i % 10 == 0) r = r " Only an idiot would ask."
		printf "{\"id\":\"case-%d\",\"prompt\":\"Question number %d?\",\"response\":\"%s\"}\n", i, i, r
	}
}' >"$work/cases.jsonl"

echo "safecheck eval: $CASES cases x 1 test type, -concurrency $CONCURRENCY, API latency $LATENCY ($url)"
start=$(date +%s.%N)
set +e
ASSURANCEHUB_API_KEY=$key "$work/safecheck" eval -in "$work/cases.jsonl" -tests toxicity \
	-base-url "$url" -concurrency "$CONCURRENCY" -progress plain -progress-interval 2s \
	-out "$work/results.jsonl" -summary-json "$work/summary.json" >"$work/summary.txt"
code=$?
set -e
end=$(date +%s.%N)
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')

cat "$work/summary.txt"
records=$(wc -l <"$work/results.jsonl")
ideal=$(awk -v n="$CASES" -v c="$CONCURRENCY" -v l="${LATENCY%ms}" 'BEGIN { printf "%.1f", n * l / 1000 / c }')
echo
echo "exit $code, $records records, wall time ${elapsed}s (pure waiting ${ideal}s, target < ${TARGET}s)"
if [ "$code" -ne 0 ] || [ "$records" -ne "$CASES" ]; then
	echo "FAIL: the run did not evaluate every case"
	exit 1
fi
if awk -v e="$elapsed" -v t="$TARGET" 'BEGIN { exit !(e >= t) }'; then
	echo "FAIL: slower than the target"
	exit 1
fi
echo "PASS"
