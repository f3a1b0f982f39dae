package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The checks both demos' tests make of what the programs print.

// CheckStory checks that out holds a line matching each of want, in
// order, fits in 45 lines, adds up its accounting and shows no Go syntax.
// It returns the lines.
func CheckStory(t *testing.T, out string, want []string) []string {
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

// CheckRecords checks the JSON records: every line is one, the verdicts,
// the incident's start and expiry are there, the two shown on stdout are
// among them, and no prompt or answer text is.
func CheckRecords(t *testing.T, records string, story []string) {
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
	for _, q := range Questions {
		if strings.Contains(records, q) || strings.Contains(records, Answer(q)) {
			t.Errorf("content reached the records: %q", q)
		}
	}
}

// CheckReactions checks the records of the escalation and the automatic
// incident the net/http demo shows: the escalation's start, the alert, the
// incident started by the rule as its actor, and that the audit records
// shown on stdout are among the records.
func CheckReactions(t *testing.T, records string, story []string) {
	t.Helper()
	for _, want := range []string{`"msg":"escalation started"`, `"msg":"alert fired"`, `"actor":"rule:unsafe-burst"`, `"via":"alert"`} {
		if !strings.Contains(records, want) {
			t.Errorf("records lack %s", want)
		}
	}
	shown := 0
	for _, l := range story {
		if strings.HasPrefix(l, "  {") && strings.Contains(l, `"audit":true`) {
			shown++
		}
	}
	if shown != 2 {
		t.Errorf("stdout shows %d audit records, want 2 (the escalation, the automatic incident)", shown)
	}
	if strings.Contains(records, BurstQuestion) || strings.Contains(records, Answer(BurstQuestion)) {
		t.Error("the burst's content reached the records")
	}
}

// SignalsDrain runs the test binary as the demo program (its TestMain runs
// main when the variable asMain is "1"), serving or running the demo, and
// signals it: Ctrl-C and SIGTERM must both stop it, drain the checks and
// print what Close returned.
func SignalsDrain(t *testing.T, asMain string) {
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
				if err := Traffic(ctx, base, 5); err != nil {
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
