package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binary is the safecheck executable built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(buildFirst{m})
}

// buildFirst builds the binary before the tests run and removes it after.
type buildFirst struct{ m *testing.M }

func (b buildFirst) Run() int {
	dir, err := os.MkdirTemp("", "safecheck-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "safecheck")
	cmd := exec.Command("go", "build", "-o", binary, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return b.m.Run()
}

// canaryKey is the fake key the test servers accept. It must never appear
// in anything the CLI writes.
const canaryKey = "ash_test_e2eCANARYk3y0123456789abcdef"

type result struct {
	code           int
	stdout, stderr string
}

type invocation struct {
	args  []string
	stdin string
	env   []string // added to a minimal environment with the canary key
	noKey bool     // leave ASSURANCEHUB_API_KEY unset
}

func baseEnv(inv invocation) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if !inv.noKey {
		env = append(env, "ASSURANCEHUB_API_KEY="+canaryKey)
	}
	return append(env, inv.env...)
}

// cli runs the binary to completion.
func cli(t *testing.T, inv invocation) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, inv.args...)
	cmd.Env = baseEnv(inv)
	cmd.Stdin = strings.NewReader(inv.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run %v: %v", inv.args, err)
	}
	noCanary(t, res.stdout, res.stderr)
	return res
}

// noCanary fails the test if the key appears in any of texts.
func noCanary(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, canaryKey) || strings.Contains(s, "CANARYk3y") {
			t.Errorf("the API key leaked into output:\n%s", s)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
