package safecheckotel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/safecheck/safecheck/webhook"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys of the webhook instruments; the drop reason is
// AttrDropReason, with a webhook.DropReason's name.
const (
	// AttrWebhookEndpoint is an endpoint's scheme and host, as
	// webhook.EndpointStats names it: never its path or query.
	AttrWebhookEndpoint = attribute.Key("safecheck.webhook.endpoint")
	// AttrWebhookResult is where an event ended: WebhookDelivered,
	// WebhookFailed or WebhookDropped.
	AttrWebhookResult = attribute.Key("safecheck.webhook.result")
)

// The values of AttrWebhookResult.
const (
	WebhookDelivered = "delivered" // answered 2xx
	WebhookFailed    = "failed"    // given up: retries spent, or an answer not worth retrying
	WebhookDropped   = "dropped"   // neither, for a webhook.DropReason
)

// webhookInstruments are the observable instruments ObserveWebhook
// reports a webhook.Sink's Stats through.
type webhookInstruments struct {
	events      metric.Int64ObservableCounter
	dropped     metric.Int64ObservableCounter
	retries     metric.Int64ObservableCounter
	queued      metric.Int64ObservableUpDownCounter
	circuitOpen metric.Int64ObservableGauge
}

func (w *webhookInstruments) create(k *maker) {
	w.events = k.counter("safecheck.webhook.events", "{event}",
		"Webhook events that left the endpoint's queue or never entered it, by result (delivered, failed, dropped).")
	w.dropped = k.counter("safecheck.webhook.dropped", "{event}", "Webhook events neither delivered nor failed, by reason.")
	w.retries = k.counter("safecheck.webhook.retries", "{retry}", "Webhook delivery attempts after the first, over all events.")
	w.queued = k.upDown("safecheck.webhook.queued", "{event}", "Webhook events queued for the endpoint or in delivery.")
	w.circuitOpen = k.gauge("safecheck.webhook.circuit.open", "1", "1 while the endpoint's circuit breaker drops its events, else 0.")
}

// ObserveWebhook registers a callback that reports s's Stats, per
// endpoint, through the webhook instruments at each collection.
// Endpoints that share a scheme and host are summed (the circuit is open
// when any of theirs is). Every data point is observed from the first
// collection, at zero until something is counted. Two Sinks with an
// endpoint on the same host would report the same data points: observe
// them through Instrumentations on different MeterProviders, or give them
// one Sink. Unregister the result to stop.
func (i *Instrumentation) ObserveWebhook(s *webhook.Sink) (metric.Registration, error) {
	if s == nil {
		return nil, errors.New("safecheckotel: webhook sink is nil")
	}
	w := &i.webhook
	reg, err := i.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		w.observe(s.Stats(), o)
		return nil
	}, w.events, w.dropped, w.retries, w.queued, w.circuitOpen)
	if err != nil {
		return nil, fmt.Errorf("safecheckotel: registering the webhook callback: %w", err)
	}
	return reg, nil
}

func (w *webhookInstruments) observe(st webhook.Stats, o metric.Observer) {
	for _, t := range st.ByEndpoint() {
		endpoint := AttrWebhookEndpoint.String(strings.ToValidUTF8(t.Endpoint, "\uFFFD"))
		var dropped uint64
		for _, r := range webhook.DropReasons() {
			o.ObserveInt64(w.dropped, int64(t.Dropped[r]), metric.WithAttributes(endpoint, AttrDropReason.String(r.String())))
			dropped += t.Dropped[r]
		}
		for _, res := range [...]struct {
			name string
			n    uint64
		}{{WebhookDelivered, t.Delivered}, {WebhookFailed, t.Failed}, {WebhookDropped, dropped}} {
			o.ObserveInt64(w.events, int64(res.n), metric.WithAttributes(endpoint, AttrWebhookResult.String(res.name)))
		}
		o.ObserveInt64(w.retries, int64(t.Retries), metric.WithAttributes(endpoint))
		o.ObserveInt64(w.queued, int64(t.Queued), metric.WithAttributes(endpoint))
		o.ObserveInt64(w.circuitOpen, boolValue(t.CircuitOpen), metric.WithAttributes(endpoint))
	}
}
