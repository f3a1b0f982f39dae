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
// drop reason, an error class, a result or a status class; never a
// customer id, a request id or any content):
//
//	safecheck_requests_total{route}                  counter   requests that reached the route, sampled or not
//	safecheck_samples_total{route}                   counter   requests the sampler chose
//	safecheck_sample_rate{route,kind}                gauge     kind="configured" (the route's rate) or "effective" (1 during an incident)
//	safecheck_samples_dropped_total{route,reason}    counter   samples not checked, by Drop* reason
//	safecheck_samples_failed_total{error_class}      counter   samples whose check failed, by the Class* of the first failure
//	safecheck_checks_total{test_type,result}         counter   result: pass, flagged, error, cached
//	safecheck_check_duration_seconds{test_type}      histogram checks answered by the checker, retries included
//	safecheck_score{test_type}                       histogram verdict scores, 0 to 1
//	safecheck_api_requests_total{status_class}       counter   calls to the API: 2xx, 3xx, 4xx, 5xx, network
//	safecheck_api_retries_total                      counter   calls that were retries
//	safecheck_rate_limit_utilization_ratio           gauge     calls in the last minute over WithRateLimit's limit
//	safecheck_queue_samples                          gauge     samples admitted and not finished
//	safecheck_queue_bytes                            gauge     bytes those samples hold
//	safecheck_circuit_open                           gauge     1 while the circuit breaker refuses calls
//	safecheck_incident_active{route}                 gauge     1 while an incident samples the route fully
//	safecheck_cache_hits_total                       counter   verdict cache lookups that found a verdict
//	safecheck_cache_misses_total                     counter   verdict cache lookups that did not
//	safecheck_escalated_customers                    gauge     customers escalated now
//	safecheck_escalations_started_total              counter   escalations started by a flagged verdict
//	safecheck_escalations_ended_total                counter   escalations ended: expired, by an operator, or evicted
//	safecheck_escalations_evicted_total              counter   escalations ended because the set was full
//	safecheck_escalated_requests_total{route}        counter   requests of escalated customers
//	safecheck_alert_firing{rule}                     gauge     1 while the WithAlertRules rule fires
//	safecheck_alert_value{rule}                      gauge     the rule's flagged share or score p95 over its window
//
// Every series is there from the first scrape, at zero until something is
// counted: for every route of the Guard, every test type its routes check,
// and every drop reason, error class, result and status class safecheck
// defines, so that rate() and increase() see the first event. The one
// exception is safecheck_rate_limit_utilization_ratio, which is only
// exposed when the Guard has a rate limit (safecheck.WithRateLimit):
// without one there is nothing to divide by, and 0 would read as "plenty
// of room".
//
// NewWebhookCollector does the same for a webhook.Sink, one set of series
// per endpoint, named by its scheme and host ("https://hooks.example.com";
// never its path or query, which may hold a token):
//
//	safecheck_webhook_events_total{endpoint,result}  counter   result: delivered, failed, dropped
//	safecheck_webhook_dropped_total{endpoint,reason} counter   by webhook.DropReason: queue_full, circuit_open, closed, shutdown, gone
//	safecheck_webhook_retries_total{endpoint}        counter   attempts after the first
//	safecheck_webhook_queued{endpoint}               gauge     events queued or in delivery
//	safecheck_webhook_circuit_open{endpoint}         gauge     1 while the endpoint's circuit drops its events
//
// Endpoints that share a scheme and host are summed. The events offered
// to an endpoint are the sum of its three results and queued.
//
// Useful queries: the sampled share of a route is
// rate(safecheck_samples_total[5m]) / rate(safecheck_requests_total[5m]),
// to graph beside safecheck_sample_rate, where an incident shows as the
// effective rate jumping to 1 and back; the flagged share is
// rate(safecheck_checks_total{result="flagged"}[5m]) over the sum of the
// pass and flagged rates; the API success rate is the 2xx rate of
// safecheck_api_requests_total over its total rate; the p95 check duration
// is histogram_quantile(0.95, rate(safecheck_check_duration_seconds_bucket[5m])).
package safecheckprom
