package assurancehub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
)

// Version is the version of this client, sent in the default User-Agent.
const Version = "0.1.0"

// DefaultBaseURL is the AssuranceHub API endpoint used when WithBaseURL is not given.
const DefaultBaseURL = "https://api.assurancehub.ai"

// EnvAPIKey is the environment variable New reads the API key from when
// neither WithAPIKey nor WithKeySource is given.
const EnvAPIKey = "ASSURANCEHUB_API_KEY"

// DefaultMaxResponseBytes is the default cap on the bytes read from one response body.
const DefaultMaxResponseBytes int64 = 1 << 20

// DefaultUserAgent is the User-Agent header sent when WithUserAgent is not given.
const DefaultUserAgent = "safecheck-go/" + Version

// KeySource returns the API key to use for one request. It is called once per
// request, so a source may rotate keys; it must be safe for concurrent use.
// The key it returns is validated like a key given to WithAPIKey.
type KeySource func(ctx context.Context) (string, error)

// Option configures a Client built by New.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config collects what the options asked for; New validates all of it.
type config struct {
	apiKey        string
	apiKeySet     bool
	keySource     KeySource
	keySourceSet  bool
	baseURL       string
	apiKeyHeader  bool
	httpClient    *http.Client
	httpClientSet bool
	maxResponse   int64
	userAgent     string
	userAgentSet  bool
	errs          []error
}

func newConfig(opts []Option) *config {
	c := &config{
		baseURL:     DefaultBaseURL,
		maxResponse: DefaultMaxResponseBytes,
		userAgent:   DefaultUserAgent,
	}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("assurancehub: nil Option"))
			continue
		}
		o.apply(c)
	}
	return c
}

// WithAPIKey sets a fixed API key. The key must start with "ash_test_" or
// "ash_live_". Without this option (and without WithKeySource) New reads the
// key from the EnvAPIKey environment variable.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) {
		c.apiKey = key
		c.apiKeySet = true
	})
}

// WithKeySource sets a function that supplies the API key for every request,
// so that keys can rotate without rebuilding the Client. It cannot be combined
// with WithAPIKey.
func WithKeySource(src func(ctx context.Context) (string, error)) Option {
	return optionFunc(func(c *config) {
		c.keySource = src
		c.keySourceSet = true
	})
}

// WithBaseURL sets the scheme, host and optional path prefix of the API; the
// client appends /v1/evaluate/<test_type>. Plain http is accepted only for
// loopback hosts (127.0.0.0/8, ::1, localhost).
func WithBaseURL(u string) Option {
	return optionFunc(func(c *config) { c.baseURL = u })
}

// WithAPIKeyHeader makes the client send the key as "X-API-Key: <key>"
// instead of the default "Authorization: Bearer <key>". Only one of the two
// headers is ever sent.
func WithAPIKeyHeader() Option {
	return optionFunc(func(c *config) { c.apiKeyHeader = true })
}

// WithHTTPClient sets the HTTP client used for requests. Without it, every
// Client shares one package-level transport. The Client uses a shallow copy of
// hc whose redirect policy refuses all redirects, so the API key is never
// forwarded to another location; hc's Transport, Jar and Timeout are kept.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) {
		c.httpClient = hc
		c.httpClientSet = true
	})
}

// WithMaxResponseBytes caps the number of bytes read from one response body
// (default DefaultMaxResponseBytes). A successful response larger than the cap
// is an error wrapping ErrResponseTooLarge. n must be positive.
func WithMaxResponseBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxResponse = n })
}

// WithUserAgent sets the User-Agent header (default DefaultUserAgent).
func WithUserAgent(ua string) Option {
	return optionFunc(func(c *config) {
		c.userAgent = ua
		c.userAgentSet = true
	})
}

// validate checks the collected configuration and resolves the key source.
func (c *config) validate() (KeySource, string, error) {
	if len(c.errs) > 0 {
		return nil, "", errors.Join(c.errs...)
	}
	if c.apiKeySet && c.keySourceSet {
		return nil, "", errors.New("assurancehub: WithAPIKey and WithKeySource are mutually exclusive")
	}
	var src KeySource
	var staticKey string
	switch {
	case c.keySourceSet:
		if c.keySource == nil {
			return nil, "", errors.New("assurancehub: WithKeySource: nil function")
		}
		src = c.keySource
	case c.apiKeySet:
		if c.apiKey == "" {
			return nil, "", fmt.Errorf("%w (WithAPIKey was given an empty key)", ErrNoAPIKey)
		}
		staticKey = c.apiKey
	default:
		v := strings.TrimSpace(os.Getenv(EnvAPIKey))
		if v == "" {
			return nil, "", fmt.Errorf("%w (set %s or use WithAPIKey)", ErrNoAPIKey, EnvAPIKey)
		}
		staticKey = v
	}
	if src == nil {
		if err := validateKey(staticKey); err != nil {
			return nil, "", err
		}
	}
	if c.httpClientSet && c.httpClient == nil {
		return nil, "", errors.New("assurancehub: WithHTTPClient: nil *http.Client")
	}
	if c.maxResponse <= 0 {
		return nil, "", fmt.Errorf("assurancehub: WithMaxResponseBytes: must be positive, got %d", c.maxResponse)
	}
	if c.userAgentSet {
		if c.userAgent == "" {
			return nil, "", errors.New("assurancehub: WithUserAgent: empty user agent")
		}
		if !isHeaderValue(c.userAgent) {
			return nil, "", errors.New("assurancehub: WithUserAgent: user agent contains characters not allowed in a header")
		}
	}
	return src, staticKey, nil
}

// validateKey checks the shape of an API key. Its errors never contain the key.
func validateKey(key string) error {
	switch {
	case key == "":
		return ErrNoAPIKey
	case !strings.HasPrefix(key, "ash_test_") && !strings.HasPrefix(key, "ash_live_"):
		return fmt.Errorf("%w: it must start with \"ash_test_\" or \"ash_live_\"", ErrInvalidAPIKey)
	case len(key) == len("ash_test_"):
		return fmt.Errorf("%w: it has no identifier after the prefix", ErrInvalidAPIKey)
	}
	for i := 0; i < len(key); i++ {
		if b := key[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("%w: it contains a space, control or non-ASCII character at byte %d", ErrInvalidAPIKey, i)
		}
	}
	return nil
}

// isHeaderValue reports whether s can be sent as a header value unchanged.
func isHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// parseBaseURL validates a base URL and returns it without a trailing slash.
func parseBaseURL(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidBaseURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: cannot parse it", ErrInvalidBaseURL)
	}
	switch u.Scheme {
	case "https", "http":
	default:
		return "", fmt.Errorf("%w: scheme must be https (or http for a loopback host)", ErrInvalidBaseURL)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: no host", ErrInvalidBaseURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: credentials in the URL are not allowed; use WithAPIKey", ErrInvalidBaseURL)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%w: query and fragment are not allowed", ErrInvalidBaseURL)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("%w: plain http is allowed only for loopback hosts; use https", ErrInvalidBaseURL)
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if path == "/v1" || strings.HasSuffix(path, "/v1") {
		return "", fmt.Errorf("%w: it must not end in /v1: the client appends /v1/evaluate/<test_type>", ErrInvalidBaseURL)
	}
	return u.Scheme + "://" + u.Host + path, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return a.WithZone("").Unmap().IsLoopback()
}
