package safecheckprom_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/assurancehub"
)

// expected is every metric after rig.drive on route chat (toxicity, pii),
// with route search (toxicity, never sampled) beside it, an incident on
// chat and a plan limit of 8000 calls a minute. Search gets 3 requests. Check durations are
// checked apart: their buckets depend on the machine.
//
// Samples on chat: slow-1, slow-2, drop, capital, insult, capital, joke,
// weather, outage = 9, one dropped. Checks: toxicity passes slow-1, slow-2,
// capital, weather, flags insult (0.9), fails joke (400) and outage (503,
// then a dropped connection), caches the second capital; pii the same but
// passes joke and outage and flags insult (0.85). Calls: 7 samples × 2
// types + the retries after the 429 and the 503 = 16: 2 are 4xx (the 400
// and the 429), one 5xx, one without an answer; 16/8000 = 0.002. Cache: 2
// hits (the second capital), 14 misses. Failed samples: joke (400,
// bad_request) and outage (no answer in the end, network).
const expected = `
# HELP safecheck_api_requests_total Calls to the safety API, by status class of the answer (network: no answer).
# TYPE safecheck_api_requests_total counter
safecheck_api_requests_total{status_class="2xx"} 12
safecheck_api_requests_total{status_class="3xx"} 0
safecheck_api_requests_total{status_class="4xx"} 2
safecheck_api_requests_total{status_class="5xx"} 1
safecheck_api_requests_total{status_class="network"} 1
# HELP safecheck_api_retries_total Calls to the safety API that were retries.
# TYPE safecheck_api_retries_total counter
safecheck_api_retries_total 2
# HELP safecheck_cache_hits_total Verdict cache lookups that found a verdict.
# TYPE safecheck_cache_hits_total counter
safecheck_cache_hits_total 2
# HELP safecheck_cache_misses_total Verdict cache lookups that found none.
# TYPE safecheck_cache_misses_total counter
safecheck_cache_misses_total 14
# HELP safecheck_checks_total Checks of one test type for one sample, by result (pass, flagged, error, cached).
# TYPE safecheck_checks_total counter
safecheck_checks_total{result="cached",test_type="pii"} 1
safecheck_checks_total{result="error",test_type="pii"} 0
safecheck_checks_total{result="flagged",test_type="pii"} 1
safecheck_checks_total{result="pass",test_type="pii"} 6
safecheck_checks_total{result="cached",test_type="toxicity"} 1
safecheck_checks_total{result="error",test_type="toxicity"} 2
safecheck_checks_total{result="flagged",test_type="toxicity"} 1
safecheck_checks_total{result="pass",test_type="toxicity"} 4
# HELP safecheck_circuit_open 1 while the circuit breaker refuses calls to the safety API, else 0.
# TYPE safecheck_circuit_open gauge
safecheck_circuit_open 0
# HELP safecheck_overloaded 1 while the CPU budget (WithCPUBudget) is spent and new samples are dropped as overload, else 0.
# TYPE safecheck_overloaded gauge
safecheck_overloaded 0
# HELP safecheck_fleet_degraded 1 while the fleet coordinator (WithCoordinator) serves from local state because its store does not answer, else 0.
# TYPE safecheck_fleet_degraded gauge
safecheck_fleet_degraded 0
# HELP safecheck_incident_active 1 while an incident samples every request of the route, else 0.
# TYPE safecheck_incident_active gauge
safecheck_incident_active{route="chat"} 0
safecheck_incident_active{route="search"} 0
# HELP safecheck_queue_bytes Bytes held or reserved by the samples admitted and not yet finished.
# TYPE safecheck_queue_bytes gauge
safecheck_queue_bytes 0
# HELP safecheck_queue_samples Samples admitted and not yet finished.
# TYPE safecheck_queue_samples gauge
safecheck_queue_samples 0
# HELP safecheck_rate_limit_utilization_ratio Calls to the safety API in the last minute over the per-minute limit set with WithRateLimit; absent without one.
# TYPE safecheck_rate_limit_utilization_ratio gauge
safecheck_rate_limit_utilization_ratio 0.002
# HELP safecheck_requests_total Requests that reached a route's middleware, sampled or not.
# TYPE safecheck_requests_total counter
safecheck_requests_total{route="chat"} 9
safecheck_requests_total{route="search"} 3
# HELP safecheck_sample_rate Share of a route's requests sampled: configured, and effective (1 during an incident).
# TYPE safecheck_sample_rate gauge
safecheck_sample_rate{kind="configured",route="chat"} 1
safecheck_sample_rate{kind="configured",route="search"} 0
safecheck_sample_rate{kind="effective",route="chat"} 1
safecheck_sample_rate{kind="effective",route="search"} 0
# HELP safecheck_samples_dropped_total Sampled requests that were not checked, by reason.
# TYPE safecheck_samples_dropped_total counter
safecheck_samples_dropped_total{reason="aborted",route="chat"} 0
safecheck_samples_dropped_total{reason="auth_failed",route="chat"} 0
safecheck_samples_dropped_total{reason="aborted",route="search"} 0
safecheck_samples_dropped_total{reason="auth_failed",route="search"} 0
safecheck_samples_dropped_total{reason="binary",route="chat"} 0
safecheck_samples_dropped_total{reason="binary",route="search"} 0
safecheck_samples_dropped_total{reason="circuit_open",route="chat"} 0
safecheck_samples_dropped_total{reason="circuit_open",route="search"} 0
safecheck_samples_dropped_total{reason="closed",route="chat"} 0
safecheck_samples_dropped_total{reason="closed",route="search"} 0
safecheck_samples_dropped_total{reason="empty_prompt",route="chat"} 0
safecheck_samples_dropped_total{reason="empty_response",route="chat"} 0
safecheck_samples_dropped_total{reason="empty_prompt",route="search"} 0
safecheck_samples_dropped_total{reason="empty_response",route="search"} 0
safecheck_samples_dropped_total{reason="extract_error",route="chat"} 0
safecheck_samples_dropped_total{reason="extract_error",route="search"} 0
safecheck_samples_dropped_total{reason="handler_panic",route="chat"} 0
safecheck_samples_dropped_total{reason="overload",route="chat"} 0
safecheck_samples_dropped_total{reason="panic",route="chat"} 0
safecheck_samples_dropped_total{reason="handler_panic",route="search"} 0
safecheck_samples_dropped_total{reason="overload",route="search"} 0
safecheck_samples_dropped_total{reason="panic",route="search"} 0
safecheck_samples_dropped_total{reason="queue_bytes",route="chat"} 0
safecheck_samples_dropped_total{reason="queue_bytes",route="search"} 0
safecheck_samples_dropped_total{reason="queue_full",route="chat"} 1
safecheck_samples_dropped_total{reason="queue_full",route="search"} 0
safecheck_samples_dropped_total{reason="rate_limited",route="chat"} 0
safecheck_samples_dropped_total{reason="rate_limited",route="search"} 0
safecheck_samples_dropped_total{reason="shutdown",route="chat"} 0
safecheck_samples_dropped_total{reason="shutdown",route="search"} 0
safecheck_samples_dropped_total{reason="undecodable",route="chat"} 0
safecheck_samples_dropped_total{reason="undecodable",route="search"} 0
# HELP safecheck_samples_failed_total Sampled requests whose check failed, by the error class of the first failed check.
# TYPE safecheck_samples_failed_total counter
safecheck_samples_failed_total{error_class="bad_request"} 1
safecheck_samples_failed_total{error_class="canceled"} 0
safecheck_samples_failed_total{error_class="checker_panic"} 0
safecheck_samples_failed_total{error_class="circuit_open"} 0
safecheck_samples_failed_total{error_class="configuration"} 0
safecheck_samples_failed_total{error_class="malformed_response"} 0
safecheck_samples_failed_total{error_class="network"} 1
safecheck_samples_failed_total{error_class="rate_limited"} 0
safecheck_samples_failed_total{error_class="server_error"} 0
safecheck_samples_failed_total{error_class="timeout"} 0
safecheck_samples_failed_total{error_class="unauthorized"} 0
# HELP safecheck_samples_total Requests the sampler chose for checking.
# TYPE safecheck_samples_total counter
safecheck_samples_total{route="chat"} 9
safecheck_samples_total{route="search"} 0
# HELP safecheck_score Scores of verdicts, from 0 (safe) to 1 (violating), cached ones included.
# TYPE safecheck_score histogram
safecheck_score_bucket{test_type="pii",le="0.1"} 7
safecheck_score_bucket{test_type="pii",le="0.2"} 7
safecheck_score_bucket{test_type="pii",le="0.3"} 7
safecheck_score_bucket{test_type="pii",le="0.4"} 7
safecheck_score_bucket{test_type="pii",le="0.5"} 7
safecheck_score_bucket{test_type="pii",le="0.6"} 7
safecheck_score_bucket{test_type="pii",le="0.7"} 7
safecheck_score_bucket{test_type="pii",le="0.8"} 7
safecheck_score_bucket{test_type="pii",le="0.9"} 8
safecheck_score_bucket{test_type="pii",le="1"} 8
safecheck_score_bucket{test_type="pii",le="+Inf"} 8
safecheck_score_sum{test_type="pii"} 0.85
safecheck_score_count{test_type="pii"} 8
safecheck_score_bucket{test_type="toxicity",le="0.1"} 5
safecheck_score_bucket{test_type="toxicity",le="0.2"} 5
safecheck_score_bucket{test_type="toxicity",le="0.3"} 5
safecheck_score_bucket{test_type="toxicity",le="0.4"} 5
safecheck_score_bucket{test_type="toxicity",le="0.5"} 5
safecheck_score_bucket{test_type="toxicity",le="0.6"} 5
safecheck_score_bucket{test_type="toxicity",le="0.7"} 5
safecheck_score_bucket{test_type="toxicity",le="0.8"} 5
safecheck_score_bucket{test_type="toxicity",le="0.9"} 6
safecheck_score_bucket{test_type="toxicity",le="1"} 6
safecheck_score_bucket{test_type="toxicity",le="+Inf"} 6
safecheck_score_sum{test_type="toxicity"} 0.9
safecheck_score_count{test_type="toxicity"} 6
`

// exactMetrics are the metrics whose every value expected pins.
var exactMetrics = []string{
	"safecheck_api_requests_total", "safecheck_api_retries_total", "safecheck_cache_hits_total",
	"safecheck_cache_misses_total", "safecheck_checks_total", "safecheck_circuit_open", "safecheck_fleet_degraded",
	"safecheck_overloaded",
	"safecheck_incident_active", "safecheck_queue_bytes", "safecheck_queue_samples",
	"safecheck_rate_limit_utilization_ratio", "safecheck_requests_total", "safecheck_sample_rate",
	"safecheck_samples_dropped_total", "safecheck_samples_failed_total", "safecheck_samples_total",
	"safecheck_score",
}

func TestCollector(t *testing.T) {
	r := newRig(t, safecheck.WithWorkers(1), safecheck.WithQueue(2, 1<<20), safecheck.WithRateLimit(8000))
	customer := safecheck.WithCustomerID(func(req *http.Request) string { return req.Header.Get("X-Customer-ID") })
	chat, err := r.guard.Route("chat", safecheck.WithSampleRate(1), customer,
		safecheck.WithTestTypes(assurancehub.Toxicity, assurancehub.PII), safecheck.WithMaxCaptureBytes(4<<10))
	if err != nil {
		t.Fatal(err)
	}
	search, err := r.guard.Route("search", safecheck.WithSampleRate(0), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		t.Fatal(err)
	}
	c, err := safecheckprom.NewCollector(r.guard)
	if err != nil {
		t.Fatal(err)
	}
	r.serve(chat.Wrap(http.HandlerFunc(r.chat)))
	r.drive(t, 2)
	// Search requests count though none is sampled.
	searchApp := httptest.NewServer(search.Wrap(http.HandlerFunc(r.chat)))
	defer searchApp.Close()
	for range 3 {
		resp, err := searchApp.Client().Post(searchApp.URL, "text/plain", strings.NewReader("q-weather"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	searchApp.Client().CloseIdleConnections()
	if err := r.guard.StartIncident(context.Background(), "test", time.Hour); err != nil { // every route
		t.Fatal(err)
	}
	const during = `
# HELP safecheck_incident_active 1 while an incident samples every request of the route, else 0.
# TYPE safecheck_incident_active gauge
safecheck_incident_active{route="chat"} 1
safecheck_incident_active{route="search"} 1
# HELP safecheck_sample_rate Share of a route's requests sampled: configured, and effective (1 during an incident).
# TYPE safecheck_sample_rate gauge
safecheck_sample_rate{kind="configured",route="chat"} 1
safecheck_sample_rate{kind="configured",route="search"} 0
safecheck_sample_rate{kind="effective",route="chat"} 1
safecheck_sample_rate{kind="effective",route="search"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(during), "safecheck_incident_active", "safecheck_sample_rate"); err != nil {
		t.Errorf("during the incident: %v", err)
	}
	r.closeGuard(t) // ends the incident: the gauges below read 0

	if err := testutil.CollectAndCompare(c, strings.NewReader(expected), exactMetrics...); err != nil {
		t.Error(err)
	}
	// 2 routes × (requests, samples, incident, 2 rates, 16 drop reasons)
	// + 11 error classes + 2 test types × (4 results, 2 histograms) + 5
	// API classes + retries, utilization, 2 queue gauges, circuit, fleet,
	// 2 cache counters + 2 routes' escalated requests, the escalated gauge
	// and 3 escalation counters + the overloaded gauge.
	if n := testutil.CollectAndCount(c); n != 85 {
		t.Errorf("collected %d metrics, want 85", n)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	checkDurations(t, c, map[string]uint64{assurancehub.Toxicity: 5, assurancehub.PII: 7})

	// The API did see the canaries, so their absence below means something.
	last, ok := r.api.LastRequest()
	if !ok || !strings.Contains(string(last.Body), canaryContent) || !strings.Contains(string(last.Body), canaryCustomer) {
		t.Fatalf("the API never got the canaries: %s", last.Body)
	}
	out := scrape(t, c)
	for _, canary := range []string{canaryContent, canaryCustomer, "CANARY", "q-insult", "idiot", "jane@example.com", apiKeyPrefix} {
		if strings.Contains(out, canary) {
			t.Errorf("metric output contains %q", canary)
		}
	}
}

// apiKeyPrefix is the API key, which must not leak either.
const apiKeyPrefix = "ash_test_"

// checkDurations checks that every test type's duration histogram counts
// exactly the checks the checker answered, in buckets that add up.
func checkDurations(t *testing.T, c prometheus.Collector, want map[string]uint64) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, mf := range mfs {
		if mf.GetName() != "safecheck_check_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			tt := m.GetLabel()[0].GetValue()
			h := m.GetHistogram()
			seen++
			if h.GetSampleCount() != want[tt] {
				t.Errorf("%s: %d durations, want %d", tt, h.GetSampleCount(), want[tt])
			}
			if h.GetSampleSum() <= 0 || h.GetSampleSum() > 10*float64(want[tt]) {
				t.Errorf("%s: durations sum to %v s", tt, h.GetSampleSum())
			}
			buckets := h.GetBucket()
			if len(buckets) != 18 || buckets[0].GetUpperBound() != 0.001 || buckets[17].GetUpperBound() != 131.072 {
				t.Errorf("%s: buckets %v", tt, buckets)
			}
			for i := 1; i < len(buckets); i++ {
				if buckets[i].GetCumulativeCount() < buckets[i-1].GetCumulativeCount() {
					t.Errorf("%s: buckets not cumulative: %v", tt, buckets)
				}
			}
			if last := buckets[len(buckets)-1].GetCumulativeCount(); last != want[tt] {
				t.Errorf("%s: %d durations up to the last bound, want %d", tt, last, want[tt])
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d duration histograms, want %d", seen, len(want))
	}
}

// scrape serves c the way an app would and returns the page.
func scrape(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	if !strings.Contains(string(b), `safecheck_samples_total{route="chat"} 9`) {
		t.Fatalf("scrape lacks the samples: %s", b)
	}
	srv.Client().CloseIdleConnections()
	return string(b)
}

// A fresh guard exposes every documented series at zero from the first
// scrape (for its routes and their test types, every drop reason, error
// class, result and API class), except the utilization, which has no
// limit to divide by.
func TestCollectorFreshGuard(t *testing.T) {
	r := newRig(t)
	if _, err := r.guard.Route("chat", safecheck.WithTestTypes(assurancehub.Jailbreak)); err != nil {
		t.Fatal(err)
	}
	c, err := safecheckprom.NewCollector(r.guard)
	if err != nil {
		t.Fatal(err)
	}
	const want = `
# HELP safecheck_api_requests_total Calls to the safety API, by status class of the answer (network: no answer).
# TYPE safecheck_api_requests_total counter
safecheck_api_requests_total{status_class="2xx"} 0
safecheck_api_requests_total{status_class="3xx"} 0
safecheck_api_requests_total{status_class="4xx"} 0
safecheck_api_requests_total{status_class="5xx"} 0
safecheck_api_requests_total{status_class="network"} 0
# HELP safecheck_checks_total Checks of one test type for one sample, by result (pass, flagged, error, cached).
# TYPE safecheck_checks_total counter
safecheck_checks_total{result="cached",test_type="jailbreak"} 0
safecheck_checks_total{result="error",test_type="jailbreak"} 0
safecheck_checks_total{result="flagged",test_type="jailbreak"} 0
safecheck_checks_total{result="pass",test_type="jailbreak"} 0
# HELP safecheck_requests_total Requests that reached a route's middleware, sampled or not.
# TYPE safecheck_requests_total counter
safecheck_requests_total{route="chat"} 0
# HELP safecheck_sample_rate Share of a route's requests sampled: configured, and effective (1 during an incident).
# TYPE safecheck_sample_rate gauge
safecheck_sample_rate{kind="configured",route="chat"} 0.1
safecheck_sample_rate{kind="effective",route="chat"} 0.1
# HELP safecheck_samples_dropped_total Sampled requests that were not checked, by reason.
# TYPE safecheck_samples_dropped_total counter
safecheck_samples_dropped_total{reason="aborted",route="chat"} 0
safecheck_samples_dropped_total{reason="auth_failed",route="chat"} 0
safecheck_samples_dropped_total{reason="binary",route="chat"} 0
safecheck_samples_dropped_total{reason="circuit_open",route="chat"} 0
safecheck_samples_dropped_total{reason="closed",route="chat"} 0
safecheck_samples_dropped_total{reason="empty_prompt",route="chat"} 0
safecheck_samples_dropped_total{reason="empty_response",route="chat"} 0
safecheck_samples_dropped_total{reason="extract_error",route="chat"} 0
safecheck_samples_dropped_total{reason="handler_panic",route="chat"} 0
safecheck_samples_dropped_total{reason="overload",route="chat"} 0
safecheck_samples_dropped_total{reason="panic",route="chat"} 0
safecheck_samples_dropped_total{reason="queue_bytes",route="chat"} 0
safecheck_samples_dropped_total{reason="queue_full",route="chat"} 0
safecheck_samples_dropped_total{reason="rate_limited",route="chat"} 0
safecheck_samples_dropped_total{reason="shutdown",route="chat"} 0
safecheck_samples_dropped_total{reason="undecodable",route="chat"} 0
# HELP safecheck_samples_failed_total Sampled requests whose check failed, by the error class of the first failed check.
# TYPE safecheck_samples_failed_total counter
safecheck_samples_failed_total{error_class="bad_request"} 0
safecheck_samples_failed_total{error_class="canceled"} 0
safecheck_samples_failed_total{error_class="checker_panic"} 0
safecheck_samples_failed_total{error_class="circuit_open"} 0
safecheck_samples_failed_total{error_class="configuration"} 0
safecheck_samples_failed_total{error_class="malformed_response"} 0
safecheck_samples_failed_total{error_class="network"} 0
safecheck_samples_failed_total{error_class="rate_limited"} 0
safecheck_samples_failed_total{error_class="server_error"} 0
safecheck_samples_failed_total{error_class="timeout"} 0
safecheck_samples_failed_total{error_class="unauthorized"} 0
# HELP safecheck_samples_total Requests the sampler chose for checking.
# TYPE safecheck_samples_total counter
safecheck_samples_total{route="chat"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"safecheck_api_requests_total", "safecheck_checks_total", "safecheck_requests_total", "safecheck_sample_rate",
		"safecheck_samples_dropped_total", "safecheck_samples_failed_total", "safecheck_samples_total",
		"safecheck_rate_limit_utilization_ratio"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "safecheck_check_duration_seconds", "safecheck_score"); n != 2 {
		t.Errorf("%d histograms, want 2", n)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestNewCollectorValidates(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name string
		g    *safecheck.Guard
		opts []safecheckprom.Option
		want string
	}{
		{"nil guard", nil, nil, "guard is nil"},
		{"bad label name", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"a-b": "x"})}, `invalid label name "a-b"`},
		{"empty label name", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"": "x"})}, `invalid label name ""`},
		{"reserved label name", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"__name": "x"})}, `invalid label name "__name"`},
		{"clashes with route", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"route": "x"})}, `label "route" is set by the collector`},
		{"clashes with kind", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"kind": "x"})}, `label "kind" is set by the collector`},
		{"clashes with error_class", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"error_class": "x"})}, `label "error_class" is set by the collector`},
		{"invalid UTF-8", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"service": "\xff"})}, "not valid UTF-8"},
		{"nil option", r.guard, []safecheckprom.Option{safecheckprom.WithConstLabels(prometheus.Labels{"service": "a"}), nil}, "safecheckprom: option 2 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := safecheckprom.NewCollector(tc.g, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewCollector: %v, %v; want an error containing %q", c, err, tc.want)
			}
		})
	}
}

// Two guards in one registry are told apart by a constant label; without
// one, the second registration is refused.
func TestCollectorConstLabels(t *testing.T) {
	a, b := newRig(t), newRig(t)
	for _, r := range []*rig{a, b} {
		if _, err := r.guard.Route("chat"); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := safecheckprom.NewCollector(a.guard, safecheckprom.WithConstLabels(prometheus.Labels{"guard": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := safecheckprom.NewCollector(b.guard, safecheckprom.WithConstLabels(prometheus.Labels{"guard": "b"}))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(ca); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(cb); err != nil {
		t.Fatalf("registering a second guard with another label: %v", err)
	}
	if n, err := testutil.GatherAndCount(reg, "safecheck_samples_total"); err != nil || n != 2 {
		t.Errorf("samples series: %d, %v; want 2", n, err)
	}
	plain, err := safecheckprom.NewCollector(b.guard)
	if err != nil {
		t.Fatal(err)
	}
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(plain)
	other, _ := safecheckprom.NewCollector(a.guard)
	if err := reg2.Register(other); err == nil {
		t.Error("a second unlabelled collector registered")
	}
}
