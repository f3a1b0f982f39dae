package safecheck

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"
	"github.com/safecheck/safecheck/internal/syncbuf"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/extract"
)

// settle lets the batch timer fire and every worker run until it blocks.
func settle() {
	time.Sleep(batchDelay)
	synctest.Wait()
}

func TestLocalRateLimitNeverOpensTheCircuit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		var calls atomic.Int64
		instant := CheckerFunc(func(context.Context, CheckRequest) (Verdict, error) {
			calls.Add(1)
			return Verdict{RiskLevel: "low"}, nil
		})
		// One permit a second, and no sample waits more than 2 s for one:
		// of ten samples at once, three get a permit in time.
		g, err := New(instant, WithLogger(jsonLogger(buf)), WithRateLimit(60),
			WithMaxRetryAfter(2*time.Second), WithCircuitBreaker(2, time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("ok"))
		for i := range 10 {
			serve(h, "question "+string(rune('a'+i)))
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		s := g.Stats()
		if s.CircuitOpen {
			t.Error("our own rate limiter opened the circuit")
		}
		time.Sleep(time.Minute)
		serve(h, "a question after the burst")
		closeGuard(t, g)
		s = g.Stats()
		if s.Checked != 4 || s.Dropped[drop.RateLimited] != 7 || len(s.Failed) != 0 {
			t.Errorf("checked %d dropped %v failed %v; want 4 checked and 7 rate_limited drops", s.Checked, s.Dropped, s.Failed)
		}
		if calls.Load() != 4 {
			t.Errorf("checker calls = %d, want 4", calls.Load())
		}
		if strings.Contains(buf.String(), "circuit opened") {
			t.Errorf("circuit opened:\n%s", buf.String())
		}
		checkAccounting(t, s)
	})
}

func TestLongRetryAfterPauseIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		var calls atomic.Int64
		slow := CheckerFunc(func(ctx context.Context, _ CheckRequest) (Verdict, error) {
			n := calls.Add(1)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return Verdict{}, ctx.Err()
			}
			if n == 1 {
				return Verdict{}, &CheckError{Class: failure.RateLimited, Status: 429, RetryAfter: 30 * time.Second}
			}
			return Verdict{RiskLevel: "low"}, nil
		})
		g, err := New(slow, WithLogger(jsonLogger(buf)), WithWorkers(2),
			WithAttemptTimeout(5*time.Second), WithCircuitBreaker(2, time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(answer("ok"))
		serve(h, "first")
		serve(h, "second")
		if err := g.Close(context.Background()); err != nil {
			t.Error(err)
		}
		s := g.Stats()
		if s.Checked != 2 || len(s.Failed) != 0 {
			t.Errorf("checked %d failed %v; want both samples checked", s.Checked, s.Failed)
		}
		if out := buf.String(); strings.Contains(out, "circuit opened") {
			t.Errorf("a Retry-After pause opened the circuit:\n%s", out)
		}
		checkAccounting(t, s)
	})
}

func TestRejectedKeyStopsCallingTheAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := startFakeAPI(t, assurancehubtest.WithAPIKeys("ash_test_someoneelse0000000000000000000"))
		defer api.stop()
		buf := &syncBuffer{}
		g, err := New(AssuranceHub(api.client), WithLogger(jsonLogger(buf)), WithWorkers(1))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity", "pii", "jailbreak")).Wrap(answer("a calm answer"))
		for i := range 10 {
			serve(h, "q"+string(rune('0'+i)))
		}
		settle()
		serve(h, "after the rejection")
		closeGuard(t, g)
		s := g.Stats()
		if n := api.TotalRequests(); n != 1 {
			t.Errorf("API calls = %d, want 1: the rejected key was used again", n)
		}
		if s.Failed[failure.Unauthorized] != 1 || s.Dropped[drop.AuthFailed] != 10 {
			t.Errorf("failed %v dropped %v; want 1 unauthorized and 10 auth_failed", s.Failed, s.Dropped)
		}
		if n := strings.Count(buf.String(), "rejected the API key"); n != 1 {
			t.Errorf("rejection logged %d times, want 1", n)
		}
		checkAccounting(t, s)
	})
}

func TestRejectedKeyResumesWhenTheKeyChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const good = "ash_test_thegoodkey00000000000000000000"
		h0, err := assurancehubtest.NewHandler(assurancehubtest.WithAPIKeys(good))
		if err != nil {
			t.Fatal(err)
		}
		l := newPipeListener()
		srv := &http.Server{Handler: h0}
		go srv.Serve(l)
		tr := &http.Transport{DialContext: l.dial}
		defer func() { tr.CloseIdleConnections(); srv.Close() }()
		var key atomic.Value
		key.Store("ash_test_therevokedkey000000000000000000")
		c, err := assurancehub.New(assurancehub.WithBaseURL("http://127.0.0.1"),
			assurancehub.WithHTTPClient(&http.Client{Transport: tr}),
			assurancehub.WithLogger(discardLogger()),
			assurancehub.WithKeySource(func(context.Context) (string, error) { return key.Load().(string), nil }))
		if err != nil {
			t.Fatal(err)
		}
		buf := &syncBuffer{}
		g, err := New(AssuranceHub(c), WithLogger(jsonLogger(buf)), WithWorkers(1))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("a calm answer"))
		serve(h, "rejected")
		settle()
		if !g.Stats().AuthFailed {
			t.Error("Stats().AuthFailed is false after a 401")
		}
		time.Sleep(time.Minute)
		serve(h, "still rejected") // the key has not changed: no call
		key.Store(good)
		time.Sleep(monitorInterval)
		synctest.Wait()
		if g.Stats().AuthFailed {
			t.Error("checks did not resume after the key source yielded a new key")
		}
		serve(h, "accepted")
		closeGuard(t, g)
		s := g.Stats()
		if s.Checked != 1 || s.Failed[failure.Unauthorized] != 1 || s.Dropped[drop.AuthFailed] != 1 || h0.TotalRequests() != 2 {
			t.Errorf("checked %d failed %v dropped %v calls %d", s.Checked, s.Failed, s.Dropped, h0.TotalRequests())
		}
		out := buf.String()
		if !strings.Contains(out, "checks resumed") {
			t.Errorf("no record says checks resumed:\n%s", out)
		}
		checkAccounting(t, s)
	})
}

func TestCircuitOpenRecordSaysWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := startFakeAPI(t)
		defer api.stop()
		buf := &syncBuffer{}
		g, err := New(AssuranceHub(api.client), WithLogger(jsonLogger(buf)), WithWorkers(1),
			WithCircuitBreaker(3, 30*time.Second), WithRetries(0, time.Second, time.Second, 0))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("a calm answer"))
		api.FailNext(assurancehubtest.Status(503), assurancehubtest.Status(503), assurancehubtest.Status(503))
		for i := range 3 {
			serve(h, "q"+string(rune('0'+i)))
		}
		settle()
		s := g.Stats()
		if !s.CircuitOpen || s.CircuitTripClass != failure.Server || s.CircuitTripStatus != 503 {
			t.Errorf("open %v, trip %q %d; want open by server_error 503", s.CircuitOpen, s.CircuitTripClass, s.CircuitTripStatus)
		}
		closeGuard(t, g)
		var found bool
		for _, rec := range syncbuf.Records(t, buf.String()) {
			if rec["msg"] == nil || !strings.HasPrefix(rec["msg"].(string), "circuit opened") {
				continue
			}
			found = true
			if rec["error_class"] != failure.Server.String() || rec["status"] != float64(503) {
				t.Errorf("circuit record %v lacks error_class=server_error status=503", rec)
			}
		}
		if !found {
			t.Errorf("no circuit opened record:\n%s", buf.String())
		}
	})
}

func TestLossWarningsDoNotFlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		g, err := New(&recorder{}, WithLogger(jsonLogger(buf)), WithQueue(1, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"), WithMaxCaptureBytes(1<<10)).Wrap(answer("ok"))
		// A steady 50 % loss for 30 s: one admitted, one dropped, each second.
		for i := range 30 {
			serve(h, "kept "+string(rune('a'+i)))
			serve(h, "dropped "+string(rune('a'+i)))
			time.Sleep(time.Second)
			synctest.Wait()
		}
		out := buf.String()
		if n := strings.Count(out, "no longer being dropped"); n != 0 {
			t.Errorf("loss reported over %d times during a steady loss:\n%s", n, out)
		}
		if n := strings.Count(out, "are being dropped"); n != 1 {
			t.Errorf("loss start reported %d times, want 1", n)
		}
		time.Sleep(lossQuietPeriod + 2*time.Second)
		synctest.Wait()
		if n := strings.Count(buf.String(), "no longer being dropped"); n != 1 {
			t.Errorf("loss end reported %d times after a quiet period, want 1:\n%s", n, buf.String())
		}
		closeGuard(t, g)
		checkAccounting(t, g.Stats())
	})
}

func TestCloseReturnsByItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		deaf := CheckerFunc(func(context.Context, CheckRequest) (Verdict, error) {
			<-release // ignores cancellation
			return Verdict{RiskLevel: "low"}, nil
		})
		var verdicts atomic.Int64
		g, err := New(deaf, WithLogger(discardLogger()), WithWorkers(2), WithOnVerdict(func(Outcome) { verdicts.Add(1) }))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("ok"))
		for i := range 3 {
			serve(h, "q"+string(rune('0'+i)))
		}
		settle()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err = g.Close(ctx)
		if took := time.Since(start); took != 5*time.Second {
			t.Errorf("Close took %s, want its 5 s deadline", took)
		}
		if err == nil || !strings.Contains(err.Error(), "3 samples not checked") || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want 3 samples not checked and the deadline; stats %+v", err, g.Stats())
		}
		close(release)
		synctest.Wait()
		s := g.Stats()
		if s.Dropped[drop.Shutdown] != 3 || s.Checked != 0 || verdicts.Load() != 0 {
			t.Errorf("dropped %v checked %d verdicts %d; the stragglers must count as shutdown drops", s.Dropped, s.Checked, verdicts.Load())
		}
		checkAccounting(t, s)
	})
}

func TestFlushWaitsWithoutClosing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		g, err := New(CheckerFunc(func(ctx context.Context, req CheckRequest) (Verdict, error) {
			time.Sleep(3 * time.Second)
			return rec.Check(ctx, req)
		}), WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("ok"))
		serve(h, "one")
		serve(h, "two")
		if err := g.Flush(context.Background()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if s := g.Stats(); s.Checked != 2 || s.InFlight != 0 {
			t.Errorf("after Flush: checked %d in flight %d", s.Checked, s.InFlight)
		}
		serve(h, "three") // still open
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := g.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 sample") {
			t.Errorf("Flush past its deadline = %v", err)
		}
		closeGuard(t, g)
		if s := g.Stats(); s.Checked != 3 {
			t.Errorf("checked %d, want 3", s.Checked)
		}
		if err := g.Flush(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Flush after Close = %v, want ErrClosed", err)
		}
	})
}

func TestCloseErrorNeverFormatsNil(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		err  error
		want string
	}{
		{1, nil, "safecheck: closed with 1 sample not checked"},
		{2, nil, "safecheck: closed with 2 samples not checked"},
		{3, context.DeadlineExceeded, "safecheck: closed with 3 samples not checked: context deadline exceeded"},
	} {
		got := uncheckedError("closed", tc.n, tc.err)
		if got.Error() != tc.want {
			t.Errorf("uncheckedError(%d, %v) = %q, want %q", tc.n, tc.err, got, tc.want)
		}
		if tc.err != nil && !errors.Is(got, tc.err) {
			t.Errorf("%q does not wrap %v", got, tc.err)
		}
	}
}

func TestCloseIsLinearisableWithAdmissionAndIncidents(t *testing.T) {
	for round := range 50 {
		g, err := New(&recorder{}, WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("ok"))
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						serve(h, "q")
						g.StartIncident(context.Background(), "drill", time.Hour)
					}
				}
			})
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		err = g.Close(context.Background())
		if err != nil && strings.Contains(err.Error(), "%!") {
			t.Fatalf("round %d: Close = %q", round, err)
		}
		if s := g.Stats(); s.Incident != nil {
			t.Fatalf("round %d: an incident is active after Close returned: %+v", round, s.Incident)
		}
		close(stop)
		wg.Wait()
		if s := g.Stats(); s.Incident != nil {
			t.Fatalf("round %d: an incident started after Close: %+v", round, s.Incident)
		}
		checkAccounting(t, g.Stats())
	}
}

func TestAfterCloseEveryChangeIsRefused(t *testing.T) {
	g, err := New(&recorder{}, WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("still served"))
	closeGuard(t, g)
	_, errRoute := g.Route("new")
	_, errKnown := g.Route("r")
	_, errMW := g.Middleware("other")
	for name, err := range map[string]error{
		"Route(new)":    errRoute,
		"Route(known)":  errKnown,
		"Middleware":    errMW,
		"SetSampleRate": g.SetSampleRate(context.Background(), "r", 0.5),
		"StartIncident": g.StartIncident(context.Background(), "late", time.Minute),
		"EndIncident":   g.EndIncident(context.Background()),
		"Close":         g.Close(context.Background()),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if w := serve(h, "q"); w.Body.String() != "still served" {
		t.Errorf("mounted route after Close served %q", w.Body.String())
	}
	if s := g.Stats(); s.Dropped[drop.Closed] != 1 {
		t.Errorf("dropped %v, want one closed drop", s.Dropped)
	}
}

func TestNilClientIsRefused(t *testing.T) {
	if _, err := New(AssuranceHub(nil)); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("New(AssuranceHub(nil)) = %v, want an error naming the nil client", err)
	}
	if _, err := New(CheckerFunc(nil)); err == nil {
		t.Error("New(CheckerFunc(nil)) returned no error")
	}
}

func TestPanickingExtractorIsContained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const canary = "CANARY-in-the-panic-value"
		buf := &syncBuffer{}
		rec := &recorder{}
		g, err := New(rec, WithLogger(jsonLogger(buf)))
		if err != nil {
			t.Fatal(err)
		}
		bad := extract.ExtractorFunc(func(extract.Input) (extract.Pair, error) { panic(canary) })
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"), WithRouteExtractor(bad)).Wrap(answer("ok"))
		serve(h, "one")
		serve(h, "two")
		closeGuard(t, g)
		s := g.Stats()
		if s.Dropped[drop.Panic] != 2 || s.HookPanics != 2 || len(rec.requests()) != 0 {
			t.Errorf("dropped %v hook panics %d calls %d; want 2 panic drops", s.Dropped, s.HookPanics, len(rec.requests()))
		}
		out := buf.String()
		if strings.Contains(out, canary) {
			t.Error("the panic value reached the log")
		}
		if n := strings.Count(out, "extractor panicked"); n != 1 {
			t.Errorf("extractor panic logged %d times, want 1:\n%s", n, out)
		}
		checkAccounting(t, s)
	})
}

func TestEmptyPromptIsSkippedAndNamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		rec := &recorder{}
		g, err := New(rec, WithLogger(jsonLogger(buf)))
		if err != nil {
			t.Fatal(err)
		}
		ignoresBody := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("an answer")) })
		h := mustRoute(t, g, "GET /ask", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(ignoresBody)
		for range 3 {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ask?q=hello", nil))
		}
		closeGuard(t, g)
		s := g.Stats()
		if s.Dropped[drop.EmptyPrompt] != 3 || len(rec.requests()) != 0 || len(s.Failed) != 0 {
			t.Errorf("dropped %v failed %v calls %d; want 3 empty_prompt drops and no call", s.Dropped, s.Failed, len(rec.requests()))
		}
		out := buf.String()
		if n := strings.Count(out, "no prompt"); n != 1 || !strings.Contains(out, "GET /ask") {
			t.Errorf("empty prompt warned %d times, want once naming the route:\n%s", n, out)
		}
		if strings.Contains(out, `"level":"ERROR"`) {
			t.Errorf("empty prompts logged as errors:\n%s", out)
		}
		checkAccounting(t, s)
	})
}

func TestPromptFromTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		g := newGuard(t, rec)
		ignoresBody := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("an answer")) })
		var runs atomic.Int64
		h := mustRoute(t, g, "GET /ask", WithSampleRate(1), WithTestTypes("toxicity"),
			WithPrompt(func(r *http.Request) string { runs.Add(1); return r.URL.Query().Get("q") })).Wrap(ignoresBody)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ask?q=is+it+safe", nil))
		unsampled := mustRoute(t, g, "GET /never", WithSampleRate(0),
			WithPrompt(func(r *http.Request) string { runs.Add(1); return "x" })).Wrap(ignoresBody)
		unsampled.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/never", nil))
		closeGuard(t, g)
		reqs := rec.requests()
		if len(reqs) != 1 || reqs[0].Prompt != "is it safe" || reqs[0].Response != "an answer" {
			t.Errorf("checked %+v; want the prompt from the query", reqs)
		}
		if runs.Load() != 1 {
			t.Errorf("prompt function ran %d times, want once (sampled requests only)", runs.Load())
		}
	})
}

func TestDedupeWaitersKeepTheirOwnDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		slow := CheckerFunc(func(ctx context.Context, _ CheckRequest) (Verdict, error) {
			calls.Add(1)
			select {
			case <-time.After(10 * time.Second):
				return Verdict{RiskLevel: "low"}, nil
			case <-ctx.Done():
				return Verdict{}, ctx.Err()
			}
		})
		g := newGuard(t, slow)
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("the answer"))
		done := make(chan Outcome)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			done <- g.Check(ctx, CheckRequest{TestType: "toxicity", Prompt: "the question", Response: "the answer"})
		}()
		synctest.Wait()
		serve(h, "the question") // the same key: it joins the call in flight
		o := <-done
		if c := classify(o.Err).Class; o.Err == nil || c != failure.Timeout {
			t.Errorf("short-deadline Check = %v, want a timeout", o.Err)
		}
		closeGuard(t, g)
		s := g.Stats()
		// It joined the call in flight, so it counts as answered from the cache.
		if s.CacheHits != 1 || len(s.Failed) != 0 {
			t.Errorf("cache hits %d failed %v; the background sample must keep waiting", s.CacheHits, s.Failed)
		}
		if calls.Load() != 1 {
			t.Errorf("checker calls = %d, want 1 (deduplicated)", calls.Load())
		}
	})
}

func TestByteBudgetCountsWhatIsHeld(t *testing.T) {
	const limit = 64 << 10
	var got *Capture
	g := newGuard(t, &recorder{})
	g.deliver = func(c *Capture) { got = c }
	chunky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 1000))
		for range 80 { // 80 000 bytes in 1 000-byte writes: past the cap
			w.Write(chunk)
		}
	})
	h := mustRoute(t, g, "r", WithSampleRate(1), WithMaxCaptureBytes(limit)).Wrap(chunky)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("q", 70_000))))
	if got == nil {
		t.Fatal("no capture reached the sink")
	}
	if cap(got.resp) > limit || cap(got.req) > limit {
		t.Errorf("capture holds %d + %d bytes of capacity, over its %d cap", cap(got.req), cap(got.resp), limit)
	}
	if held, counted := int64(cap(got.req)+cap(got.resp)), g.Stats().QueueBytes; counted != held {
		t.Errorf("queue bytes = %d, capture holds %d", counted, held)
	}
	g.release(got)
	big := &Capture{req: make([]byte, 0, maxPooledBuffer+1), resp: make([]byte, 0, 10)}
	big.reset()
	if cap(big.req) != 0 || cap(big.resp) != 10 {
		t.Errorf("reset kept buffers of %d and %d bytes; the pool keeps at most %d", cap(big.req), cap(big.resp), maxPooledBuffer)
	}
}
