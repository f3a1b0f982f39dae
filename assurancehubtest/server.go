package assurancehubtest

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
)

// TestAPIKey is the fake API key the server accepts unless WithAPIKeys
// says otherwise.
const TestAPIKey = "ash_test_0123456789abcdef0123456789abcdef"

// DefaultMaxBodyBytes is the request body size above which the server
// answers 413, unless WithMaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// DefaultAddr is the address NewServer listens on unless WithAddr says
// otherwise: a free port on the IPv4 loopback interface.
const DefaultAddr = "127.0.0.1:0"

// evaluatePrefix is the path of every endpoint, followed by the test type.
const evaluatePrefix = "/v1/evaluate/"

// Error messages of the JSON error bodies.
const (
	msgInvalidKey   = "Invalid API key"
	msgRateLimited  = "Rate limit exceeded"
	msgBadSignature = "Invalid request signature"
)

// Scorer evaluates one validated request for a test type and returns the
// result to send. It is called concurrently and must be safe for that.
type Scorer func(testType string, req assurancehub.Request) assurancehub.Result

// Option configures a Handler or Server.
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

// Handler is an http.Handler that speaks the AssuranceHub API: it
// authenticates, validates and scores POST /v1/evaluate/<test_type>
// requests, counts them and injects the faults it is told to. Mount it at
// the root of a mux (or behind http.StripPrefix). All methods are safe for
// concurrent use, including while requests are being served.
type Handler struct {
	keys    [][sha256.Size]byte
	maxBody int64
	addr    string
	tls     bool
	scorer  Scorer
	hmac    *hmacVerifier // nil: signatures are not checked

	stop     chan struct{} // closed when the owning Server closes
	stopOnce sync.Once

	mu        sync.Mutex
	evaluated map[string]int
	byKey     []int // evaluated requests per accepted key, in WithAPIKeys order
	total     int
	last      *RecordedRequest
	faults    []Fault
	latency   time.Duration
	limit     rateLimit
}

// NewHandler returns a Handler configured by opts, or an error saying which
// option is invalid.
func NewHandler(opts ...Option) (*Handler, error) {
	c := config{
		apiKeys: []string{TestAPIKey},
		maxBody: DefaultMaxBodyBytes,
		addr:    DefaultAddr,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}

	if len(c.apiKeys) == 0 {
		return nil, errors.New("assurancehubtest: WithAPIKeys needs at least one key")
	}
	keys := make([][sha256.Size]byte, len(c.apiKeys))
	for i, k := range c.apiKeys {
		if err := validateKey(k); err != nil {
			// The key itself never goes into the error.
			return nil, fmt.Errorf("assurancehubtest: WithAPIKeys: key %d %v", i, err)
		}
		keys[i] = sha256.Sum256([]byte(k))
	}
	if c.maxBody <= 0 {
		return nil, fmt.Errorf("assurancehubtest: WithMaxBodyBytes(%d): must be positive", c.maxBody)
	}
	if c.addr == "" {
		return nil, errors.New("assurancehubtest: WithAddr: empty address")
	}
	if c.scorerSet && c.scorer == nil {
		return nil, errors.New("assurancehubtest: WithScorer: nil scorer")
	}
	if c.hmacSet {
		if err := c.hmac.validate(); err != nil {
			return nil, err
		}
	}
	terms := DefaultLexicon()
	for tt, ts := range c.lexicon {
		if !assurancehub.IsTestType(tt) {
			return nil, fmt.Errorf("assurancehubtest: WithLexicon: unknown test type %q", tt)
		}
		for i, t := range ts {
			if strings.TrimSpace(t) == "" {
				return nil, fmt.Errorf("assurancehubtest: WithLexicon(%q): term %d is empty", tt, i)
			}
		}
		terms[tt] = ts
	}
	scorer := c.scorer
	if scorer == nil {
		scorer = newLexicon(terms).score
	}

	return &Handler{
		keys:      keys,
		maxBody:   c.maxBody,
		addr:      c.addr,
		tls:       c.tls,
		scorer:    scorer,
		hmac:      c.hmac,
		stop:      make(chan struct{}),
		evaluated: make(map[string]int),
		byKey:     make([]int, len(keys)),
	}, nil
}

// validateKey reports why k cannot be an API key, without quoting k.
func validateKey(k string) error {
	if k == "" {
		return errors.New("is empty")
	}
	for i := 0; i < len(k); i++ {
		if b := k[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("has a character at byte %d that is not printable ASCII or is a space", i)
		}
	}
	return nil
}

// RecordedRequest is a copy of what a request sent, as LastRequest reports
// it.
type RecordedRequest struct {
	Method string
	// Path is the request's URL path, e.g. "/v1/evaluate/bias".
	Path string
	// Header holds the request headers, including any API key.
	Header http.Header
	// Body holds the request body, at most the body size limit.
	Body []byte
	// BodyTooLarge reports that the body was longer than the limit and
	// Body holds only its first bytes.
	BodyTooLarge bool
}

func (r RecordedRequest) clone() RecordedRequest {
	r.Header = r.Header.Clone()
	r.Body = bytes.Clone(r.Body)
	return r
}

// Requests returns how many requests for testType were evaluated, that is
// authorised, valid and answered 200 by the scorer.
func (h *Handler) Requests(testType string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.evaluated[testType]
}

// RequestsWithKey returns how many requests that authenticated with key were
// evaluated (answered 200), over all test types. It is 0 for a key the
// server does not accept. Tests of key rotation use it to count exactly
// which key was used.
func (h *Handler) RequestsWithKey(key string) int {
	sum := sha256.Sum256([]byte(key))
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.keys {
		if h.keys[i] == sum {
			return h.byKey[i]
		}
	}
	return 0
}

// TotalRequests returns how many requests reached the handler, whatever
// their answer: faults, rejections and dropped connections included.
func (h *Handler) TotalRequests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// LastRequest returns a copy of the most recent request that reached the
// handler, and false if there has been none since construction or Reset.
func (h *Handler) LastRequest() (RecordedRequest, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		return RecordedRequest{}, false
	}
	return h.last.clone(), true
}

// Reset returns the handler to its freshly constructed state: counters and
// the last request are cleared, queued faults are discarded, and latency
// and rate limit are switched off. Options given to the constructor stay.
func (h *Handler) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.evaluated = make(map[string]int)
	h.byKey = make([]int, len(h.keys))
	h.total = 0
	h.last = nil
	h.faults = nil
	h.latency = 0
	h.limit = rateLimit{}
}

// arrival is what the handler decided about a request when it arrived.
type arrival struct {
	fault   Fault
	limited bool
	// retryAfter is the rate limiter's Retry-After value when limited.
	retryAfter string
	delay      time.Duration
}

// arrive records a request and takes the decisions made in arrival order:
// the queued fault, the rate limit and the delay.
func (h *Handler) arrive(r *http.Request, body []byte, tooLarge bool) arrival {
	rec := RecordedRequest{
		Method:       r.Method,
		Path:         r.URL.Path,
		Header:       r.Header.Clone(),
		Body:         body,
		BodyTooLarge: tooLarge,
	}
	now := time.Now()

	h.mu.Lock()
	defer h.mu.Unlock()
	h.total++
	h.last = &rec
	var a arrival
	if len(h.faults) > 0 {
		a.fault = h.faults[0]
		h.faults[0] = Fault{}
		h.faults = h.faults[1:]
	}
	if !a.fault.answers() && !h.limit.allow(now) {
		a.limited = true
		a.retryAfter = h.limit.retryAfter
	}
	a.delay = h.latency + a.fault.Delay
	return a
}

// ServeHTTP answers one request. In order it: reads the body (up to the
// limit) and records the request; takes the next queued fault; applies the
// rate limit; waits for the latency and the fault's delay; answers with
// the fault or 429 if one applies; then checks the API key (401), the path
// (404), the method (405), the body size (413), the request signature when
// WithHMACVerification is set (401), the Content-Type (415) and the body
// (422), and finally answers 200 with the scorer's result.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, tooLarge, readErr := readBody(r.Body, h.maxBody)
	a := h.arrive(r, body, tooLarge)

	if !h.wait(r.Context(), a.delay) {
		// The client went away or the server is closing: no answer.
		panic(http.ErrAbortHandler)
	}
	if a.fault.answers() {
		serveFault(w, a.fault)
		return
	}
	if a.limited {
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		writeError(w, http.StatusTooManyRequests, msgRateLimited)
		return
	}
	if readErr != nil {
		writeError(w, http.StatusBadRequest, "Could not read request body")
		return
	}
	keyIndex, ok := h.authorized(r.Header)
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, msgInvalidKey)
		return
	}
	testType, ok := strings.CutPrefix(r.URL.Path, evaluatePrefix)
	if !ok || !assurancehub.IsTestType(testType) {
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	if tooLarge {
		writeError(w, http.StatusRequestEntityTooLarge, "Request body too large")
		return
	}
	if h.hmac != nil {
		if err := h.hmac.verify(r.Header.Values(assurancehub.SignatureHeader), body, time.Now()); err != nil {
			writeError(w, http.StatusUnauthorized, msgBadSignature)
			return
		}
	}
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	req, problems := parseRequest(body)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, validationErrors{Detail: problems})
		return
	}

	res := h.scorer(testType, req)
	payload, err := encodeResult(res)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	h.mu.Lock()
	h.evaluated[testType]++
	h.byKey[keyIndex]++
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(payload)
}

// readBody reads at most limit bytes of body and reports whether there was
// more.
func readBody(body io.Reader, limit int64) ([]byte, bool, error) {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if int64(len(data)) > limit {
		return data[:limit], true, err
	}
	return data, false, err
}

// authorized reports whether the request carries exactly one accepted API
// key, as "Authorization: Bearer <key>", "X-API-Key: <key>" or both with
// the same key, and which of the accepted keys it is.
func (h *Handler) authorized(header http.Header) (int, bool) {
	key, ok := credentials(header)
	if !ok {
		return 0, false
	}
	sum := sha256.Sum256([]byte(key))
	index, match := 0, 0
	for i := range h.keys {
		eq := subtle.ConstantTimeCompare(sum[:], h.keys[i][:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		match |= eq
	}
	return index, match == 1
}

// credentials extracts the API key a request presents. It fails when there
// is none, when a header is repeated or malformed, and when the two headers
// present different keys.
func credentials(header http.Header) (string, bool) {
	auth := header.Values("Authorization")
	xkey := header.Values("X-Api-Key")
	if len(auth) > 1 || len(xkey) > 1 {
		return "", false
	}
	var bearer string
	if len(auth) == 1 {
		scheme, token, found := strings.Cut(strings.TrimSpace(auth[0]), " ")
		token = strings.TrimSpace(token)
		if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return "", false
		}
		bearer = token
	}
	if len(xkey) == 1 {
		key := strings.TrimSpace(xkey[0])
		if key == "" || (bearer != "" && key != bearer) {
			return "", false
		}
		return key, true
	}
	return bearer, bearer != ""
}

// isJSONContentType reports whether a Content-Type value announces JSON:
// application/json or application/*+json, in UTF-8 if a charset is given.
func isJSONContentType(v string) bool {
	if v == "" {
		return false
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// validationErrors is the FastAPI-style 422 body.
type validationErrors struct {
	Detail []validationError `json:"detail"`
}

// validationError is one entry of a 422 body. Its texts are fixed strings:
// request content never appears in them.
type validationError struct {
	Loc  []string       `json:"loc"`
	Msg  string         `json:"msg"`
	Type string         `json:"type"`
	Ctx  map[string]int `json:"ctx,omitempty"`
}

// parseRequest validates a request body: a JSON object whose "prompt" and
// "response" are non-empty strings and whose optional "customer_id" is a
// string or null. Other members are ignored. It returns the request, or
// the problems found (nil when there are none).
func parseRequest(body []byte) (assurancehub.Request, []validationError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return assurancehub.Request{}, []validationError{{Loc: []string{"body"}, Msg: "field required", Type: "value_error.missing"}}
	}
	if !json.Valid(trimmed) {
		return assurancehub.Request{}, []validationError{{Loc: []string{"body"}, Msg: "invalid JSON", Type: "value_error.jsondecode"}}
	}
	var members map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return assurancehub.Request{}, []validationError{{Loc: []string{"body"}, Msg: "value is not a valid dict", Type: "type_error.dict"}}
	}

	var req assurancehub.Request
	var problems []validationError
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"prompt", &req.Prompt, true},
		{"response", &req.Response, true},
		{"customer_id", &req.CustomerID, false},
	} {
		if p := stringMember(members, f.name, f.dst, f.required); p != nil {
			problems = append(problems, *p)
		}
	}
	if problems != nil {
		return assurancehub.Request{}, problems
	}
	return req, nil
}

// stringMember decodes members[name] into dst and reports what is wrong
// with it, or nil.
func stringMember(members map[string]json.RawMessage, name string, dst *string, required bool) *validationError {
	loc := []string{"body", name}
	raw, ok := members[name]
	if !ok {
		if !required {
			return nil
		}
		return &validationError{Loc: loc, Msg: "field required", Type: "value_error.missing"}
	}
	switch {
	case string(raw) == "null":
		if !required {
			return nil
		}
		return &validationError{Loc: loc, Msg: "none is not an allowed value", Type: "type_error.none.not_allowed"}
	case len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, dst) != nil:
		return &validationError{Loc: loc, Msg: "str type expected", Type: "type_error.str"}
	case required && *dst == "":
		return &validationError{
			Loc:  loc,
			Msg:  "ensure this value has at least 1 characters",
			Type: "value_error.any_str.min_length",
			Ctx:  map[string]int{"limit_value": 1},
		}
	}
	return nil
}

// encodeResult returns the 200 body for res.
func encodeResult(res assurancehub.Result) ([]byte, error) {
	if len(res.Raw) > 0 {
		return res.Raw, nil
	}
	if len(res.ModelExecution) == 0 {
		res.ModelExecution = modelExecution
	}
	return json.Marshal(res)
}

// errorBody returns {"error":msg}.
func errorBody(msg string) string {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return string(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, errorBody(msg))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// shutdown makes requests waiting for latency give up. It is called by
// Server.Close.
func (h *Handler) shutdown() {
	h.stopOnce.Do(func() { close(h.stop) })
}

// Server is a Handler listening on a real TCP address, like
// httptest.Server. The embedded Handler's methods (FailNext, Requests, …)
// act on the running server.
type Server struct {
	*Handler

	// URL is the base URL of the server, e.g. "http://127.0.0.1:40123"
	// ("https://..." with WithTLS), without a trailing slash. Endpoints are
	// URL + "/v1/evaluate/<type>".
	URL string

	ts *httptest.Server
}

// NewServer starts a server configured by opts on a free loopback port (or
// the WithAddr address) and returns it, or an error if an option is
// invalid or the address cannot be listened on. Call Close when done.
func NewServer(opts ...Option) (*Server, error) {
	h, err := NewHandler(opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return nil, fmt.Errorf("assurancehubtest: listen on %s: %w", h.addr, err)
	}
	ts := &httptest.Server{
		Listener: ln,
		Config:   &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second},
	}
	if h.tls {
		// Refused handshakes are what TLS tests provoke; other errors are
		// still logged.
		ts.Config.ErrorLog = log.New(dropHandshakeErrors{os.Stderr}, "", log.LstdFlags)
		ts.StartTLS()
	} else {
		ts.Start()
	}
	return &Server{Handler: h, URL: ts.URL, ts: ts}, nil
}

// dropHandshakeErrors writes every log line but those about failed TLS
// handshakes.
type dropHandshakeErrors struct{ w io.Writer }

func (d dropHandshakeErrors) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) {
		return len(p), nil
	}
	return d.w.Write(p)
}

// Client returns an HTTP client for talking to the server; Close closes its
// idle connections. With WithTLS it trusts the server's certificate.
func (s *Server) Client() *http.Client {
	return s.ts.Client()
}

// Certificate returns the server's TLS certificate (with WithTLS), for
// example to compute a pin with assurancehub.SPKIHash, or nil without TLS.
func (s *Server) Certificate() *x509.Certificate {
	if !s.tls {
		return nil
	}
	return s.ts.Certificate()
}

// Close aborts requests that are waiting for latency or a fault delay
// (their connections are closed without an answer), stops the server and
// blocks until every request has finished. Calling it again has no effect.
func (s *Server) Close() {
	s.shutdown()
	s.ts.Close()
}
