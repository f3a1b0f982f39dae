package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// handlerTransport serves requests with a handler in the caller's
// goroutine: a synctest bubble cannot reach the network, so the timing
// tests run the receiver's handler in process. Everything else, from
// signing to the retry policy, is the Sink's own.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// clockReceiver answers attempt n of every event with answers[n-1] (200
// past the end), after verifying it, and records when each came.
type clockReceiver struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter, r *http.Request)
	times   []time.Duration // since start
	start   time.Time
	n       map[string]int
}

func (c *clockReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, r.ContentLength)
	_, _ = r.Body.Read(body)
	if err := Verify(testSecret, r.Header, body, 0); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c.mu.Lock()
	id := r.Header.Get(HeaderID)
	c.n[id]++
	n := c.n[id]
	c.times = append(c.times, time.Since(c.start))
	c.mu.Unlock()
	if n <= len(c.answers) {
		c.answers[n-1](w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func status(code int, retryAfter string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
	}
}

func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// TestAttemptTiming: the waits between attempts are exactly the backoff,
// the Retry-After (seconds or date, capped) or the attempt timeout.
func TestAttemptTiming(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []func(http.ResponseWriter, *http.Request)
		want    []time.Duration // the attempts' times
	}{
		{"exponential backoff, capped", []func(http.ResponseWriter, *http.Request){
			status(500, ""), status(502, ""), status(504, ""), status(500, "")},
			[]time.Duration{0, time.Second, 3 * time.Second, 6 * time.Second, 9 * time.Second}},
		{"Retry-After seconds", []func(http.ResponseWriter, *http.Request){status(429, "7")},
			[]time.Duration{0, 7 * time.Second}},
		{"Retry-After date", []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
			status(503, time.Now().Add(10*time.Second).UTC().Format(http.TimeFormat))(w, r)
		}}, []time.Duration{0, 10 * time.Second}},
		{"Retry-After capped", []func(http.ResponseWriter, *http.Request){status(429, "3600")},
			[]time.Duration{0, 30 * time.Second}},
		{"Retry-After 0 is the backoff", []func(http.ResponseWriter, *http.Request){status(429, "0")},
			[]time.Duration{0, time.Second}},
		{"attempt timeout", []func(http.ResponseWriter, *http.Request){hang},
			[]time.Duration{0, 16 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rv := &clockReceiver{answers: tc.answers, start: time.Now(), n: map[string]int{}}
				s, err := New(WithEndpoint("https://hooks.example.com/in", testSecret),
					WithHTTPClient(&http.Client{Transport: handlerTransport{rv}}),
					WithRetries(5, time.Second, 3*time.Second, 0), WithMaxRetryAfter(30*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				s.Send(testEvent(1))
				if err := s.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if len(rv.times) != len(tc.want) {
					t.Fatalf("attempts at %v, want %v", rv.times, tc.want)
				}
				for i := range tc.want {
					if rv.times[i] != tc.want[i] {
						t.Fatalf("attempts at %v, want %v", rv.times, tc.want)
					}
				}
				c := s.Stats().Total
				if c.Delivered != 1 || c.Retries != uint64(len(tc.want)-1) {
					t.Fatalf("counts %+v", c)
				}
			})
		})
	}
}

// TestCircuitReopensAfterItsDelay: the circuit opens after its failures,
// Send drops while it is open, and once its delay has passed one delivery
// tries the endpoint again and closes it.
func TestCircuitReopensAfterItsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		down := true
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if down {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		s, err := New(WithEndpoint("https://hooks.example.com/in", testSecret),
			WithHTTPClient(&http.Client{Transport: handlerTransport{h}}),
			WithRetries(0, time.Second, time.Second, 0), WithCircuitBreaker(2, time.Minute), WithWorkers(1))
		if err != nil {
			t.Fatal(err)
		}
		s.Send(testEvent(1))
		s.Send(testEvent(2))
		synctest.Wait()
		if st := s.Stats().Endpoints[0]; !st.CircuitOpen || st.Failed != 2 {
			t.Fatalf("after 2 failures: %+v", st)
		}
		s.Send(testEvent(3))
		time.Sleep(time.Minute - time.Second)
		s.Send(testEvent(4))
		mu.Lock()
		down = false
		mu.Unlock()
		time.Sleep(time.Second)
		s.Send(testEvent(5))
		synctest.Wait()
		st := s.Stats().Endpoints[0]
		if st.CircuitOpen || st.Delivered != 1 || st.Dropped[DroppedCircuitOpen] != 2 {
			t.Fatalf("after the delay: %+v", st)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, s.Stats())
	})
}

// TestRetryAfterHoldsEveryDelivery: a 429's Retry-After holds the other
// worker's next delivery to the endpoint too, not only the retry.
func TestRetryAfterHoldsEveryDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		at := map[string][]time.Duration{}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			id := r.Header.Get(HeaderID)
			at[id] = append(at[id], time.Since(start))
			if id == "evt_0001" && len(at[id]) == 1 {
				w.Header().Set("Retry-After", "10")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		s, err := New(WithEndpoint("https://hooks.example.com/in", testSecret),
			WithHTTPClient(&http.Client{Transport: handlerTransport{h}}), WithWorkers(2),
			WithRetries(3, time.Second, time.Second, 0))
		if err != nil {
			t.Fatal(err)
		}
		s.Send(testEvent(1))
		synctest.Wait() // the 429 is in: both workers wait
		time.Sleep(time.Second)
		s.Send(testEvent(2))
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		first, second := at["evt_0001"], at["evt_0002"]
		if len(first) != 2 || first[1] != 10*time.Second || len(second) != 1 || second[0] != 10*time.Second {
			t.Fatalf("attempts: evt_0001 at %v, evt_0002 at %v; want [0s 10s] and [10s]", first, second)
		}
		if c := s.Stats().Total; c.Delivered != 2 || c.Retries != 1 {
			t.Fatalf("counts %+v", c)
		}
	})
}
