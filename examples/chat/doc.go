// Command chat is a small chat-completions-style server with safecheck on
// its two routes. Its main.go is the whole setup to copy: the AssuranceHub
// client, the Guard with customer escalation and an alert rule, the
// routes, an incident, and Close on shutdown.
//
//	go run ./examples/chat -demo
//
// starts the server on a free loopback port, sends it three rounds of
// requests (some answers are unsafe; several customers; two routes sampled
// at 20 % and 50 %), the second one during an incident that samples every
// request until it expires, then a burst of unsafe answers from one
// customer, which escalates the customer and trips the alert rule into an
// incident of its own, and tells on stdout, in about 45 lines, what each
// route sampled, the effective rates /metrics shows, the escalation and
// the automatic incident with their audit records, the verdicts by test
// type, two of the verdict records and where every sample went. The
// verdict records, one JSON line per check, go to stderr, or to the file
// given with -records FILE. Without ASSURANCEHUB_API_KEY it checks against
// an in-process assurancehubtest server; with it, against the real API.
//
// Without -demo it serves on -addr until interrupted. Ctrl-C and SIGTERM
// both stop it the same way: no more requests, the checks in flight are
// drained (Close with a 10 s deadline) and what Close returned is printed.
// The guard's Prometheus metrics are on GET /metrics.
package main
