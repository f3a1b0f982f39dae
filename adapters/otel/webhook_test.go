package safecheckotel_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	safecheckotel "github.com/safecheck/safecheck/adapters/otel"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/webhook"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
)

// webhookSecret is fake, of the documented shape.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookReceiver is a real loopback endpoint: it verifies each delivery
// with webhook.Verify, then answers attempt n of an event with
// statuses[id][n-1], or 204 past the end of the list.
func hookReceiver(t *testing.T, statuses map[string][]int) (srv *httptest.Server, bad func() int) {
	t.Helper()
	var mu sync.Mutex
	attempts, nbad := map[string]int{}, 0
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(webhookSecret, r.Header, body, 0); err != nil {
			nbad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhook.HeaderID)
		attempts[id]++
		if st := statuses[id]; attempts[id] <= len(st) {
			w.WriteHeader(st[attempts[id]-1])
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int {
		mu.Lock()
		defer mu.Unlock()
		return nbad
	}
}

func closeSink(t *testing.T, s *webhook.Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestObserveWebhook: a real Sink delivers to a loopback receiver that
// verifies every signature: one event at once, one after a 500, one
// refused with a 400, one sent after Close. The instruments count each
// where it ended, under the endpoint's scheme and host; a second endpoint
// on the same host (its path holds a token) is summed with the first.
func TestObserveWebhook(t *testing.T) {
	tel := newTelemetry(t)
	inst, err := safecheckotel.New(safecheckotel.WithTracerProvider(tel.tp), safecheckotel.WithMeterProvider(tel.mp))
	if err != nil {
		t.Fatal(err)
	}
	srv, bad := hookReceiver(t, map[string][]int{
		"evt_retried": {http.StatusInternalServerError},
		"evt_refused": {http.StatusBadRequest, http.StatusBadRequest},
	})
	sink, err := webhook.New(webhook.WithRetries(3, time.Millisecond, 5*time.Millisecond, 0), webhook.WithWorkers(1),
		webhook.WithEndpoint(srv.URL+"/hooks/tok_PATHSECRET123", webhookSecret),
		webhook.WithEndpoint(srv.URL+"/other?token=QUERYSECRET", webhookSecret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSink(t, sink) })
	reg, err := inst.ObserveWebhook(sink)
	if err != nil {
		t.Fatal(err)
	}
	collect := func() map[string]metricdata.Metrics {
		var rm metricdata.ResourceMetrics
		if err := tel.reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]metricdata.Metrics{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if strings.HasPrefix(m.Name, "safecheck.webhook.") {
					got[m.Name] = m
				}
			}
		}
		return got
	}
	endpoint := attribute.String("safecheck.webhook.endpoint", srv.URL)
	point := func(v int64, attrs ...attribute.KeyValue) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: v, Attributes: attribute.NewSet(append(attrs, endpoint)...)}
	}
	sum := func(name, unit, desc string, monotonic bool, dps ...metricdata.DataPoint[int64]) metricdata.Metrics {
		return metricdata.Metrics{Name: name, Unit: unit, Description: desc, Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: monotonic, DataPoints: dps}}
	}
	want := func(delivered, failed, closed, retries int64) []metricdata.Metrics {
		var drops []metricdata.DataPoint[int64]
		for _, r := range webhook.DropReasons() {
			n := int64(0)
			if r == webhook.DroppedClosed {
				n = closed
			}
			drops = append(drops, point(n, attribute.String("safecheck.drop.reason", r.String())))
		}
		return []metricdata.Metrics{
			sum("safecheck.webhook.events", "{event}", "Webhook events that left the endpoint's queue or never entered it, by result (delivered, failed, dropped).", true,
				point(delivered, attribute.String("safecheck.webhook.result", "delivered")),
				point(failed, attribute.String("safecheck.webhook.result", "failed")),
				point(closed, attribute.String("safecheck.webhook.result", "dropped"))),
			sum("safecheck.webhook.dropped", "{event}", "Webhook events neither delivered nor failed, by reason.", true, drops...),
			sum("safecheck.webhook.retries", "{retry}", "Webhook delivery attempts after the first, over all events.", true, point(retries)),
			sum("safecheck.webhook.queued", "{event}", "Webhook events queued for the endpoint or in delivery.", false, point(0)),
			{Name: "safecheck.webhook.circuit.open", Unit: "1", Description: "1 while the endpoint's circuit breaker drops its events, else 0.",
				Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{point(0)}}},
		}
	}
	check := func(step string, want []metricdata.Metrics) {
		t.Helper()
		got := collect()
		if len(got) != len(want) {
			t.Errorf("%s: %d webhook instruments, want %d", step, len(got), len(want))
		}
		for _, w := range want {
			g, ok := got[w.Name]
			if !ok {
				t.Errorf("%s: no %s", step, w.Name)
				continue
			}
			metricdatatest.AssertEqual(t, w, g, metricdatatest.IgnoreTimestamp())
		}
	}
	check("before any event", want(0, 0, 0, 0))
	for _, id := range []string{"evt_ok", "evt_retried", "evt_refused"} {
		sink.Send(event.Event{ID: id, Kind: event.Flagged, Time: time.Now(), Route: "chat", Flagged: true, Score: 0.9})
	}
	closeSink(t, sink)
	sink.Send(event.Event{ID: "evt_late", Kind: event.Flagged, Time: time.Now()})
	// Per endpoint: evt_ok delivered; evt_retried delivered to the one
	// that got the 500 (1 retry) and at once to the other; evt_refused
	// failed at both; evt_late dropped as closed at both.
	check("after Close", want(4, 1+1, 2, 1))
	if n := bad(); n != 0 {
		t.Errorf("%d deliveries failed verification", n)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	for name, m := range collect() {
		if s, ok := m.Data.(metricdata.Sum[int64]); ok && len(s.DataPoints) > 0 {
			t.Errorf("after Unregister, %s has data points", name)
		}
	}
	if _, err := inst.ObserveWebhook(nil); err == nil {
		t.Error("ObserveWebhook(nil) succeeded")
	}
}
