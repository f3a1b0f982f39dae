package main

import (
	"bytes"
	"testing"

	"github.com/safecheck/safecheck/internal/demo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemo runs `go run ./examples/chat -demo` in-process against the fake API.
func TestDemo(t *testing.T) {
	t.Setenv("ASSURANCEHUB_API_KEY", "")
	var stdout, stderr bytes.Buffer
	if err := demo.Run(true, "", "chat-demo", mount, &stdout, &stderr); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, stderr.String())
	}
	for _, p := range demo.Problems(stdout.String(), stderr.String(), "chat", "completions") {
		t.Error(p)
	}
}
