// Package safecheckprom exposes a safecheck Guard's accounting as
// Prometheus metrics.
//
// NewCollector returns a prometheus.Collector that reads Guard.Stats when it
// is scraped, so recording costs the request path nothing beyond the
// counters the Guard keeps anyway. Register it and serve the registry:
//
//	c, err := safecheckprom.NewCollector(guard)
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics, with low-cardinality labels only (a route, a test type, a
// drop reason, a result or a status class; never a customer id, a request
// id or any content):
//
//	safecheck_samples_total{route}                   counter   requests the sampler chose
//	safecheck_samples_dropped_total{route,reason}    counter   samples not checked, by Drop* reason
//	safecheck_checks_total{test_type,result}         counter   result: pass, flagged, error, cached
//	safecheck_check_duration_seconds{test_type}      histogram checks answered by the checker, retries included
//	safecheck_score{test_type}                       histogram verdict scores, 0 to 1
//	safecheck_api_requests_total{status_class}       counter   calls to the API: 2xx, 3xx, 4xx, 5xx, network
//	safecheck_api_retries_total                      counter   calls that were retries
//	safecheck_rate_limit_utilization                 gauge     calls in the last minute over WithRateLimit's limit
//	safecheck_queue_samples                          gauge     samples admitted and not finished
//	safecheck_queue_bytes                            gauge     bytes those samples hold
//	safecheck_circuit_open                           gauge     1 while the circuit breaker refuses calls
//	safecheck_incident_active{route}                 gauge     1 while an incident samples the route fully
//	safecheck_cache_hits_total                       counter   verdict cache lookups that found a verdict
//	safecheck_cache_misses_total                     counter   verdict cache lookups that did not
//
// safecheck_rate_limit_utilization is only exposed when the Guard has a
// rate limit (safecheck.WithRateLimit); without one there is nothing to
// divide by. A dropped-samples series appears once its first drop is
// counted; the checks and histograms of every test type a route checks are
// exposed from the start, at zero.
//
// Useful queries: the flagged share is
// rate(safecheck_checks_total{result="flagged"}[5m]) over the sum of the
// pass and flagged rates; the API success rate is the 2xx rate of
// safecheck_api_requests_total over its total rate; the p95 check duration
// is histogram_quantile(0.95, rate(safecheck_check_duration_seconds_bucket[5m])).
package safecheckprom
