package safecheckprom

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/safecheck/safecheck/webhook"
)

// WebhookCollector is a prometheus.Collector that exposes one
// webhook.Sink's Stats, per endpoint. It is safe for concurrent use; each
// scrape takes one Stats snapshot.
type WebhookCollector struct {
	sink *webhook.Sink

	events      *prometheus.Desc
	dropped     *prometheus.Desc
	retries     *prometheus.Desc
	queued      *prometheus.Desc
	circuitOpen *prometheus.Desc
}

// The values of the result label of safecheck_webhook_events_total.
const (
	webhookDelivered = "delivered"
	webhookFailed    = "failed"
	webhookDropped   = "dropped"
)

// webhookLabels are the labels the WebhookCollector sets itself.
var webhookLabels = []string{"endpoint", "result", "reason"}

// NewWebhookCollector returns a WebhookCollector for s. Options are
// validated here; WithConstLabels may not name endpoint, result or
// reason. To register collectors of two Sinks with an endpoint on the
// same host with one registry, tell them apart with WithConstLabels.
func NewWebhookCollector(s *webhook.Sink, opts ...Option) (*WebhookCollector, error) {
	if s == nil {
		return nil, errors.New("safecheckprom: webhook sink is nil")
	}
	cfg, err := newConfig(opts, webhookLabels)
	if err != nil {
		return nil, err
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("safecheck_webhook_"+name, help, labels, cfg.constLabels)
	}
	return &WebhookCollector{
		sink:        s,
		events:      desc("events_total", "Webhook events that left the endpoint's queue or never entered it, by result (delivered, failed, dropped).", "endpoint", "result"),
		dropped:     desc("dropped_total", "Webhook events neither delivered nor failed, by reason.", "endpoint", "reason"),
		retries:     desc("retries_total", "Webhook delivery attempts after the first, over all events.", "endpoint"),
		queued:      desc("queued", "Webhook events queued for the endpoint or in delivery.", "endpoint"),
		circuitOpen: desc("circuit_open", "1 while the endpoint's circuit breaker drops its events, else 0.", "endpoint"),
	}, nil
}

// Describe sends the descriptors of every metric the WebhookCollector
// exposes.
func (c *WebhookCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.dropped, c.retries, c.queued, c.circuitOpen} {
		ch <- d
	}
}

// Collect reads the Sink's Stats and sends them as metrics, one set of
// series per endpoint named by scheme and host, never by path or query.
// Endpoints with the same scheme and host are summed (the circuit is
// open when any of theirs is). Every series exists from the first
// collection, at zero until something is counted.
func (c *WebhookCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, ep := range c.sink.Stats().ByEndpoint() {
		name := strings.ToValidUTF8(ep.Endpoint, "\uFFFD")
		var dropped uint64
		for _, r := range webhook.DropReasons() {
			counter(c.dropped, ep.Dropped[r], name, r.String())
			dropped += ep.Dropped[r]
		}
		counter(c.events, ep.Delivered, name, webhookDelivered)
		counter(c.events, ep.Failed, name, webhookFailed)
		counter(c.events, dropped, name, webhookDropped)
		counter(c.retries, ep.Retries, name)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(ep.Queued), name)
		ch <- prometheus.MustNewConstMetric(c.circuitOpen, prometheus.GaugeValue, boolValue(ep.CircuitOpen), name)
	}
}
