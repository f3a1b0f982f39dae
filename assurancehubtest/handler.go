package assurancehubtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
)

// evaluatePrefix is the path of every endpoint, followed by the test type.
const evaluatePrefix = "/v1/evaluate/"

// Error messages of the JSON error bodies.
const (
	msgInvalidKey   = "Invalid API key"
	msgRateLimited  = "Rate limit exceeded"
	msgBadSignature = "Invalid request signature"
)

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
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("assurancehubtest: option %d is nil", i+1)
		}
		o.apply(&c)
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

// shutdown makes requests waiting for latency give up. It is called by
// Server.Close.
func (h *Handler) shutdown() {
	h.stopOnce.Do(func() { close(h.stop) })
}
