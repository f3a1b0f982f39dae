package safecheckotel_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	safecheckotel "github.com/safecheck/safecheck/adapters/otel"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/webhook"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// A webhook sink's delivery counts become instruments on the same meter
// as the Guard's.
func ExampleInstrumentation_ObserveWebhook() {
	reader := sdkmetric.NewManualReader() // the app's SDK setup; here it stays in memory
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

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

	inst, err := safecheckotel.New(safecheckotel.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := inst.ObserveWebhook(sink); err != nil {
		log.Fatal(err)
	}

	sink.Send(event.Event{ID: "evt_1", Kind: event.Flagged, Time: time.Now(), Route: "chat", Flagged: true})
	if err := sink.Close(context.Background()); err != nil { // delivers what is queued
		log.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "safecheck.webhook.events" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				result, _ := dp.Attributes.Value(safecheckotel.AttrWebhookResult)
				fmt.Println(result.AsString(), dp.Value)
			}
		}
	}
	// Unordered output:
	// delivered 1
	// failed 0
	// dropped 0
}
