//go:build unix

package safecheck

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackClients bounds the concurrent clients of BenchmarkLoopback.
const loopbackClients = 8

// loopbackQueue is BenchmarkLoopback's queue size: room for about a
// quarter of a second of samples at 100 % sampling with the budget off, so
// that none is dropped, and no more: its slots are pointers the GC scans at
// every cycle, which in this process's small heap would cost every request.
const loopbackQueue = 4096

// BenchmarkLoopback serves chat-completion exchanges of about 1 KiB over
// loopback from loopbackClients concurrent clients to an httptest server,
// bare, mounted at sample rate 0 (unsampled: the middleware alone), and at
// sample rate 1 with a checker that answers at once, with the default CPU
// budget, a smaller one and none. req/s is the throughput the host
// keeps (the clients share its CPUs, as a load generator on the same host
// would); effective-rate is the share of requests that were checked. The
// budget's saved-up second is spent before the timer starts, so that a
// run of a second or two shows the steady rate, not the burst. The timer
// runs until every admitted sample has been checked.
func BenchmarkLoopback(b *testing.B) {
	cases := []struct {
		name    string
		guarded bool
		rate    float64
		opts    []Option
	}{
		{"bare", false, 0, nil},
		{"unsampled", true, 0, nil},
		{"sampled_budget_on", true, 1, nil},
		{"sampled_budget_0.05", true, 1, []Option{WithCPUBudget(0.05)}},
		{"sampled_budget_off", true, 1, []Option{WithCPUBudget(0)}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var x pipelineExchange
			x.fill(0)
			resp := x.resp
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.Write(resp)
			})
			var g *Guard
			if bc.guarded {
				log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
				var err error
				g, err = New(instant, append([]Option{WithLogger(log), WithQueue(loopbackQueue, 1<<30)}, bc.opts...)...)
				if err != nil {
					b.Fatal(err)
				}
				defer g.Close(context.Background())
				if g.budget.on() {
					g.budget.mu.Lock()
					g.budget.tokens = 0 // the burst is spent: measure the steady rate
					g.budget.last = time.Now()
					g.budget.mu.Unlock()
				}
				h = mustRoute(b, g, "chat", WithSampleRate(bc.rate), WithTestTypes("toxicity", "jailbreak", "pii"),
					WithMaxCaptureBytes(4<<10)).Wrap(h)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = loopbackClients
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			defer tr.CloseIdleConnections()
			var seq atomic.Int64
			b.SetParallelism(max(1, loopbackClients/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			cpu0 := processCPU(b)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var ex pipelineExchange
				body := bytes.NewReader(nil)
				for pb.Next() {
					ex.fill(int(seq.Add(1)))
					body.Reset(ex.req)
					req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", body)
					if err != nil {
						b.Error(err)
						return
					}
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			})
			if g != nil {
				if err := g.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			elapsed, cpu := time.Since(start), processCPU(b)-cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if g != nil {
				s := g.Stats()
				b.ReportMetric(float64(s.Checked)/float64(b.N), "effective-rate")
				if len(s.Failed) != 0 || s.Checked+s.Dropped[dropPublic[dropOverload]] != s.Sampled {
					b.Fatalf("checked %d of %d sampled, dropped %v, failed %v: every sample must be checked or shed",
						s.Checked, s.Sampled, s.Dropped, s.Failed)
				}
			}
		})
	}
}
