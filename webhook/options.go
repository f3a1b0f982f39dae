package webhook

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/httprule"
)

// The defaults, per endpoint where it applies.
const (
	DefaultQueueSize       = 1000
	DefaultWorkers         = 2
	DefaultMaxRetries      = 5
	DefaultBackoffBase     = time.Second
	DefaultMaxBackoff      = time.Minute
	DefaultMaxJitter       = time.Second
	DefaultMaxRetryAfter   = 2 * time.Minute
	DefaultAttemptTimeout  = 15 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerDelay    = 30 * time.Second
)

// Option configures a Sink built by New; a nil Option makes New fail.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type endpointConfig struct {
	rawURL  string
	secrets []string
}

type config struct {
	endpoints       []endpointConfig
	queueSize       int
	workers         int
	maxRetries      int
	backoffBase     time.Duration
	maxBackoff      time.Duration
	maxJitter       time.Duration
	maxRetryAfter   time.Duration
	attemptTimeout  time.Duration
	breakerFailures int
	breakerDelay    time.Duration
	logger          *slog.Logger
	loggerSet       bool
	kinds           []event.Kind
	kindsSet        bool
	httpClient      *http.Client
	httpClientSet   bool
	errs            []error
}

// WithEndpoint adds a URL the Sink POSTs every event to, signed with each
// of secrets ("whsec_" and standard base64 of 24 to 64 bytes, as the
// Standard Webhooks specification serialises them). Give two secrets
// during a rotation: every delivery carries a signature under each, so
// the receiver may move to the new one at any time. The URL must be
// https, or http to a loopback host (127.0.0.0/8, ::1, localhost); it may
// not carry credentials or a fragment. Give WithEndpoint once per
// receiver: each has its own queue, workers and circuit breaker.
func WithEndpoint(url string, secrets ...string) Option {
	return optionFunc(func(c *config) {
		c.endpoints = append(c.endpoints, endpointConfig{rawURL: url, secrets: secrets})
	})
}

// WithQueue sets how many events each endpoint's queue holds (default
// DefaultQueueSize); an event that finds it full is dropped and counted.
func WithQueue(events int) Option { return optionFunc(func(c *config) { c.queueSize = events }) }

// WithWorkers sets how many deliveries to one endpoint run at once
// (default DefaultWorkers): the Sink starts that many goroutines per
// endpoint in New and no other.
func WithWorkers(n int) Option { return optionFunc(func(c *config) { c.workers = n }) }

// WithRetries sets how often a delivery is retried after a 5xx, a 408 or
// 429, a network error or a timeout (default DefaultMaxRetries; 0 means
// one attempt), and the wait before retry n (from 0): base<<n, at most
// maxBackoff, plus a random jitter up to maxJitter. A Retry-After header
// on the failed answer sets the wait instead.
func WithRetries(n int, base, maxBackoff, maxJitter time.Duration) Option {
	return optionFunc(func(c *config) {
		c.maxRetries, c.backoffBase, c.maxBackoff, c.maxJitter = n, base, maxBackoff, maxJitter
	})
}

// WithMaxRetryAfter caps the wait a Retry-After header asks for (default
// DefaultMaxRetryAfter).
func WithMaxRetryAfter(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxRetryAfter = d })
}

// WithAttemptTimeout bounds one HTTP attempt, from sending the request to
// reading the status (default DefaultAttemptTimeout).
func WithAttemptTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.attemptTimeout = d })
}

// WithCircuitBreaker sets when an endpoint's circuit opens (after
// failures consecutive 5xx, network errors or timeouts; default
// DefaultBreakerFailures) and how long it stays open (default
// DefaultBreakerDelay). While it is open, the endpoint's events are
// dropped and counted as DroppedCircuitOpen; then one delivery tries it.
func WithCircuitBreaker(failures int, delay time.Duration) Option {
	return optionFunc(func(c *config) { c.breakerFailures, c.breakerDelay = failures, delay })
}

// WithLogger sends a record for each delivery that failed, each circuit
// that opened or closed and an endpoint that answered 410 Gone. Records
// name the endpoint by scheme and host, and the event by id and type;
// they never hold a secret, the URL's path or query, or the payload.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger, c.loggerSet = l, true })
}

// WithKinds delivers only events of these kinds; the others are counted
// as Filtered. Without it every kind is delivered.
func WithKinds(kinds ...event.Kind) Option {
	return optionFunc(func(c *config) { c.kinds, c.kindsSet = kinds, true })
}

// WithHTTPClient sets the client deliveries use, for a proxy or a private
// CA. The Sink uses a shallow copy that follows no redirect (a 3xx is a
// failed delivery, as the specification asks); hc's Timeout, if set,
// applies on top of WithAttemptTimeout. Without it each Sink has its own
// transport, whose idle connections Close closes.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) { c.httpClient, c.httpClientSet = hc, true })
}

func newConfig(opts []Option) *config {
	c := &config{
		queueSize:       DefaultQueueSize,
		workers:         DefaultWorkers,
		maxRetries:      DefaultMaxRetries,
		backoffBase:     DefaultBackoffBase,
		maxBackoff:      DefaultMaxBackoff,
		maxJitter:       DefaultMaxJitter,
		maxRetryAfter:   DefaultMaxRetryAfter,
		attemptTimeout:  DefaultAttemptTimeout,
		breakerFailures: DefaultBreakerFailures,
		breakerDelay:    DefaultBreakerDelay,
	}
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, fmt.Errorf("webhook: option %d is nil", i+1))
			continue
		}
		o.apply(c)
	}
	return c
}

// validate checks every setting; its errors never contain a secret or a
// URL's path or query.
func (c *config) validate() error {
	errs := c.errs
	if len(c.endpoints) == 0 {
		errs = append(errs, errors.New("webhook: no endpoint; give WithEndpoint"))
	}
	for i, ep := range c.endpoints {
		if _, err := parseEndpoint(ep.rawURL); err != nil {
			errs = append(errs, fmt.Errorf("webhook: endpoint %d: %w", i+1, err))
		}
		if len(ep.secrets) == 0 {
			errs = append(errs, fmt.Errorf("webhook: endpoint %d: no secret", i+1))
		}
		for j, s := range ep.secrets {
			if _, err := decodeSecret(s); err != nil {
				errs = append(errs, fmt.Errorf("webhook: endpoint %d, secret %d: %w", i+1, j+1, err))
			}
		}
	}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("webhook: "+format, args...))
		}
	}
	check(c.queueSize > 0, "WithQueue: must be positive, got %d", c.queueSize)
	check(c.workers > 0 && c.workers <= 64, "WithWorkers: want 1 to 64, got %d", c.workers)
	check(c.maxRetries >= 0, "WithRetries: negative retries %d", c.maxRetries)
	check(c.backoffBase > 0 && c.maxBackoff >= c.backoffBase && c.maxJitter >= 0,
		"WithRetries: want 0 < base <= maxBackoff and maxJitter >= 0")
	check(c.maxRetryAfter > 0, "WithMaxRetryAfter: must be positive")
	check(c.attemptTimeout > 0, "WithAttemptTimeout: must be positive")
	check(c.breakerFailures > 0 && c.breakerDelay > 0, "WithCircuitBreaker: want failures and delay positive")
	check(!c.loggerSet || c.logger != nil, "WithLogger: nil *slog.Logger")
	check(!c.kindsSet || len(c.kinds) > 0, "WithKinds: no kind")
	for _, k := range c.kinds {
		check(k.Valid(), "WithKinds: %d is not an event.Kind", uint8(k))
	}
	check(!c.httpClientSet || c.httpClient != nil, "WithHTTPClient: nil *http.Client")
	if c.httpClient != nil {
		if t, ok := c.httpClient.Transport.(*http.Transport); ok && t.TLSClientConfig != nil &&
			t.TLSClientConfig.MinVersion != 0 && t.TLSClientConfig.MinVersion < tls.VersionTLS12 {
			errs = append(errs, errors.New("webhook: WithHTTPClient: the transport allows TLS versions below 1.2"))
		}
	}
	return errors.Join(errs...)
}

// parseEndpoint checks a URL by the API client's rule: https, or http to
// a loopback host. Its errors never quote the URL.
func parseEndpoint(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("empty URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("cannot parse the URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("scheme must be https (or http for a loopback host)")
	case u.Opaque != "" || u.Hostname() == "":
		return nil, errors.New("no host")
	case u.User != nil:
		return nil, errors.New("credentials in the URL are not allowed")
	case u.Fragment != "":
		return nil, errors.New("a fragment is not allowed")
	case u.Scheme == "http" && !httprule.IsLoopbackHost(u.Hostname()):
		return nil, errors.New("plain http is allowed only for loopback hosts; use https")
	}
	return u, nil
}
