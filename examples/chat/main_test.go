package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/safecheck/safecheck/internal/demo"
	"go.uber.org/goleak"
)

// asMain makes the test binary run main instead of the tests, so that
// TestSignalsDrain can signal a real process.
const asMain = "CHAT_DEMO_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// story is what `go run ./examples/chat -demo` must tell on stdout, line
// by line, in this order (other lines may come between).
var story = []string{
	`^safecheck demo: `,
	`^  checker: a fake AssuranceHub API at http://127\.0\.0\.1:\d+ \(set ASSURANCEHUB_API_KEY for the real one\)$`,
	`^  route chat         samples 20 %, checks toxicity, pii, jailbreak$`,
	`^  route completions  samples 50 %, checks toxicity$`,
	`^  verdict records: one JSON line per check, to (stderr|.*records\.jsonl)$`,
	`^1\. before the incident: 20 requests on each route$`,
	`^  chat         20 requests, sampled +\d+ \(rate 20 %\)$`,
	`^  completions  20 requests, sampled +\d+ \(rate 50 %\)$`,
	`^  /metrics: safecheck_sample_rate\{kind="effective"\} is chat 0\.2, completions 0\.5$`,
	`^2\. incident "demo: bad deploy" for 2s: every route samples 100 %$`,
	`^  chat         20 requests, sampled 20 \(rate 20 %, effective 100 %\)$`,
	`^  completions  20 requests, sampled 20 \(rate 50 %, effective 100 %\)$`,
	`^  /metrics: safecheck_sample_rate\{kind="effective"\} is chat 1, completions 1$`,
	`^3\. the incident expired after 2s: the configured rates are back$`,
	`^  chat         20 requests, sampled +\d+ \(rate 20 %\)$`,
	`^  completions  20 requests, sampled +\d+ \(rate 50 %\)$`,
	`^  /metrics: safecheck_sample_rate\{kind="effective"\} is chat 0\.2, completions 0\.5$`,
	`^4\. a burst of unsafe answers: cust_666 asks completions for a rant 10 times \(more if none was sampled\), then 10 more$`,
	`^  escalation: its first flagged answer \(score 1\) escalated cust_666 for 1h: completions sampled [1-9]\d* of the first \d+, 10 of the next 10$`,
	`^  alert "unsafe-burst" fired: toxicity score p95 (?:0\.9\d|1\.00) >= 0\.95 over \d+ checks; it started a 2s incident on completions$`,
	`^  their audit records:$`,
	`^  \{.*"msg":"escalation started".*"customer_id":"cust_666".*"audit":true\}$`,
	`^  \{.*"msg":"incident started".*"reason":"alert unsafe-burst".*"actor":"rule:unsafe-burst","via":"alert","audit":true\}$`,
	`^verdicts$`,
	`^  test type  checks  flagged  from cache  errors$`,
	`^  toxicity   +\d+ +[1-9]\d* +\d+ +0$`, // the demo model insults on cue
	`^  pii        +\d+ +[1-9]\d* +\d+ +0$`, // and hands out an e-mail address
	`^  jailbreak  +\d+ +\d+ +\d+ +0$`,
	`^  \d+ verdict records, one per check, without the prompt or the answer, went to (stderr|.*records\.jsonl); two of them:$`,
	`^  \{.*"msg":"safecheck verdict: flagged".*\}$`,
	`^  \{.*"msg":"safecheck verdict".*\}$`,
	`^accounting$`,
	`^  140 requests, (\d+) sampled: (\d+) checked, (\d+) answered from the cache, 0 dropped, 0 failed, 0 in flight$`,
	`^  \d+ calls to the API, 0 retries$`,
	`^  guard.Close returned nil: every sample was checked before its deadline$`,
}

// TestDemo runs `go run ./examples/chat -demo` in-process against the
// fake API, with the records on stderr and in a -records file.
func TestDemo(t *testing.T) {
	t.Setenv("ASSURANCEHUB_API_KEY", "")
	for _, toFile := range []bool{false, true} {
		t.Run("records to a file "+strconv.FormatBool(toFile), func(t *testing.T) {
			var file string
			if toFile {
				file = filepath.Join(t.TempDir(), "records.jsonl")
			}
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), true, "", file, &stdout, &stderr); err != nil {
				t.Fatalf("demo failed: %v\n%s", err, stderr.String())
			}
			lines := demo.CheckStory(t, stdout.String(), story)
			records := stderr.String()
			if toFile {
				if stderr.Len() != 0 {
					t.Errorf("stderr with -records: %s", records)
				}
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				records = string(b)
			}
			demo.CheckRecords(t, records, lines)
			demo.CheckReactions(t, records, lines)
		})
	}
}

// TestSignalsDrain signals the program, serving or running the demo:
// Ctrl-C and SIGTERM both stop it, drain the checks and print what Close
// returned.
func TestSignalsDrain(t *testing.T) { demo.SignalsDrain(t, asMain) }
