package assurancehub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/safecheck/safecheck/internal/httprule"
)

// Version is the version of this client, sent in the default User-Agent.
const Version = "0.1.0"

// DefaultBaseURL is the AssuranceHub API endpoint used when neither
// WithBaseURL nor the EnvBaseURL environment variable is given.
const DefaultBaseURL = "https://api.assurancehub.ai"

// EnvBaseURL is the environment variable New reads the base URL from when
// WithBaseURL is not given; unset or blank means DefaultBaseURL.
const EnvBaseURL = "ASSURANCEHUB_BASE_URL"

// EnvAPIKey is the environment variable New reads the API key from when
// neither WithAPIKey nor WithKeySource is given.
const EnvAPIKey = "ASSURANCEHUB_API_KEY"

// DefaultMaxResponseBytes is the default cap on the bytes read from one response body.
const DefaultMaxResponseBytes int64 = 1 << 20

// DefaultUserAgent is the User-Agent header sent when WithUserAgent is not given.
const DefaultUserAgent = "safecheck-go/" + Version

// KeySource returns the API key to use for one request. It is called once per
// request, so a source may rotate keys; it must be safe for concurrent use.
// The key it returns is validated like a key given to WithAPIKey, including
// WithEnvironment's rule; see WithKeySource for what happens when it fails.
type KeySource func(ctx context.Context) (string, error)

// Option configures a Client built by New; a nil Option makes New fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config collects what the options asked for; New validates all of it.
type config struct {
	apiKey         string
	apiKeySet      bool
	keySource      KeySource
	keySourceSet   bool
	keyFile        string
	keyFileSet     bool
	keyEnv         string
	keyEnvSet      bool
	environment    string
	environmentSet bool
	logger         *slog.Logger
	loggerSet      bool
	baseURL        string
	baseURLSet     bool
	apiKeyHeader   bool
	httpClient     *http.Client
	httpClientSet  bool
	pins           []string
	pinsSet        bool
	signer         RequestSigner
	signerSet      bool
	maxResponse    int64
	userAgent      string
	userAgentSet   bool
	errs           []error
}

func newConfig(opts []Option) *config {
	c := &config{
		maxResponse: DefaultMaxResponseBytes,
		userAgent:   DefaultUserAgent,
	}
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, fmt.Errorf("assurancehub: option %d is nil", i+1))
			continue
		}
		o.apply(c)
	}
	return c
}

// WithAPIKey sets a fixed API key. The key must start with "ash_test_" or
// "ash_live_" followed by at least 16 characters (AssuranceHub's keys have
// about 32), so that a truncated or placeholder key fails in New rather
// than on every call. Without a key option (WithAPIKey, WithKeySource,
// WithKeyFile or WithKeyFromEnv) New reads the key from the EnvAPIKey
// environment variable. Prefer the environment or a mounted file to a key in code: keys
// do not belong in version control.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) {
		c.apiKey = key
		c.apiKeySet = true
	})
}

// WithKeySource sets a function that supplies the API key for every request,
// so that keys can rotate without rebuilding the Client. It cannot be combined
// with the other key options. New does not call src.
//
// Every key src returns is checked for shape and, with WithEnvironment, for
// kind. Once src has returned a good key, a later error or refused key does
// not fail requests: the Client keeps sending the last good key and reports
// the problem once to the WithLogger logger, until src returns a good key
// again. Before the first good key, src's errors fail the requests. When
// calls to src overlap, the last good key is the one from the call that
// started last, in whatever order the calls return: a slow call that read
// the previous key sends it with its own request but never brings it back.
func WithKeySource(src func(ctx context.Context) (string, error)) Option {
	return optionFunc(func(c *config) {
		c.keySource = src
		c.keySourceSet = true
	})
}

// WithBaseURL sets the scheme, host and optional path prefix of the API; the
// client appends /v1/evaluate/<test_type>. Plain http is accepted only for
// loopback hosts (127.0.0.0/8, ::1, localhost). Without this option New reads
// the base URL from the EnvBaseURL environment variable, and uses
// DefaultBaseURL when that is unset or blank; the option wins over the
// variable.
func WithBaseURL(u string) Option {
	return optionFunc(func(c *config) {
		c.baseURL = u
		c.baseURLSet = true
	})
}

// WithAPIKeyHeader makes the client send the key as "X-API-Key: <key>"
// instead of the default "Authorization: Bearer <key>". Only one of the two
// headers is ever sent.
func WithAPIKeyHeader() Option {
	return optionFunc(func(c *config) { c.apiKeyHeader = true })
}

// WithHTTPClient sets the HTTP client used for requests, for example one
// whose transport goes through a corporate proxy or trusts a private CA.
// Without it, every Client shares one package-level transport. The Client
// uses a shallow copy of hc whose redirect policy refuses all redirects, so
// the API key is never forwarded to another location; hc's Transport, Jar and
// Timeout are kept. New refuses an *http.Transport whose TLS configuration
// allows versions below TLS 1.2. With WithPinnedSPKI the Client uses a clone
// of hc's *http.Transport that also checks the pins; hc itself is not
// changed.
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

// keySetup is how a Client gets its key, as resolved by validate.
type keySetup struct {
	static string    // the fixed key, when src is nil
	src    KeySource // the per-request source, or nil
	prime  string    // a description of src when New must read it once (WithKeyFile)
}

// validate checks the collected configuration and resolves the key source.
func (c *config) validate() (keySetup, error) {
	var ks keySetup
	if len(c.errs) > 0 {
		return ks, errors.Join(c.errs...)
	}
	if n := countSet(c.apiKeySet, c.keySourceSet, c.keyFileSet, c.keyEnvSet); n > 1 {
		return ks, errors.New("assurancehub: WithAPIKey, WithKeySource, WithKeyFile and WithKeyFromEnv are mutually exclusive")
	}
	if c.environmentSet && !validEnvironment(c.environment) {
		return ks, fmt.Errorf("assurancehub: WithEnvironment(%q): want %q, %q or %q",
			truncateUTF8(sanitize(c.environment), 32), Development, Staging, Production)
	}
	switch {
	case c.keySourceSet:
		if c.keySource == nil {
			return ks, errors.New("assurancehub: WithKeySource: nil function")
		}
		ks.src = c.keySource
	case c.keyFileSet:
		if c.keyFile == "" {
			return ks, errors.New("assurancehub: WithKeyFile: empty path")
		}
		ks.src = FileKeySource(c.keyFile)
		ks.prime = "WithKeyFile"
	case c.apiKeySet:
		if c.apiKey == "" {
			return ks, fmt.Errorf("%w (WithAPIKey was given an empty key)", ErrNoAPIKey)
		}
		ks.static = c.apiKey
	default:
		name := EnvAPIKey
		if c.keyEnvSet {
			if c.keyEnv == "" || strings.ContainsAny(c.keyEnv, "=\x00") {
				return ks, fmt.Errorf("assurancehub: WithKeyFromEnv(%q): not a valid variable name", truncateUTF8(sanitize(c.keyEnv), 64))
			}
			name = c.keyEnv
		}
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			return ks, fmt.Errorf("%w (set %s or use WithAPIKey)", ErrNoAPIKey, name)
		}
		ks.static = v
	}
	if ks.src == nil {
		if err := checkKey(ks.static, c.environment); err != nil {
			return ks, err
		}
	}
	if c.loggerSet && c.logger == nil {
		return ks, errors.New("assurancehub: WithLogger: nil *slog.Logger")
	}
	if c.httpClientSet && c.httpClient == nil {
		return ks, errors.New("assurancehub: WithHTTPClient: nil *http.Client")
	}
	if c.httpClientSet {
		if t, ok := c.httpClient.Transport.(*http.Transport); ok && t.TLSClientConfig != nil &&
			t.TLSClientConfig.MinVersion != 0 && t.TLSClientConfig.MinVersion < tls.VersionTLS12 {
			return ks, errors.New("assurancehub: WithHTTPClient: the transport allows TLS versions below 1.2")
		}
	}
	if c.pinsSet {
		if err := validatePins(c.pins); err != nil {
			return ks, err
		}
	}
	if c.signerSet && c.signer == nil {
		return ks, errors.New("assurancehub: WithRequestSigner: nil signer")
	}
	if c.maxResponse <= 0 {
		return ks, fmt.Errorf("assurancehub: WithMaxResponseBytes: must be positive, got %d", c.maxResponse)
	}
	if c.userAgentSet {
		if c.userAgent == "" {
			return ks, errors.New("assurancehub: WithUserAgent: empty user agent")
		}
		if !isHeaderValue(c.userAgent) {
			return ks, errors.New("assurancehub: WithUserAgent: user agent contains characters not allowed in a header")
		}
	}
	return ks, nil
}

func countSet(flags ...bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}

// minKeyID is the fewest characters a key has after its "ash_test_" or
// "ash_live_" prefix. The API documents no length; its examples have 30 and
// 32, so 16 refuses only keys that are obviously cut short or made up.
const minKeyID = 16

// validateKey checks the shape of an API key. Its errors never contain the key.
func validateKey(key string) error {
	switch {
	case key == "":
		return ErrNoAPIKey
	case !strings.HasPrefix(key, "ash_test_") && !strings.HasPrefix(key, "ash_live_"):
		return fmt.Errorf("%w: it must start with \"ash_test_\" or \"ash_live_\"", ErrInvalidAPIKey)
	case len(key) == len("ash_test_"):
		return fmt.Errorf("%w: it has no identifier after the prefix", ErrInvalidAPIKey)
	case len(key)-len("ash_test_") < minKeyID:
		return fmt.Errorf("%w: it is too short to be an AssuranceHub key (at least %d characters after the prefix); is it truncated or a placeholder?", ErrInvalidAPIKey, minKeyID)
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

// resolveBaseURL returns the validated base URL: WithBaseURL's, else
// EnvBaseURL's, else DefaultBaseURL. An error about the variable names it;
// like every base URL error, it never quotes the value.
func (c *config) resolveBaseURL() (string, error) {
	if c.baseURLSet {
		return parseBaseURL(c.baseURL)
	}
	v := strings.TrimSpace(os.Getenv(EnvBaseURL))
	if v == "" {
		return parseBaseURL(DefaultBaseURL)
	}
	u, err := parseBaseURL(v)
	if err != nil {
		return "", fmt.Errorf("%w (the value of %s; unset it for %s, or use WithBaseURL)", err, EnvBaseURL, DefaultBaseURL)
	}
	return u, nil
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
	if u.Scheme == "http" && !httprule.IsLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("%w: plain http is allowed only for loopback hosts; use https", ErrInvalidBaseURL)
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if path == "/v1" || strings.HasSuffix(path, "/v1") {
		return "", fmt.Errorf("%w: it must not end in /v1: the client appends /v1/evaluate/<test_type>", ErrInvalidBaseURL)
	}
	return u.Scheme + "://" + u.Host + path, nil
}
