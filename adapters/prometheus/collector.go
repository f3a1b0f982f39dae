package safecheckprom

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/safecheck/safecheck"
)

// Collector is a prometheus.Collector that exposes one Guard's Stats. It
// is safe for concurrent use; each scrape takes one Stats snapshot.
type Collector struct {
	guard *safecheck.Guard

	requests      *prometheus.Desc
	samples       *prometheus.Desc
	sampleRate    *prometheus.Desc
	dropped       *prometheus.Desc
	failed        *prometheus.Desc
	checks        *prometheus.Desc
	duration      *prometheus.Desc
	score         *prometheus.Desc
	apiRequests   *prometheus.Desc
	apiRetries    *prometheus.Desc
	rateLimitUtil *prometheus.Desc
	queueSamples  *prometheus.Desc
	queueBytes    *prometheus.Desc
	circuitOpen   *prometheus.Desc
	overloaded    *prometheus.Desc
	fleetDegraded *prometheus.Desc
	incident      *prometheus.Desc
	cacheHits     *prometheus.Desc
	cacheMisses   *prometheus.Desc

	escalated         *prometheus.Desc
	escStarted        *prometheus.Desc
	escEnded          *prometheus.Desc
	escEvicted        *prometheus.Desc
	escalatedRequests *prometheus.Desc
	alertFiring       *prometheus.Desc
	alertValue        *prometheus.Desc
}

// The values of the kind label of safecheck_sample_rate.
const (
	rateConfigured = "configured"
	rateEffective  = "effective"
)

// errorClasses are every failure.Class.
var errorClasses = failure.Classes()

// byName yields each of all by name, with its count in m (0 when absent),
// so that every series exists from the first collection.
func byName[K interface {
	comparable
	String() string
}](all []K, m map[K]uint64) iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for _, k := range all {
			if !yield(k.String(), m[k]) {
				return
			}
		}
	}
}

type config struct {
	constLabels prometheus.Labels
}

// Option configures a Collector; a nil Option makes NewCollector fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithConstLabels adds labels with fixed values to every metric, for
// example to tell apart two Guards registered with the same registry. The
// names must be valid label names other than the collector's own labels
// (for a Collector: route, kind, reason, error_class, test_type, result,
// status_class, le, rule; for a WebhookCollector: endpoint, result,
// reason).
func WithConstLabels(labels prometheus.Labels) Option {
	return optionFunc(func(c *config) {
		if c.constLabels == nil {
			c.constLabels = prometheus.Labels{}
		}
		maps.Copy(c.constLabels, labels)
	})
}

// variableLabels are the labels the Collector sets itself.
var variableLabels = []string{"route", "kind", "reason", "error_class", "test_type", "result", "status_class", "le", "rule"}

// newConfig applies opts and validates them against own, the labels the
// collector being built sets itself.
func newConfig(opts []Option, own []string) (config, error) {
	var cfg config
	for i, o := range opts {
		if o == nil {
			return cfg, fmt.Errorf("safecheckprom: option %d is nil", i+1)
		}
		o.apply(&cfg)
	}
	if err := cfg.validate(own); err != nil {
		return cfg, fmt.Errorf("safecheckprom: invalid configuration: %w", err)
	}
	return cfg, nil
}

func (c *config) validate(own []string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.constLabels)) {
		switch {
		case !validLabelName(name):
			errs = append(errs, fmt.Errorf("invalid label name %q", name))
		case slices.Contains(own, name):
			errs = append(errs, fmt.Errorf("label %q is set by the collector", name))
		case !utf8.ValidString(c.constLabels[name]):
			errs = append(errs, fmt.Errorf("label %q has a value that is not valid UTF-8", name))
		}
	}
	return errors.Join(errs...)
}

// validLabelName reports whether name is a label name every Prometheus
// version accepts: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__".
func validLabelName(name string) bool {
	if name == "" || strings.HasPrefix(name, "__") {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// NewCollector returns a Collector for g. Options are validated here.
func NewCollector(g *safecheck.Guard, opts ...Option) (*Collector, error) {
	if g == nil {
		return nil, errors.New("safecheckprom: guard is nil")
	}
	cfg, err := newConfig(opts, variableLabels)
	if err != nil {
		return nil, err
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("safecheck_"+name, help, labels, cfg.constLabels)
	}
	return &Collector{
		guard:         g,
		requests:      desc("requests_total", "Requests that reached a route's middleware, sampled or not.", "route"),
		samples:       desc("samples_total", "Requests the sampler chose for checking.", "route"),
		sampleRate:    desc("sample_rate", "Share of a route's requests sampled: configured, and effective (1 during an incident).", "route", "kind"),
		dropped:       desc("samples_dropped_total", "Sampled requests that were not checked, by reason.", "route", "reason"),
		failed:        desc("samples_failed_total", "Sampled requests whose check failed, by the error class of the first failed check.", "error_class"),
		checks:        desc("checks_total", "Checks of one test type for one sample, by result (pass, flagged, error, cached).", "test_type", "result"),
		duration:      desc("check_duration_seconds", "Duration of checks answered by the checker, retries included.", "test_type"),
		score:         desc("score", "Scores of verdicts, from 0 (safe) to 1 (violating), cached ones included.", "test_type"),
		apiRequests:   desc("api_requests_total", "Calls to the safety API, by status class of the answer (network: no answer).", "status_class"),
		apiRetries:    desc("api_retries_total", "Calls to the safety API that were retries."),
		rateLimitUtil: desc("rate_limit_utilization_ratio", "Calls to the safety API in the last minute over the per-minute limit set with WithRateLimit; absent without one."),
		queueSamples:  desc("queue_samples", "Samples admitted and not yet finished."),
		queueBytes:    desc("queue_bytes", "Bytes held or reserved by the samples admitted and not yet finished."),
		circuitOpen:   desc("circuit_open", "1 while the circuit breaker refuses calls to the safety API, else 0."),
		overloaded:    desc("overloaded", "1 while the CPU budget (WithCPUBudget) is spent and new samples are dropped as overload, else 0."),
		fleetDegraded: desc("fleet_degraded", "1 while the fleet coordinator (WithCoordinator) serves from local state because its store does not answer, else 0."),
		incident:      desc("incident_active", "1 while an incident samples every request of the route, else 0.", "route"),
		cacheHits:     desc("cache_hits_total", "Verdict cache lookups that found a verdict."),
		cacheMisses:   desc("cache_misses_total", "Verdict cache lookups that found none."),

		escalated:         desc("escalated_customers", "Customers escalated now: their requests are sampled at the escalated rate."),
		escStarted:        desc("escalations_started_total", "Escalations started by a flagged verdict."),
		escEnded:          desc("escalations_ended_total", "Escalations that ended: expired, ended by an operator, or evicted."),
		escEvicted:        desc("escalations_evicted_total", "Escalations ended because the set of escalated customers was full."),
		escalatedRequests: desc("escalated_requests_total", "Requests of escalated customers on the route.", "route"),
		alertFiring:       desc("alert_firing", "1 while the alert rule is firing, else 0.", "rule"),
		alertValue:        desc("alert_value", "The alert rule's measure (flagged share or score p95) over its window.", "rule"),
	}, nil
}

// Describe sends the descriptors of every metric the Collector exposes.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.requests, c.samples, c.sampleRate, c.dropped, c.failed, c.checks, c.duration, c.score, c.apiRequests,
		c.apiRetries, c.rateLimitUtil, c.queueSamples, c.queueBytes, c.circuitOpen, c.overloaded, c.fleetDegraded, c.incident, c.cacheHits, c.cacheMisses,
		c.escalated, c.escStarted, c.escEnded, c.escEvicted, c.escalatedRequests, c.alertFiring, c.alertValue,
	} {
		ch <- d
	}
}

// Collect reads the Guard's Stats and sends them as metrics. Every series
// of a known label value is sent, at zero until something is counted.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.guard.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	histogram := func(d *prometheus.Desc, h safecheck.Histogram, labels ...string) {
		ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Cumulative(), labels...)
	}

	testTypes := map[string]bool{}
	for _, r := range s.Routes {
		counter(c.requests, r.Requests, r.Name)
		counter(c.samples, r.Sampled, r.Name)
		gauge(c.sampleRate, r.SampleRate, r.Name, rateConfigured)
		gauge(c.sampleRate, r.EffectiveRate, r.Name, rateEffective)
		for reason, n := range byName(drop.Reasons(), r.Dropped) {
			counter(c.dropped, n, r.Name, reason)
		}
		gauge(c.incident, boolValue(r.Incident), r.Name)
		counter(c.escalatedRequests, r.EscalatedRequests, r.Name)
		for _, tt := range r.TestTypes {
			testTypes[tt] = true
		}
	}
	for class, n := range byName(errorClasses, s.Failed) {
		counter(c.failed, n, class)
	}
	for tt := range s.TestTypes {
		testTypes[tt] = true
	}
	for _, tt := range slices.Sorted(maps.Keys(testTypes)) {
		ts := s.TestTypes[tt]
		for result, n := range ts.ByResult() {
			counter(c.checks, n, tt, result)
		}
		histogram(c.duration, orEmpty(ts.Durations, safecheck.LatencyBounds), tt)
		histogram(c.score, orEmpty(ts.Scores, safecheck.ScoreBounds), tt)
	}
	for class, n := range s.APIRequests.All() {
		counter(c.apiRequests, n, class)
	}
	counter(c.apiRetries, s.APIRetries)
	if u, ok := s.RateLimitUtilization(); ok {
		gauge(c.rateLimitUtil, u)
	}
	gauge(c.queueSamples, float64(s.QueueSamples))
	gauge(c.queueBytes, float64(s.QueueBytes))
	gauge(c.circuitOpen, boolValue(s.CircuitOpen))
	gauge(c.overloaded, boolValue(s.Overloaded))
	gauge(c.fleetDegraded, boolValue(s.Fleet.Mode == coord.Degraded))
	counter(c.cacheHits, s.VerdictCacheHits)
	counter(c.cacheMisses, s.VerdictCacheMisses)
	gauge(c.escalated, float64(s.Escalated))
	counter(c.escStarted, s.EscalationsStarted)
	counter(c.escEnded, s.EscalationsEnded)
	counter(c.escEvicted, s.EscalationsEvicted)
	for _, a := range s.Alerts {
		gauge(c.alertFiring, boolValue(a.State == alert.Firing), a.Rule.Name)
		gauge(c.alertValue, a.Value, a.Rule.Name)
	}
}

// orEmpty returns h, or an empty histogram over bounds when h was never
// recorded (a test type configured on a route but not yet checked).
func orEmpty(h safecheck.Histogram, bounds func() []float64) safecheck.Histogram {
	if h.Bounds != nil {
		return h
	}
	b := bounds()
	return safecheck.Histogram{Bounds: b, Counts: make([]uint64, len(b)+1)}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
