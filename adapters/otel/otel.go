package safecheckotel

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/coord"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/safecheck/safecheck/adapters/otel"

// EventName is the name of the span event each verdict adds, from the
// OpenTelemetry GenAI semantic conventions.
const EventName = "gen_ai.evaluation.result"

// Attribute keys this package sets.
const (
	AttrEvaluationName = attribute.Key("gen_ai.evaluation.name")
	AttrScoreValue     = attribute.Key("gen_ai.evaluation.score.value")
	AttrScoreLabel     = attribute.Key("gen_ai.evaluation.score.label")
	AttrErrorType      = attribute.Key("error.type")
	AttrRoute          = attribute.Key("safecheck.route")
	AttrRequestID      = attribute.Key("safecheck.request_id")
	AttrCached         = attribute.Key("safecheck.cached")
	AttrAttempts       = attribute.Key("safecheck.attempts")
	AttrFlagged        = attribute.Key("safecheck.flagged")
	AttrRiskLevel      = attribute.Key("safecheck.risk_level")
	AttrTestType       = attribute.Key("safecheck.test_type")
	AttrCheckResult    = attribute.Key("safecheck.check.result")
	AttrDropReason     = attribute.Key("safecheck.drop.reason")
	AttrAPIStatusClass = attribute.Key("safecheck.api.status_class")
	AttrSampleRateKind = attribute.Key("safecheck.sample_rate.kind") // "configured" or "effective"
	AttrAlertRule      = attribute.Key("safecheck.alert.rule")
)

// The values of AttrSampleRateKind.
const (
	SampleRateConfigured = "configured" // the route's rate
	SampleRateEffective  = "effective"  // the rate in force: 1 during an incident
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

// Instrumentation reports Guards to OpenTelemetry. It is safe for
// concurrent use.
type Instrumentation struct {
	tracer trace.Tracer
	meter  metric.Meter

	duration metric.Float64Histogram
	score    metric.Float64Histogram

	requests     metric.Int64ObservableCounter
	samples      metric.Int64ObservableCounter
	sampleRate   metric.Float64ObservableGauge
	dropped      metric.Int64ObservableCounter
	failed       metric.Int64ObservableCounter
	checks       metric.Int64ObservableCounter
	apiRequests  metric.Int64ObservableCounter
	apiRetries   metric.Int64ObservableCounter
	utilization  metric.Float64ObservableGauge
	queueSamples metric.Int64ObservableUpDownCounter
	queueUsage   metric.Int64ObservableUpDownCounter
	circuitOpen  metric.Int64ObservableGauge
	overloaded   metric.Int64ObservableGauge
	fleet        metric.Int64ObservableGauge
	incident     metric.Int64ObservableGauge
	cacheHits    metric.Int64ObservableCounter
	cacheMisses  metric.Int64ObservableCounter

	escalated         metric.Int64ObservableGauge
	escStarted        metric.Int64ObservableCounter
	escEnded          metric.Int64ObservableCounter
	escEvicted        metric.Int64ObservableCounter
	escalatedRequests metric.Int64ObservableCounter
	alertFiring       metric.Int64ObservableGauge
	alertValue        metric.Float64ObservableGauge

	webhook webhookInstruments // ObserveWebhook's
}

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// Option configures an Instrumentation; a nil Option makes New fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets the provider of the tracer that records verdict
// spans (default: the global one, otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithMeterProvider sets the provider of the meter that holds the
// instruments (default: the global one, otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// New returns an Instrumentation with its instruments created. Options are
// validated here.
func New(opts ...Option) (*Instrumentation, error) {
	cfg := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("safecheckotel: option %d is nil", i+1)
		}
		o.apply(&cfg)
	}
	var errs []error
	if cfg.tp == nil {
		errs = append(errs, errors.New("tracer provider is nil"))
	}
	if cfg.mp == nil {
		errs = append(errs, errors.New("meter provider is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("safecheckotel: invalid configuration: %w", err)
	}
	i := &Instrumentation{tracer: cfg.tp.Tracer(ScopeName), meter: cfg.mp.Meter(ScopeName)}
	if err := i.instruments(); err != nil {
		return nil, fmt.Errorf("safecheckotel: creating instruments: %w", err)
	}
	return i, nil
}

func (i *Instrumentation) instruments() error {
	k := &maker{m: i.meter}
	i.duration = k.histogram("safecheck.check.duration", "s", "Duration of checks answered by the checker, retries included.",
		safecheck.LatencyBounds())
	i.score = k.histogram("safecheck.check.score", "1", "Scores of verdicts, from 0 (safe) to 1 (violating), cached ones included.",
		safecheck.ScoreBounds())
	i.requests = k.counter("safecheck.requests", "{request}", "Requests that reached a route's middleware, sampled or not.")
	i.samples = k.counter("safecheck.samples", "{sample}", "Requests the sampler chose for checking.")
	i.dropped = k.counter("safecheck.samples.dropped", "{sample}", "Sampled requests that were not checked, by reason.")
	i.failed = k.counter("safecheck.samples.failed", "{sample}", "Sampled requests whose check failed, by the error class of the first failed check.")
	i.sampleRate = k.floatGauge("safecheck.sample_rate", "1", "Share of a route's requests sampled: configured, and effective (1 during an incident).")
	i.checks = k.counter("safecheck.checks", "{check}", "Checks of one test type for one sample, by result (pass, flagged, error, cached).")
	i.apiRequests = k.counter("safecheck.api.requests", "{request}", "Calls to the safety API, by status class of the answer (network: no answer).")
	i.apiRetries = k.counter("safecheck.api.retries", "{retry}", "Calls to the safety API that were retries.")
	i.cacheHits = k.counter("safecheck.cache.hits", "{lookup}", "Verdict cache lookups that found a verdict.")
	i.cacheMisses = k.counter("safecheck.cache.misses", "{lookup}", "Verdict cache lookups that found none.")
	i.utilization = k.floatGauge("safecheck.rate_limit.utilization", "1", "Calls to the safety API in the last minute over the per-minute limit set with WithRateLimit; absent without one.")
	i.queueSamples = k.upDown("safecheck.queue.samples", "{sample}", "Samples admitted and not yet finished.")
	i.queueUsage = k.upDown("safecheck.queue.usage", "By", "Bytes held or reserved by the samples admitted and not yet finished.")
	i.circuitOpen = k.gauge("safecheck.circuit.open", "1", "1 while the circuit breaker refuses calls to the safety API, else 0.")
	i.overloaded = k.gauge("safecheck.overloaded", "1", "1 while the CPU budget (WithCPUBudget) is spent and new samples are dropped as overload, else 0.")
	i.fleet = k.gauge("safecheck.fleet.degraded", "1", "1 while the fleet coordinator (WithCoordinator) serves from local state because its store does not answer, else 0.")
	i.incident = k.gauge("safecheck.incident.active", "1", "1 while an incident samples every request of the route, else 0.")
	i.escalated = k.gauge("safecheck.escalation.customers", "{customer}", "Customers escalated now: their requests are sampled at the escalated rate.")
	i.escStarted = k.counter("safecheck.escalation.started", "{escalation}", "Escalations started by a flagged verdict.")
	i.escEnded = k.counter("safecheck.escalation.ended", "{escalation}", "Escalations that ended: expired, ended by an operator, or evicted.")
	i.escEvicted = k.counter("safecheck.escalation.evicted", "{escalation}", "Escalations ended because the set of escalated customers was full.")
	i.escalatedRequests = k.counter("safecheck.escalation.requests", "{request}", "Requests of escalated customers on the route.")
	i.alertFiring = k.gauge("safecheck.alert.firing", "1", "1 while the alert rule is firing, else 0.")
	i.alertValue = k.floatGauge("safecheck.alert.value", "1", "The alert rule's measure (flagged share or score p95) over its window.")
	i.webhook.create(k)
	return k.err
}

// maker makes observable instruments on m and keeps their errors, joined.
type maker struct {
	m   metric.Meter
	err error
}

func (k *maker) histogram(name, unit, desc string, bounds []float64) metric.Float64Histogram {
	h, err := k.m.Float64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(bounds...))
	k.err = errors.Join(k.err, err)
	return h
}

func (k *maker) counter(name, unit, desc string) metric.Int64ObservableCounter {
	c, err := k.m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	k.err = errors.Join(k.err, err)
	return c
}

func (k *maker) upDown(name, unit, desc string) metric.Int64ObservableUpDownCounter {
	c, err := k.m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	k.err = errors.Join(k.err, err)
	return c
}

func (k *maker) gauge(name, unit, desc string) metric.Int64ObservableGauge {
	g, err := k.m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	k.err = errors.Join(k.err, err)
	return g
}

func (k *maker) floatGauge(name, unit, desc string) metric.Float64ObservableGauge {
	g, err := k.m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	k.err = errors.Join(k.err, err)
	return g
}

// GuardOptions returns the safecheck options that connect a Guard to i:
// WithAnnotate(i.Annotate) and WithOnVerdict(i.RecordVerdict). A later
// WithOnVerdict replaces the second; see the package documentation for
// keeping a hook of your own.
func (i *Instrumentation) GuardOptions() []safecheck.Option {
	return []safecheck.Option{safecheck.WithAnnotate(i.Annotate), safecheck.WithOnVerdict(i.RecordVerdict)}
}

// Annotate returns the span context active in r's context, or nil when
// there is none. It is the safecheck.WithAnnotate hook.
func (i *Instrumentation) Annotate(r *http.Request) any {
	sc := trace.SpanContextFromContext(r.Context())
	if !sc.IsValid() {
		return nil
	}
	return sc
}

// RecordVerdict records one finished check: a short span, a child of the
// sampled request's span when Annotate found one, with a
// gen_ai.evaluation.result event, and the duration and score histograms.
// It is the safecheck.WithOnVerdict hook.
func (i *Instrumentation) RecordVerdict(o safecheck.Outcome) {
	ctx := context.Background()
	if sc, ok := o.Annotation.(trace.SpanContext); ok && sc.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, sc)
	}
	end := time.Now()
	spanAttrs := []attribute.KeyValue{
		AttrRoute.String(o.Route),
		AttrEvaluationName.String(o.TestType),
		AttrCached.Bool(o.Cached),
		AttrAttempts.Int(o.Attempts),
	}
	if o.RequestID != "" {
		spanAttrs = append(spanAttrs, AttrRequestID.String(o.RequestID))
	}
	ctx, span := i.tracer.Start(ctx, "safecheck.check "+o.TestType,
		trace.WithTimestamp(end.Add(-o.Duration)),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(spanAttrs...))
	event := []attribute.KeyValue{AttrEvaluationName.String(o.TestType)}
	if o.Err != nil {
		class := errorClass(o.Err)
		event = append(event, AttrErrorType.String(class))
		span.SetStatus(codes.Error, class)
	} else {
		event = append(event, AttrScoreValue.Float64(o.Verdict.Score))
		if label := scoreLabel(o.Verdict); label != "" {
			event = append(event, AttrScoreLabel.String(label))
		}
		event = append(event, AttrFlagged.Bool(o.Verdict.Flagged))
		if o.Verdict.RiskLevel != "" {
			event = append(event, AttrRiskLevel.String(o.Verdict.RiskLevel))
		}
	}
	span.AddEvent(EventName, trace.WithTimestamp(end), trace.WithAttributes(event...))
	span.End(trace.WithTimestamp(end))

	if o.Err != nil {
		return
	}
	// ctx holds the check's span, so exemplars lead to it.
	attrs := metric.WithAttributes(AttrTestType.String(o.TestType))
	i.score.Record(ctx, o.Verdict.Score, attrs)
	if !o.Cached {
		i.duration.Record(ctx, o.Duration.Seconds(), attrs)
	}
}

// scoreLabel is the verdict's pass/fail, or its risk level without one.
func scoreLabel(v safecheck.Verdict) string {
	if v.PassFail != "" {
		return v.PassFail
	}
	return v.RiskLevel
}

// errorClass returns the safecheck error class of a failed check; its
// error text is never used, so no API answer can leak into telemetry.
func errorClass(err error) string {
	var ce *safecheck.CheckError
	if errors.As(err, &ce) && ce.Class.String() != "" {
		return ce.Class.String()
	}
	return "_OTHER"
}

// Observe registers a callback that reports g's Stats through the
// observable instruments at each collection. Unregister the result to stop.
func (i *Instrumentation) Observe(g *safecheck.Guard) (metric.Registration, error) {
	if g == nil {
		return nil, errors.New("safecheckotel: guard is nil")
	}
	reg, err := i.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		i.observe(g.Stats(), o)
		return nil
	}, i.requests, i.samples, i.sampleRate, i.dropped, i.failed, i.checks, i.apiRequests, i.apiRetries, i.utilization,
		i.queueSamples, i.queueUsage, i.circuitOpen, i.overloaded, i.fleet, i.incident, i.cacheHits, i.cacheMisses,
		i.escalated, i.escStarted, i.escEnded, i.escEvicted, i.escalatedRequests, i.alertFiring, i.alertValue)
	if err != nil {
		return nil, fmt.Errorf("safecheckotel: registering the callback: %w", err)
	}
	return reg, nil
}

// observe reports s. Every data point of a known attribute value is
// observed, at zero until something is counted.
func (i *Instrumentation) observe(s safecheck.Stats, o metric.Observer) {
	testTypes := map[string]bool{}
	for _, r := range s.Routes {
		route := AttrRoute.String(r.Name)
		o.ObserveInt64(i.requests, int64(r.Requests), metric.WithAttributes(route))
		o.ObserveInt64(i.samples, int64(r.Sampled), metric.WithAttributes(route))
		o.ObserveFloat64(i.sampleRate, r.SampleRate, metric.WithAttributes(route, AttrSampleRateKind.String(SampleRateConfigured)))
		o.ObserveFloat64(i.sampleRate, r.EffectiveRate, metric.WithAttributes(route, AttrSampleRateKind.String(SampleRateEffective)))
		for reason, n := range byName(drop.Reasons(), r.Dropped) {
			o.ObserveInt64(i.dropped, int64(n), metric.WithAttributes(route, AttrDropReason.String(reason)))
		}
		o.ObserveInt64(i.incident, boolValue(r.Incident), metric.WithAttributes(route))
		o.ObserveInt64(i.escalatedRequests, int64(r.EscalatedRequests), metric.WithAttributes(route))
		for _, tt := range r.TestTypes {
			testTypes[tt] = true
		}
	}
	for class, n := range byName(errorClasses, s.Failed) {
		o.ObserveInt64(i.failed, int64(n), metric.WithAttributes(AttrErrorType.String(class)))
	}
	for tt := range s.TestTypes {
		testTypes[tt] = true
	}
	for tt := range testTypes {
		for result, n := range s.TestTypes[tt].ByResult() {
			o.ObserveInt64(i.checks, int64(n), metric.WithAttributes(AttrTestType.String(tt), AttrCheckResult.String(result)))
		}
	}
	for class, n := range s.APIRequests.All() {
		o.ObserveInt64(i.apiRequests, int64(n), metric.WithAttributes(AttrAPIStatusClass.String(class)))
	}
	o.ObserveInt64(i.apiRetries, int64(s.APIRetries))
	if u, ok := s.RateLimitUtilization(); ok {
		o.ObserveFloat64(i.utilization, u)
	}
	o.ObserveInt64(i.queueSamples, s.QueueSamples)
	o.ObserveInt64(i.queueUsage, s.QueueBytes)
	o.ObserveInt64(i.circuitOpen, boolValue(s.CircuitOpen))
	o.ObserveInt64(i.overloaded, boolValue(s.Overloaded))
	o.ObserveInt64(i.fleet, boolValue(s.Fleet.Mode == coord.Degraded))
	o.ObserveInt64(i.cacheHits, int64(s.VerdictCacheHits))
	o.ObserveInt64(i.cacheMisses, int64(s.VerdictCacheMisses))
	o.ObserveInt64(i.escalated, int64(s.Escalated))
	o.ObserveInt64(i.escStarted, int64(s.EscalationsStarted))
	o.ObserveInt64(i.escEnded, int64(s.EscalationsEnded))
	o.ObserveInt64(i.escEvicted, int64(s.EscalationsEvicted))
	for _, a := range s.Alerts {
		rule := metric.WithAttributes(AttrAlertRule.String(a.Rule.Name))
		o.ObserveInt64(i.alertFiring, boolValue(a.State == alert.Firing), rule)
		o.ObserveFloat64(i.alertValue, a.Value, rule)
	}
}

func boolValue(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
