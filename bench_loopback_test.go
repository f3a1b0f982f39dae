//go:build unix

package safecheck

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
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

// loopbackCase is one way BenchmarkLoopback mounts the handler: bare, or
// through a Guard's route at rate, with the Guard's options opts.
type loopbackCase struct {
	name    string
	guarded bool
	rate    float64
	opts    []Option
}

// loopbackHost is a loopback server for one loopbackCase, its Guard (nil
// when bare) and a client with loopbackClients connections to it.
type loopbackHost struct {
	g      *Guard
	url    string
	client *http.Client
}

// newLoopbackHost starts the server of bc; the test's cleanup stops it.
func newLoopbackHost(b *testing.B, bc loopbackCase) *loopbackHost {
	var x pipelineExchange
	x.fill(0)
	resp := x.resp
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
	})
	lh := &loopbackHost{}
	if bc.guarded {
		log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
		g, err := New(instant, append([]Option{WithLogger(log), WithQueue(loopbackQueue, 1<<30)}, bc.opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { g.Close(context.Background()) })
		lh.g = g
		h = mustRoute(b, g, "chat", WithSampleRate(bc.rate), WithTestTypes("toxicity", "jailbreak", "pii"),
			WithMaxCaptureBytes(4<<10)).Wrap(h)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = loopbackClients
	b.Cleanup(tr.CloseIdleConnections)
	lh.url, lh.client = srv.URL+"/v1/chat/completions", &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return lh
}

// spendBurst empties the budget's savings, so that what follows runs at
// its steady rate, not on what it saved up while idle; a debt stays.
func (lh *loopbackHost) spendBurst() {
	if lh.g == nil || !lh.g.budget.on() {
		return
	}
	bu := &lh.g.budget
	bu.mu.Lock()
	bu.spend(0)
	bu.tokens = min(bu.tokens, 0)
	bu.mu.Unlock()
}

// serve sends n requests from loopbackClients concurrent clients, each
// exchange numbered from seq so that every text is new, and returns when
// all are answered and every sample they admitted has been checked.
func (lh *loopbackHost) serve(b *testing.B, n int64, seq *atomic.Int64) {
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range loopbackClients {
		wg.Go(func() {
			var ex pipelineExchange
			body := bytes.NewReader(nil)
			for sent.Add(1) <= n {
				ex.fill(int(seq.Add(1)))
				body.Reset(ex.req)
				req, err := http.NewRequest(http.MethodPost, lh.url, body)
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				res, err := lh.client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	wg.Wait()
	if lh.g != nil {
		if err := lh.g.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// checkShed fails b unless every sample lh's Guard took was checked or
// shed for the budget, and reports the share of n requests checked.
func (lh *loopbackHost) checkShed(b *testing.B, n int) {
	s := lh.g.Stats()
	b.ReportMetric(float64(s.Checked)/float64(n), "effective-rate")
	if len(s.Failed) != 0 || s.Checked+s.Dropped[dropPublic[dropOverload]] != s.Sampled {
		b.Fatalf("checked %d of %d sampled, dropped %v, failed %v: every sample must be checked or shed",
			s.Checked, s.Sampled, s.Dropped, s.Failed)
	}
}

// loopbackSlice is how many requests each side of BenchmarkLoopback's
// alternating cases serves at a time: a tenth of a second or so, short
// enough that both sides see the same machine.
const loopbackSlice = 2000

// BenchmarkLoopback serves chat-completion exchanges of about 1 KiB over
// loopback from loopbackClients concurrent clients to an httptest server,
// bare, mounted at sample rate 0 (unsampled: the middleware alone), and at
// sample rate 1 with a checker that answers at once, with the default CPU
// budget, a smaller one and none. req/s is the throughput the host keeps
// (the clients share its CPUs, as a load generator on the same host
// would); effective-rate is the share of requests that were checked. The
// budget's saved-up second is spent before the timer starts, so that a
// run of a second or two shows the steady rate, not the burst. The timer
// runs until every admitted sample has been checked.
//
// The alternating cases serve a bare server and a guarded one in the same
// process, loopbackSlice requests each in turn, so that a machine whose
// speed drifts (a shared VM's does, by a tenth from one second to the
// next) slows both alike; host-share is the guarded side's throughput over
// the bare side's. The Guard stays up during the bare slices, so its
// cached verdicts weigh on both sides' GC.
func BenchmarkLoopback(b *testing.B) {
	cases := []loopbackCase{
		{"bare", false, 0, nil},
		{"unsampled", true, 0, nil},
		{"sampled_budget_on", true, 1, nil},
		{"sampled_budget_0.05", true, 1, []Option{WithCPUBudget(0.05)}},
		{"sampled_budget_off", true, 1, []Option{WithCPUBudget(0)}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			lh := newLoopbackHost(b, bc)
			lh.spendBurst()
			var seq atomic.Int64
			b.ReportAllocs()
			cpu0 := processCPU(b)
			start := time.Now()
			b.ResetTimer()
			lh.serve(b, int64(b.N), &seq)
			elapsed, cpu := time.Since(start), processCPU(b)-cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if lh.g != nil {
				lh.checkShed(b, b.N)
			}
		})
	}
	b.Run("alternating", func(b *testing.B) {
		for _, bc := range cases[2:] {
			b.Run(bc.name, func(b *testing.B) { loopbackAlternating(b, cases[0], bc) })
		}
	})
}

// loopbackAlternating is BenchmarkLoopback's alternating case of bc: its
// host and a bare one serve loopbackSlice requests each in turn.
func loopbackAlternating(b *testing.B, bare, bc loopbackCase) {
	base, lh := newLoopbackHost(b, bare), newLoopbackHost(b, bc)
	var seq atomic.Int64
	var onBare, onGuarded time.Duration
	var guardedN int64
	slice := min(loopbackSlice, max(1, int64(b.N)/2))
	b.ResetTimer()
	for left := int64(b.N); left > 0; {
		n := min(slice, left)
		start := time.Now()
		base.serve(b, n, &seq)
		onBare += time.Since(start)
		left -= n
		if left == 0 {
			break
		}
		n = min(slice, left)
		lh.spendBurst() // the bare slice let it save up
		start = time.Now()
		lh.serve(b, n, &seq)
		onGuarded += time.Since(start)
		left -= n
		guardedN += n
	}
	b.StopTimer()
	if guardedN == 0 {
		return // b.N too small for a guarded slice
	}
	bareN := int64(b.N) - guardedN
	bareRate, guardedRate := float64(bareN)/onBare.Seconds(), float64(guardedN)/onGuarded.Seconds()
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(guardedRate, "req/s")
	b.ReportMetric(guardedRate/bareRate, "host-share")
	lh.checkShed(b, int(guardedN))
}
