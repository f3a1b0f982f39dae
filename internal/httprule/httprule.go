package httprule

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// IsLoopbackHost reports whether host (a URL's Hostname, without port or
// brackets) is "localhost" or a loopback IP address (127.0.0.0/8, ::1,
// also IPv4-mapped or with a zone). Only such hosts may be reached over
// plain http.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return a.WithZone("").Unmap().IsLoopback()
}

// MaxRetryAfter is the largest duration ParseRetryAfter returns.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter interprets the value of a Retry-After header relative to
// now: delta-seconds (ASCII digits, surrounding spaces and tabs allowed)
// or an HTTP-date in a format http.ParseTime accepts. A date in the past
// yields (0, true), results above MaxRetryAfter are MaxRetryAfter, and
// anything else yields (0, false).
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
