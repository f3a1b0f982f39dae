package webhook

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/safecheck/safecheck/failure"
)

// TestDeliveryWithFaults runs each fault against a real loopback receiver
// that verifies every signature: each event is delivered exactly once,
// after exactly the retries the fault asks for.
func TestDeliveryWithFaults(t *testing.T) {
	const events = 20
	for _, tc := range []struct {
		name    string
		fault   func(w http.ResponseWriter, r *http.Request, id string, n int) bool
		retries uint64 // per event the fault affects
		only    int    // the fault affects the first only events; 0 means all
	}{
		{"no fault", nil, 0, 0},
		{"5xx then 200", func(w http.ResponseWriter, _ *http.Request, _ string, n int) bool {
			if n <= 2 {
				w.WriteHeader([]int{http.StatusInternalServerError, http.StatusBadGateway}[n-1])
				return true
			}
			return false
		}, 2, 0},
		{"429 with Retry-After seconds", func(w http.ResponseWriter, _ *http.Request, _ string, n int) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "1") // capped to 50ms by fast()
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		}, 1, 0},
		{"503 with Retry-After date", func(w http.ResponseWriter, _ *http.Request, _ string, n int) bool {
			if n == 1 {
				w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		}, 1, 0},
		{"hang past the attempt timeout", func(w http.ResponseWriter, r *http.Request, _ string, n int) bool {
			if n == 1 {
				<-r.Context().Done() // the Sink gives up and closes the connection
				return true
			}
			return false
		}, 1, 2},
		{"connection reset", func(w http.ResponseWriter, _ *http.Request, _ string, n int) bool {
			if n == 1 {
				reset(t, w)
				return true
			}
			return false
		}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, testSecret)
			if tc.fault != nil {
				rv.fault = func(w http.ResponseWriter, r *http.Request, id string, n int) bool {
					if tc.only > 0 && id >= testEvent(tc.only).ID {
						return false
					}
					return tc.fault(w, r, id, n)
				}
			}
			affected := uint64(events)
			if tc.only > 0 {
				affected = uint64(tc.only)
			}
			s, logs := newSink(t, append(fast(),
				WithEndpoint(rv.url(), testSecret),
				WithAttemptTimeout(time.Second),
				WithCircuitBreaker(1000, time.Minute))...)
			for i := range events {
				s.Send(testEvent(i))
			}
			closeAll(t, s)
			st := s.Stats()
			checkAccounting(t, st)
			c := st.Endpoints[0].Counts
			if c.Offered != events || c.Enqueued != events || c.Delivered != events || c.Failed != 0 ||
				len(c.Dropped) != 0 || c.Queued != 0 || c.Retries != tc.retries*affected {
				t.Errorf("counts %+v, want %d delivered after %d retries", c, events, tc.retries*affected)
			}
			if got, dup, bad := rv.delivered(); got != events || dup != 0 || bad != 0 {
				t.Errorf("receiver: %d events, %d twice, %d unverified; want %d, 0, 0", got, dup, bad, events)
			}
			checkNoLeak(t, logs.String(), testSecret)
		})
	}
}

// reset closes the connection with an RST, before any answer.
func reset(t testing.TB, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// TestRetryAfterSetsTheWait: a 429's Retry-After (capped) is the wait
// before the next attempt, not the much longer backoff.
func TestRetryAfterSetsTheWait(t *testing.T) {
	rv := newReceiver(t, testSecret)
	rv.fault = func(w http.ResponseWriter, _ *http.Request, _ string, n int) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	s, _ := newSink(t, WithEndpoint(rv.url(), testSecret),
		WithRetries(1, time.Minute, time.Minute, 0), WithMaxRetryAfter(100*time.Millisecond))
	s.Send(testEvent(1))
	closeAll(t, s) // bounded by 10 s: the backoff (1 min) would fail it
	rv.mu.Lock()
	ts := rv.times["evt_0001"]
	rv.mu.Unlock()
	if len(ts) != 2 || ts[1].Sub(ts[0]) < 100*time.Millisecond {
		t.Fatalf("attempts at %v: want 2, at least the capped Retry-After apart", ts)
	}
	if c := s.Stats().Total; c.Delivered != 1 || c.Retries != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestAnswersNotRetried: 3xx (never followed), 4xx and 410 end a delivery
// at once as failed; after a 410 the endpoint takes no more events.
func TestAnswersNotRetried(t *testing.T) {
	for _, tc := range []struct {
		status int
		gone   bool
	}{{http.StatusFound, false}, {http.StatusBadRequest, false}, {http.StatusUnauthorized, false}, {http.StatusGone, true}} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			rv := newReceiver(t, testSecret)
			rv.fault = func(w http.ResponseWriter, r *http.Request, _ string, _ int) bool {
				if tc.status == http.StatusFound {
					http.Redirect(w, r, path+"/elsewhere", tc.status)
				} else {
					w.WriteHeader(tc.status)
				}
				return true
			}
			s, logs := newSink(t, append(fast(), WithEndpoint(rv.url(), testSecret), WithWorkers(1))...)
			s.Send(testEvent(1))
			waitFor(t, func() bool { return s.Stats().Total.Failed == 1 })
			s.Send(testEvent(2))
			closeAll(t, s)
			st := s.Stats()
			checkAccounting(t, st)
			c := st.Endpoints[0]
			if c.Retries != 0 || c.Gone != tc.gone {
				t.Errorf("retries %d, gone %v; want 0, %v", c.Retries, c.Gone, tc.gone)
			}
			wantFailed, wantGone := uint64(2), uint64(0)
			if tc.gone {
				wantFailed, wantGone = 1, 1
			}
			if c.Failed != wantFailed || c.Dropped[DroppedGone] != wantGone {
				t.Errorf("failed %d, dropped gone %d; want %d, %d", c.Failed, c.Dropped[DroppedGone], wantFailed, wantGone)
			}
			rv.mu.Lock()
			bad := rv.bad
			rv.mu.Unlock()
			if bad != 0 {
				t.Errorf("%d requests failed verification or went elsewhere: a redirect was followed?", bad)
			}
			fails := records(t, logs.String(), "webhook delivery failed")
			if len(fails) != int(wantFailed) {
				t.Fatalf("%d failure records, want %d", len(fails), wantFailed)
			}
			r := fails[0]
			if r["status"] != float64(tc.status) || r["class"] != failure.BadRequest.String() ||
				r["event_id"] != "evt_0001" || r["endpoint"] != rv.srv.URL {
				t.Errorf("record %v", r)
			}
			if tc.gone && len(records(t, logs.String(), "webhook endpoint answered 410 Gone; no more deliveries go to it")) != 1 {
				t.Errorf("want one Gone record:\n%s", logs)
			}
			checkNoLeak(t, logs.String(), testSecret)
		})
	}
}

// TestRetriesSpentFail: an endpoint that always answers 500 fails each
// event after exactly WithRetries retries, logs each once, and opens its
// circuit after WithCircuitBreaker's failures; while open, events are
// dropped as circuit_open.
func TestRetriesSpentFail(t *testing.T) {
	rv := newReceiver(t, testSecret)
	rv.fault = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	}
	s, logs := newSink(t, WithEndpoint(rv.url(), testSecret), WithWorkers(1),
		WithRetries(2, time.Millisecond, time.Millisecond, 0), WithCircuitBreaker(6, time.Hour))
	s.Send(testEvent(1))
	s.Send(testEvent(2))
	waitFor(t, func() bool { return s.Stats().Total.Failed == 2 })
	st := s.Stats()
	if !st.Endpoints[0].CircuitOpen {
		t.Fatalf("circuit closed after 6 failures: %+v", st.Endpoints[0])
	}
	for i := range 5 {
		s.Send(testEvent(10 + i))
	}
	closeAll(t, s)
	st = s.Stats()
	checkAccounting(t, st)
	c := st.Endpoints[0].Counts
	if c.Failed != 2 || c.Retries != 4 || c.Dropped[DroppedCircuitOpen] != 5 || c.Delivered != 0 {
		t.Errorf("counts %+v", c)
	}
	l := logs.String()
	if n := len(records(t, l, "webhook delivery failed")); n != 2 {
		t.Errorf("%d failure records, want 2", n)
	}
	if n := len(records(t, l, "webhook circuit opened; events to the endpoint are dropped")); n != 1 {
		t.Errorf("%d circuit records, want 1", n)
	}
	checkNoLeak(t, l, testSecret)
}

// waitFor polls cond for up to 10 s of real time.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
