// Package safecheck is HTTP middleware that checks, continuously and in the
// background, whether what an LLM-backed app says is safe.
//
// On each configured route it samples a share of the prompt/response pairs
// the app serves (10 % by default), copies them in-process without changing
// anything the client receives, and checks them asynchronously against the
// AssuranceHub AI-safety API. Every verdict becomes one structured log/slog
// record that carries customer_id and request_id and never the prompt or
// response text.
//
// # Mounting
//
//	client, err := assurancehub.New() // key from ASSURANCEHUB_API_KEY
//	guard, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithLogger(logger))
//	defer guard.Close(ctx)
//	chat, err := guard.Route("chat", safecheck.WithSampleRate(0.2))
//	mux.Handle("POST /v1/chat/completions", chat.Wrap(chatHandler))
//
// Mount the route middleware inside authentication (so WithCustomerID can
// read what it established) and outside compression middleware: the capture
// then sees the compressed bytes together with the Content-Encoding that
// describes them, and decodes gzip and deflate itself. (Mounted inside a
// compressor, it still copes: plain text labelled as compressed is taken as
// plain.) Routes that are not configured are never sampled.
//
// # Outbound calls
//
// An app that calls its LLM itself (with the OpenAI or Anthropic SDKs, say)
// samples those calls at its HTTP client instead: Route.Transport wraps the
// client's http.RoundTripper, and ContextWithIDs puts the customer on the
// context of each call. The request body sent is the prompt, the answer as
// the caller reads it the response; records say direction=outbound.
//
// # Guarantees
//
// The request path never waits on the checker: the sampling decision and the
// admission check are a few atomic operations, a full queue, an open circuit
// or a rate-limit pause is a counted drop decided before anything is copied,
// and the hand-off to the workers never blocks. The client sees the same
// status, headers, body bytes, flushes, trailers, hijacks and panics as
// without the middleware. Memory is bounded per sample and in total, by
// bytes. Every sample is accounted for in Stats, and Close reports how many
// were not checked.
//
// # Incidents
//
// After an incident, StartIncident switches the named routes, or every
// route, to full sampling for a while; it reverts by itself when the
// duration passes, and the start and end are each logged once as an audit
// record. SetSampleRate changes a route's rate the same way.
//
// Operators can flip incident mode and sample rates in production through
// package admin (github.com/safecheck/safecheck/admin), an http.Handler
// behind named bearer tokens and an optional address allowlist, whose
// audit records also say who made each change.
//
// # Privacy
//
// Log records never carry prompt or response text, keys are masked, and
// customer ids that look like e-mail addresses or phone numbers are
// replaced by a keyed hash (WithCustomerIDHashKey, WithRawCustomerIDs).
// WithScrubber(scrub.Text) masks e-mail addresses, phone numbers, card
// numbers and key-like strings in the text before it is sent to the
// checker; scrubbing is off by default because it can change verdicts.
// Verdicts live only in the in-memory cache for its TTL; nothing is
// written to disk.
//
// # Observing
//
// Stats returns the accounting: samples checked, answered from the cache,
// dropped (by drop.Reason, package github.com/safecheck/safecheck/drop) and
// failed (by failure.Class), per route and per test type, with latency and
// score histograms. The adapters/prometheus and adapters/otel modules
// export it.
//
// # Writing an adapter
//
// Only framework adapters need Route.Begin and the Capture it returns; the
// net/http middleware (Route.Wrap) is built on them, and so is
// adapters/gin. Begin decides, without blocking, whether a request is
// sampled and admitted; the adapter then tees the request body
// (Capture.WrapRequestBody) and the response (Capture.WrapResponseWriter,
// or Capture.Write and NoteResponseHeader for a framework's own writer),
// may set the ids it knows (SetCustomerID, SetRequestID), and ends the
// capture exactly once with Finish, or Abort with a drop.Reason.
package safecheck
