package assurancehubtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fault describes how the handler answers one request instead of (or
// before) evaluating it. Queue faults with FailNext.
//
// The zero Fault lets one request through unchanged. A Fault with only
// Delay set slows one request down and then handles it normally.
type Fault struct {
	// Status is the HTTP status to answer with, 200–599. Zero means no
	// injected answer: the request is handled normally after Delay.
	Status int
	// RetryAfter is the raw Retry-After header value to send with Status
	// ("" sends none), e.g. "2" or "Wed, 21 Oct 2015 07:28:00 GMT".
	RetryAfter string
	// Body is the response body to send with Status. When empty, 4xx and
	// 5xx statuses get a JSON error body such as
	// {"error":"Internal server error"} and other statuses an empty body.
	// A Body that is valid JSON is sent as application/json, anything else
	// as text/plain.
	Body string
	// Drop closes the connection without sending any response (the
	// connection is hijacked and closed). It cannot be combined with Status,
	// RetryAfter or Body.
	Drop bool
	// Delay is waited, on top of any SetLatency latency, before the request
	// is answered or dropped.
	Delay time.Duration
}

// Status returns a Fault that answers with the status code and its default
// error body.
func Status(code int) Fault {
	return Fault{Status: code}
}

// RateLimited returns a Fault that answers 429 with
// {"error":"Rate limit exceeded"} and the given raw Retry-After header value
// ("" sends no header).
func RateLimited(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// DropConnection returns a Fault that closes the connection without a
// response, so the client sees a transport error such as io.EOF.
func DropConnection() Fault {
	return Fault{Drop: true}
}

// validate reports why f cannot be served, or nil.
func (f Fault) validate() error {
	switch {
	case f.Drop && (f.Status != 0 || f.RetryAfter != "" || f.Body != ""):
		return fmt.Errorf("a Drop fault cannot also set Status, RetryAfter or Body")
	case f.Status != 0 && (f.Status < 200 || f.Status > 599):
		return fmt.Errorf("status %d is outside 200-599", f.Status)
	case f.Status == 0 && (f.RetryAfter != "" || f.Body != ""):
		return fmt.Errorf("RetryAfter and Body need a Status")
	case f.Delay < 0:
		return fmt.Errorf("negative Delay %v", f.Delay)
	case !validHeaderValue(f.RetryAfter):
		return fmt.Errorf("RetryAfter contains characters not allowed in a header value")
	}
	return nil
}

// answers reports whether f replaces the normal handling of the request.
func (f Fault) answers() bool {
	return f.Drop || f.Status != 0
}

// FailNext appends faults to the queue of faults. Each incoming request
// takes the first queued fault, if any, before anything else is checked
// (including the API key); requests that find the queue empty are handled
// normally. It is safe to call while requests are being served.
//
// FailNext panics if a fault is contradictory or invalid (see Fault), as
// that is a mistake in the calling test; no fault is queued then.
func (h *Handler) FailNext(faults ...Fault) {
	for i, f := range faults {
		if err := f.validate(); err != nil {
			panic(fmt.Sprintf("assurancehubtest: FailNext: fault %d: %v", i, err))
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, faults...)
}

// PendingFaults returns how many queued faults have not yet been taken by a
// request.
func (h *Handler) PendingFaults() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.faults)
}

// SetLatency sets a delay that is waited before every answer, from the next
// request on; d <= 0 removes it. A request whose context ends while it
// waits (the client went away) is aborted without an answer: the handler
// panics with http.ErrAbortHandler, which net/http handles silently. It is
// safe to call while requests are being served.
func (h *Handler) SetLatency(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latency = max(d, 0)
}

// SetRateLimit limits requests to perSecond per calendar second (a fixed
// window); requests over the limit are answered 429 with
// {"error":"Rate limit exceeded"} and, unless retryAfter is "", a
// Retry-After header with that raw value. perSecond <= 0 disables the limit.
// Every request that is not answered by a queued fault counts, whatever its
// API key. It is safe to call while requests are being served.
//
// SetRateLimit panics if retryAfter contains characters not allowed in a
// header value.
func (h *Handler) SetRateLimit(perSecond int, retryAfter string) {
	if !validHeaderValue(retryAfter) {
		panic("assurancehubtest: SetRateLimit: retryAfter contains characters not allowed in a header value")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limit = rateLimit{perSecond: max(perSecond, 0), retryAfter: retryAfter}
}

// rateLimit is a fixed-window limiter; the window is the calendar second.
type rateLimit struct {
	perSecond  int
	retryAfter string
	window     time.Time
	count      int
}

// allow reports whether a request arriving at now fits in the limit, and
// counts it if so. The caller holds h.mu.
func (l *rateLimit) allow(now time.Time) bool {
	if l.perSecond <= 0 {
		return true
	}
	if w := now.Truncate(time.Second); !w.Equal(l.window) {
		l.window, l.count = w, 0
	}
	if l.count >= l.perSecond {
		return false
	}
	l.count++
	return true
}

// wait waits for d unless ctx ends or the handler is shut down first, and
// reports whether the full delay passed.
func (h *Handler) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-h.stop:
		return false
	}
}

// serveFault answers a request with f, which answers() reports true for.
func serveFault(w http.ResponseWriter, f Fault) {
	if f.Drop {
		dropConnection(w)
		return
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	body := f.Body
	if body == "" {
		if f.Status < 400 {
			w.WriteHeader(f.Status)
			return
		}
		body = errorBody(defaultMessage(f.Status))
	}
	if json.Valid([]byte(body)) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(body))
}

// dropConnection closes the client connection without a response. When the
// connection cannot be hijacked (HTTP/2), the handler is aborted instead,
// which resets the stream.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// defaultMessage is the "error" text of the default body for a 4xx or 5xx
// status.
func defaultMessage(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return msgInvalidKey
	case http.StatusTooManyRequests:
		return msgRateLimited
	case http.StatusInternalServerError:
		return "Internal server error"
	}
	text := http.StatusText(code)
	if text == "" {
		if code >= 500 {
			return "Internal server error"
		}
		return "Request failed"
	}
	// Sentence case, like the documented messages: "Service unavailable".
	r, size := utf8.DecodeRuneInString(text)
	return string(unicode.ToUpper(r)) + strings.ToLower(text[size:])
}

// validHeaderValue reports whether v can be sent as a header value: no
// control characters other than tab.
func validHeaderValue(v string) bool {
	for _, r := range v {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}
