//go:build !race

package safecheck

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/safecheck/safecheck/internal/benchrig"
)

// Under -race, sync.Pool drops items at random; without it, on one P, the
// capture a finished sample releases is the next one handed out, which is
// what this test needs.

func TestLateWriterNeverReachesAnotherSample(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		g := newGuard(t, rec)
		var kept http.ResponseWriter
		leaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			if kept == nil {
				kept = w // a handler that keeps its writer past its return
			} else {
				kept.Write([]byte(" LEAKED-FROM-THE-FIRST-REQUEST"))
			}
			w.Write([]byte("answer for " + r.Header.Get("X-Customer")))
		})
		rt := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"),
			WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer") }))
		h := rt.Wrap(leaky)
		for _, customer := range []string{"alice", "bob"} {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("question of "+customer))
			r.Header.Set("X-Customer", customer)
			h.ServeHTTP(httptest.NewRecorder(), r)
			settle() // checked and released: the capture is back in the pool
		}
		closeGuard(t, g)
		reqs := rec.requests()
		if len(reqs) != 2 {
			t.Fatalf("checked %d samples, want 2", len(reqs))
		}
		for _, req := range reqs {
			if strings.Contains(req.Response, "LEAKED") {
				t.Errorf("customer %s's sample holds another request's bytes: %q", req.CustomerID, req.Response)
			}
		}
	})
}

// TestPipelineAllocations pins what BenchmarkPipeline/end_to_end shows:
// one sample of three test types, from the request path through
// extraction, the policies, the cache and three verdict records written
// by a JSON handler, allocates at most pipelineAllocs times, counting the
// workers'. Three of them are the rig's: its handler's Content-Type header
// (the benchmark's bare case), and, as each sample is flushed on its own,
// a batch of one and Flush's wake-up.
func TestPipelineAllocations(t *testing.T) {
	const pipelineAllocs = 18
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g := newGuard(t, instant, WithLogger(log), WithCPUBudget(0), WithWorkers(1))
	x := &pipelineExchange{}
	h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity", "jailbreak", "pii"),
		WithMaxCaptureBytes(4<<10)).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(x.resp)
	}))
	w := &benchrig.Writer{H: http.Header{}}
	body := &benchrig.Body{}
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", body)
	r.Header.Set("Content-Type", "application/json")
	n := 0
	sample := func() {
		n++
		x.fill(n) // distinct texts: every check misses the cache
		body.Reset(x.req)
		r.Body = body
		clear(w.H)
		h.ServeHTTP(w, r)
		if err := g.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sample() // warm up: the pools, the cache's maps
	got := testing.AllocsPerRun(200, sample)
	if s := g.Stats(); s.Checked != uint64(n) {
		t.Fatalf("checked %d of %d samples", s.Checked, n)
	}
	t.Logf("%v allocations per sample", got)
	if got > pipelineAllocs {
		t.Errorf("%v allocations per sample, want at most %d", got, pipelineAllocs)
	}
}

// TestCachedVerdictsOutliveTheirSample caches the verdicts of one sample,
// then runs more samples on one P, so that each reuses the pooled capture
// of the one before: the first sample's verdicts are still what the cache
// answers for its texts, since the cells a sample caches its verdicts in
// are never handed out again.
func TestCachedVerdictsOutliveTheirSample(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	score := CheckerFunc(func(_ context.Context, req CheckRequest) (Verdict, error) {
		return Verdict{Score: float64(len(req.Prompt)) / 100, RiskLevel: req.TestType}, nil
	})
	g := newGuard(t, score, WithWorkers(1))
	types := []string{"toxicity", "jailbreak", "pii"}
	h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes(types...)).Wrap(answer("fine"))
	prompts := []string{"a", "bb", "ccc", "dddd"}
	for _, p := range prompts {
		serve(h, p)
		if err := g.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range prompts {
		for _, tt := range types {
			o := g.Check(context.Background(), CheckRequest{TestType: tt, Prompt: p, Response: "fine"})
			want := Verdict{Score: float64(len(p)) / 100, RiskLevel: tt}
			if o.Err != nil || !o.Cached || o.Verdict != want {
				t.Errorf("%s of %q: verdict %+v, cached %v, err %v; want %+v from the cache", tt, p, o.Verdict, o.Cached, o.Err, want)
			}
		}
	}
}
