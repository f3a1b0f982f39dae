package assurancehub

import (
	"time"

	"github.com/safecheck/safecheck/internal/httprule"
)

// MaxRetryAfter is the largest duration ParseRetryAfter returns. Longer
// delays that the server asks for are reported as MaxRetryAfter.
const MaxRetryAfter = httprule.MaxRetryAfter

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
	return httprule.ParseRetryAfter(v, now)
}
