package safecheckprom_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/webhook"
)

// The webhook sink a Guard sends its events to has its own collector,
// registered beside the Guard's.
func ExampleNewWebhookCollector() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // fake; a real one comes from the environment
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if webhook.Verify(secret, r.Header, body, 0) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	sink, err := webhook.New(webhook.WithEndpoint(receiver.URL+"/hooks/safecheck", secret))
	if err != nil {
		log.Fatal(err)
	}

	collector, err := safecheckprom.NewWebhookCollector(sink)
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)

	sink.Send(event.Event{ID: "evt_1", Kind: event.Flagged, Time: time.Now(), Route: "chat", Flagged: true})
	if err := sink.Close(context.Background()); err != nil { // delivers what is queued
		log.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "safecheck_webhook_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					fmt.Println(l.GetValue(), m.GetCounter().GetValue())
				}
			}
		}
	}
	// Output:
	// delivered 1
	// dropped 0
	// failed 0
}
