package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemo runs `go run ./examples/chat -demo` in-process against the fake API.
func TestDemo(t *testing.T) {
	t.Setenv("ASSURANCEHUB_API_KEY", "")
	var stdout, stderr bytes.Buffer
	if err := run(true, "", &stdout, &stderr); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, stderr.String())
	}
	out, log := stdout.String(), stderr.String()
	for _, want := range []string{
		"incident  POST /v1/chat/completions  rate 0.20 (effective 1.00): sampled 20 of 20 requests",
		"incident  POST /v1/completions       rate 0.50 (effective 1.00): sampled 20 of 20 requests",
		"after     POST /v1/chat/completions  rate 0.20 (effective 0.20): sampled",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
	records, summary, ok := strings.Cut(out, "\nsummary\n")
	if !ok {
		t.Fatalf("no summary on stdout:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(records), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("stdout line before the summary is not a JSON record: %q", line)
		}
	}
	for _, want := range []string{`"msg":"safecheck verdict: flagged"`, `"route":"POST /v1/chat/completions"`,
		`"msg":"incident started"`, `"msg":"incident expired"`} {
		if !strings.Contains(records, want) {
			t.Errorf("records lack %q", want)
		}
	}
	for _, want := range []string{"in flight 0", "failed map[]"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(out, "insult me") || strings.Contains(out, "I hate you") {
		t.Error("content reached the verdict records")
	}
	if gin.Mode() != gin.ReleaseMode {
		t.Errorf("gin mode %q: debug output would mix with the records", gin.Mode())
	}
}
