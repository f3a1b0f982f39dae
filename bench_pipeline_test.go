//go:build unix

package safecheck

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/safecheck/safecheck/internal/benchrig"
)

// processCPU returns the CPU time the whole process has used, user and
// system (cpuTime), so that background workers count as well as the
// benchmark loop.
func processCPU(tb testing.TB) time.Duration {
	d, ok := cpuTime()
	if !ok {
		tb.Fatal("getrusage failed")
	}
	return d
}

// pipelineExchange is one chat-completion exchange of about 1 KiB whose
// texts differ for every n, so that no check is answered by the cache.
type pipelineExchange struct {
	req  []byte
	resp []byte
}

func (x *pipelineExchange) fill(n int) {
	id := strconv.Itoa(n)
	x.req = append(x.req[:0], `{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Question number `...)
	x.req = append(x.req, id...)
	x.req = append(x.req, `: how do I reset my password?"}]}`...)
	x.resp = append(x.resp[:0], `{"id":"chatcmpl-`...)
	x.resp = append(x.resp, id...)
	x.resp = append(x.resp, `","object":"chat.completion","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Answer `...)
	x.resp = append(x.resp, id...)
	x.resp = append(x.resp, `: `...)
	for len(x.resp) < 900 {
		x.resp = append(x.resp, "Open the settings page, choose Security, and follow the steps to reset it. "...)
	}
	x.resp = append(x.resp, `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":200,"total_tokens":230}}`...)
}

// pipelineBacklog is how many samples BenchmarkPipeline lets wait for
// the workers before its loop pauses; pipelineQueue, its queue size, has
// room beyond it, so that nothing is dropped.
const (
	pipelineBacklog = 6144
	pipelineQueue   = 8192
)

// BenchmarkPipeline measures the whole cost of one sample, from the request
// path through extraction, the policies, the cache and the verdict records,
// at sample rate 1 with a checker that answers at once: only our own CPU
// counts. cpu-ns/op is the process's CPU time per sample (getrusage), so
// the background workers are included; the timer stops only once every
// sample has been checked. bare is the handler alone, the baseline.
//
// The loop keeps at most pipelineBacklog samples waiting, as an
// application whose workers keep up would see it: enough that the workers
// never idle, few enough that the queue stays small (its slots are
// pointers the GC scans at every cycle) and captures come back to their
// pool.
func BenchmarkPipeline(b *testing.B) {
	x := &pipelineExchange{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(x.resp)
	})
	cases := []struct {
		name      string
		guarded   bool
		fillCache bool
	}{
		{"bare", false, false},
		{"end_to_end", true, false},
		{"end_to_end_cache_full", true, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			h := http.Handler(handler)
			var g *Guard
			if bc.guarded {
				log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
				var err error
				// The budget is off: every sample must be checked.
				g, err = New(instant, WithLogger(log), WithQueue(pipelineQueue, 1<<40), WithCPUBudget(0))
				if err != nil {
					b.Fatal(err)
				}
				defer g.Close(context.Background())
				h = mustRoute(b, g, "chat", WithSampleRate(1), WithTestTypes("toxicity", "jailbreak", "pii"),
					WithMaxCaptureBytes(4<<10)).Wrap(handler)
				if bc.fillCache {
					for i := range defaultCacheEntries {
						g.cache.put(cacheKey("toxicity", "filler", strconv.Itoa(i)), Verdict{RiskLevel: "low"}, nil)
					}
				}
			}
			w := &benchrig.Writer{H: http.Header{}}
			body := &benchrig.Body{}
			r, err := http.NewRequest(http.MethodPost, "http://example.test/v1/chat/completions", body)
			if err != nil {
				b.Fatal(err)
			}
			r.Header.Set("Content-Type", "application/json")
			b.ReportAllocs()
			cpu0 := processCPU(b)
			b.ResetTimer()
			for i := range b.N { // not b.Loop: the timer must run until Flush returns
				for g != nil && g.pending.Load() >= pipelineBacklog {
					time.Sleep(100 * time.Microsecond)
				}
				x.fill(i)
				body.Reset(x.req)
				r.Body = body
				clear(w.H)
				h.ServeHTTP(w, r)
			}
			if g != nil {
				if err := g.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			cpu := processCPU(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if g != nil {
				s := g.Stats()
				if len(s.Dropped) != 0 || len(s.Failed) != 0 || s.Checked != uint64(b.N) {
					b.Fatalf("checked %d of %d, dropped %v, failed %v: the benchmark must check every sample",
						s.Checked, b.N, s.Dropped, s.Failed)
				}
			}
		})
	}
}
