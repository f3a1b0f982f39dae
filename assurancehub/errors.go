package assurancehub

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/safecheck/safecheck/internal/pii"
)

// Errors returned by New, Evaluate and DecodeResult. They are wrapped with
// detail; test for them with errors.Is.
var (
	// ErrNoAPIKey means no API key was configured.
	ErrNoAPIKey = errors.New("assurancehub: no API key")
	// ErrInvalidAPIKey means a configured key does not have the documented
	// shape. Errors wrapping it never contain the key.
	ErrInvalidAPIKey = errors.New("assurancehub: invalid API key")
	// ErrInvalidBaseURL means the base URL cannot be used, including plain
	// http to a host that is not loopback.
	ErrInvalidBaseURL = errors.New("assurancehub: invalid base URL")
	// ErrUnknownTestType means the test type is not one of TestTypes().
	ErrUnknownTestType = errors.New("assurancehub: unknown test type")
	// ErrEmptyPrompt means Request.Prompt was empty.
	ErrEmptyPrompt = errors.New("assurancehub: empty prompt")
	// ErrEmptyResponse means Request.Response was empty.
	ErrEmptyResponse = errors.New("assurancehub: empty response")
	// ErrMalformedResponse means a successful response body could not be
	// decoded as a Result. Errors wrapping it carry no body content.
	ErrMalformedResponse = errors.New("assurancehub: malformed response")
	// ErrResponseTooLarge means a successful response body was larger than
	// the WithMaxResponseBytes cap.
	ErrResponseTooLarge = errors.New("assurancehub: response too large")
)

const (
	// maxMessageBytes caps APIError.Message.
	maxMessageBytes = 200
	// maxErrorBodyBytes caps APIError.Body.
	maxErrorBodyBytes = 4 << 10
	// maxDetailItems bounds how many FastAPI-style detail entries are joined.
	maxDetailItems = 20
	// minContentRedactLen is the shortest prompt or response text that is
	// redacted from error bodies; shorter texts would mangle ordinary words.
	minContentRedactLen = 8
)

// redacted replaces secrets in APIError.Message and APIError.Body.
const redacted = "[REDACTED]"

// APIError is returned by Evaluate when the API answers with a status other
// than 2xx. It is returned unwrapped, so errors.As works directly.
//
// Any occurrence of the API key, and of anything shaped like an AssuranceHub
// key, is replaced with "[REDACTED]" in Message and Body, as are echoes of the
// prompt and response text (best effort: exact copies of texts of at least 8
// bytes). Body may still hold other server-chosen content; do not log it.
type APIError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Message is a short human-readable reason taken from the body: the JSON
	// keys "error" (string, or object with "message"), "message" or "detail"
	// (string, or a list of objects with "msg"), else the start of the body as
	// text. It is valid UTF-8 without control characters, at most 200 bytes.
	Message string
	// RetryAfter is the delay from the Retry-After header, bounded by
	// MaxRetryAfter; zero if the header was absent or unparsable.
	RetryAfter time.Duration
	// Body is the start of the response body, at most 4 KiB.
	Body []byte

	retryAfterSet bool
}

// Error returns a one-line description such as
// "assurancehub: 429 Too Many Requests: rate limit exceeded (retry after 2s)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("assurancehub: ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.hasRetryAfter() {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteByte(')')
	}
	return b.String()
}

// Temporary reports whether the status suggests that the same request may
// succeed later: 429, 500, 502, 503 and 504.
func (e *APIError) Temporary() bool {
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (e *APIError) hasRetryAfter() bool { return e.retryAfterSet || e.RetryAfter > 0 }

// IsUnauthorized reports whether err is an *APIError with status 401 or 403.
func IsUnauthorized(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden)
}

// IsRateLimited reports whether err is an *APIError with status 429.
func IsRateLimited(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusTooManyRequests
}

// RetryAfter returns the Retry-After delay carried by err and whether the
// response had a valid Retry-After header (a header of "0" yields (0, true)).
func RetryAfter(err error) (time.Duration, bool) {
	var e *APIError
	if !errors.As(err, &e) || !e.hasRetryAfter() {
		return 0, false
	}
	return e.RetryAfter, true
}

// newAPIError builds an APIError from a non-2xx response. body is what was
// read (already bounded); red removes secrets from everything kept.
func newAPIError(status int, retryAfter string, body []byte, red *redactor, now time.Time) *APIError {
	e := &APIError{StatusCode: status}
	if retryAfter != "" {
		e.RetryAfter, e.retryAfterSet = ParseRetryAfter(retryAfter, now)
	}
	e.Message = errorMessage(body, red)
	if len(body) > 0 {
		clean := red.bytes(body)
		if len(clean) > maxErrorBodyBytes {
			clean = clean[:maxErrorBodyBytes]
		}
		e.Body = bytes.Clone(clean)
	}
	return e
}

// errorMessage extracts a short, clean, redacted message from an error body.
func errorMessage(body []byte, red *redactor) string {
	if m := jsonErrorMessage(body); m != "" {
		return truncateUTF8(red.string(sanitize(red.exact(m))), maxMessageBytes)
	}
	// Fallback: the start of the body as text. Redact a window large enough
	// that a secret starting inside the kept part is replaced whole. Exact
	// secrets are replaced before sanitizing (content may hold newlines) and
	// again after it (removed control bytes may have split the key); the
	// key-shape pattern runs last so it cannot cut a key in half first.
	window := body
	if n := maxMessageBytes + red.longest(); len(window) > n {
		window = window[:n]
	}
	return truncateUTF8(red.string(sanitize(red.exact(string(window)))), maxMessageBytes)
}

// jsonErrorMessage looks for a message under the common error keys.
func jsonErrorMessage(body []byte) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return ""
	}
	if raw, ok := obj["error"]; ok {
		if s := jsonString(raw); s != "" {
			return s
		}
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) == nil {
			if s := jsonString(inner["message"]); s != "" {
				return s
			}
		}
	}
	if s := jsonString(obj["message"]); s != "" {
		return s
	}
	if raw, ok := obj["detail"]; ok {
		if s := jsonString(raw); s != "" {
			return s
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			var msgs []string
			for _, it := range items {
				if len(msgs) == maxDetailItems {
					break
				}
				s := jsonString(it)
				if s == "" {
					var o map[string]json.RawMessage
					if json.Unmarshal(it, &o) == nil {
						s = jsonString(o["msg"])
					}
				}
				if s != "" {
					msgs = append(msgs, s)
				}
			}
			return strings.Join(msgs, "; ")
		}
	}
	return ""
}

// jsonString returns raw decoded as a JSON string, or "" if it is not one.
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// sanitize makes s a single line of valid UTF-8: invalid bytes, control and
// bidirectional formatting characters are removed, runs of white space become
// one space.
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			continue
		case unicode.IsSpace(r):
			pendingSpace = b.Len() > 0
			continue
		case unicode.IsControl(r) || isBidiControl(r):
			continue
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// truncateUTF8 cuts s to at most max bytes on a rune boundary, marking a cut with "…".
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// redactor replaces known secrets, then key-shaped tokens, with [REDACTED].
type redactor struct {
	secrets []string // longest first
}

// newRedactor returns a redactor for the API key and, if long enough, the
// prompt and response texts in their raw and JSON-escaped forms.
func newRedactor(key string, content ...string) *redactor {
	r := &redactor{}
	if key != "" {
		r.secrets = append(r.secrets, key)
	}
	for _, c := range content {
		if len(c) < minContentRedactLen {
			continue
		}
		r.secrets = append(r.secrets, c)
		if esc := jsonEscaped(c); esc != c {
			r.secrets = append(r.secrets, esc)
		}
	}
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// jsonEscaped returns s as it appears inside a JSON string (without quotes).
func jsonEscaped(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(out[1 : len(out)-1])
}

func (r *redactor) longest() int {
	if len(r.secrets) == 0 {
		return 0
	}
	return len(r.secrets[0])
}

// exact replaces the known secrets only.
func (r *redactor) exact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// string replaces the known secrets, then anything shaped like a key.
func (r *redactor) string(s string) string {
	return pii.MaskKeys(r.exact(s), redacted)
}

// bytes is string for a byte slice.
func (r *redactor) bytes(b []byte) []byte {
	for _, sec := range r.secrets {
		if bytes.Contains(b, []byte(sec)) {
			b = bytes.ReplaceAll(b, []byte(sec), []byte(redacted))
		}
	}
	return pii.MaskKeysBytes(b, redacted)
}
