package assurancehub

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// MaxRetryAfter is the largest duration ParseRetryAfter returns. Longer
// delays that the server asks for are reported as MaxRetryAfter.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter interprets the value of a Retry-After header relative to now.
//
// The value is either delta-seconds (a non-negative integer of ASCII digits,
// surrounding spaces and tabs allowed) or an HTTP-date in any of the three
// formats http.ParseTime accepts (RFC 1123, RFC 850, ANSI C asctime). A date
// in the past yields (0, true). Results longer than MaxRetryAfter are reported
// as MaxRetryAfter. Anything else - empty, negative, fractional, signed, or a
// digit string too long for an int64 - yields (0, false). It does not apply
// any caller policy beyond that bound; callers clamp to their own limits.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return 0, false
	}
	if isASCIIDigits(v) {
		secs, ok := parseDigits(v)
		if !ok {
			return 0, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now) // Sub saturates instead of overflowing.
	switch {
	case d < 0:
		return 0, true
	case d > MaxRetryAfter:
		return MaxRetryAfter, true
	}
	return d, true
}

func isASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseDigits parses a string of ASCII digits as an int64, reporting false on overflow.
func parseDigits(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		d := int64(s[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
