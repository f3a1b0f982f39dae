package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck/internal/demo"
	"go.uber.org/goleak"
)

// asMain makes the test binary run main instead of the tests, so that
// TestSignalsDrain can signal a real process.
const asMain = "GIN_CHAT_DEMO_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// story is what `cd adapters/gin && go run ./examples/chat -demo` must tell on stdout, line
// by line, in this order (other lines may come between).
var story = []string{
	`^safecheck demo \(gin\): `,
	`^  checker: a fake AssuranceHub API at http://127\.0\.0\.1:\d+ \(set ASSURANCEHUB_API_KEY for the real one\)$`,
	`^  route POST /v1/chat/completions  samples 20 %, checks toxicity, pii, jailbreak$`,
	`^  route POST /v1/completions       samples 50 %, checks toxicity$`,
	`^  verdict records: one JSON line per check, to (stderr|.*records\.jsonl)$`,
	`^1\. before the incident: 20 requests on each route$`,
	`^  POST /v1/chat/completions  20 requests, sampled +\d+ \(rate 20 %\)$`,
	`^  POST /v1/completions       20 requests, sampled +\d+ \(rate 50 %\)$`,
	`^  /metrics: safecheck_sample_rate\{kind="effective"\} is POST /v1/chat/completions 0\.2, POST /v1/completions 0\.5$`,
	`^2\. incident "demo: bad deploy" for 2s: every route samples 100 %$`,
	`^  POST /v1/chat/completions  20 requests, sampled 20 \(rate 20 %, effective 100 %\)$`,
	`^  POST /v1/completions       20 requests, sampled 20 \(rate 50 %, effective 100 %\)$`,
	`^  /metrics: safecheck_sample_rate\{kind="effective"\} is POST /v1/chat/completions 1, POST /v1/completions 1$`,
	`^3\. the incident expired after 2s: the configured rates are back$`,
	`^  POST /v1/chat/completions  20 requests, sampled +\d+ \(rate 20 %\)$`,
	`^  POST /v1/completions       20 requests, sampled +\d+ \(rate 50 %\)$`,
	`^  /metrics: safecheck_sample_rate\{kind="effective"\} is POST /v1/chat/completions 0\.2, POST /v1/completions 0\.5$`,
	`^verdicts$`,
	`^  test type  checks  flagged  from cache  errors$`,
	`^  toxicity   +\d+ +[1-9]\d* +\d+ +0$`, // the demo model insults on cue
	`^  pii        +\d+ +[1-9]\d* +\d+ +0$`, // and hands out an e-mail address
	`^  jailbreak  +\d+ +\d+ +\d+ +0$`,
	`^  \d+ verdict records, one per check, without the prompt or the answer, went to (stderr|.*records\.jsonl); two of them:$`,
	`^  \{.*"msg":"safecheck verdict: flagged".*\}$`,
	`^  \{.*"msg":"safecheck verdict".*\}$`,
	`^accounting$`,
	`^  120 requests, (\d+) sampled: (\d+) checked, (\d+) answered from the cache, 0 dropped, 0 failed, 0 in flight$`,
	`^  \d+ calls to the API, 0 retries$`,
	`^  guard.Close returned nil: every sample was checked before its deadline$`,
}

// TestDemo runs `cd adapters/gin && go run ./examples/chat -demo` in-process against the
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
			lines := checkStory(t, stdout.String(), story)
			if gin.Mode() != gin.ReleaseMode {
				t.Errorf("gin mode %q: debug output would mix with the story", gin.Mode())
			}
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
			checkRecords(t, records, lines)
		})
	}
}

// checkStory checks that out holds a line matching each of want, in
// order, fits in 45 lines, adds up its accounting and shows no Go syntax.
// It returns the lines.
func checkStory(t *testing.T, out string, want []string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	i := 0
	for _, w := range want {
		re := regexp.MustCompile(w)
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			t.Fatalf("no line matching %s in its place:\n%s", w, out)
		}
		if m := re.FindStringSubmatch(lines[i]); strings.Contains(w, "sampled: ") {
			sampled, _ := strconv.Atoi(m[1])
			checked, _ := strconv.Atoi(m[2])
			cached, _ := strconv.Atoi(m[3])
			if sampled != checked+cached || sampled < 40 {
				t.Errorf("accounting does not add up: %s", lines[i])
			}
		}
		i++
	}
	if len(lines) > 45 {
		t.Errorf("the story takes %d lines, more than 45:\n%s", len(lines), out)
	}
	for _, goism := range []string{"map[", "%!", "<nil>"} {
		if strings.Contains(out, goism) {
			t.Errorf("stdout shows %q:\n%s", goism, out)
		}
	}
	return lines
}

// checkRecords checks the JSON records: every line is one, the verdicts,
// the incident's start and expiry are there, the two shown on stdout are
// among them, and no prompt or answer text is.
func checkRecords(t *testing.T, records string, story []string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(records), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("record is not a JSON line: %q", line)
		}
	}
	for _, want := range []string{`"msg":"safecheck verdict: flagged"`, `"msg":"safecheck verdict"`,
		`"msg":"incident started"`, `"msg":"incident expired"`, `"duration":`} {
		if !strings.Contains(records, want) {
			t.Errorf("records lack %s", want)
		}
	}
	for _, l := range story {
		if strings.HasPrefix(l, "  {") && !strings.Contains(records, strings.TrimPrefix(l, "  ")) {
			t.Errorf("record shown on stdout is not among the records: %s", l)
		}
	}
	for _, q := range demo.Questions {
		if strings.Contains(records, q) || strings.Contains(records, demo.Answer(q)) {
			t.Errorf("content reached the records: %q", q)
		}
	}
}

// TestSignalsDrain signals the program, serving or running the demo:
// Ctrl-C and SIGTERM both stop it, drain the checks and print what Close
// returned.
func TestSignalsDrain(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		ready   string // the stdout line after which the signal is sent
		request bool   // send a request first, so that there is a check to drain
		sig     syscall.Signal
	}{
		{"serving, Ctrl-C", []string{"-addr", "127.0.0.1:0"}, "serving until Ctrl-C; try:", true, syscall.SIGINT},
		{"serving, SIGTERM", []string{"-addr", "127.0.0.1:0"}, "serving until Ctrl-C; try:", true, syscall.SIGTERM},
		{"demo, Ctrl-C", []string{"-demo"}, "1. before the incident: 20 requests on each route", false, syscall.SIGINT},
		{"demo, SIGTERM", []string{"-demo"}, "1. before the incident: 20 requests on each route", false, syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), asMain+"=1", "ASSURANCEHUB_API_KEY=")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var before strings.Builder
			lines := bufio.NewScanner(stdout)
			var base string
			for lines.Scan() {
				before.WriteString(lines.Text() + "\n")
				if b, ok := strings.CutPrefix(lines.Text(), "  server: "); ok {
					base, _, _ = strings.Cut(b, ",")
				}
				if lines.Text() == tt.ready {
					break
				}
			}
			if tt.request {
				if err := demo.Traffic(ctx, base, 5); err != nil {
					t.Errorf("requests to %s: %v", base, err)
				}
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(stdout)
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit: %v\nstdout:\n%s%s\nstderr:\n%s", err, before.String(), rest, stderr.String())
			}
			out := string(rest)
			for _, want := range []string{"\ninterrupted: no more requests; draining the checks in flight (at most 10s)\n",
				"\naccounting\n", "  guard.Close returned nil: every sample was checked before its deadline\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s%s", want, before.String(), out)
				}
			}
			if tt.request && !strings.Contains(out, "  10 requests, ") {
				t.Errorf("the requests are not accounted for:\n%s", out)
			}
		})
	}
}
