package assurancehub

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := fixedNow // Tuesday, 04 Mar 2025 12:00:00 GMT
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"2", 2 * time.Second, true},
		{" 2 ", 2 * time.Second, true},
		{"\t120\t", 2 * time.Minute, true},
		{"0", 0, true},
		{"007", 7 * time.Second, true},
		{"86400", MaxRetryAfter, true},
		{"86401", MaxRetryAfter, true},
		{"9223372036854775807", MaxRetryAfter, true},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1 2", 0, false},
		{"99999999999999999999", 0, false},
		{"9223372036854775808", 0, false},
		{"", 0, false},
		{"   ", 0, false},
		{"soon", 0, false},
		{"٣", 0, false}, // a non-ASCII digit
		{"Tue, 04 Mar 2025 12:02:00 GMT", 2 * time.Minute, true},
		{"  Tue, 04 Mar 2025 12:00:05 GMT ", 5 * time.Second, true},
		{"Tue, 04 Mar 2025 12:00:00 GMT", 0, true},
		{"Tue, 04 Mar 2025 11:00:00 GMT", 0, true},
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"Tuesday, 04-Mar-25 12:02:00 GMT", 2 * time.Minute, true},
		{"Tue Mar  4 12:00:30 2025", 30 * time.Second, true},
		{"Tue Mar  4 11:00:30 2025", 0, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", MaxRetryAfter, true},
		{"Wed, 05 Mar 2025 11:00:00 GMT", 23 * time.Hour, true},
		{"Tue, 04 Mar 2025 12:02:00 +0000", 0, false},
		{"2025-03-04T12:02:00Z", 0, false},
		{"Tue, 32 Mar 2025 12:02:00 GMT", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestParseRetryAfterDateCountsDown checks, on synctest's fake clock, that an
// HTTP-date Retry-After shrinks as time passes and ends at zero.
func TestParseRetryAfterDateCountsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		header := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
		steps := []struct {
			wait time.Duration
			want time.Duration
		}{
			{0, 10 * time.Second},
			{4 * time.Second, 6 * time.Second},
			{6 * time.Second, 0},
			{time.Hour, 0},
		}
		for _, s := range steps {
			time.Sleep(s.wait) // instant: the bubble's clock jumps
			got, ok := ParseRetryAfter(header, time.Now())
			if !ok || got != s.want {
				t.Errorf("after %v more: %v, %v; want %v, true", s.wait, got, ok, s.want)
			}
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{
		"2", " 2 ", "0", "-1", "1.5", "99999999999999999999", "86401", "",
		"soon", "Tue, 04 Mar 2025 12:02:00 GMT", "Tuesday, 04-Mar-25 12:02:00 GMT",
		"Tue Mar  4 12:00:30 2025", "Mon, 01 Jan 0001 00:00:00 GMT",
	} {
		f.Add(s, int64(0))
	}
	f.Add("Fri, 31 Dec 9999 23:59:59 GMT", int64(-1<<62))
	f.Fuzz(func(t *testing.T, v string, shift int64) {
		now := fixedNow.Add(time.Duration(shift))
		d, ok := ParseRetryAfter(v, now)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", v, d, MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when not ok", v, d)
		}
		if d2, ok2 := ParseRetryAfter(v, now); d2 != d || ok2 != ok {
			t.Fatal("not deterministic")
		}
		trimmed := strings.Trim(v, " \t")
		if isASCIIDigits(trimmed) && len(trimmed) <= 4 {
			var n int
			for _, c := range trimmed {
				n = n*10 + int(c-'0')
			}
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %ds", v, d, ok, n)
			}
		}
		if strings.HasPrefix(trimmed, "-") && ok {
			if _, err := http.ParseTime(trimmed); err != nil {
				t.Fatalf("negative value %q accepted", v)
			}
		}
	})
}

func isASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
