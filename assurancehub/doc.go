// Package assurancehub is a client for the AssuranceHub safety evaluation API,
// which scores one prompt/response pair per call for a test type such as
// bias, toxicity or pii (POST /v1/evaluate/<test_type>).
//
// Build a Client once with New and share it:
//
//	c, err := assurancehub.New() // key from ASSURANCEHUB_API_KEY
//	...
//	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
//	defer cancel()
//	res, err := c.Evaluate(ctx, assurancehub.Bias, assurancehub.Request{
//		Prompt:   prompt,
//		Response: response,
//	})
//
// # One attempt, typed errors
//
// Evaluate makes exactly one HTTP attempt. Retries, backoff, circuit breaking
// and rate limiting belong to the caller. To support them, an answer other
// than 2xx is an *APIError carrying the status, a short message and the
// parsed Retry-After delay; APIError.Temporary, IsUnauthorized, IsRateLimited
// and RetryAfter classify it, and ParseRetryAfter is exported for callers
// that read the header themselves. Network and context errors are wrapped, so
// errors.Is(err, context.DeadlineExceeded) works.
//
// # Timeouts and connections
//
// The Client has no timeout of its own: bound every call with its context.
// Clients built without WithHTTPClient share one package-level transport
// (HTTP/2 when offered, TLS 1.2 or later, 10 idle connections per host), and
// every response body is read up to a cap, drained and closed so that
// connections are reused. Redirects are never followed, so the API key is
// sent only to the configured base URL, and plain http is accepted only for
// loopback hosts.
//
// # Secrets and content
//
// The API key never appears in an error string: if the API echoes it, it is
// replaced with [REDACTED] in APIError.Message, APIError.Body and Result.Raw,
// as is anything else shaped like an AssuranceHub key. The client's own error
// strings never carry the prompt or response text; echoes of it in an error
// body are redacted too, as far as they are exact copies of at least 8 bytes.
// Decoding errors report a byte count and a field path, never body content.
//
// # Decoding
//
// DecodeResult is strict about the documented fields and lenient about the
// rest: unknown fields and unknown enum values are kept, Result.Raw keeps the
// whole body, and scores outside 0..1 are clamped into that range.
package assurancehub
