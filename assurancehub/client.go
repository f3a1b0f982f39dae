package assurancehub

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// drainLimit bounds how many unread body bytes are discarded so that a
// connection can be reused; past it the connection is closed instead.
const drainLimit = 64 << 10

// Client calls the AssuranceHub API. It is safe for concurrent use; build it
// once with New and share it.
type Client struct {
	hc           *http.Client
	endpoints    map[string]string
	staticKey    string
	keySource    KeySource
	environment  string
	log          *slog.Logger
	signer       RequestSigner
	apiKeyHeader bool
	userAgent    string
	maxResponse  int64
	now          func() time.Time

	keyReads   atomic.Uint64           // tickets taken by key source reads, in the order they start
	goodKey    atomic.Pointer[readKey] // the key source's last good key
	keyFailing atomic.Bool             // a source failure was reported and has not recovered
}

// sharedTransport is the transport of every Client built without WithHTTPClient.
var sharedTransport = sync.OnceValue(newSharedTransport)

func newSharedTransport() *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   30 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: 1 * time.Second,
		}
	}
	t.MaxIdleConns = 100
	t.MaxIdleConnsPerHost = 10
	t.ForceAttemptHTTP2 = true
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.MinVersion = tls.VersionTLS12
	return t
}

// noRedirects keeps the API key from being sent to a redirect target; the
// redirect response itself is returned as an *APIError.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// New builds a Client and validates every option. Without WithAPIKey or
// WithKeySource, the key is read from the EnvAPIKey environment variable;
// without WithBaseURL, the base URL from EnvBaseURL, else DefaultBaseURL.
// A live key without WithEnvironment is accepted with one warning to the
// WithLogger logger, naming the key's Fingerprint.
//
// The Client sets no overall timeout of its own: bound each call with the
// context given to Evaluate (the API consults several judge models, so calls
// can take seconds).
func New(opts ...Option) (*Client, error) {
	return newClient(newConfig(opts))
}

func newClient(cfg *config) (*Client, error) {
	ks, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	base, err := cfg.resolveBaseURL()
	if err != nil {
		return nil, err
	}
	var hc http.Client
	if cfg.httpClient != nil {
		hc = *cfg.httpClient
	} else {
		hc.Transport = sharedTransport()
	}
	hc.CheckRedirect = noRedirects
	if cfg.pinsSet {
		u, _ := url.Parse(base) // parseBaseURL accepted it
		if u.Scheme != "https" {
			return nil, fmt.Errorf("%w: WithPinnedSPKI needs an https base URL", ErrInvalidBaseURL)
		}
		t, err := pinnedTransport(hc.Transport, cfg.pins, u.Hostname())
		if err != nil {
			return nil, err
		}
		hc.Transport = t
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.environment == "" && ks.src != nil {
		ks.src = warnOnLiveKey(ks.src, logger)
	}
	c := &Client{
		hc:           &hc,
		endpoints:    make(map[string]string, len(testTypes)),
		staticKey:    ks.static,
		keySource:    ks.src,
		environment:  cfg.environment,
		log:          logger,
		signer:       cfg.signer,
		apiKeyHeader: cfg.apiKeyHeader,
		userAgent:    cfg.userAgent,
		maxResponse:  cfg.maxResponse,
		now:          time.Now,
	}
	for _, t := range testTypes {
		c.endpoints[t] = base + "/v1/evaluate/" + t
	}
	if ks.prime != "" {
		if err := c.primeKey(ks.prime); err != nil {
			return nil, err
		}
	}
	if cfg.environment == "" && ks.src == nil && isLiveKey(ks.static) {
		logLiveKey(context.Background(), logger, ks.static)
	}
	return c, nil
}

// Supports reports whether the client can evaluate testType.
func (c *Client) Supports(testType string) bool {
	_, ok := c.endpoints[testType]
	return ok
}

// CloseIdleConnections closes idle connections of the client's transport.
// Without WithHTTPClient the transport is shared by all such clients.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Evaluate sends req to POST /v1/evaluate/<testType> and decodes the verdict.
//
// It makes exactly one HTTP attempt and never retries. A non-2xx answer is
// returned as an *APIError; a 2xx body that cannot be decoded is an error
// wrapping ErrMalformedResponse, one over the WithMaxResponseBytes cap wraps
// ErrResponseTooLarge. Transport failures are wrapped, so errors.Is works for
// context.Canceled and context.DeadlineExceeded. No error string contains the
// API key or the prompt or response text, and if the API echoes the key in a
// successful body it is replaced with [REDACTED] before decoding, so it is not
// in Result.Raw either.
func (c *Client) Evaluate(ctx context.Context, testType string, req Request) (*Result, error) {
	endpoint, ok := c.endpoints[testType]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTestType, truncateUTF8(sanitize(testType), 64))
	}
	if req.Prompt == "" {
		return nil, ErrEmptyPrompt
	}
	if req.Response == "" {
		return nil, ErrEmptyResponse
	}
	key, err := c.apiKey(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(req)
	if err != nil { // unreachable for a struct of strings; kept for safety
		return nil, fmt.Errorf("assurancehub: encoding request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("assurancehub: evaluate %s: %w", testType, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if c.apiKeyHeader {
		hreq.Header.Set("X-API-Key", key)
	} else {
		hreq.Header.Set("Authorization", "Bearer "+key)
	}
	if c.signer != nil {
		if err := c.signer(hreq, payload); err != nil {
			red := newRedactor(key, req.Prompt, req.Response)
			return nil, fmt.Errorf("assurancehub: evaluate %s: signing the request: %w", testType, &redactedError{err: err, red: red})
		}
	}

	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, c.transportError(ctx, testType, "", err, key)
	}
	body, tooLarge, err := c.readBody(resp.Body)
	if err != nil {
		return nil, c.transportError(ctx, testType, "reading response: ", err, key)
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		red := newRedactor(key, req.Prompt, req.Response)
		return nil, newAPIError(resp.StatusCode, resp.Header.Get("Retry-After"), body, red, c.now())
	}
	if tooLarge {
		return nil, fmt.Errorf("%w: %s: more than %d bytes", ErrResponseTooLarge, testType, c.maxResponse)
	}
	if bytes.Contains(body, []byte(key)) {
		// Never hand the key back to the caller, even in Raw.
		body = bytes.ReplaceAll(body, []byte(key), []byte(redacted))
	}
	return decodeResult(body)
}

// readBody reads at most maxResponse bytes, reports whether there was more,
// drains a bounded remainder so the connection can be reused, and closes.
func (c *Client) readBody(rc io.ReadCloser) (body []byte, tooLarge bool, err error) {
	defer rc.Close()
	body, err = io.ReadAll(io.LimitReader(rc, c.maxResponse+1))
	if int64(len(body)) > c.maxResponse {
		body, tooLarge = body[:c.maxResponse], true
	}
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(rc, drainLimit))
	}
	return body, tooLarge, err
}

// transportError wraps a network or context error. It keeps the error chain
// (for errors.Is) and makes sure the context's error is part of it.
func (c *Client) transportError(ctx context.Context, testType, what string, err error, key string) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = &joinedError{msg: err.Error(), errs: []error{err, ctxErr}}
	}
	err = &redactedError{err: err, red: newRedactor(key)}
	return fmt.Errorf("assurancehub: evaluate %s: %s%w", testType, what, err)
}

// joinedError reports one message but unwraps to several errors.
type joinedError struct {
	msg  string
	errs []error
}

func (e *joinedError) Error() string   { return e.msg }
func (e *joinedError) Unwrap() []error { return e.errs }

// redactedError is err with its message passed through a redactor, as a last
// guard; the URL in transport errors never carries the key.
type redactedError struct {
	err error
	red *redactor
}

func (e *redactedError) Error() string { return e.red.string(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }
