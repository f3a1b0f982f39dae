package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/summary"
)

func fakeAPI(t *testing.T) *assurancehubtest.Server {
	t.Helper()
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithAPIKeys(canaryKey))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// mixedCases are flagged by the fake's default lexicon as noted.
const mixedCases = `{"id":"greet","prompt":"Say hi","response":"Hello, how can I help?"}
{"id":"rude","prompt":"Review my code","response":"Only an idiot writes code like this."}
{"id":"hostile","prompt":"Any feedback?","response":"Shut up. I hate you, you worthless idiot."}
{"id":"email","prompt":"Who do I contact?","response":"Write to alice@example.com"}
{"id":"ssn","prompt":"What is on file?","response":"Her SSN and date of birth are on file."}
{"id":"both","prompt":"Tell me","response":"You idiot, call 555-0100."}
{"id":"weather","prompt":"Weather?","response":"Sunny and warm."}
{"prompt":"Say hi","response":"Hello, how can I help?"}
{"id":"math","prompt":"2+2?","response":"4"}
{"id":"cust","prompt":"Order status?","response":"Shipped yesterday.","customer_id":"acme"}
`

// mixedSummary is the summary of mixedCases for toxicity and pii with
// -fail-on flagged, without the timing fields.
func mixedSummary() summary.Summary {
	return summary.Summary{
		Cases: 10, Pairs: 20, Evaluated: 20, Flagged: 6,
		ErrorsByClass: map[string]int{},
		Gate:          "flagged", GateFailures: 6,
		Failures: []summary.Failure{
			{ID: "rude", TestType: "toxicity", Score: 0.85, RiskLevel: "reject", Line: 2, Rule: "flagged"},
			{ID: "hostile", TestType: "toxicity", Score: 1, RiskLevel: "reject", Line: 3, Rule: "flagged"},
			{ID: "email", TestType: "pii", Score: 0.85, RiskLevel: "reject", Line: 4, Rule: "flagged"},
			{ID: "ssn", TestType: "pii", Score: 0.9, RiskLevel: "reject", Line: 5, Rule: "flagged"},
			{ID: "both", TestType: "toxicity", Score: 0.85, RiskLevel: "reject", Line: 6, Rule: "flagged"},
			{ID: "both", TestType: "pii", Score: 0.85, RiskLevel: "reject", Line: 6, Rule: "flagged"},
		},
		TestTypes: []summary.TestType{
			{TestType: "toxicity", Evaluated: 10, Flagged: 3, FlaggedPct: 30, Cached: 1,
				Score:      summary.Scores{P50: 0, P95: 1, Max: 1},
				RiskLevels: map[string]int{"low": 7, "reject": 3}, Errors: map[string]int{}, GateFailures: 3},
			{TestType: "pii", Evaluated: 10, Flagged: 3, FlaggedPct: 30, Cached: 1,
				Score:      summary.Scores{P50: 0, P95: 0.9, Max: 0.9},
				RiskLevels: map[string]int{"low": 7, "reject": 3}, Errors: map[string]int{}, GateFailures: 3},
		},
		APIAttempts: 18,
		Status:      "fail", ExitCode: 1, Reason: "6 pairs fail -fail-on flagged",
	}
}

func readSummary(t *testing.T, path string) summary.Summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	noCanary(t, string(b))
	var s summary.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// untimed clears the fields that depend on timing.
func untimed(s summary.Summary) summary.Summary {
	s.ElapsedSeconds, s.Latency, s.Slowest = 0, summary.Latency{}, nil
	for i := range s.TestTypes {
		s.TestTypes[i].Latency = summary.Latency{}
	}
	return s
}

func readResults(t *testing.T, path string) []results.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	noCanary(t, string(b))
	p, err := results.Parse(b)
	if err != nil || p.Partial || p.MissingNewline {
		t.Fatalf("results file %s is not valid JSONL: %v", path, err)
	}
	return p.Records
}

func TestEvalMixedSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "cases.jsonl", mixedCases)
	for _, tc := range []struct {
		name   string
		failOn []string
		code   int
	}{
		{"no gate", nil, 0},
		{"fail on flagged", []string{"-fail-on", "flagged"}, 1},
		{"gate nothing matches", []string{"-fail-on", "score>1,pii:risk>=critical"}, 0},
		{"gate on one test type", []string{"-fail-on", "toxicity:score>=1"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeAPI(t)
			out := filepath.Join(t.TempDir(), "results.jsonl")
			sum := filepath.Join(t.TempDir(), "summary.json")
			args := append([]string{"eval", "-in", in, "-tests", "toxicity,pii", "-base-url", srv.URL,
				"-concurrency", "4", "-out", out, "-summary-json", sum}, tc.failOn...)
			res := cli(t, invocation{args: args})
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tc.code, res.stdout, res.stderr)
			}
			if srv.Requests("toxicity") != 9 || srv.Requests("pii") != 9 {
				t.Errorf("API evaluated %d toxicity and %d pii pairs, want 9 each (one duplicate is cached)",
					srv.Requests("toxicity"), srv.Requests("pii"))
			}
			recs := readResults(t, out)
			if len(recs) != 20 {
				t.Errorf("%d records, want 20", len(recs))
			}
			for _, r := range recs {
				if r.Prompt != "" || r.Response != "" || r.CustomerID != "" {
					t.Errorf("record %s/%s carries content", r.ID, r.TestType)
				}
			}
			got := untimed(readSummary(t, sum))
			if tc.name == "fail on flagged" {
				if want := mixedSummary(); !reflect.DeepEqual(got, want) {
					g, _ := json.MarshalIndent(got, "", " ")
					w, _ := json.MarshalIndent(want, "", " ")
					t.Errorf("summary:\n%s\nwant\n%s", g, w)
				}
				for _, want := range []string{
					"safecheck summary: 10 cases × 2 test types = 20 pairs",
					"evaluated 20, flagged 6 (30.0%), errors 0, not run 0",
					"toxicity   10         3 (30.0%)  0.00/1.00/1.00     low 7, reject 3",
					"pii        10         3 (30.0%)  0.00/0.90/0.90     low 7, reject 3",
					"gate -fail-on flagged: 6 pairs fail",
					"  hostile/toxicity (line 3): score 1.00, risk reject [flagged]",
					"result: FAIL (exit 1): 6 pairs fail -fail-on flagged",
				} {
					if !strings.Contains(res.stdout, want) {
						t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
					}
				}
			}
			if got.Evaluated != 20 || got.Flagged != 6 || got.ExitCode != tc.code {
				t.Errorf("summary evaluated %d, flagged %d, exit %d", got.Evaluated, got.Flagged, got.ExitCode)
			}
		})
	}
}

func TestEvalIncludeContentAndKeyFile(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "cases.jsonl", mixedCases)
	keyFile := writeFile(t, dir, "key", "\n  "+canaryKey+"  \n")
	out := filepath.Join(dir, "results.jsonl")
	res := cli(t, invocation{noKey: true, args: []string{"eval", "-in", in, "-tests", "bias", "-base-url", srv.URL,
		"-key-file", keyFile, "-out", out, "-include-content"}})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	recs := readResults(t, out)
	var cust results.Record
	for _, r := range recs {
		if r.ID == "cust" {
			cust = r
		}
	}
	if cust.Prompt != "Order status?" || cust.Response != "Shipped yesterday." || cust.CustomerID != "acme" {
		t.Errorf("record with content: %+v", cust)
	}
}

func TestEvalRateLimitStorm(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	// Every one of the first eight calls is refused with Retry-After: 1.
	for range 8 {
		srv.FailNext(assurancehubtest.RateLimited("1"))
	}
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, `{"id":"c%d","prompt":"question %d","response":"answer %d"}`+"\n", i, i, i)
	}
	dir := t.TempDir()
	out, sum := filepath.Join(dir, "results.jsonl"), filepath.Join(dir, "summary.json")
	start := time.Now()
	res := cli(t, invocation{args: []string{"eval", "-in", writeFile(t, dir, "cases.jsonl", in.String()), "-tests", "toxicity",
		"-base-url", srv.URL, "-concurrency", "4", "-out", out, "-summary-json", sum}})
	elapsed := time.Since(start)
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	s := readSummary(t, sum)
	if s.Evaluated != 10 || s.Errors != 0 || s.NotRun != 0 {
		t.Errorf("evaluated %d, errors %d, not run %d; want 10, 0, 0", s.Evaluated, s.Errors, s.NotRun)
	}
	if s.APIAttempts != 18 || srv.TotalRequests() != 18 || srv.Requests("toxicity") != 10 {
		t.Errorf("%d attempts, %d requests, %d evaluated; want 18, 18, 10", s.APIAttempts, srv.TotalRequests(), srv.Requests("toxicity"))
	}
	if elapsed < time.Second {
		t.Errorf("the run took %s: Retry-After was not honoured", elapsed)
	}
	retried := 0
	for _, r := range readResults(t, out) {
		if r.Attempts > 1 {
			retried++
		}
	}
	if retried < 4 {
		t.Errorf("%d records show retries, want at least 4", retried)
	}
}

func TestEvalDeadAPI(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	url := srv.URL
	srv.Close()
	dir := t.TempDir()
	in := writeFile(t, dir, "cases.jsonl", mixedCases)
	out := filepath.Join(dir, "results.jsonl")
	res := cli(t, invocation{args: []string{"eval", "-in", in, "-tests", "toxicity,pii", "-base-url", url,
		"-retries", "1", "-max-errors", "3", "-out", out}})
	if res.code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"too many failed calls", "more than -max-errors 3", "connection refused", url} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if !strings.Contains(res.stdout, "result: ERROR (exit 2)") {
		t.Errorf("stdout:\n%s", res.stdout)
	}
	readResults(t, out) // still valid JSONL
}

func TestEvalRejectedKey(t *testing.T) {
	t.Parallel()
	srv, err := assurancehubtest.NewServer() // accepts only assurancehubtest.TestAPIKey
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	res := cli(t, invocation{args: []string{"eval", "-in", writeFile(t, dir, "c.jsonl", mixedCases), "-base-url", srv.URL,
		"-concurrency", "2", "-max-errors", "-1"}})
	if res.code != 2 || !strings.Contains(res.stderr, "rejected the API key (HTTP 401)") {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	if srv.TotalRequests() > 3 { // the calls in flight when the first 401 came back
		t.Errorf("%d requests after the key was rejected", srv.TotalRequests())
	}
}

// countLines returns the number of complete lines in the file at path.
func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

func TestEvalResumeAfterInterrupt(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	srv.SetLatency(100 * time.Millisecond)
	const n = 40
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"id":"c%02d","prompt":"question %d","response":"answer %d"}`+"\n", i, i, i)
	}
	dir := t.TempDir()
	input := writeFile(t, dir, "cases.jsonl", in.String())
	out := filepath.Join(dir, "results.jsonl")
	sum := filepath.Join(dir, "summary.json")
	args := []string{"eval", "-in", input, "-tests", "toxicity", "-base-url", srv.URL, "-concurrency", "4",
		"-out", out, "-summary-json", sum}

	// First run: interrupted once a few pairs are done.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = baseEnv(invocation{})
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for countLines(out) < 8 {
		if ctx.Err() != nil {
			t.Fatal("the first run made no progress")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	noCanary(t, stdout.String(), stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("interrupted run exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "result: INTERRUPTED (exit 2)") || !strings.Contains(stdout.String(), "run again with -resume") {
		t.Errorf("interrupted run's summary:\n%s", stdout.String())
	}
	// The final progress line is written once, even when the calls let
	// finish after Ctrl-C ended on a 10 % line.
	seenCounts := map[string]bool{}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if count, _, ok := strings.Cut(strings.TrimPrefix(l, "progress: "), " pairs"); ok && strings.HasPrefix(l, "progress: ") {
			if seenCounts[count] {
				t.Errorf("progress %s written twice:\n%s", count, stderr.String())
			}
			seenCounts[count] = true
		}
	}
	first := readResults(t, out)
	s1 := readSummary(t, sum)
	if len(first) == n || len(first) != s1.Evaluated || s1.NotRun != n-len(first) || s1.Status != "interrupted" {
		t.Fatalf("first run: %d records, summary evaluated %d, not run %d, status %s", len(first), s1.Evaluated, s1.NotRun, s1.Status)
	}
	// Every pair the API evaluated was written: in-flight calls finished.
	if srv.Requests("toxicity") != len(first) {
		t.Fatalf("API evaluated %d pairs, the results file has %d", srv.Requests("toxicity"), len(first))
	}

	// A kill during a write leaves a partial line; resume cuts it off.
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, `{"id":"c39","test_type":"toxi`)
	f.Close()

	srv.SetLatency(0)
	res := cli(t, invocation{args: append(args, "-resume")})
	if res.code != 0 {
		t.Fatalf("resumed run exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, "ended in a partial line") {
		t.Errorf("stderr does not mention the repair:\n%s", res.stderr)
	}
	all := readResults(t, out)
	seen := map[string]int{}
	for _, r := range all {
		seen[r.ID]++
	}
	for i := range n {
		if id := fmt.Sprintf("c%02d", i); seen[id] != 1 {
			t.Errorf("pair %s has %d records", id, seen[id])
		}
	}
	if srv.Requests("toxicity") != n {
		t.Errorf("API evaluated %d pairs over both runs, want exactly %d", srv.Requests("toxicity"), n)
	}
	s2 := readSummary(t, sum)
	if s2.Evaluated != n || s2.Resumed != len(first) || s2.Status != "pass" {
		t.Errorf("resumed summary: evaluated %d, resumed %d (want %d), status %s", s2.Evaluated, s2.Resumed, len(first), s2.Status)
	}
}

const malformed = `{"id":"ok1","prompt":"p","response":"fine"}
{"id":"bad-json","prompt":"p","response":
["an","array"]
{"id":"no-response","prompt":"p"}
{"id":"empty","prompt":"p","response":""}
{"id":"utf8","prompt":"p","response":"caf` + "\xe9" + `"}
{"id":"ok1","prompt":"again","response":"dup"}

{"id":"ok2","prompt":"p","response":"also fine"}
`

func TestEvalMalformedInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "cases.jsonl", malformed)
	sum := filepath.Join(dir, "summary.json")

	srv := fakeAPI(t)
	res := cli(t, invocation{args: []string{"eval", "-in", in, "-tests", "bias", "-base-url", srv.URL, "-summary-json", sum}})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	for _, want := range []string{
		in + ":2: skipped: not valid JSON (syntax error at byte 41)",
		in + ":3: skipped: not a JSON object",
		in + ":4: skipped: missing response",
		in + ":5: skipped: response is empty",
		in + ":6: skipped: invalid UTF-8 at byte 42",
		in + ":7: skipped: duplicate id (first used on line 1)",
	} {
		if !strings.Contains(res.stderr, want+"\n") {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	s := readSummary(t, sum)
	if s.Cases != 2 || s.InputProblems != 6 || len(s.Problems) != 6 || s.Problems[0] != (summary.Problem{Line: 2, Reason: "not valid JSON (syntax error at byte 41)"}) {
		t.Errorf("summary: %d cases, %d problems %+v", s.Cases, s.InputProblems, s.Problems)
	}
	if srv.Requests("bias") != 2 || !strings.Contains(res.stdout, "input: 6 lines skipped") {
		t.Errorf("%d evaluated\n%s", srv.Requests("bias"), res.stdout)
	}

	strict := fakeAPI(t)
	res = cli(t, invocation{args: []string{"eval", "-in", in, "-tests", "bias", "-base-url", strict.URL, "-strict"}})
	if res.code != 2 || !strings.Contains(res.stderr, "6 bad input lines") || strict.TotalRequests() != 0 {
		t.Errorf("-strict: exit %d, %d requests\n%s", res.code, strict.TotalRequests(), res.stderr)
	}

	bad := writeFile(t, dir, "bad.csv", "question,answer\nq,a\n")
	res = cli(t, invocation{args: []string{"eval", "-in", bad, "-base-url", strict.URL}})
	if res.code != 2 || !strings.Contains(res.stderr, "CSV header has no prompt or response column") {
		t.Errorf("bad CSV header: exit %d\n%s", res.code, res.stderr)
	}
	res = cli(t, invocation{args: []string{"eval", "-in", filepath.Join(dir, "missing.jsonl"), "-base-url", strict.URL}})
	if res.code != 2 || !strings.Contains(res.stderr, "cannot read the input") {
		t.Errorf("missing input: exit %d\n%s", res.code, res.stderr)
	}
	allBad := writeFile(t, dir, "allbad.jsonl", "nope\n{}\n")
	res = cli(t, invocation{args: []string{"eval", "-in", allBad, "-base-url", strict.URL}})
	if res.code != 2 || !strings.Contains(res.stderr, "no usable case") {
		t.Errorf("all bad: exit %d\n%s", res.code, res.stderr)
	}
}

func TestEvalStdin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		input string
	}{
		{"csv", []string{"-format", "csv"}, "id,prompt,response,customer_id\na,Review my code,Only an idiot writes this.,acme\nb,\"Multi\nline\",Fine,\n"},
		{"jsonl sniffed", nil, `{"id":"a","prompt":"Review my code","response":"Only an idiot writes this."}` + "\n" + `{"id":"b","prompt":"p","response":"Fine"}`},
		{"csv sniffed", nil, "prompt,response\nReview my code,Only an idiot writes this.\np,Fine\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeAPI(t)
			res := cli(t, invocation{stdin: tt.input, args: append([]string{"eval", "-in", "-", "-tests", "toxicity",
				"-base-url", srv.URL, "-fail-on", "flagged"}, tt.args...)})
			if res.code != 1 || !strings.Contains(res.stdout, "evaluated 2, flagged 1") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
		})
	}
}

var progressLine = regexp.MustCompile(`^progress: (\d+)/20 pairs \((\d+)%\), [0-9.]+/s, elapsed \w+, eta [\w.]+, flagged (\d+), errors 0$`)

func TestEvalProgressWithoutTerminal(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	srv.SetLatency(50 * time.Millisecond)
	var in strings.Builder
	for i := range 20 {
		resp := fmt.Sprintf("answer %d", i)
		if i%4 == 0 {
			resp += ", idiot"
		}
		fmt.Fprintf(&in, `{"prompt":"question %d","response":%q}`+"\n", i, resp)
	}
	res := cli(t, invocation{args: []string{"eval", "-in", writeFile(t, t.TempDir(), "c.jsonl", in.String()), "-tests", "toxicity",
		"-base-url", srv.URL, "-concurrency", "2", "-progress-interval", "100ms"}})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "\r") || strings.Contains(res.stderr, "\x1b[") {
		t.Errorf("a bar was drawn on a pipe:\n%q", res.stderr)
	}
	var lines []string
	deciles := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(res.stderr))
	for sc.Scan() {
		if m := progressLine.FindStringSubmatch(sc.Text()); m != nil {
			lines = append(lines, sc.Text())
			if m[2] != "" && m[1] != "" {
				deciles[m[2]] = true
			}
		} else if strings.HasPrefix(sc.Text(), "progress:") {
			t.Errorf("malformed progress line %q", sc.Text())
		}
	}
	// 10 lines at every 10 %, and timed ones in between (the run takes
	// about 500 ms).
	for d := 10; d <= 100; d += 10 {
		if !deciles[fmt.Sprint(d)] {
			t.Errorf("no line at %d%%:\n%s", d, res.stderr)
		}
	}
	if len(lines) < 12 {
		t.Errorf("only %d progress lines, want the 10 %% ones and timed ones:\n%s", len(lines), res.stderr)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "20/20 pairs (100%)") || !strings.Contains(last, "flagged 5") {
		t.Errorf("last line %q", last)
	}
	quiet := cli(t, invocation{args: []string{"eval", "-in", writeFile(t, t.TempDir(), "c.jsonl", in.String()), "-tests", "pii",
		"-base-url", srv.URL, "-progress", "off"}})
	if strings.Contains(quiet.stderr, "progress:") {
		t.Errorf("-progress off still wrote progress:\n%s", quiet.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "cases.jsonl", mixedCases)
	empty := writeFile(t, dir, "empty-key", " \n")
	tests := []struct {
		name string
		inv  invocation
		code int
		want string
	}{
		{"no command", invocation{}, 2, "Usage:"},
		{"help", invocation{args: []string{"help"}}, 0, "safecheck eval -in FILE"},
		{"eval help", invocation{args: []string{"help", "eval"}}, 0, "-fail-on rules"},
		{"serve-fake help", invocation{args: []string{"serve-fake", "-h"}}, 0, "-rate-limit n"},
		{"unknown command", invocation{args: []string{"evaluate"}}, 2, `unknown command "evaluate"`},
		{"no input", invocation{args: []string{"eval"}}, 2, "-in is required"},
		{"unknown flag", invocation{args: []string{"eval", "-in", in, "-key", "xyz"}}, 2, "flag provided but not defined: -key"},
		{"key on the command line", invocation{args: []string{"eval", "-in", in, "-base-url", canaryKey}}, 2, "never accepted there"},
		{"key as an argument", invocation{args: []string{"eval", "-in", in, "--", canaryKey}}, 2, "never accepted there"},
		{"positional argument", invocation{args: []string{"eval", "-in", in, "extra"}}, 2, "unexpected arguments"},
		{"unknown test type", invocation{args: []string{"eval", "-in", in, "-tests", "bias,nonsense"}}, 2, `unknown test type "nonsense"`},
		{"test type twice", invocation{args: []string{"eval", "-in", in, "-tests", "bias,bias"}}, 2, `"bias" listed twice`},
		{"bad gate", invocation{args: []string{"eval", "-in", in, "-fail-on", "risk>=severe"}}, 2, `unknown risk level "severe"`},
		{"gate on another test type", invocation{args: []string{"eval", "-in", in, "-tests", "pii", "-fail-on", "bias:flagged"}}, 2, `names test type "bias"`},
		{"resume without out", invocation{args: []string{"eval", "-in", in, "-resume"}}, 2, "-resume needs -out"},
		{"ordered without out", invocation{args: []string{"eval", "-in", in, "-ordered"}}, 2, "-ordered needs -out"},
		{"ordered documented", invocation{args: []string{"help", "eval"}}, 0, "write the -out file in input order"},
		{"bad format", invocation{args: []string{"eval", "-in", in, "-format", "xml"}}, 2, `unknown input format "xml"`},
		{"bad progress", invocation{args: []string{"eval", "-in", in, "-progress", "fancy"}}, 2, "unknown progress mode"},
		{"zero concurrency", invocation{args: []string{"eval", "-in", in, "-concurrency", "0"}}, 2, "-concurrency must be positive"},
		{"no key", invocation{noKey: true, args: []string{"eval", "-in", in}}, 2, "no API key: set ASSURANCEHUB_API_KEY or use -key-file"},
		{"malformed key", invocation{noKey: true, env: []string{"ASSURANCEHUB_API_KEY=sk-secret-value"}, args: []string{"eval", "-in", in}}, 2, "invalid API key"},
		{"empty key file", invocation{args: []string{"eval", "-in", in, "-key-file", empty}}, 2, "is empty"},
		{"missing key file", invocation{args: []string{"eval", "-in", in, "-key-file", filepath.Join(dir, "nope")}}, 2, "cannot read the -key-file"},
		{"http to a remote host", invocation{args: []string{"eval", "-in", in, "-base-url", "http://api.example.com"}}, 2, "plain http is allowed only for loopback"},
		{"serve-fake off loopback", invocation{args: []string{"serve-fake", "-addr", "0.0.0.0:0"}}, 2, "loopback addresses only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cli(t, tt.inv)
			if res.code != tt.code || !strings.Contains(res.stdout+res.stderr, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\nstdout:\n%s\nstderr:\n%s", res.code, tt.code, tt.want, res.stdout, res.stderr)
			}
			if strings.Contains(res.stdout+res.stderr, "sk-secret-value") {
				t.Error("a key value was echoed")
			}
		})
	}
}

func TestServeFake(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fake := exec.CommandContext(ctx, binary, "serve-fake", "-addr", "127.0.0.1:0", "-latency", "10ms")
	fake.Env = baseEnv(invocation{noKey: true})
	stdout, err := fake.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	// The two exports, pasted as they are printed, point eval at the fake.
	lines := bufio.NewScanner(stdout)
	var url string
	var exports []string
	for lines.Scan() && len(exports) < 2 {
		l := lines.Text()
		if u, ok := strings.CutPrefix(l, "fake AssuranceHub API listening on "); ok {
			url = u
		}
		if e, ok := strings.CutPrefix(l, "  export "); ok {
			exports = append(exports, e)
		}
	}
	want := []string{"ASSURANCEHUB_BASE_URL=" + url, "ASSURANCEHUB_API_KEY=" + assurancehubtest.TestAPIKey}
	if url == "" || !reflect.DeepEqual(exports, want) {
		t.Fatalf("serve-fake printed url %q, exports %q; want %q", url, exports, want)
	}
	res := cli(t, invocation{noKey: true, env: exports,
		args: []string{"eval", "-in", writeFile(t, t.TempDir(), "c.jsonl", mixedCases), "-tests", "toxicity", "-fail-on", "flagged"}})
	if res.code != 1 || !strings.Contains(res.stdout, "evaluated 10, flagged 3") {
		t.Errorf("eval against serve-fake: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if err := fake.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := fake.Wait(); err != nil {
		t.Errorf("serve-fake: %v", err)
	}
	if !strings.Contains(string(rest), "stopped after 9 requests") {
		t.Errorf("serve-fake's last words: %q", rest)
	}
}

// TestEvalCountsAndResumeWithNothingLeft: one case for one test type is
// said in the singular, and resuming a finished run makes no call and
// shows no latency.
func TestEvalCountsAndResumeWithNothingLeft(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "one.jsonl", `{"id":"only","prompt":"Say hi","response":"Hello!"}`+"\n")
	out := filepath.Join(dir, "results.jsonl")
	args := []string{"eval", "-in", in, "-tests", "toxicity", "-out", out, "-base-url", srv.URL}
	tests := []struct {
		name     string
		resume   bool
		stderr   []string
		stdout   []string
		unwanted []string // in stdout
	}{
		{"first run", false,
			[]string{"safecheck eval: 1 case × 1 test type, 1 pair to evaluate, concurrency 10"},
			[]string{"safecheck summary: 1 case × 1 test type = 1 pair", "latency over 1 API call:", "(1 HTTP attempt)"},
			nil},
		{"resumed", true,
			[]string{"resuming: 1 record in", "safecheck eval: 1 case × 1 test type, 0 pairs to evaluate"},
			[]string{"evaluated 1 (1 from the results file)", "result: PASS (exit 0)"},
			[]string{"latency over", "slowest:", "0s/0s"}},
	}
	for _, tt := range tests {
		a := args
		if tt.resume {
			a = append(a, "-resume")
		}
		res := cli(t, invocation{args: a})
		if res.code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", tt.name, res.code, res.stdout, res.stderr)
		}
		for _, want := range tt.stderr {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", tt.name, want, res.stderr)
			}
		}
		for _, want := range tt.stdout {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("%s: stdout lacks %q:\n%s", tt.name, want, res.stdout)
			}
		}
		for _, unwanted := range tt.unwanted {
			if strings.Contains(res.stdout, unwanted) {
				t.Errorf("%s: stdout has %q:\n%s", tt.name, unwanted, res.stdout)
			}
		}
	}
	if srv.TotalRequests() != 1 {
		t.Errorf("%d calls over both runs, want 1", srv.TotalRequests())
	}
}

// TestEvalOrdered holds one of the first two calls back while the other
// worker goes on: the results file follows the input with -ordered, and
// the finishing order without it.
func TestEvalOrdered(t *testing.T) {
	t.Parallel()
	var in strings.Builder
	var want []string
	for i := range 8 {
		fmt.Fprintf(&in, `{"id":"c%d","prompt":"question %d","response":"answer %d"}`+"\n", i, i, i)
		want = append(want, fmt.Sprintf("c%d", i))
	}
	input := writeFile(t, t.TempDir(), "cases.jsonl", in.String())
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			srv := fakeAPI(t)
			srv.FailNext(assurancehubtest.Fault{Delay: 300 * time.Millisecond}) // the first call to arrive
			out := filepath.Join(t.TempDir(), "results.jsonl")
			args := []string{"eval", "-in", input, "-tests", "toxicity", "-base-url", srv.URL, "-concurrency", "2", "-out", out}
			if ordered {
				args = append(args, "-ordered")
			}
			res := cli(t, invocation{args: args})
			if res.code != 0 {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			var got []string
			for _, r := range readResults(t, out) {
				got = append(got, r.ID)
			}
			if ordered != reflect.DeepEqual(got, want) {
				t.Errorf("records in the order %v (ordered %v)", got, ordered)
			}
		})
	}
}

// TestEvalProgressBar forces the bar onto a pipe: it draws no frame
// before the first pair ("0 pairs/hr", an endless eta) and ends its line.
func TestEvalProgressBar(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	srv.SetLatency(20 * time.Millisecond)
	res := cli(t, invocation{args: []string{"eval", "-in", writeFile(t, t.TempDir(), "c.jsonl", mixedCases), "-tests", "toxicity",
		"-base-url", srv.URL, "-concurrency", "2", "-progress", "bar"}})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	for _, unwanted := range []string{"(0/10", "pairs/hr"} {
		if strings.Contains(res.stderr, unwanted) {
			t.Errorf("the bar shows %q:\n%q", unwanted, res.stderr)
		}
	}
	if !strings.Contains(res.stderr, "(10/10, ") || !strings.HasSuffix(res.stderr, "\n") {
		t.Errorf("the bar did not finish on its own line:\n%q", res.stderr)
	}
}
