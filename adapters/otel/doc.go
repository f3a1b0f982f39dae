// Package safecheckotel reports a safecheck Guard to OpenTelemetry: its
// accounting as metrics, and every verdict as a gen_ai.evaluation.result
// event tied to the trace of the request that was sampled.
//
// It uses the OpenTelemetry API only; the app chooses the SDK and the
// exporters, and passes its providers (the global ones by default):
//
//	inst, err := safecheckotel.New(
//		safecheckotel.WithTracerProvider(tp), safecheckotel.WithMeterProvider(mp))
//	guard, err := safecheck.New(checker, inst.GuardOptions()...)
//	reg, err := inst.Observe(guard) // reg.Unregister() to stop
//
// # Traces
//
// GuardOptions installs two hooks. safecheck.WithAnnotate runs Annotate on
// each sampled request and keeps the span context found in its context
// (put there by tracing middleware such as otelhttp or otelgin, mounted
// outside the safecheck route). safecheck.WithOnVerdict runs RecordVerdict
// for each finished check: it starts a short span named
// "safecheck.check <test type>", a child of the request's span when there
// was one and a new trace otherwise, covering the time the check took, and
// adds to it one span event per the OpenTelemetry GenAI semantic
// conventions:
//
//	gen_ai.evaluation.result
//	  gen_ai.evaluation.name         the test type, e.g. "toxicity"
//	  gen_ai.evaluation.score.value  the score, 0 (safe) to 1 (violating)
//	  gen_ai.evaluation.score.label  "pass" or "fail" (the risk level when the API gives no pass/fail)
//	  safecheck.flagged, safecheck.risk_level
//	  error.type                     the safecheck error class, when the check failed
//
// The span carries safecheck.route, safecheck.request_id, safecheck.cached
// and safecheck.attempts. Neither carries prompt or response text or the
// customer id. The conventions model the event as a log-based event; it is
// a span event here because this package uses the trace and metric APIs
// only, and a span event sits in the request's trace, where the
// conventions ask the event to be parented.
//
// A Guard takes one WithOnVerdict hook. To keep one of your own, install
// the two hooks yourself and call RecordVerdict from yours:
//
//	guard, err := safecheck.New(checker,
//		safecheck.WithAnnotate(inst.Annotate),
//		safecheck.WithOnVerdict(func(o safecheck.Outcome) {
//			inst.RecordVerdict(o)
//			mine(o)
//		}))
//
// # Metrics
//
// Observe registers observable instruments that read Guard.Stats when the
// SDK collects; the two histograms are recorded by RecordVerdict, so they
// need GuardOptions (or RecordVerdict) too. The instruments mirror the
// Prometheus adapter's metrics:
//
//	safecheck.requests             {request}  counter         safecheck.route (sampled or not)
//	safecheck.samples              {sample}   counter         safecheck.route
//	safecheck.sample_rate          1          gauge           safecheck.route, safecheck.sample_rate.kind
//	                                                          ("configured", or "effective": 1 during an incident)
//	safecheck.samples.dropped      {sample}   counter         safecheck.route, safecheck.drop.reason
//	safecheck.samples.failed       {sample}   counter         error.type (the class of the first failed check)
//	safecheck.checks               {check}    counter         safecheck.test_type, safecheck.check.result
//	safecheck.check.duration       s          histogram       safecheck.test_type (checks answered by the checker)
//	safecheck.check.score          1          histogram       safecheck.test_type
//	safecheck.api.requests         {request}  counter         safecheck.api.status_class
//	safecheck.api.retries          {retry}    counter
//	safecheck.rate_limit.utilization  1       gauge           (only with safecheck.WithRateLimit)
//	safecheck.queue.samples        {sample}   updowncounter
//	safecheck.queue.usage          By         updowncounter
//	safecheck.circuit.open         1          gauge           1 while the circuit breaker refuses calls
//	safecheck.incident.active      1          gauge           safecheck.route
//	safecheck.cache.hits           {lookup}   counter
//	safecheck.cache.misses         {lookup}   counter
//	safecheck.escalation.customers {customer} gauge           customers escalated now
//	safecheck.escalation.started   {escalation} counter
//	safecheck.escalation.ended     {escalation} counter       expired, ended by an operator, or evicted
//	safecheck.escalation.evicted   {escalation} counter       ended because the set was full
//	safecheck.escalation.requests  {request}  counter         safecheck.route (requests of escalated customers)
//	safecheck.alert.firing         1          gauge           safecheck.alert.rule (1 while firing)
//	safecheck.alert.value          1          gauge           safecheck.alert.rule (flagged share or score p95)
//
// Every data point is observed from the first collection, at zero until
// something is counted: for every route, every test type the routes
// check, and every drop reason, error class, result and status class
// safecheck defines. safecheck.rate_limit.utilization is the exception:
// without a rate limit there is nothing to divide by, and it is not
// observed (a Prometheus exporter names it
// safecheck_rate_limit_utilization_ratio, as the Prometheus adapter does).
//
// ObserveWebhook does the same for a webhook.Sink, per endpoint, named by
// its scheme and host in safecheck.webhook.endpoint (never its path or
// query, which may hold a token); endpoints that share one are summed:
//
//	safecheck.webhook.events       {event}    counter         safecheck.webhook.endpoint, safecheck.webhook.result
//	                                                          (delivered, failed, dropped)
//	safecheck.webhook.dropped      {event}    counter         safecheck.webhook.endpoint, safecheck.drop.reason
//	                                                          (a webhook.DropReason: queue_full, circuit_open, closed, shutdown, gone)
//	safecheck.webhook.retries      {retry}    counter         safecheck.webhook.endpoint
//	safecheck.webhook.queued       {event}    updowncounter   safecheck.webhook.endpoint (queued or in delivery)
//	safecheck.webhook.circuit.open 1          gauge           safecheck.webhook.endpoint
//
// Every attribute has a small, closed set of values (an alert rule's name
// is the Guard's configuration, never a customer's). Observe one Guard per
// MeterProvider: two Guards would report the same series.
package safecheckotel
