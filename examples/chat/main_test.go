package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemo runs the README's first command in-process against the fake API.
func TestDemo(t *testing.T) {
	t.Setenv("ASSURANCEHUB_API_KEY", "")
	var stdout, stderr bytes.Buffer
	if err := run(true, "", &stdout, &stderr); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, stderr.String())
	}
	out, log := stdout.String(), stderr.String()
	for _, want := range []string{
		"incident  chat         rate 0.20 (effective 1.00): sampled 20 of 20 requests",
		"incident  completions  rate 0.50 (effective 1.00): sampled 20 of 20 requests",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
	for _, want := range []string{`"msg":"safecheck verdict: flagged"`, `"msg":"incident started"`,
		`"msg":"incident expired"`, "summary", "in flight 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if strings.Contains(out, "Please insult me") || strings.Contains(out, "I hate you") {
		t.Error("content reached the verdict records")
	}
}
