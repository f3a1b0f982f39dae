package safecheckotel_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
	safecheckotel "github.com/safecheck/safecheck/adapters/otel"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/failure"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// traffic is what TestInstrumentation sends to route chat (toxicity, pii):
// the path (/traced runs under a request span, /plain does not), the
// prompt, the request id, and any faults the API injects first.
var traffic = []struct {
	path, prompt, id string
	faults           []assurancehubtest.Fault
}{
	{"/traced", "q-capital", "req-1", nil},
	{"/traced", "q-insult", "req-2", nil},
	{"/traced", "q-capital", "req-3", nil}, // cached
	{"/traced", "q-joke", "req-4", []assurancehubtest.Fault{assurancehubtest.Status(http.StatusBadRequest)}},
	{"/plain", "q-weather", "req-5", nil},
}

// wantEvents are the gen_ai.evaluation.result attributes of each check,
// by request id and test type.
var wantEvents = map[string][]attribute.KeyValue{
	"req-1 toxicity": verdictEvent("toxicity", 0, "pass", false, "low"),
	"req-1 pii":      verdictEvent("pii", 0, "pass", false, "low"),
	"req-2 toxicity": verdictEvent("toxicity", 0.9, "fail", true, "reject"),
	"req-2 pii":      verdictEvent("pii", 0.85, "fail", true, "reject"),
	"req-3 toxicity": verdictEvent("toxicity", 0, "pass", false, "low"),
	"req-3 pii":      verdictEvent("pii", 0, "pass", false, "low"),
	"req-4 toxicity": {attribute.String("gen_ai.evaluation.name", "toxicity"), attribute.String("error.type", failure.BadRequest.String())},
	"req-4 pii":      verdictEvent("pii", 0, "pass", false, "low"),
	"req-5 toxicity": verdictEvent("toxicity", 0, "pass", false, "low"),
	"req-5 pii":      verdictEvent("pii", 0, "pass", false, "low"),
}

func verdictEvent(testType string, score float64, label string, flagged bool, risk string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("gen_ai.evaluation.name", testType),
		attribute.Float64("gen_ai.evaluation.score.value", score),
		attribute.String("gen_ai.evaluation.score.label", label),
		attribute.Bool("safecheck.flagged", flagged),
		attribute.String("safecheck.risk_level", risk),
	}
}

func TestInstrumentation(t *testing.T) {
	tel := newTelemetry(t)
	inst, err := safecheckotel.New(safecheckotel.WithTracerProvider(tel.tp), safecheckotel.WithMeterProvider(tel.mp))
	if err != nil {
		t.Fatal(err)
	}
	srv, client := api(t)
	outcomes := make(chan safecheck.Outcome, 100)
	// The documented way to keep a verdict hook of one's own.
	guard, err := safecheck.New(safecheck.AssuranceHub(client),
		safecheck.WithLogger(slog.New(slog.DiscardHandler)), safecheck.WithWorkers(1), safecheck.WithRateLimit(8000),
		safecheck.WithAnnotate(inst.Annotate),
		safecheck.WithOnVerdict(func(o safecheck.Outcome) {
			inst.RecordVerdict(o)
			outcomes <- o
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guard.Close(context.Background()) })
	if _, err := inst.Observe(guard); err != nil {
		t.Fatal(err)
	}
	route, err := guard.Route("chat", safecheck.WithSampleRate(1),
		safecheck.WithTestTypes(assurancehub.Toxicity, assurancehub.PII),
		safecheck.WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer-ID") }))
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in for otelhttp: a server span around the guarded handler.
	appTracer := tel.tp.Tracer("app")
	guarded := route.Wrap(http.HandlerFunc(chat))
	mux := http.NewServeMux()
	mux.Handle("POST /traced", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := appTracer.Start(r.Context(), "POST /traced",
			trace.WithAttributes(attribute.String("app.request_id", r.Header.Get("X-Request-ID"))))
		defer span.End()
		guarded.ServeHTTP(w, r.WithContext(ctx))
	}))
	mux.Handle("POST /plain", guarded)
	a := app(t, mux)

	byKey := map[string]safecheck.Outcome{}
	for _, req := range traffic {
		srv.FailNext(req.faults...)
		post(t, a, req.path, req.prompt, req.id)
		for _, o := range wait(t, outcomes, 2) {
			byKey[o.RequestID+" "+o.TestType] = o
		}
	}
	if err := guard.StartIncident(context.Background(), "test", time.Hour, "chat"); err != nil {
		t.Fatal(err)
	}
	if v := observed(t, tel, "safecheck.incident.active", "chat"); v != 1 {
		t.Errorf("safecheck.incident.active{chat} = %d during the incident, want 1", v)
	}
	closeGuard(t, guard) // ends the incident

	checkSpans(t, tel.spans.Ended(), byKey)
	checkMetrics(t, tel)
}

func checkSpans(t *testing.T, spans []sdktrace.ReadOnlySpan, outcomes map[string]safecheck.Outcome) {
	t.Helper()
	requests := map[string]trace.SpanContext{}
	for _, s := range spans {
		if s.Name() == "POST /traced" {
			requests[attr(s.Attributes(), "app.request_id").AsString()] = s.SpanContext()
		}
	}
	if len(requests) != 4 {
		t.Fatalf("%d request spans, want 4", len(requests))
	}
	seen := 0
	for _, s := range spans {
		if s.Name() == "POST /traced" {
			continue
		}
		seen++
		id := attr(s.Attributes(), "safecheck.request_id").AsString()
		tt := attr(s.Attributes(), "gen_ai.evaluation.name").AsString()
		key := id + " " + tt
		if s.Name() != "safecheck.check "+tt || s.SpanKind() != trace.SpanKindInternal {
			t.Errorf("%s: span %q of kind %v", key, s.Name(), s.SpanKind())
		}
		// Tied to the sampled request's span when there was one.
		parent, traced := requests[id]
		switch {
		case traced && (s.Parent().SpanID() != parent.SpanID() || s.SpanContext().TraceID() != parent.TraceID()):
			t.Errorf("%s: parent %v in trace %v, want the request span %v", key, s.Parent().SpanID(), s.SpanContext().TraceID(), parent.SpanID())
		case !traced && s.Parent().IsValid():
			t.Errorf("%s: has parent %v though the request had no span", key, s.Parent())
		}
		o, ok := outcomes[key]
		if !ok {
			t.Errorf("span for %s, which had no outcome", key)
			continue
		}
		if d := s.EndTime().Sub(s.StartTime()); d != o.Duration {
			t.Errorf("%s: span lasts %s, the check took %s", key, d, o.Duration)
		}
		wantSpanAttrs := []attribute.KeyValue{
			attribute.String("safecheck.route", "chat"),
			attribute.String("gen_ai.evaluation.name", tt),
			attribute.Bool("safecheck.cached", o.Cached),
			attribute.Int("safecheck.attempts", o.Attempts),
			attribute.String("safecheck.request_id", id),
		}
		if !sameAttrs(s.Attributes(), wantSpanAttrs) {
			t.Errorf("%s: span attributes %v, want %v", key, s.Attributes(), wantSpanAttrs)
		}
		if (id == "req-3") != o.Cached {
			t.Errorf("%s: cached = %v", key, o.Cached)
		}
		wantStatus := codes.Unset
		if o.Err != nil {
			wantStatus = codes.Error
		}
		if s.Status().Code != wantStatus {
			t.Errorf("%s: status %v, want %v", key, s.Status(), wantStatus)
		}
		if len(s.Events()) != 1 || s.Events()[0].Name != "gen_ai.evaluation.result" {
			t.Errorf("%s: events %v, want one gen_ai.evaluation.result", key, s.Events())
			continue
		}
		if ev := s.Events()[0]; !sameAttrs(ev.Attributes, wantEvents[key]) || !ev.Time.Equal(s.EndTime()) {
			t.Errorf("%s: event at %v with %v, want at the span's end with %v", key, ev.Time, ev.Attributes, wantEvents[key])
		}
		for _, text := range spanText(s) {
			for _, canary := range []string{"CANARY", canaryCustomer, canaryContent, "idiot", "Paris", "ash_test_"} {
				if strings.Contains(text, canary) {
					t.Errorf("%s: span carries %q in %q", key, canary, text)
				}
			}
		}
	}
	if seen != len(wantEvents) {
		t.Errorf("%d check spans, want %d", seen, len(wantEvents))
	}
}

// spanText is every string a span exports.
func spanText(s sdktrace.ReadOnlySpan) []string {
	out := []string{s.Name(), s.Status().Description}
	kvs := slices.Clone(s.Attributes())
	for _, e := range s.Events() {
		out = append(out, e.Name)
		kvs = append(kvs, e.Attributes...)
	}
	for _, kv := range kvs {
		out = append(out, string(kv.Key), kv.Value.String())
	}
	return out
}

func attr(kvs []attribute.KeyValue, key string) attribute.Value {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func sameAttrs(got, want []attribute.KeyValue) bool {
	a, b := attribute.NewSet(got...), attribute.NewSet(want...)
	return a.Equals(&b)
}

// checkMetrics compares every instrument with what the traffic implies.
// Checks: toxicity passes capital, weather, flags insult, fails joke (400)
// and caches the second capital; pii the same but passes joke. Calls: 4
// samples × 2 types = 8, one 4xx; 8/8000 = 0.001. Cache: 2 hits, 8 misses.
// Failed samples: joke (bad_request). No drops: every reason reads 0.
func checkMetrics(t *testing.T, tel *telemetry) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope != (instrumentation.Scope{Name: safecheckotel.ScopeName}) {
		t.Fatalf("scopes %+v", rm.ScopeMetrics)
	}
	got := map[string]metricdata.Metrics{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		got[m.Name] = m
	}
	route := attribute.String("safecheck.route", "chat")
	checks := func(tt string, pass, flagged, errors, cached int64) []metricdata.DataPoint[int64] {
		var dps []metricdata.DataPoint[int64]
		for _, r := range []struct {
			name string
			n    int64
		}{{"pass", pass}, {"flagged", flagged}, {"error", errors}, {"cached", cached}} {
			dps = append(dps, point(r.n, attribute.String("safecheck.test_type", tt), attribute.String("safecheck.check.result", r.name)))
		}
		return dps
	}
	classes := func(n2, n3, n4, n5, nnet int64) []metricdata.DataPoint[int64] {
		var dps []metricdata.DataPoint[int64]
		for c, n := range map[string]int64{"2xx": n2, "3xx": n3, "4xx": n4, "5xx": n5, "network": nnet} {
			dps = append(dps, point(n, attribute.String("safecheck.api.status_class", c)))
		}
		return dps
	}
	drops := func(route attribute.KeyValue) []metricdata.DataPoint[int64] {
		var dps []metricdata.DataPoint[int64]
		for _, r := range []string{"queue_full", "queue_bytes", "circuit_open", "rate_limited", "closed", "shutdown",
			"handler_panic", "empty_response", "binary", "undecodable", "extract_error", "aborted",
			"auth_failed", "empty_prompt", "panic", "overload"} {
			dps = append(dps, point[int64](0, route, attribute.String("safecheck.drop.reason", r)))
		}
		return dps
	}
	failed := func(byClass map[string]int64) []metricdata.DataPoint[int64] {
		var dps []metricdata.DataPoint[int64]
		for _, c := range []string{"rate_limited", "server_error", "unauthorized", "bad_request", "network", "timeout",
			"malformed_response", "circuit_open", "canceled", "checker_panic", "configuration"} {
			dps = append(dps, point(byClass[c], attribute.String("error.type", c)))
		}
		return dps
	}
	rates := func(configured, effective float64) metricdata.Metrics {
		return metricdata.Metrics{Name: "safecheck.sample_rate", Unit: "1",
			Description: "Share of a route's requests sampled: configured, and effective (1 during an incident).",
			Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{
				point(configured, route, attribute.String("safecheck.sample_rate.kind", "configured")),
				point(effective, route, attribute.String("safecheck.sample_rate.kind", "effective")),
			}}}
	}
	want := []metricdata.Metrics{
		counter("safecheck.requests", "{request}", "Requests that reached a route's middleware, sampled or not.", point[int64](5, route)),
		counter("safecheck.samples", "{sample}", "Requests the sampler chose for checking.", point[int64](5, route)),
		rates(1, 1),
		counter("safecheck.samples.dropped", "{sample}", "Sampled requests that were not checked, by reason.", drops(route)...),
		counter("safecheck.samples.failed", "{sample}", "Sampled requests whose check failed, by the error class of the first failed check.",
			failed(map[string]int64{"bad_request": 1})...),
		counter("safecheck.checks", "{check}", "Checks of one test type for one sample, by result (pass, flagged, error, cached).",
			append(checks("toxicity", 2, 1, 1, 1), checks("pii", 3, 1, 0, 1)...)...),
		counter("safecheck.api.requests", "{request}", "Calls to the safety API, by status class of the answer (network: no answer).", classes(7, 0, 1, 0, 0)...),
		counter("safecheck.api.retries", "{retry}", "Calls to the safety API that were retries.", point[int64](0)),
		counter("safecheck.cache.hits", "{lookup}", "Verdict cache lookups that found a verdict.", point[int64](2)),
		counter("safecheck.cache.misses", "{lookup}", "Verdict cache lookups that found none.", point[int64](8)),
		{Name: "safecheck.rate_limit.utilization", Unit: "1", Description: "Calls to the safety API in the last minute over the per-minute limit set with WithRateLimit; absent without one.",
			Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Value: 0.001, Attributes: attribute.NewSet()}}}},
		upDown("safecheck.queue.samples", "{sample}", "Samples admitted and not yet finished.", 0),
		upDown("safecheck.queue.usage", "By", "Bytes held or reserved by the samples admitted and not yet finished.", 0),
		gauge("safecheck.circuit.open", "1 while the circuit breaker refuses calls to the safety API, else 0.", point[int64](0)),
		gauge("safecheck.overloaded", "1 while the CPU budget (WithCPUBudget) is spent and new samples are dropped as overload, else 0.", point[int64](0)),
		gauge("safecheck.incident.active", "1 while an incident samples every request of the route, else 0.", point[int64](0, route)),
		{Name: "safecheck.check.score", Unit: "1", Description: "Scores of verdicts, from 0 (safe) to 1 (violating), cached ones included.",
			Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality, DataPoints: []metricdata.HistogramDataPoint[float64]{
				scores("toxicity", 0.9, 3, 1), scores("pii", 0.85, 4, 1),
			}}},
	}
	for _, w := range want {
		g, ok := got[w.Name]
		if !ok {
			t.Errorf("no %s", w.Name)
			continue
		}
		metricdatatest.AssertEqual(t, w, g, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	}
	d, ok := got["safecheck.check.duration"].Data.(metricdata.Histogram[float64])
	if !ok || got["safecheck.check.duration"].Unit != "s" {
		t.Fatalf("check duration: %+v", got["safecheck.check.duration"])
	}
	counts := map[string]uint64{}
	for _, dp := range d.DataPoints {
		tt, _ := dp.Attributes.Value("safecheck.test_type")
		counts[tt.AsString()] = dp.Count
		if !slices.Equal(dp.Bounds, safecheck.LatencyBounds()) {
			t.Errorf("duration bounds %v", dp.Bounds)
		}
	}
	if counts["toxicity"] != 3 || counts["pii"] != 4 || len(counts) != 2 {
		t.Errorf("durations recorded %v, want toxicity 3 and pii 4", counts)
	}
	text := fmt.Sprintf("%+v", rm)
	for _, canary := range []string{"CANARY", "idiot", "req-1"} {
		if strings.Contains(text, canary) {
			t.Errorf("metrics carry %q", canary)
		}
	}
}

func point[N int64 | float64](v N, kvs ...attribute.KeyValue) metricdata.DataPoint[N] {
	return metricdata.DataPoint[N]{Value: v, Attributes: attribute.NewSet(kvs...)}
}

func counter(name, unit, desc string, dps ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Unit: unit, Description: desc, Data: metricdata.Sum[int64]{
		Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: dps}}
}

func upDown(name, unit, desc string, v int64) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Unit: unit, Description: desc, Data: metricdata.Sum[int64]{
		Temporality: metricdata.CumulativeTemporality, DataPoints: []metricdata.DataPoint[int64]{point(v)}}}
}

func gauge(name, desc string, dps ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Unit: "1", Description: desc, Data: metricdata.Gauge[int64]{DataPoints: dps}}
}

// scores is a score histogram with zeros zero scores and one of high.
func scores(tt string, high float64, zeros, highs uint64) metricdata.HistogramDataPoint[float64] {
	counts := make([]uint64, 11)
	counts[0], counts[8] = zeros, highs
	return metricdata.HistogramDataPoint[float64]{
		Attributes:   attribute.NewSet(attribute.String("safecheck.test_type", tt)),
		Count:        zeros + highs,
		Sum:          high * float64(highs),
		Bounds:       safecheck.ScoreBounds(),
		BucketCounts: counts,
		Min:          metricdata.NewExtrema(0.0),
		Max:          metricdata.NewExtrema(high),
	}
}

// GuardOptions alone connects a guard: its verdicts become events, and
// Observe's registration can be undone.
func TestGuardOptions(t *testing.T) {
	tel := newTelemetry(t)
	inst, err := safecheckotel.New(safecheckotel.WithTracerProvider(tel.tp), safecheckotel.WithMeterProvider(tel.mp))
	if err != nil {
		t.Fatal(err)
	}
	_, client := api(t)
	guard, err := safecheck.New(safecheck.AssuranceHub(client),
		append(inst.GuardOptions(), safecheck.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := inst.Observe(guard)
	if err != nil {
		t.Fatal(err)
	}
	route, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /plain", route.Wrap(http.HandlerFunc(chat)))
	post(t, app(t, mux), "/plain", "q-insult", "req-9")
	closeGuard(t, guard)

	spans := tel.spans.Ended()
	if len(spans) != 1 || len(spans[0].Events()) != 1 ||
		!sameAttrs(spans[0].Events()[0].Attributes, verdictEvent("toxicity", 0.9, "fail", true, "reject")) {
		t.Fatalf("spans %v", spans)
	}
	if n := observed(t, tel, "safecheck.samples", "chat"); n != 1 {
		t.Errorf("samples = %d, want 1", n)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if n := observed(t, tel, "safecheck.samples", "chat"); n != -1 {
		t.Errorf("after Unregister, samples = %d, want none", n)
	}
}

// observed returns the int64 data point of instrument name for route (a
// sum or a gauge), or -1 when there is none.
func observed(t *testing.T, tel *telemetry, name, route string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var dps []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				dps = d.DataPoints
			case metricdata.Gauge[int64]:
				dps = d.DataPoints
			}
			for _, dp := range dps {
				if v, _ := dp.Attributes.Value("safecheck.route"); v.AsString() == route {
					return dp.Value
				}
			}
		}
	}
	return -1
}

func TestAnnotate(t *testing.T) {
	inst, err := safecheckotel.New(safecheckotel.WithTracerProvider(tracenoop.NewTracerProvider()),
		safecheckotel.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
	})
	tests := []struct {
		name string
		ctx  context.Context
		want any
	}{
		{"no span", context.Background(), nil},
		{"invalid span context", trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), nil},
		{"span", trace.ContextWithSpanContext(context.Background(), sc), sc},
	}
	for _, tc := range tests {
		r := httptest.NewRequestWithContext(tc.ctx, http.MethodPost, "/", nil)
		got := inst.Annotate(r)
		if sc, ok := tc.want.(trace.SpanContext); ok {
			if gsc, ok := got.(trace.SpanContext); !ok || !gsc.Equal(sc) {
				t.Errorf("%s: Annotate = %v, want %v", tc.name, got, sc)
			}
		} else if got != nil {
			t.Errorf("%s: Annotate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		opts []safecheckotel.Option
		want string
	}{
		{"nil tracer provider", []safecheckotel.Option{safecheckotel.WithTracerProvider(nil)}, "tracer provider is nil"},
		{"nil meter provider", []safecheckotel.Option{safecheckotel.WithMeterProvider(nil)}, "meter provider is nil"},
		{"nil option", []safecheckotel.Option{nil}, "safecheckotel: option 1 is nil"},
		{"nil option after another", []safecheckotel.Option{safecheckotel.WithMeterProvider(metricnoop.NewMeterProvider()), nil}, "safecheckotel: option 2 is nil"},
	}
	for _, tc := range tests {
		if _, err := safecheckotel.New(tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	inst, err := safecheckotel.New()
	if err != nil {
		t.Fatalf("New with the global providers: %v", err)
	}
	if _, err := inst.Observe(nil); err == nil {
		t.Error("Observe(nil) succeeded")
	}
}

// TestFirstCollection: before any traffic every documented data point is
// there at zero (the utilization aside, with no rate limit to divide by),
// and the effective sample rate follows an incident up to 1 and back.
func TestFirstCollection(t *testing.T) {
	tel := newTelemetry(t)
	inst, err := safecheckotel.New(safecheckotel.WithTracerProvider(tel.tp), safecheckotel.WithMeterProvider(tel.mp))
	if err != nil {
		t.Fatal(err)
	}
	_, client := api(t)
	guard, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Observe(guard); err != nil {
		t.Fatal(err)
	}
	if _, err := guard.Route("POST /v1/chat", safecheck.WithSampleRate(0.2), safecheck.WithTestTypes(assurancehub.Jailbreak)); err != nil {
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
				got[m.Name] = m
			}
		}
		return got
	}
	got := collect()
	for _, tc := range []struct {
		name   string
		points int
	}{
		{"safecheck.requests", 1},
		{"safecheck.samples", 1},
		{"safecheck.samples.dropped", 16}, // every drop reason
		{"safecheck.samples.failed", 11},  // every error class
		{"safecheck.checks", 4},           // jailbreak × every result
		{"safecheck.api.requests", 5},     // every status class
		{"safecheck.api.retries", 1},
		{"safecheck.incident.active", 1},
		{"safecheck.cache.hits", 1},
		{"safecheck.cache.misses", 1},
	} {
		var dps []metricdata.DataPoint[int64]
		switch d := got[tc.name].Data.(type) {
		case metricdata.Sum[int64]:
			dps = d.DataPoints
		case metricdata.Gauge[int64]:
			dps = d.DataPoints
		}
		if len(dps) != tc.points {
			t.Errorf("%s: %d data points, want %d", tc.name, len(dps), tc.points)
		}
		for _, dp := range dps {
			if dp.Value != 0 {
				t.Errorf("%s: %d before any traffic", tc.name, dp.Value)
			}
		}
	}
	if m, ok := got["safecheck.rate_limit.utilization"]; ok && len(m.Data.(metricdata.Gauge[float64]).DataPoints) != 0 {
		t.Errorf("utilization without a rate limit: %+v", m)
	}

	rates := func() (configured, effective float64) {
		for _, dp := range collect()["safecheck.sample_rate"].Data.(metricdata.Gauge[float64]).DataPoints {
			switch kind, _ := dp.Attributes.Value("safecheck.sample_rate.kind"); kind.AsString() {
			case "configured":
				configured = dp.Value
			case "effective":
				effective = dp.Value
			}
		}
		return configured, effective
	}
	steps := []struct {
		name                  string
		change                func() error
		configured, effective float64
	}{
		{"before", func() error { return nil }, 0.2, 0.2},
		{"incident", func() error { return guard.StartIncident(context.Background(), "bad deploy", time.Hour) }, 0.2, 1},
		{"after", func() error { return guard.EndIncident(context.Background()) }, 0.2, 0.2},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatal(err)
		}
		if c, e := rates(); c != st.configured || e != st.effective {
			t.Errorf("%s: configured %v, effective %v; want %v, %v", st.name, c, e, st.configured, st.effective)
		}
	}
	closeGuard(t, guard)
}
