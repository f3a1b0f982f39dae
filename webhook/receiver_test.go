package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/syncbuf"
)

// receiver is a real loopback endpoint that verifies every request's
// signature with Verify before anything else, then applies its fault.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	// fault, when set, may answer attempt n (from 1) of event id itself
	// and return true; otherwise the receiver records the event and
	// answers 200.
	fault func(w http.ResponseWriter, r *http.Request, id string, n int) bool

	mu       sync.Mutex
	attempts map[string]int // by webhook-id, verified attempts
	got      map[string]int // by webhook-id, events answered 200
	times    map[string][]time.Time
	bad      int // requests that failed Verify
	events   []event.Event
	arrived  chan string // each verified attempt's id, when not nil
}

// path holds a token, as hosted webhook URLs often do: it must appear in
// no record.
const path = "/hooks/tok_PATHSECRET123"

func newReceiver(t testing.TB, secret string) *receiver {
	t.Helper()
	rv := &receiver{t: t, secret: secret, attempts: map[string]int{}, got: map[string]int{}, times: map[string][]time.Time{}}
	rv.srv = httptest.NewServer(http.HandlerFunc(rv.serve))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *receiver) url() string { return rv.srv.URL + path }

func (rv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != path || r.Header.Get("Content-Type") != "application/json" {
		rv.mu.Lock()
		rv.bad++
		rv.mu.Unlock()
		http.Error(w, "wrong request", http.StatusBadRequest)
		return
	}
	if err := Verify(rv.secret, r.Header, body, 0); err != nil {
		rv.mu.Lock()
		rv.bad++
		rv.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get(HeaderID)
	rv.mu.Lock()
	rv.attempts[id]++
	n := rv.attempts[id]
	rv.times[id] = append(rv.times[id], time.Now())
	arrived := rv.arrived
	rv.mu.Unlock()
	if arrived != nil {
		arrived <- id
	}
	if rv.fault != nil && rv.fault(w, r, id, n) {
		return
	}
	var e event.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID != id {
		http.Error(w, "body does not match webhook-id", http.StatusBadRequest)
		return
	}
	rv.mu.Lock()
	rv.got[id]++
	rv.events = append(rv.events, e)
	rv.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// delivered returns how many events were answered 200 and how many of
// them more than once, and how many requests failed verification.
func (rv *receiver) delivered() (events, dup, bad int) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	for _, n := range rv.got {
		events++
		if n > 1 {
			dup++
		}
	}
	return events, dup, rv.bad
}

// canary marks the event fields that must never appear in a record.
const canary = "cust_CANARY_7781"

func testEvent(i int) event.Event {
	return event.Event{
		ID: fmt.Sprintf("evt_%04d", i), Kind: event.Flagged, Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Service: "chat", Route: "/v1/chat", TestType: "toxicity", RequestID: "req_" + canary,
		CustomerID: canary, Flagged: true, Score: 0.93, RiskLevel: "high",
	}
}

// fast are settings for real-time tests: small, bounded waits.
func fast() []Option {
	return []Option{
		WithRetries(4, 5*time.Millisecond, 20*time.Millisecond, 0),
		WithAttemptTimeout(2 * time.Second),
		WithMaxRetryAfter(50 * time.Millisecond),
	}
}

// newSink builds a Sink whose records go to a buffer, closed at the end
// of the test if the test has not closed it.
func newSink(t testing.TB, opts ...Option) (*Sink, *syncbuf.Buffer) {
	t.Helper()
	buf := &syncbuf.Buffer{}
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(append([]Option{WithLogger(log)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s, buf
}

// closeAll closes s with a bounded wait and fails on an error.
func closeAll(t testing.TB, s *Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkAccounting asserts that every event is in exactly one bucket.
func checkAccounting(t testing.TB, st Stats) {
	t.Helper()
	var total Counts
	for _, ep := range st.Endpoints {
		c := ep.Counts
		var dropped uint64
		for _, n := range c.Dropped {
			dropped += n
		}
		if c.Offered != c.Delivered+c.Failed+dropped+uint64(c.Queued) {
			t.Errorf("%s: offered %d != delivered %d + failed %d + dropped %d + queued %d",
				ep.Endpoint, c.Offered, c.Delivered, c.Failed, dropped, c.Queued)
		}
		if c.Offered != st.Received-st.Filtered-st.Invalid {
			t.Errorf("%s: offered %d, want received %d - filtered %d - invalid %d",
				ep.Endpoint, c.Offered, st.Received, st.Filtered, st.Invalid)
		}
		if c.Enqueued > c.Offered || c.Enqueued < c.Delivered+c.Failed+uint64(c.Queued) {
			t.Errorf("%s: enqueued %d out of range", ep.Endpoint, c.Enqueued)
		}
		total.add(c)
	}
	if total.Offered != st.Total.Offered || total.Delivered != st.Total.Delivered || total.Failed != st.Total.Failed ||
		total.Retries != st.Total.Retries || total.Queued != st.Total.Queued {
		t.Errorf("Total %+v is not the sum of the endpoints %+v", st.Total, total)
	}
}

// checkNoLeak asserts that the records hold no secret, no URL path and
// no event field other than its id and type.
func checkNoLeak(t testing.TB, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(logs, s) || strings.Contains(logs, strings.TrimPrefix(s, SecretPrefix)) {
			t.Errorf("a record holds a secret")
		}
	}
	for _, bad := range []string{"PATHSECRET", canary, "toxicity", "/v1/chat", "whsec_"} {
		if strings.Contains(logs, bad) {
			t.Errorf("a record holds %q:\n%s", bad, logs)
		}
	}
}

// records returns the records with message msg.
func records(t testing.TB, logs, msg string) []map[string]any {
	var out []map[string]any
	for _, r := range syncbuf.Records(t, logs) {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}
