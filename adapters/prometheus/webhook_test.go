package safecheckprom_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/webhook"
)

// webhookSecret is fake, of the documented shape.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookPath holds a token, as hosted webhook URLs often do: it must appear
// in no metric.
const hookPath = "/hooks/tok_PATHSECRET123"

// hookReceiver is a real loopback endpoint: it verifies each delivery
// with webhook.Verify, then answers attempt n of an event with
// statuses[id][n-1], or 204 past the end of the list.
type hookReceiver struct {
	srv      *httptest.Server
	statuses map[string][]int

	mu       sync.Mutex
	attempts map[string]int
	bad      int
}

func newHookReceiver(t *testing.T, statuses map[string][]int) *hookReceiver {
	t.Helper()
	rv := &hookReceiver{statuses: statuses, attempts: map[string]int{}}
	rv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		if err := webhook.Verify(webhookSecret, r.Header, body, 0); err != nil {
			rv.mu.Lock()
			rv.bad++
			rv.mu.Unlock()
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhook.HeaderID)
		rv.mu.Lock()
		rv.attempts[id]++
		n := rv.attempts[id]
		rv.mu.Unlock()
		if st := rv.statuses[id]; n <= len(st) {
			w.WriteHeader(st[n-1])
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *hookReceiver) badRequests() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.bad
}

// newHookSink builds a Sink with fast retries for endpoints, closed at
// the end of the test if the test has not closed it.
func newHookSink(t *testing.T, endpoints ...string) *webhook.Sink {
	t.Helper()
	opts := []webhook.Option{webhook.WithRetries(3, time.Millisecond, 5*time.Millisecond, 0), webhook.WithWorkers(1)}
	for _, u := range endpoints {
		opts = append(opts, webhook.WithEndpoint(u, webhookSecret))
	}
	s, err := webhook.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSink(t, s) })
	return s
}

func closeSink(t *testing.T, s *webhook.Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func hookEvent(id string) event.Event {
	return event.Event{ID: id, Kind: event.Flagged, Time: time.Now(), Route: "chat", TestType: "toxicity",
		Flagged: true, Score: 0.9, RiskLevel: "high"}
}

// TestWebhookCollector: a real Sink delivers to a loopback receiver that
// verifies every signature: one event at once, one after a 500, one
// refused with a 400, one sent after Close. The metrics count each where
// it ended, under the endpoint's scheme and host.
func TestWebhookCollector(t *testing.T) {
	rv := newHookReceiver(t, map[string][]int{
		"evt_retried": {http.StatusInternalServerError},
		"evt_refused": {http.StatusBadRequest},
	})
	s := newHookSink(t, rv.srv.URL+hookPath)
	c, err := safecheckprom.NewWebhookCollector(s, safecheckprom.WithConstLabels(prometheus.Labels{"service": "chat"}))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := rv.srv.URL // http://127.0.0.1:port
	want := func(delivered, failed, dropped, closed, retries int) string {
		var b strings.Builder
		fmt.Fprintf(&b, `
# HELP safecheck_webhook_circuit_open 1 while the endpoint's circuit breaker drops its events, else 0.
# TYPE safecheck_webhook_circuit_open gauge
safecheck_webhook_circuit_open{endpoint=%[1]q,service="chat"} 0
# HELP safecheck_webhook_dropped_total Webhook events neither delivered nor failed, by reason.
# TYPE safecheck_webhook_dropped_total counter
`, endpoint)
		for _, r := range webhook.DropReasons() {
			n := 0
			if r == webhook.DroppedClosed {
				n = closed
			}
			fmt.Fprintf(&b, "safecheck_webhook_dropped_total{endpoint=%q,reason=%q,service=\"chat\"} %d\n", endpoint, r, n)
		}
		fmt.Fprintf(&b, `# HELP safecheck_webhook_events_total Webhook events that left the endpoint's queue or never entered it, by result (delivered, failed, dropped).
# TYPE safecheck_webhook_events_total counter
safecheck_webhook_events_total{endpoint=%[1]q,result="delivered",service="chat"} %[2]d
safecheck_webhook_events_total{endpoint=%[1]q,result="dropped",service="chat"} %[4]d
safecheck_webhook_events_total{endpoint=%[1]q,result="failed",service="chat"} %[3]d
# HELP safecheck_webhook_queued Webhook events queued for the endpoint or in delivery.
# TYPE safecheck_webhook_queued gauge
safecheck_webhook_queued{endpoint=%[1]q,service="chat"} 0
# HELP safecheck_webhook_retries_total Webhook delivery attempts after the first, over all events.
# TYPE safecheck_webhook_retries_total counter
safecheck_webhook_retries_total{endpoint=%[1]q,service="chat"} %[5]d
`, endpoint, delivered, failed, dropped, retries)
		return b.String()
	}

	// Before any event, every series is there at zero.
	if err := testutil.CollectAndCompare(c, strings.NewReader(want(0, 0, 0, 0, 0))); err != nil {
		t.Error(err)
	}
	for _, id := range []string{"evt_ok", "evt_retried", "evt_refused"} {
		s.Send(hookEvent(id))
	}
	closeSink(t, s) // delivers what is queued
	s.Send(hookEvent("evt_late"))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want(2, 1, 1, 1, 1))); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if n := rv.badRequests(); n != 0 {
		t.Errorf("%d deliveries failed verification", n)
	}
}

// TestWebhookCollectorNamesEndpointsByHost: two endpoints on one host,
// told apart only by a path that holds a token, are one set of series,
// summed, and the path appears nowhere; an endpoint on another host has
// its own.
func TestWebhookCollectorNamesEndpointsByHost(t *testing.T) {
	a, b := newHookReceiver(t, nil), newHookReceiver(t, nil)
	s := newHookSink(t, a.srv.URL+hookPath, a.srv.URL+"/other?token=QUERYSECRET", b.srv.URL+"/hooks")
	c, err := safecheckprom.NewWebhookCollector(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Send(hookEvent("evt_1"))
	s.Send(hookEvent("evt_2"))
	closeSink(t, s)
	want := fmt.Sprintf(`
# HELP safecheck_webhook_events_total Webhook events that left the endpoint's queue or never entered it, by result (delivered, failed, dropped).
# TYPE safecheck_webhook_events_total counter
safecheck_webhook_events_total{endpoint=%[1]q,result="delivered"} 4
safecheck_webhook_events_total{endpoint=%[1]q,result="dropped"} 0
safecheck_webhook_events_total{endpoint=%[1]q,result="failed"} 0
safecheck_webhook_events_total{endpoint=%[2]q,result="delivered"} 2
safecheck_webhook_events_total{endpoint=%[2]q,result="dropped"} 0
safecheck_webhook_events_total{endpoint=%[2]q,result="failed"} 0
`, a.srv.URL, b.srv.URL)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "safecheck_webhook_events_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprint(mfs); strings.Contains(out, "SECRET") || strings.Contains(out, "/hooks") || strings.Contains(out, "/other") {
		t.Errorf("a path or query reached the metrics:\n%s", out)
	}
	if n := a.badRequests() + b.badRequests(); n != 0 {
		t.Errorf("%d deliveries failed verification", n)
	}
}

func TestNewWebhookCollectorValidates(t *testing.T) {
	rv := newHookReceiver(t, nil)
	s := newHookSink(t, rv.srv.URL)
	for _, tc := range []struct {
		name string
		sink *webhook.Sink
		opts []safecheckprom.Option
		want string
	}{
		{"nil sink", nil, nil, "webhook sink is nil"},
		{"nil option", s, []safecheckprom.Option{nil}, "option 1 is nil"},
		{"clashes with endpoint", s, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"endpoint": "x"})}, `label "endpoint" is set by the collector`},
		{"clashes with reason", s, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"reason": "x"})}, `label "reason" is set by the collector`},
		{"bad label name", s, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"a-b": "x"})}, `invalid label name "a-b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := safecheckprom.NewWebhookCollector(tc.sink, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewWebhookCollector: %v, %v; want an error with %q", c, err, tc.want)
			}
		})
	}
	// route is the Guard collector's label, free here.
	if _, err := safecheckprom.NewWebhookCollector(s, safecheckprom.WithConstLabels(prometheus.Labels{"route": "x"})); err != nil {
		t.Errorf("route as a constant label: %v", err)
	}
}
