// Command chat is a small chat-completions-style gin server with safecheck
// on its routes: the gin version of the core's examples/chat.
//
//	go run ./examples/chat -demo
//
// starts the server, sends a few dozen requests to itself (some with unsafe
// answers, from several customers, on two routes sampled at different
// rates), switches to incident mode part-way so every request is sampled
// until the incident expires, waits for the checks and prints the verdict
// records (JSON lines on stdout), the share sampled in each round (stderr)
// and a summary (stdout). Without ASSURANCEHUB_API_KEY it checks against an
// in-process assurancehubtest server; with it, against the real API.
//
// Without -demo it serves on -addr until interrupted. Either way the
// guard's Prometheus metrics are on GET /metrics.
package main
