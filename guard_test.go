package safecheck

import (
	"context"
	"errors"
	"github.com/safecheck/safecheck/drop"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestNewRejectsBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"zero workers", WithWorkers(0), "workers"},
		{"negative queue", WithQueue(-1, 100), "queue size"},
		{"zero queue bytes", WithQueue(10, 0), "queue bytes"},
		{"negative cache ttl", WithCache(-time.Second, 10), "cache ttl"},
		{"zero cache entries", WithCache(time.Hour, 0), "cache entries"},
		{"negative retries", WithRetries(-1, time.Second, time.Minute, 0), "retries"},
		{"max backoff below base", WithRetries(3, time.Minute, time.Second, 0), "max backoff"},
		{"negative jitter", WithRetries(3, time.Second, time.Minute, -time.Second), "jitter"},
		{"zero attempt timeout", WithAttemptTimeout(0), "attempt timeout"},
		{"zero breaker failures", WithCircuitBreaker(0, time.Second), "circuit breaker failures"},
		{"negative rate limit", WithRateLimit(-5), "rate limit"},
		{"empty service", WithService(""), "service"},
		{"zero max Retry-After", WithMaxRetryAfter(0), "Retry-After"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(&recorder{}, tc.opt)
			if err == nil {
				g.Close(context.Background())
				t.Fatal("New accepted the configuration")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil); err == nil {
		t.Error("New accepted a nil checker")
	}
}

type onlyToxicity struct{ recorder }

func (*onlyToxicity) Supports(tt string) bool { return tt == "toxicity" }

func TestRouteRejectsBadConfiguration(t *testing.T) {
	g := newGuard(t, &onlyToxicity{}, WithQueue(10, 1<<20))
	tests := []struct {
		name  string
		route string
		opts  []RouteOption
		want  string
	}{
		{"empty name", "", nil, "name is empty"},
		{"rate above one", "a", []RouteOption{WithSampleRate(1.5), WithTestTypes("toxicity")}, "sample rate"},
		{"negative rate", "a", []RouteOption{WithSampleRate(-0.1), WithTestTypes("toxicity")}, "sample rate"},
		{"unknown test type", "a", []RouteOption{WithTestTypes("toxicity", "astrology")}, `unknown test type "astrology"`},
		{"duplicate test type", "a", []RouteOption{WithTestTypes("toxicity", "toxicity")}, "listed twice"},
		{"no test types", "a", []RouteOption{WithTestTypes()}, "no test types"},
		{"zero capture", "a", []RouteOption{WithTestTypes("toxicity"), WithMaxCaptureBytes(0)}, "max capture bytes"},
		{"capture larger than the queue", "a", []RouteOption{WithTestTypes("toxicity"), WithMaxCaptureBytes(1 << 20)}, "do not fit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Route(tc.route, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Route error = %v, want one naming %q", err, tc.want)
			}
		})
	}
	mustRoute(t, g, "ok", WithTestTypes("toxicity"))
	if _, err := g.Route("ok", WithSampleRate(0.5)); err == nil {
		t.Error("registering a route twice with options succeeded")
	}
	if rt, err := g.Route("ok"); err != nil || rt.Name() != "ok" {
		t.Errorf("looking up a registered route: %v", err)
	}
}

func serve(h http.Handler, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	return w
}

// gate is a Checker that blocks every call until released or canceled.
type gate struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) Check(ctx context.Context, req CheckRequest) (Verdict, error) {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	select {
	case <-g.release:
		return Verdict{RiskLevel: "low", PassFail: "pass"}, nil
	case <-ctx.Done():
		return Verdict{}, ctx.Err()
	}
}

func answer(text string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		io.WriteString(w, text)
	})
}

func TestQueueFullNeverBlocksRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gt := newGate()
		g, err := New(gt, WithWorkers(1), WithQueue(2, 1<<20), WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
		start := time.Now()
		for i := range 10 {
			if w := serve(h, "question "+string(rune('a'+i))); w.Body.String() != "fine" {
				t.Fatalf("request %d: body %q", i, w.Body)
			}
		}
		// Fake time moves only when every goroutine is blocked: requests that
		// waited on the blocked checker would have deadlocked the bubble.
		if d := time.Since(start); d != 0 {
			t.Errorf("requests took %s of fake time with the checker blocked", d)
		}
		s := g.Stats()
		if s.Dropped[drop.QueueFull] != 8 || s.InFlight != 2 {
			t.Errorf("dropped %v in flight %d, want 8 queue_full and 2 in flight", s.Dropped, s.InFlight)
		}
		checkAccounting(t, s)
		close(gt.release)
		if err := g.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s = g.Stats()
		if s.Checked != 2 {
			t.Errorf("checked = %d, want 2", s.Checked)
		}
		checkAccounting(t, s)
	})
}

func TestByteBudgetDropsBeforeCopying(t *testing.T) {
	// A pooled capture keeps the buffers of an earlier test's sample, and
	// their spare capacity counts as held: start from an empty pool (two
	// collections empty it) so that the sizes below are exact.
	runtime.GC()
	runtime.GC()
	synctest.Test(t, func(t *testing.T) {
		gt := newGate()
		g, err := New(gt, WithWorkers(1), WithQueue(100, 300), WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"), WithMaxCaptureBytes(100)).
			Wrap(answer(strings.Repeat("x", 90)))
		serve(h, "first") // reserves 200 bytes, then holds 90+5 while checked
		time.Sleep(batchDelay)
		synctest.Wait()    // the worker holds it in the checker
		serve(h, "second") // 95 + 200 <= 300: fits
		serve(h, "third")  // 95 + 95 + 200 > 300: dropped
		s := g.Stats()
		if s.Dropped[drop.QueueBytes] != 1 || s.QueueBytes > 300 {
			t.Errorf("dropped %v, queue bytes %d; want one queue_bytes drop within 300 bytes", s.Dropped, s.QueueBytes)
		}
		close(gt.release)
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s := g.Stats(); s.QueueBytes != 0 {
			t.Errorf("queue bytes after Close = %d, want 0", s.QueueBytes)
		}
	})
}

func TestCloseChecksEverythingWithAHealthyAPI(t *testing.T) {
	rec := &recorder{}
	g, err := New(rec, WithWorkers(2), WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(answer("fine"))
	for i := range 50 {
		serve(h, "question "+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	closeGuard(t, g)
	s := g.Stats()
	if s.Checked != 50 || s.InFlight != 0 {
		t.Errorf("checked %d in flight %d, want 50 and 0", s.Checked, s.InFlight)
	}
	if n := len(rec.requests()); n != 100 {
		t.Errorf("checker calls = %d, want 100", n)
	}
	checkAccounting(t, s)
	if err := g.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	serve(h, "after close")
	if s := g.Stats(); s.Dropped[drop.Closed] != 1 {
		t.Errorf("a request after Close must be dropped as closed: %v", s.Dropped)
	}
}

func TestCloseWithDeadAPIReturnsByDeadlineWithExactCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gt := newGate() // never released: the API hangs
		g, err := New(gt, WithWorkers(2), WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
		for i := range 5 {
			serve(h, "q"+string(rune('0'+i)))
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err = g.Close(ctx)
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Close took %s, want exactly its 5s deadline", d)
		}
		if err == nil || !strings.Contains(err.Error(), "5 samples not checked") || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close error = %v, want one naming 5 unchecked samples", err)
		}
		synctest.Wait() // the canceled checks end, as shutdown drops
		s := g.Stats()
		if s.Dropped[drop.Shutdown] != 5 {
			t.Errorf("shutdown drops = %d, want 5", s.Dropped[drop.Shutdown])
		}
		checkAccounting(t, s)
	})
}

func TestCacheAndInFlightDedupe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gt := newGate()
		g, err := New(gt, WithWorkers(4), WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("same answer"))
		for range 3 {
			serve(h, "same question")
		}
		time.Sleep(batchDelay)
		synctest.Wait() // three workers: one calls the checker, two wait for its answer
		close(gt.release)
		synctest.Wait()
		serve(h, "same question") // now from the cache
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if gt.calls != 1 {
			t.Errorf("checker calls = %d, want 1", gt.calls)
		}
		s := g.Stats()
		if s.Checked != 1 || s.CacheHits != 3 {
			t.Errorf("checked %d cache hits %d, want 1 and 3", s.Checked, s.CacheHits)
		}
		checkAccounting(t, s)
	})
}

func TestHookPanicsAreRecoveredAndCounted(t *testing.T) {
	var mu sync.Mutex
	var outcomes []Outcome
	g := newGuard(t, &recorder{}, WithLogger(discardLogger()), WithOnVerdict(func(o Outcome) {
		mu.Lock()
		outcomes = append(outcomes, o)
		mu.Unlock()
		panic("hook bug")
	}))
	h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(answer("UNSAFE words"))
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("q"))
	req.Header.Set("X-Request-ID", "abc-123")
	h.ServeHTTP(httptest.NewRecorder(), req)
	closeGuard(t, g)
	s := g.Stats()
	if s.HookPanics != 2 || s.Checked != 1 {
		t.Errorf("hook panics %d checked %d, want 2 and 1", s.HookPanics, s.Checked)
	}
	if len(outcomes) != 2 || !outcomes[0].Verdict.Flagged || outcomes[0].RequestID != "abc-123" || outcomes[0].Route != "r" {
		t.Errorf("outcomes = %+v", outcomes)
	}
}

func TestEmptyAndBinaryResponsesAreSkippedAndCounted(t *testing.T) {
	rec := &recorder{}
	g := newGuard(t, rec, WithLogger(discardLogger()))
	rt := mustRoute(t, g, "r", WithSampleRate(1))
	serve(rt.Wrap(answer("")), "q")
	serve(rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00"))
	})), "q")
	closeGuard(t, g)
	s := g.Stats()
	if s.Dropped[drop.EmptyResponse] != 1 || s.Dropped[drop.Binary] != 1 || len(rec.requests()) != 0 {
		t.Errorf("dropped %v, checker calls %d", s.Dropped, len(rec.requests()))
	}
	checkAccounting(t, s)
}

func TestPanickingCustomerIDFunctionNeverBreaksTheRequest(t *testing.T) {
	g := newGuard(t, &recorder{})
	h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"),
		WithCustomerID(func(*http.Request) string { panic("bug in the app's id function") })).Wrap(answer("fine"))
	if w := serve(h, "q"); w.Body.String() != "fine" {
		t.Errorf("body = %q", w.Body)
	}
	closeGuard(t, g) // fails if the slot leaked: Close would wait for it
	s := g.Stats()
	if s.Dropped[drop.Panic] != 1 || s.HookPanics != 1 || s.QueueBytes != 0 {
		t.Errorf("dropped %v, hook panics %d, queue bytes %d", s.Dropped, s.HookPanics, s.QueueBytes)
	}
	checkAccounting(t, s)
}
