package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/safecheck/safecheck/adapters/redis/redistest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemo runs `go run ./examples/fleet -demo` in-process on a
// redis-server of its own (skipped without one, except under CI=true).
func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), "", &stdout, &stderr)
	if errors.Is(err, errNoRedis) && os.Getenv("CI") != "true" {
		t.Skip(redistest.ErrMissing)
	}
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"  replica 1: 100 % after", "  replica 2: 100 % after", "  replica 3: 100 % after",
		"effective rates: replica 1 100 %, replica 2 100 %, replica 3 100 %",
		"every replica is back to 10 %",
		"effective rates: replica 1 10 %, replica 2 10 %, replica 3 10 %",
		"within the plan's 120/min",
		"fleet mode shared",
		"fleet demo: ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the story lacks %q", want)
		}
	}
	if strings.Contains(stderr.String(), "fresh question") {
		t.Error("a record holds a prompt")
	}
}

// TestDemoWithoutRedis: a REDIS_URL that does not parse is a clear error.
func TestDemoWithoutRedis(t *testing.T) {
	err := run(context.Background(), "not a url", &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("run with a bad REDIS_URL: %v", err)
	}
}
