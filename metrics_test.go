package safecheck

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"
)

// scripted is a Checker whose answer and duration depend on the response
// text, so that a test knows every number Stats must show.
var scripted = CheckerFunc(func(ctx context.Context, req CheckRequest) (Verdict, error) {
	switch {
	case strings.Contains(req.Response, "slow fine"):
		time.Sleep(300 * time.Millisecond)
		return Verdict{Score: 0.05, RiskLevel: "low", PassFail: "pass"}, nil
	case strings.Contains(req.Response, "UNSAFE"):
		time.Sleep(100 * time.Millisecond)
		return Verdict{Flagged: true, Score: 0.9, RiskLevel: "reject", PassFail: "fail"}, nil
	case strings.Contains(req.Response, "broken"):
		return Verdict{}, &CheckError{Class: failure.Server, Status: http.StatusServiceUnavailable}
	case strings.Contains(req.Response, "refused"):
		return Verdict{}, &CheckError{Class: failure.BadRequest, Status: http.StatusBadRequest}
	case strings.Contains(req.Response, "offline"):
		return Verdict{}, errors.New("connection refused")
	case strings.Contains(req.Response, "local"):
		return Verdict{}, &CheckError{Class: failure.BadRequest}
	}
	return Verdict{RiskLevel: "low", PassFail: "pass"}, nil
})

// TestStatsMetrics drives one sample of each kind through a guard, one
// worker at a time in fake time, and checks every number Stats derives
// for metrics.
func TestStatsMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := New(scripted, WithLogger(discardLogger()), WithWorkers(1),
			WithRetries(1, time.Millisecond, time.Millisecond, 0), WithCircuitBreaker(100, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(echoAnswer)
		mustRoute(t, g, "quiet", WithSampleRate(0))
		for _, body := range []string{"slow fine", "UNSAFE words", "slow fine", "broken", "refused", "offline", "local"} {
			serveAnswer(h, body)
			time.Sleep(time.Second) // one sample at a time: the repeat is a cache hit
		}
		closeGuard(t, g)
		s := g.Stats()
		checkAccounting(t, s)
		if s.Checked != 2 || s.CacheHits != 1 || s.Failed[failure.Server] != 1 || s.Failed[failure.BadRequest] != 2 || s.Failed[failure.Network] != 1 {
			t.Errorf("checked %d, cache hits %d, failed %v", s.Checked, s.CacheHits, s.Failed)
		}
		for _, tt := range []string{"toxicity", "pii"} {
			ts := s.TestTypes[tt]
			if pass, flagged, failed, cached := ts.Results(); pass != 1 || flagged != 1 || failed != 4 || cached != 1 {
				t.Errorf("%s: Results() = %d, %d, %d, %d; want 1, 1, 4, 1", tt, pass, flagged, failed, cached)
			}
			if ts.Checks != 7 || ts.Flagged != 1 || ts.Passed != 1 {
				t.Errorf("%s: checks %d flagged %d passed %d, want 7, 1, 1", tt, ts.Checks, ts.Flagged, ts.Passed)
			}
			wantScores := make([]uint64, 11)
			wantScores[0], wantScores[8] = 2, 1 // 0.05 twice (once cached), 0.9 once
			if !slices.Equal(ts.Scores.Counts, wantScores) || ts.Scores.Count != 3 || math.Abs(ts.Scores.Sum-1) > 1e-9 {
				t.Errorf("%s: scores %+v, want counts %v, count 3, sum 1", tt, ts.Scores, wantScores)
			}
			wantDurations := make([]uint64, 19)
			wantDurations[7], wantDurations[9] = 1, 1 // 0.1 s in (0.064, 0.128], 0.3 s in (0.256, 0.512]
			if !slices.Equal(ts.Durations.Counts, wantDurations) || ts.Durations.Count != 2 || math.Abs(ts.Durations.Sum-0.4) > 1e-9 {
				t.Errorf("%s: durations %+v, want counts %v, count 2, sum 0.4", tt, ts.Durations, wantDurations)
			}
		}
		if s.Latency.Count != 4 {
			t.Fatalf("Latency.Count = %d, want 4", s.Latency.Count)
		}
		for _, q := range []struct{ q, want float64 }{{0.5, 0.128}, {0.95, 0.256 + 0.256*0.9}, {0.99, 0.256 + 0.256*0.98}} {
			if got := s.Latency.Quantile(q.q); math.Abs(got-q.want) > 1e-9 {
				t.Errorf("Latency.Quantile(%v) = %v, want %v", q.q, got, q.want)
			}
		}
		// slow fine 2, UNSAFE 2, broken 2×2, refused 2, offline 2×2, local 2.
		if s.APICalls != 16 || s.APIRetries != 4 {
			t.Errorf("API calls %d retries %d, want 16 and 4", s.APICalls, s.APIRetries)
		}
		wantClasses := APIRequests{Status2xx: 4, Status3xx: 0, Status4xx: 2, Status5xx: 4, Network: 4}
		if s.APIRequests != wantClasses {
			t.Errorf("APIRequests = %v, want %v", s.APIRequests, wantClasses)
		}
		if s.VerdictCacheHits != 2 || s.VerdictCacheMisses != 12 {
			t.Errorf("verdict cache hits %d misses %d, want 2 and 12", s.VerdictCacheHits, s.VerdictCacheMisses)
		}
		if s.APICallsLastMinute != 14 { // the two refused locally never reached the API
			t.Errorf("APICallsLastMinute = %d, want 14", s.APICallsLastMinute)
		}
		if _, ok := s.RateLimitUtilization(); ok || s.RateLimitPerMinute != 0 {
			t.Errorf("a guard without WithRateLimit reports a rate limit of %d", s.RateLimitPerMinute)
		}
		if len(s.Routes) != 2 || !slices.Equal(s.Routes[0].TestTypes, []string{"toxicity", "pii"}) ||
			!slices.Equal(s.Routes[1].TestTypes, DefaultTestTypes()) {
			t.Errorf("routes %+v", s.Routes)
		}
		time.Sleep(time.Minute)
		if n := g.Stats().APICallsLastMinute; n != 0 {
			t.Errorf("a minute later APICallsLastMinute = %d, want 0", n)
		}
	})
}

func TestStatsRateLimitUtilization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := New(scripted, WithLogger(discardLogger()), WithRateLimit(60))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(echoAnswer)
		for _, body := range []string{"a", "b", "c"} {
			serveAnswer(h, body)
		}
		closeGuard(t, g)
		s := g.Stats()
		u, ok := s.RateLimitUtilization()
		if s.RateLimitPerMinute != 60 || s.APICallsLastMinute != 3 || !ok || u != 0.05 {
			t.Errorf("limit %d, calls in the last minute %d, utilization %v %v; want 60, 3, 0.05 true",
				s.RateLimitPerMinute, s.APICallsLastMinute, u, ok)
		}
	})
}

func TestCallWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w callWindow
		steps := []struct {
			wait time.Duration
			add  int
			want uint64
		}{
			{0, 3, 3},
			{30 * time.Second, 2, 5},
			{29 * time.Second, 1, 6}, // 59 s after the first calls: all still inside
			{time.Second, 0, 3},      // 60 s: the first second has left the window
			{58 * time.Second, 4, 5}, // 118 s: the 59 s call and the new ones
			{time.Second, 0, 4},      // 119 s: the 59 s call has left
			{10 * time.Minute, 0, 0},
		}
		for i, st := range steps {
			time.Sleep(st.wait)
			for range st.add {
				w.add(time.Now())
			}
			if got := w.count(time.Now()); got != st.want {
				t.Errorf("step %d: count = %d, want %d", i, got, st.want)
			}
		}
	})
}

func TestStatsIncidentPerRoute(t *testing.T) {
	g := newGuard(t, scripted)
	mustRoute(t, g, "a")
	mustRoute(t, g, "b")
	incident := func() map[string]bool {
		m := map[string]bool{}
		for _, r := range g.Stats().Routes {
			m[r.Name] = r.Incident
		}
		return m
	}
	if got := incident(); got["a"] || got["b"] {
		t.Errorf("before the incident: %v", got)
	}
	if err := g.StartIncident(context.Background(), "test", time.Hour, "a"); err != nil {
		t.Fatal(err)
	}
	if got := incident(); !got["a"] || got["b"] {
		t.Errorf("incident on a: %v", got)
	}
	if err := g.EndIncident(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := incident(); got["a"] || got["b"] {
		t.Errorf("after the incident: %v", got)
	}
}

func TestAnnotate(t *testing.T) {
	var calls atomic.Int64
	annotate := func(r *http.Request) any {
		calls.Add(1)
		if r.Header.Get("X-Trace") == "boom" {
			panic("annotate failed")
		}
		return r.Header.Get("X-Trace")
	}
	var (
		mu       sync.Mutex
		outcomes []Outcome
	)
	g := newGuard(t, scripted, WithWorkers(1), WithAnnotate(annotate), WithOnVerdict(func(o Outcome) {
		mu.Lock()
		outcomes = append(outcomes, o)
		mu.Unlock()
	}))
	on := mustRoute(t, g, "on", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(answer("fine"))
	off := mustRoute(t, g, "off", WithSampleRate(0)).Wrap(answer("fine"))
	for _, tr := range []string{"t1", "t2", "boom"} {
		serveTraced(off, tr)
		serveTraced(on, tr)
	}
	closeGuard(t, g)
	if n := calls.Load(); n != 3 {
		t.Errorf("annotate ran %d times, want 3 (sampled requests only)", n)
	}
	got := map[any]int{}
	for _, o := range outcomes {
		got[o.Annotation]++
	}
	want := map[any]int{"t1": 2, "t2": 2, nil: 2}
	if len(got) != len(want) || got["t1"] != 2 || got["t2"] != 2 || got[nil] != 2 {
		t.Errorf("annotations by outcome %v, want %v", got, want)
	}
	s := g.Stats()
	if s.HookPanics != 1 || s.Checked != 1 || s.CacheHits != 2 {
		t.Errorf("hook panics %d, checked %d, cache hits %d; want 1, 1, 2", s.HookPanics, s.Checked, s.CacheHits)
	}
	checkAccounting(t, s)
}

func TestAnnotateNotCalledForAdmissionDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		gt := newGate()
		g, err := New(gt, WithLogger(discardLogger()), WithWorkers(1), WithQueue(1, 1<<20),
			WithAnnotate(func(*http.Request) any { calls.Add(1); return nil }))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
		for range 5 {
			serveTraced(h, "x")
		}
		if n, d := calls.Load(), g.Stats().Dropped[drop.QueueFull]; n != 1 || d != 4 {
			t.Errorf("annotate ran %d times with %d queue_full drops, want 1 and 4", n, d)
		}
		close(gt.release)
		closeGuard(t, g)
	})
}

// echoAnswer answers with the question, so the checker sees it.
var echoAnswer = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
})

func serveAnswer(h http.Handler, text string) {
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/",
		strings.NewReader("question about "+text)))
}

func serveTraced(h http.Handler, trace string) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello"))
	r.Header.Set("X-Trace", trace)
	h.ServeHTTP(httptest.NewRecorder(), r)
}
