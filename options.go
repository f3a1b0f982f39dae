package safecheck

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/extract"
)

// Defaults taken from the AssuranceHub best practices (see the README).
const (
	defaultSampleRate      = 0.10
	defaultMaxCaptureBytes = 64 << 10
	defaultQueueSize       = 1024
	defaultQueueBytes      = 16 << 20
	defaultWorkers         = 10
	defaultCacheTTL        = time.Hour
	defaultCacheEntries    = 10000
	defaultMaxRetries      = 3
	defaultBackoffBase     = time.Second
	defaultMaxBackoff      = 30 * time.Second
	defaultMaxJitter       = time.Second
	defaultMaxRetryAfter   = 2 * time.Minute
	defaultAttemptTimeout  = 60 * time.Second
	defaultBreakerFailures = 5
	defaultBreakerDelay    = 30 * time.Second
	defaultService         = "safecheck"
)

// defaultTestTypes are checked on a route that names none.
var defaultTestTypes = []string{"toxicity", "jailbreak", "pii"}

// DefaultTestTypes returns the test types checked on a route that names
// none: output toxicity, input jailbreak attempts and personal data in
// either direction. The slice is the caller's.
func DefaultTestTypes() []string { return slices.Clone(defaultTestTypes) }

type config struct {
	logger          *slog.Logger
	handlers        []slog.Handler
	service         string
	workers         int
	queueSize       int
	queueBytes      int64
	cacheTTL        time.Duration
	cacheEntries    int
	maxRetries      int
	backoffBase     time.Duration
	maxBackoff      time.Duration
	maxJitter       time.Duration
	maxRetryAfter   time.Duration
	attemptTimeout  time.Duration
	breakerFailures int
	breakerDelay    time.Duration
	ratePerMinute   int
	onVerdict       []func(Outcome)
	annotate        func(*http.Request) any // see WithAnnotate
	extractor       extract.Extractor
	random          func() float64
	// scrub, when set, rewrites prompt and response text before it is sent
	// to the checker (and before the cache key is computed).
	scrub func(string) string
	// privacy is set by the customer id options in redact.go.
	privacy privacyConfig
	// reactions is set by the escalation, alert and event options.
	reactions reactionConfig
	// cpuShare is WithCPUBudget's share of GOMAXPROCS, 0 when off.
	cpuShare float64
	// gcMeter reads the GC's CPU time for the budget (runtimeGCMeter); nil
	// charges no GC share.
	gcMeter gcMeter
	// lanes replaces the CPU lanes lanesFor gives, when above 0 (tests).
	lanes int
	// coordinator is set by WithCoordinator (coordinator.go).
	coordinator    coord.Coordinator
	coordinatorSet bool
}

// Option configures a Guard; the With* functions return them.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sends verdict, audit and warning records to l. The records pass
// through the redact pipeline first.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithHandlers fans records out to several handlers; a failing handler never
// stops the others. It may be combined with WithLogger.
func WithHandlers(h ...slog.Handler) Option {
	return optionFunc(func(c *config) { c.handlers = append(c.handlers, h...) })
}

// WithService sets the service attribute of every record.
func WithService(name string) Option { return optionFunc(func(c *config) { c.service = name }) }

// WithWorkers sets how many checks may be in flight at once (default 10).
func WithWorkers(n int) Option { return optionFunc(func(c *config) { c.workers = n }) }

// WithQueue bounds the samples waiting or in progress by count and by bytes
// (defaults 1024 samples and 16 MiB). A sample that does not fit is dropped
// and counted before anything is copied.
func WithQueue(samples int, bytes int64) Option {
	return optionFunc(func(c *config) { c.queueSize, c.queueBytes = samples, bytes })
}

// WithCache sets the verdict cache's time to live and maximum entry count
// (defaults 1 h and 10 000). A ttl of 0 disables the cache. A new verdict
// is always stored: when the cache is full, the older half of its verdicts
// is dropped at once, and a verdict found in that half moves to the newer.
func WithCache(ttl time.Duration, maxEntries int) Option {
	return optionFunc(func(c *config) { c.cacheTTL, c.cacheEntries = ttl, maxEntries })
}

// WithRetries sets how many times a failed call is retried (default 3) and the
// backoff: base × 2^n, at most maxBackoff, plus a random jitter of up to
// maxJitter (defaults 1 s, 30 s, 1 s).
func WithRetries(n int, base, maxBackoff, maxJitter time.Duration) Option {
	return optionFunc(func(c *config) {
		c.maxRetries, c.backoffBase, c.maxBackoff, c.maxJitter = n, base, maxBackoff, maxJitter
	})
}

// WithMaxRetryAfter caps the wait a 429's Retry-After can impose (default 2 min).
func WithMaxRetryAfter(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxRetryAfter = d })
}

// WithAttemptTimeout bounds each call to the checker (default 60 s).
func WithAttemptTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.attemptTimeout = d })
}

// WithCircuitBreaker opens the circuit after failures consecutive transient
// failures and keeps it open for delay (defaults 5 and 30 s). While it is
// open, new samples are dropped before they are copied.
func WithCircuitBreaker(failures int, delay time.Duration) Option {
	return optionFunc(func(c *config) { c.breakerFailures, c.breakerDelay = failures, delay })
}

// WithRateLimit spreads calls to at most perMinute per minute, the API plan's
// limit. 0 (the default) means no client-side limit.
func WithRateLimit(perMinute int) Option {
	return optionFunc(func(c *config) { c.ratePerMinute = perMinute })
}

// WithOnVerdict calls f once per finished check, from a worker goroutine.
// It may be given more than once: every hook is called, in the order given.
// A panic in f is recovered and counted in Stats.HookPanics. A nil f is
// ignored.
func WithOnVerdict(f func(Outcome)) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.onVerdict = append(c.onVerdict, f)
		}
	})
}

// WithExtractor replaces the default text extraction for every route.
func WithExtractor(e extract.Extractor) Option {
	return optionFunc(func(c *config) { c.extractor = e })
}

func (c *config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.service != "", "service name is empty")
	check(c.workers > 0, "workers must be positive, got %d", c.workers)
	check(c.queueSize > 0, "queue size must be positive, got %d", c.queueSize)
	check(c.queueBytes > 0, "queue bytes must be positive, got %d", c.queueBytes)
	check(c.cacheTTL >= 0, "cache ttl must not be negative, got %s", c.cacheTTL)
	check(c.cacheEntries > 0, "cache entries must be positive, got %d", c.cacheEntries)
	check(c.maxRetries >= 0, "retries must not be negative, got %d", c.maxRetries)
	check(c.backoffBase > 0, "backoff base must be positive, got %s", c.backoffBase)
	check(c.maxBackoff >= c.backoffBase, "max backoff %s is below the base %s", c.maxBackoff, c.backoffBase)
	check(c.maxJitter >= 0, "jitter must not be negative, got %s", c.maxJitter)
	check(c.maxRetryAfter > 0, "max Retry-After must be positive, got %s", c.maxRetryAfter)
	check(c.attemptTimeout > 0, "attempt timeout must be positive, got %s", c.attemptTimeout)
	check(c.breakerFailures > 0, "circuit breaker failures must be positive, got %d", c.breakerFailures)
	check(c.breakerDelay > 0, "circuit breaker delay must be positive, got %s", c.breakerDelay)
	check(c.ratePerMinute >= 0, "rate limit must not be negative, got %d", c.ratePerMinute)
	errs = append(errs, validCPUShare(c.cpuShare))
	check(!c.coordinatorSet || c.coordinator != nil, "coordinator is nil")
	return errors.Join(errs...)
}

type routeConfig struct {
	rate            float64
	testTypes       []string
	maxCaptureBytes int
	customerID      func(*http.Request) string
	requestID       func(*http.Request) string
	prompt          func(*http.Request) string
	extractor       extract.Extractor
	escalation      *escalation.Config // WithEscalation, or the Guard's default; normalised in Route
}

// RouteOption configures one route; the route With* functions return them.
type RouteOption interface{ applyRoute(*routeConfig) }

type routeOptionFunc func(*routeConfig)

func (f routeOptionFunc) applyRoute(c *routeConfig) { f(c) }

// WithSampleRate sets the share of requests sampled, from 0 to 1 (default 0.10).
func WithSampleRate(rate float64) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.rate = rate })
}

// WithTestTypes sets the test types each sample is checked for
// (default DefaultTestTypes()).
func WithTestTypes(types ...string) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.testTypes = append([]string(nil), types...) })
}

// WithMaxCaptureBytes caps how many bytes of the request body and of the
// response body are copied for one sample (default 64 KiB each). Longer
// bodies are truncated and the verdict record says so.
func WithMaxCaptureBytes(n int) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.maxCaptureBytes = n })
}

// WithCustomerID tells the route how to find the customer a request belongs
// to. It runs on the request path, only for sampled requests, and must be fast.
// Before a customer id or a request id reaches a record, a hook or the
// checker, a worker replaces its control characters and invalid UTF-8 with
// '_' and cuts it to 128 bytes, whichever way it was set.
func WithCustomerID(f func(*http.Request) string) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.customerID = f })
}

// WithRequestID tells the route how to find a request's id. The default reads
// the X-Request-ID header and generates an id when it is absent. The id is
// cleaned and capped as WithCustomerID describes.
func WithRequestID(f func(*http.Request) string) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.requestID = f })
}

// WithPrompt supplies a route's prompt from the request when its body yields
// none: for GET routes (the question in the query string, say) and for
// handlers that never read r.Body. f runs on the request path, only for
// sampled and admitted requests, and must be fast and must not keep r; its
// result is cut to the route's capture cap. Without a prompt from either
// place a sample is not checked: it is dropped as drop.EmptyPrompt and the
// route warns once. A panic in f is contained and the sample dropped as
// drop.Panic.
func WithPrompt(f func(r *http.Request) string) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.prompt = f })
}

// WithRouteExtractor replaces text extraction for this route, for apps with
// their own wire format.
func WithRouteExtractor(e extract.Extractor) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.extractor = e })
}

// maxReasonableCapture keeps one sample's copy well under the queue budget.
const maxReasonableCapture = 8 << 20

func validRate(r float64) bool { return r >= 0 && r <= 1 } // NaN fails both

func (c *routeConfig) validate(supports func(string) bool) error {
	var errs []error
	if !validRate(c.rate) {
		errs = append(errs, fmt.Errorf("sample rate must be within [0, 1], got %v", c.rate))
	}
	if len(c.testTypes) == 0 {
		errs = append(errs, errors.New("no test types"))
	}
	seen := map[string]bool{}
	for _, t := range c.testTypes {
		switch {
		case seen[t]:
			errs = append(errs, fmt.Errorf("test type %q listed twice", t))
		case supports != nil && !supports(t):
			errs = append(errs, fmt.Errorf("unknown test type %q", t))
		}
		seen[t] = true
	}
	if c.maxCaptureBytes <= 0 || c.maxCaptureBytes > maxReasonableCapture {
		errs = append(errs, fmt.Errorf("max capture bytes must be within (0, %d], got %d", maxReasonableCapture, c.maxCaptureBytes))
	}
	return errors.Join(errs...)
}

// withRandom replaces the sampler's random source; tests use it to make
// sampling decisions exact.
func withRandom(f func() float64) Option { return optionFunc(func(c *config) { c.random = f }) }
