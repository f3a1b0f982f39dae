package safecheck

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

// pipeListener connects an http.Server and an http.Transport in memory, so
// the real client and the real fake server run inside a synctest bubble,
// where loopback sockets would keep fake time from advancing.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fakeAPI is an assurancehubtest handler served over pipes, with a real
// assurancehub client pointed at it.
type fakeAPI struct {
	*assurancehubtest.Handler
	client *assurancehub.Client
	srv    *http.Server
	tr     *http.Transport
}

// startFakeAPI must be called inside a synctest bubble; stop it before the
// bubble ends.
func startFakeAPI(t *testing.T, opts ...assurancehubtest.Option) *fakeAPI {
	t.Helper()
	h, err := assurancehubtest.NewHandler(opts...)
	if err != nil {
		t.Fatal(err)
	}
	l := newPipeListener()
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	tr := &http.Transport{DialContext: l.dial}
	c, err := assurancehub.New(
		assurancehub.WithAPIKey(assurancehubtest.TestAPIKey),
		assurancehub.WithBaseURL("http://127.0.0.1"),
		assurancehub.WithHTTPClient(&http.Client{Transport: tr}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeAPI{Handler: h, client: c, srv: srv, tr: tr}
}

func (f *fakeAPI) stop() {
	f.tr.CloseIdleConnections()
	f.srv.Close()
}

// outcomes collects what the OnVerdict hook sees.
type outcomes struct {
	mu   sync.Mutex
	list []Outcome
}

func (o *outcomes) add(x Outcome) { o.mu.Lock(); o.list = append(o.list, x); o.mu.Unlock() }
func (o *outcomes) all() []Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Outcome(nil), o.list...)
}

func TestRetryBehaviour(t *testing.T) {
	type want struct {
		calls    int
		duration time.Duration
		class    failure.Class // 0 for a verdict
	}
	tests := []struct {
		name   string
		faults func() []assurancehubtest.Fault
		want   want
	}{
		{"429 with Retry-After in seconds", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.RateLimited("7")}
		}, want{2, 7 * time.Second, 0}},
		{"429 with Retry-After as an HTTP date", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.RateLimited(time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat))}
		}, want{2, 30*time.Second - batchDelay, 0}}, // the date was fixed one batch delay before the call
		{"429 without Retry-After backs off", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.RateLimited("")}
		}, want{2, 1500 * time.Millisecond, 0}},
		{"429 with a huge Retry-After is clamped", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.RateLimited("86400")}
		}, want{2, defaultMaxRetryAfter, 0}},
		{"429 with a garbage Retry-After backs off", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.RateLimited("soon, maybe")}
		}, want{2, 1500 * time.Millisecond, 0}},
		{"429 three times then success", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.RateLimited("1"), assurancehubtest.RateLimited("1"), assurancehubtest.RateLimited("1")}
		}, want{4, 3 * time.Second, 0}},
		{"500 then success", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.Status(500)}
		}, want{2, 1500 * time.Millisecond, 0}},
		{"502, 503, 504 then success: exponential backoff", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.Status(502), assurancehubtest.Status(503), assurancehubtest.Status(504)}
		}, want{4, 1500*time.Millisecond + 2500*time.Millisecond + 4500*time.Millisecond, 0}},
		{"500 four times: retries exhausted", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.Status(500), assurancehubtest.Status(500), assurancehubtest.Status(500), assurancehubtest.Status(500)}
		}, want{4, 8500 * time.Millisecond, failure.Server}},
		{"dropped connection is retried", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.DropConnection()}
		}, want{2, 1500 * time.Millisecond, 0}},
		{"400 is not retried", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.Status(400)}
		}, want{1, 0, failure.BadRequest}},
		{"401 is not retried", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.Status(401)}
		}, want{1, 0, failure.Unauthorized}},
		{"422 is not retried", func() []assurancehubtest.Fault {
			return []assurancehubtest.Fault{assurancehubtest.Status(422)}
		}, want{1, 0, failure.BadRequest}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := startFakeAPI(t)
				defer api.stop()
				var got outcomes
				g, err := New(AssuranceHub(api.client), WithLogger(discardLogger()), WithOnVerdict(got.add))
				if err != nil {
					t.Fatal(err)
				}
				g.policy.jitterFn = func() float64 { return 0.5 }
				h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("a calm answer"))
				api.FailNext(tc.faults()...)
				serve(h, "a question")
				if err := g.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if n := api.TotalRequests(); n != tc.want.calls {
					t.Errorf("API calls = %d, want %d", n, tc.want.calls)
				}
				list := got.all()
				if len(list) != 1 {
					t.Fatalf("outcomes = %d, want 1", len(list))
				}
				o := list[0]
				if o.Duration != tc.want.duration {
					t.Errorf("check took %s, want %s", o.Duration, tc.want.duration)
				}
				if o.Attempts != tc.want.calls {
					t.Errorf("attempts = %d, want %d", o.Attempts, tc.want.calls)
				}
				var class failure.Class
				if o.Err != nil {
					class = classify(o.Err).Class
				}
				if class != tc.want.class {
					t.Errorf("error class = %q (%v), want %q", class, o.Err, tc.want.class)
				}
				s := g.Stats()
				checkAccounting(t, s)
				if s.APICalls != uint64(tc.want.calls) || s.APIRetries != uint64(tc.want.calls-1) {
					t.Errorf("stats API calls %d retries %d", s.APICalls, s.APIRetries)
				}
			})
		})
	}
}

func TestRetryAfterPausesEveryCallAndAdmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := startFakeAPI(t)
		defer api.stop()
		var got outcomes
		g, err := New(AssuranceHub(api.client), WithLogger(discardLogger()), WithOnVerdict(got.add), WithWorkers(2))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("a calm answer"))
		api.FailNext(assurancehubtest.RateLimited("20"))
		serve(h, "first question")
		time.Sleep(batchDelay)
		synctest.Wait()             // the 429 has arrived and paused every call
		serve(h, "second question") // dropped at admission: a pause is in force
		time.Sleep(20 * time.Second)
		synctest.Wait()
		serve(h, "third question") // admitted again
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := g.Stats()
		if s.Dropped[drop.RateLimited] != 1 || s.Checked != 2 {
			t.Errorf("dropped %v checked %d; want 1 rate_limited drop and 2 checked", s.Dropped, s.Checked)
		}
		if n := api.TotalRequests(); n != 3 {
			t.Errorf("API calls = %d, want 3", n)
		}
		checkAccounting(t, s)
	})
}

func TestServerErrorStormOpensTheCircuit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := startFakeAPI(t)
		defer api.stop()
		buf := &syncBuffer{}
		g, err := New(AssuranceHub(api.client), WithLogger(jsonLogger(buf)), WithWorkers(1),
			WithCircuitBreaker(5, 30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("a calm answer"))
		storm := make([]assurancehubtest.Fault, 20)
		for i := range storm {
			storm[i] = assurancehubtest.Status(503)
		}
		api.FailNext(storm...)
		serve(h, "q1") // 4 attempts fail
		serve(h, "q2") // 1 more failure opens the circuit; the retry is refused
		time.Sleep(time.Minute / 4)
		synctest.Wait()
		if s := g.Stats(); !s.CircuitOpen {
			t.Fatalf("circuit not open after the storm: %+v", s)
		}
		serve(h, "q3") // dropped before anything is copied
		if n := api.TotalRequests(); n != 5 {
			t.Errorf("API calls during the storm = %d, want 5", n)
		}
		time.Sleep(30 * time.Second) // half-open: one trial call
		synctest.Wait()
		api.Reset() // the storm is over
		serve(h, "q4")
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := g.Stats()
		if s.Dropped[drop.CircuitOpen] != 1 || s.Failed[failure.Server] != 1 || s.Failed[failure.CircuitOpen] != 1 || s.Checked != 1 {
			t.Errorf("dropped %v failed %v checked %d", s.Dropped, s.Failed, s.Checked)
		}
		if s.CircuitOpen {
			t.Error("circuit still open after a successful trial")
		}
		checkAccounting(t, s)
		out := buf.String()
		if !strings.Contains(out, "circuit opened") || !strings.Contains(out, "samples are being dropped") {
			t.Errorf("missing circuit or loss warnings in the log:\n%s", out)
		}
	})
}

func TestUnauthorizedIsLoggedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := startFakeAPI(t, assurancehubtest.WithAPIKeys("ash_test_someoneelse0000000000000000000"))
		defer api.stop()
		buf := &syncBuffer{}
		g, err := New(AssuranceHub(api.client), WithLogger(jsonLogger(buf)))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(answer("a calm answer"))
		for i := range 5 {
			serve(h, "q"+string(rune('0'+i)))
		}
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if n := strings.Count(out, "rejected the API key"); n != 1 {
			t.Errorf("key rejection logged %d times, want 1:\n%s", n, out)
		}
		if strings.Contains(out, assurancehubtest.TestAPIKey) {
			t.Error("the API key reached the log")
		}
		s := g.Stats()
		// Samples already calling when the first 401 arrives fail with
		// it; after it no call is made (pii checks included), and the
		// others are dropped as auth_failed.
		calls := api.TotalRequests()
		if calls < 1 || calls > 5 || s.Failed[failure.Unauthorized] != uint64(calls) || s.Dropped[drop.AuthFailed] != uint64(5-calls) {
			t.Errorf("failed %v, dropped %v, API calls %d; want one call per unauthorized sample and the rest auth_failed", s.Failed, s.Dropped, calls)
		}
	})
}

func TestAttemptTimeoutCancelsTheCallAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		hang := CheckerFunc(func(ctx context.Context, _ CheckRequest) (Verdict, error) {
			calls++
			<-ctx.Done() // a call that never answers
			return Verdict{}, ctx.Err()
		})
		var got outcomes
		g, err := New(hang, WithLogger(discardLogger()), WithOnVerdict(got.add),
			WithAttemptTimeout(5*time.Second), WithRetries(1, time.Second, time.Minute, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		g.policy.jitterFn = func() float64 { return 0.5 }
		serve(mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("ok")), "q")
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		list := got.all()
		if len(list) != 1 || calls != 2 {
			t.Fatalf("outcomes %d, calls %d; want 1 and 2", len(list), calls)
		}
		o := list[0]
		if want := 5*time.Second + 1500*time.Millisecond + 5*time.Second; o.Duration != want {
			t.Errorf("check took %s, want %s (two timed-out attempts and one backoff)", o.Duration, want)
		}
		if c := classify(o.Err).Class; c != failure.Timeout {
			t.Errorf("class = %s, want timeout", c)
		}
		if s := g.Stats(); s.Failed[failure.Timeout] != 1 {
			t.Errorf("failed = %v", s.Failed)
		}
	})
}

func TestRateLimitSpreadsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		checker := CheckerFunc(func(context.Context, CheckRequest) (Verdict, error) {
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
			return Verdict{}, nil
		})
		g, err := New(checker, WithLogger(discardLogger()), WithRateLimit(60), WithWorkers(3))
		if err != nil {
			t.Fatal(err)
		}
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("ok"))
		for i := range 3 {
			serve(h, "question "+string(rune('a'+i)))
		}
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(at) != 3 {
			t.Fatalf("calls at %v", at)
		}
		// 60 per minute: one call per second, whatever the number of workers,
		// counted from when the limiter was built.
		for i, d := range at {
			if d < time.Duration(i)*time.Second {
				t.Errorf("call %d at %s, before its slot at %ds: %v", i, d, i, at)
			}
		}
	})
}
