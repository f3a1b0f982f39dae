// Command safecheck tests prompt/response pairs against the AssuranceHub
// safety API before deployment, with progress on large sets and an exit
// status for CI.
//
// Install it with
//
//	go install github.com/safecheck/safecheck/cmd/safecheck@latest
//
// # eval
//
//	safecheck eval -in cases.jsonl -tests bias,toxicity,pii [flags]
//
// evaluates every case of the input for every test type through the same
// client, resilience policies (retries with backoff, Retry-After, circuit
// breaker, rate limit) and verdict cache as the safecheck middleware, with
// -concurrency calls in flight. Input is JSON Lines, one object per line:
//
//	{"id": "greeting-1", "prompt": "...", "response": "...", "customer_id": "acme"}
//
// ("id" and "customer_id" are optional; without an id the line number is
// the id), or CSV whose header row names the columns id, prompt, response
// and customer_id; "-" reads standard input. Bad lines (malformed JSON or
// CSV, a missing field, invalid UTF-8, an empty prompt or response, a
// duplicate id) are reported with their line number and skipped; -strict
// makes any of them fatal before the first call.
//
// -out writes one JSON line per case and test type (id, test_type,
// flagged, score, risk_level, pass_fail, latency_ms, attempts, cached,
// error_class, status, line), without the prompt, response or customer id
// unless -include-content is given. -resume skips the pairs that already
// have a verdict in the -out file and appends to it; a partial last line
// left by a killed run is cut off first. Records are written as calls
// finish; with -ordered they are written in input order (each case's test
// types in -tests order), a record that is done early waiting for those
// before it, and no pair more than -concurrency ahead of the oldest waiting
// one is started, so at most -concurrency records wait.
//
// Ctrl-C stops the run gracefully: no new call starts, calls in flight get
// -grace to finish (a second Ctrl-C cancels them), the results file stays
// valid, and the summary is printed.
//
// # Gate and exit status
//
// -fail-on sets which verdicts fail the run, as a comma-separated list of
// rules, any of which fails a verdict: "flagged", "fail" (pass_fail is
// fail), "risk>=high" (risk levels are ordered low < medium < high <
// reject < critical; an unknown level fails every risk rule) or
// "score>=0.7" (operators >=, >, <=, <, =), each optionally limited to a
// test type ("toxicity:score>=0.5").
//
// The exit status is 0 when no verdict fails the gate, 1 when at least one
// does, and 2 for a usage error or a run error: no or rejected API key,
// unreadable input, no usable case, a bad line under -strict, more than
// -max-errors failed pairs, an unwritable results file, or an interrupted
// run. A run error wins over a gate failure.
//
// The API key comes from the ASSURANCEHUB_API_KEY environment variable or
// from the file named by -key-file; it is never accepted as a flag value
// and never printed.
//
// # serve-fake
//
//	safecheck serve-fake -addr 127.0.0.1:8089
//
// runs the assurancehubtest fake API on a loopback address, prints the two
// exports to paste into another shell (ASSURANCEHUB_BASE_URL, its URL, and
// ASSURANCEHUB_API_KEY, its test key), and serves until interrupted, so
// that eval and the middleware can be tried without a real key. eval's
// -base-url defaults to $ASSURANCEHUB_BASE_URL when it is set.
package main
