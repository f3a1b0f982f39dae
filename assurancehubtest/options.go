package assurancehubtest

import "github.com/safecheck/safecheck/assurancehub"

// TestAPIKey is the fake API key the server accepts unless WithAPIKeys
// says otherwise.
const TestAPIKey = "ash_test_0123456789abcdef0123456789abcdef"

// DefaultMaxBodyBytes is the request body size above which the server
// answers 413, unless WithMaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// DefaultAddr is the address NewServer listens on unless WithAddr says
// otherwise: a free port on the IPv4 loopback interface.
const DefaultAddr = "127.0.0.1:0"

// Scorer evaluates one validated request for a test type and returns the
// result to send. It is called concurrently and must be safe for that.
type Scorer func(testType string, req assurancehub.Request) assurancehub.Result

// Option configures a Handler or Server; a nil Option makes NewHandler
// and NewServer fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config collects the options; NewHandler validates it.
type config struct {
	apiKeys    []string
	apiKeysSet bool
	maxBody    int64
	addr       string
	lexicon    map[string][]string // overrides, validated in NewHandler
	scorer     Scorer
	scorerSet  bool
	hmac       *hmacVerifier
	hmacSet    bool
	tls        bool
}

// WithAPIKeys sets the API keys the server accepts, replacing TestAPIKey.
// At least one key is needed, and keys must be non-empty printable ASCII
// without spaces.
func WithAPIKeys(keys ...string) Option {
	keys = append([]string(nil), keys...)
	return optionFunc(func(c *config) {
		c.apiKeys = keys
		c.apiKeysSet = true
	})
}

// WithMaxBodyBytes sets the request body size above which the server
// answers 413 (default DefaultMaxBodyBytes). It must be positive.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxBody = n })
}

// WithAddr sets the TCP address NewServer listens on (default DefaultAddr),
// for example "127.0.0.1:8089". NewHandler only checks that it is not
// empty.
func WithAddr(addr string) Option {
	return optionFunc(func(c *config) { c.addr = addr })
}

// WithLexicon replaces the terms the default scorer looks for on testType,
// which must be one of the twelve test types. With no terms, that test type
// never flags anything. Terms must not be empty or only white space. Later
// calls for the same test type win; other test types keep DefaultLexicon.
func WithLexicon(testType string, terms ...string) Option {
	terms = append([]string(nil), terms...)
	return optionFunc(func(c *config) {
		if c.lexicon == nil {
			c.lexicon = make(map[string][]string)
		}
		c.lexicon[testType] = terms
	})
}

// WithScorer replaces the lexicon scoring entirely: every valid request is
// answered with the Result that f returns (NewResult builds a well-formed
// one from a score). An empty ModelExecution is sent as
// {"execution_mode":"consensus"}. If the Result's Raw field is not empty,
// Raw is sent verbatim as the response body instead of encoding the
// Result, which lets tests serve arbitrary 200 bodies. f must not be nil.
func WithScorer(f Scorer) Option {
	return optionFunc(func(c *config) {
		c.scorer = f
		c.scorerSet = true
	})
}
