package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck/assurancehubtest"
)

// BenchmarkEval2000 measures the performance target: 2 000 unique
// cases × 1 test type with -concurrency 50 against a fake API that answers
// after 200 ms (8 s of pure waiting; the target is under 12 s). Run it with
//
//	go test -run '^$' -bench Eval2000 -benchtime 1x
//
// scripts/loadtest.sh measures the same against `safecheck serve-fake`.
func BenchmarkEval2000(b *testing.B) {
	const cases, concurrency, latency = 2000, 50, 200 * time.Millisecond
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithAPIKeys(canaryKey))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.SetLatency(latency)
	dir := b.TempDir()
	var in strings.Builder
	for i := range cases {
		fmt.Fprintf(&in, `{"id":"case-%d","prompt":"Question number %d?","response":"Here is answer number %d."}`+"\n", i, i, i)
	}
	input := filepath.Join(dir, "cases.jsonl")
	if err := os.WriteFile(input, []byte(in.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	var worst time.Duration
	for i := 0; b.Loop(); i++ {
		cmd := exec.CommandContext(context.Background(), binary, "eval", "-in", input, "-tests", "toxicity",
			"-base-url", srv.URL, "-concurrency", fmt.Sprint(concurrency), "-progress", "off",
			"-out", filepath.Join(dir, fmt.Sprintf("results-%d.jsonl", i)))
		cmd.Env = baseEnv(invocation{})
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		if err != nil || !strings.Contains(string(out), "evaluated 2000, flagged 0") {
			b.Fatalf("eval: %v\n%s", err, out)
		}
		worst = max(worst, d)
		srv.Reset()
		srv.SetLatency(latency)
	}
	b.ReportMetric(float64(cases)/b.Elapsed().Seconds()*float64(b.N), "pairs/s")
	b.ReportMetric(worst.Seconds(), "worst-s")
}
