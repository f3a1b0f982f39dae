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
// # Keys
//
// The key comes from one place: the ASSURANCEHUB_API_KEY environment
// variable by default, another variable (WithKeyFromEnv), a fixed value
// (WithAPIKey), a file such as a mounted Kubernetes or Docker secret that is
// re-read when it changes (WithKeyFile, FileKeySource), or a function of your
// own (WithKeySource). Keys must look like ash_test_... or ash_live_...
// with at least 16 characters after the prefix; a shorter key is refused by
// New with an error that does not quote it. WithEnvironment(Development)
// refuses live keys and WithEnvironment(Production) refuses test keys, at
// construction and on every rotation; without WithEnvironment a live key is
// accepted and logged once as a warning, by fingerprint. A key source is called for every request, so a rotated key is
// used from the next request on while requests in flight finish with the key
// they were sent with; when a source fails or rotates to a refused key, the
// Client keeps sending the last good key and logs the problem once
// (WithLogger). KeyFingerprint and Fingerprint give a short hash of a key that
// operators may log to tell keys apart; the key itself is never logged.
// ActiveKeyFingerprint reads the source as a request would, without sending
// one, to learn whether the key changed after the API rejected it.
//
// # Network
//
// The base URL is DefaultBaseURL unless the ASSURANCEHUB_BASE_URL
// environment variable (EnvBaseURL) or WithBaseURL says otherwise; the
// option wins over the variable, and New refuses an unusable value with an
// error that names where it came from (never the value itself). A staging
// gateway or a local fake, for example, needs no code change:
//
//	ASSURANCEHUB_BASE_URL=http://127.0.0.1:8089 ./app
//
// Plain http is refused except to loopback hosts (for tests), and the shared
// transport speaks TLS 1.2 or later. WithPinnedSPKI pins the public key of the
// API's certificate or of a CA in its chain; a mismatch fails before any
// request is sent, with a *PinError (errors.Is ErrPinMismatch) naming the
// host and the keys it saw. WithHTTPClient accepts a client of your own, for
// proxies; pinning then works on a clone of its transport. The API documents
// no request signing; WithRequestSigner calls a signer of your choice on
// every request with its final body, and HMACSigner implements safecheck's
// own HMAC-SHA256 scheme (X-AssuranceHub-Signature), for gateways you control
// and for assurancehubtest.WithHMACVerification.
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
