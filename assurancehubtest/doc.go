// Package assurancehubtest provides a fake AssuranceHub API server for
// tests, demos and local development, in the spirit of net/http/httptest:
// a real HTTP server on a loopback port that speaks the same contract as
// https://api.assurancehub.ai (POST /v1/evaluate/<test_type> for the twelve
// test types), scores requests deterministically, counts them and injects
// faults on demand.
//
//	srv, err := assurancehubtest.NewServer()
//	if err != nil { ... }
//	defer srv.Close()
//	// point the client under test at srv.URL, authenticate with
//	// assurancehubtest.TestAPIKey, then assert on srv.Requests("bias"),
//	// srv.LastRequest() and what the client did.
//
// NewHandler returns the same server as an http.Handler, to mount on a
// listener or mux of your own (at the root, or behind http.StripPrefix).
//
// # Contract
//
// Requests authenticate with "Authorization: Bearer <key>" or
// "X-API-Key: <key>" (both may be sent if they carry the same key). The
// accepted key is TestAPIKey unless WithAPIKeys sets others; keys are
// compared in constant time. A missing, unknown or ambiguous key is
// answered 401 {"error":"Invalid API key"}.
//
// An authorised request then gets 404 for a path other than
// /v1/evaluate/<one of the twelve test types>, 405 for a method other than
// POST, 413 for a body over the limit (WithMaxBodyBytes, default 1 MiB), 401
// for a missing or bad signature (only with WithHMACVerification), 415
// for a Content-Type that is not application/json (or application/*+json),
// and 422 with a FastAPI-style body such as
//
//	{"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"}]}
//
// when the body is not a JSON object with non-empty string "prompt" and
// "response" members ("customer_id" is optional; other members are
// ignored). Error bodies are {"error":"..."} with fixed messages: request
// content and keys never appear in them.
//
// A valid request is answered 200 with a body in the documented shape:
// final_consensus_score, consensus_confidence, evaluation (risk_level,
// pass_fail, flagged), consensus_analysis (method "weighted", three
// calculation entries) and model_execution {"execution_mode":"consensus"};
// see NewResult.
//
// # Scoring
//
// By default every test type has a short list of made-up trigger phrases
// (DefaultLexicon; WithLexicon replaces the list of one test type). A term
// matches when it occurs in the prompt or the response, ignoring case, and
// is not part of a longer word ("kill you" matches "I will KILL YOU!" but
// "DAN" does not match "dance"; edges of a term that are not letters or
// digits, as in "@example.com", match anywhere). The score is 0 when no term
// matches, and 0.85 + 0.05 for every further distinct matching term, capped
// at 1. A score >= 0.5 is flagged: pass_fail "fail" and risk_level "high"
// for bias, "critical" for hipaa and gdpr, "reject" otherwise; an unflagged
// result is "pass" and "low". WithScorer replaces the scoring entirely.
//
// # Faults
//
// FailNext queues Faults; each request takes the next one when it arrives,
// before its API key is checked. A Fault can answer with any status,
// Retry-After header and body (Status, RateLimited), close the connection
// without an answer (DropConnection), or delay the request. SetLatency
// delays every answer, and SetRateLimit answers 429 above a number of
// requests per calendar second. A request waiting for latency gives up
// when its client goes away or the Server is closed. All of these can be
// changed while the server is serving; Reset switches them off again.
//
// # Counters
//
// Requests counts evaluated (200) requests per test type, RequestsWithKey
// counts them per accepted API key (for key rotation tests), TotalRequests
// counts every request that reached the handler, and LastRequest returns a
// copy of the most recent request's method, path, headers and body.
//
// # Signatures and TLS
//
// WithHMACVerification makes the server require the signatures of
// assurancehub.HMACSigner and answer 401 {"error":"Invalid request
// signature"} to requests that are unsigned or badly signed. WithTLS serves
// HTTPS with a self-signed certificate (Server.Client trusts it,
// Server.Certificate returns it), for certificate pinning tests.
package assurancehubtest
