package assurancehub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestAPIErrorMessage(t *testing.T) {
	const key = "ash_test_secret42"
	var items []string
	for i := 1; i <= 25; i++ {
		items = append(items, fmt.Sprintf(`{"msg":"%d"}`, i))
	}
	tests := []struct {
		name string
		body string
		want string
	}{
		{"error string", `{"error":"Invalid API key"}`, "Invalid API key"},
		{"error object", `{"error":{"message":"quota","code":42}}`, "quota"},
		{"error object without message falls to message", `{"error":{"code":1},"message":"m2"}`, "m2"},
		{"empty error string falls to message", `{"error":"","message":"m"}`, "m"},
		{"error bool falls to detail", `{"error":true,"detail":"d"}`, "d"},
		{"message beats detail", `{"message":"m","detail":"d"}`, "m"},
		{"detail list", `{"detail":[{"msg":"a","loc":["body"]},"b",{"other":1},{"msg":7},{"msg":"c"}]}`, "a; b; c"},
		{"detail list is bounded", `{"detail":[` + strings.Join(items, ",") + `]}`, "1; 2; 3; 4; 5; 6; 7; 8; 9; 10; 11; 12; 13; 14; 15; 16; 17; 18; 19; 20"},
		{"no known key", `{"status":"bad"}`, `{"status":"bad"}`},
		{"message not a string", `{"message":{"text":"x"}}`, `{"message":{"text":"x"}}`},
		{"empty body", ``, ``},
		{"plain text", "Service Unavailable", "Service Unavailable"},
		{"white space runs", "  a \r\n\n\t b  ", "a b"},
		{"control and escape characters", "a\x00b\x1b[31mc\x7fd\u0085e", "ab[31mcd e"},
		{"bidi overrides", "safe\u202Eevil\u2066x\u2069", "safeevilx"},
		{"invalid UTF-8", "ok\xff\xfe!", "ok!"},
		{"keeps other unicode", "Zu viele Anfragen – später 🙂", "Zu viele Anfragen – später 🙂"},
		{"key in JSON message", `{"error":"bad key ` + key + `"}`, "bad key [REDACTED]"},
		{"key JSON-escaped", `{"error":"bad key ash\u005ftest\u005fsecret42"}`, "bad key [REDACTED]"},
		{"key split by control characters", "key=ash_test_sec\x00ret42.", "key=[REDACTED]."},
		{"other key-shaped token", `{"message":"rotated from ash_live_0ldKey-99 to ash_test_n3w"}`, "rotated from [REDACTED] to [REDACTED]"},
		{"key in text", "Authorization: Bearer " + key + " refused", "Authorization: Bearer [REDACTED] refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIError(400, "", []byte(tt.body), newRedactor(key), fixedNow)
			if e.Message != tt.want {
				t.Errorf("Message = %q, want %q", e.Message, tt.want)
			}
		})
	}
}

func TestAPIErrorMessageTruncation(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"ascii text", strings.Repeat("x", 300)},
		{"two-byte runes", strings.Repeat("é", 150)},
		{"four-byte runes", strings.Repeat("🙂", 80)},
		{"long JSON message", `{"message":"` + strings.Repeat("m", 1000) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIError(500, "", []byte(tt.body), newRedactor(testKey), fixedNow)
			if len(e.Message) > maxMessageBytes || len(e.Message) < maxMessageBytes-4 {
				t.Errorf("len(Message) = %d, want just under %d", len(e.Message), maxMessageBytes)
			}
			if !utf8.ValidString(e.Message) || !strings.HasSuffix(e.Message, "…") {
				t.Errorf("Message %q is not a marked, valid cut", e.Message)
			}
		})
	}
}

func TestAPIErrorBody(t *testing.T) {
	const key = "ash_test_body.secret"
	tests := []struct {
		name    string
		body    string
		wantLen int
	}{
		{"small body kept", `{"error":"x"}`, 13},
		{"large body capped", strings.Repeat("b", 10000), maxErrorBodyBytes},
		{"key across the cap", strings.Repeat("b", maxErrorBodyBytes-5) + key, maxErrorBodyBytes},
		{"key shrinks the body", key, len(redacted)},
		{"empty body", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIError(500, "", []byte(tt.body), newRedactor(key), fixedNow)
			if len(e.Body) != tt.wantLen {
				t.Errorf("len(Body) = %d, want %d", len(e.Body), tt.wantLen)
			}
			if strings.Contains(string(e.Body), "body.secret") || strings.Contains(string(e.Body), "ash_test_b") {
				t.Errorf("Body leaks the key: ...%q", e.Body[max(0, len(e.Body)-40):])
			}
		})
	}
}

func TestAPIErrorRedactsContent(t *testing.T) {
	prompt := "tell me about \"the\" <secret> project\nplease"
	response := "short" // below minContentRedactLen: left alone
	body := `{"message":"cannot evaluate: ` + jsonEscaped(prompt) + `","echo":"` + jsonEscaped(prompt) + ` short"}`
	e := newAPIError(400, "", []byte(body), newRedactor(testKey, prompt, response), fixedNow)
	if strings.Contains(e.Message, "secret") || strings.Contains(string(e.Body), "secret") {
		t.Errorf("prompt echoed: Message %q, Body %q", e.Message, e.Body)
	}
	if e.Message != "cannot evaluate: [REDACTED]" {
		t.Errorf("Message = %q", e.Message)
	}
	if !strings.Contains(string(e.Body), "[REDACTED] short") {
		t.Errorf("Body = %q", e.Body)
	}
}

func TestAPIErrorError(t *testing.T) {
	tests := []struct {
		err  *APIError
		want string
	}{
		{&APIError{StatusCode: 429, Message: "rate limit exceeded", RetryAfter: 2 * time.Second, retryAfterSet: true},
			"assurancehub: 429 Too Many Requests: rate limit exceeded (retry after 2s)"},
		{&APIError{StatusCode: 429, RetryAfter: 1500 * time.Millisecond}, "assurancehub: 429 Too Many Requests (retry after 1.5s)"},
		{&APIError{StatusCode: 401, Message: "Invalid API key"}, "assurancehub: 401 Unauthorized: Invalid API key"},
		{&APIError{StatusCode: 503, retryAfterSet: true}, "assurancehub: 503 Service Unavailable (retry after 0s)"},
		{&APIError{StatusCode: 418}, "assurancehub: 418 I'm a teapot"},
		{&APIError{StatusCode: 299}, "assurancehub: 299"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestAPIErrorClassification(t *testing.T) {
	tests := []struct {
		status                int
		temp, unauth, limited bool
	}{
		{400, false, false, false},
		{401, false, true, false},
		{403, false, true, false},
		{404, false, false, false},
		{408, false, false, false},
		{413, false, false, false},
		{422, false, false, false},
		{429, true, false, true},
		{500, true, false, false},
		{501, false, false, false},
		{502, true, false, false},
		{503, true, false, false},
		{504, true, false, false},
		{505, false, false, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			var err error = &APIError{StatusCode: tt.status}
			wrapped := fmt.Errorf("check failed: %w", err)
			for _, e := range []error{err, wrapped} {
				if got := err.(*APIError).Temporary(); got != tt.temp {
					t.Errorf("Temporary() = %v, want %v", got, tt.temp)
				}
				if got := IsUnauthorized(e); got != tt.unauth {
					t.Errorf("IsUnauthorized = %v, want %v", got, tt.unauth)
				}
				if got := IsRateLimited(e); got != tt.limited {
					t.Errorf("IsRateLimited = %v, want %v", got, tt.limited)
				}
			}
		})
	}
	for _, err := range []error{nil, errors.New("plain"), context.DeadlineExceeded, ErrMalformedResponse} {
		if IsUnauthorized(err) || IsRateLimited(err) {
			t.Errorf("%v classified as an API error", err)
		}
		if d, ok := RetryAfter(err); ok || d != 0 {
			t.Errorf("RetryAfter(%v) = %v, %v", err, d, ok)
		}
	}
	// An APIError built by someone else still reports a positive delay.
	if d, ok := RetryAfter(fmt.Errorf("x: %w", &APIError{StatusCode: 429, RetryAfter: 3 * time.Second})); !ok || d != 3*time.Second {
		t.Errorf("RetryAfter = %v, %v; want 3s, true", d, ok)
	}
}

func TestSanitizeAndTruncate(t *testing.T) {
	if got := truncateUTF8("abc", 3); got != "abc" {
		t.Errorf("truncateUTF8 changed a short string: %q", got)
	}
	if got := truncateUTF8("abcdefgh", 6); got != "abc…" {
		t.Errorf("truncateUTF8 = %q", got)
	}
	if got := truncateUTF8("ééééé", 6); got != "é…" || !utf8.ValidString(got) {
		t.Errorf("truncateUTF8 split a rune: %q", got)
	}
	if got := sanitize("\n\t lead and trail \n"); got != "lead and trail" {
		t.Errorf("sanitize = %q", got)
	}
}

func FuzzAPIError(f *testing.F) {
	f.Add([]byte(`{"error":"Invalid API key"}`), "2")
	f.Add([]byte(`{"error":{"message":"bad ash_test_canary.KEY~echo-7f3a9c"}}`), "Tue, 04 Mar 2025 12:02:00 GMT")
	f.Add([]byte(`{"detail":[{"msg":"Field required"},{"msg":"x\u0000y"}]}`), "")
	f.Add([]byte("<html>\x00\xff ash_test_canary.KEY~echo-7f3a9c</html>"), "soon")
	f.Add([]byte(`{"message":"ash\u005ftest_canary.KEY~ech\u006f-7f3a9c"}`), "-1")
	f.Fuzz(func(t *testing.T, body []byte, retryAfter string) {
		e := newAPIError(429, retryAfter, body, newRedactor(canaryKey), fixedNow)
		if len(e.Message) > maxMessageBytes || !utf8.ValidString(e.Message) {
			t.Fatalf("Message %q too long or invalid UTF-8", e.Message)
		}
		for _, r := range e.Message {
			if unicode.IsControl(r) || isBidiControl(r) {
				t.Fatalf("Message %q has control character %U", e.Message, r)
			}
		}
		if len(e.Body) > maxErrorBodyBytes {
			t.Fatalf("len(Body) = %d", len(e.Body))
		}
		if strings.Contains(e.Message, canaryKey) || strings.Contains(string(e.Body), canaryKey) ||
			strings.Contains(e.Error(), canaryKey) {
			t.Fatalf("key leaked: Message %q, Body %q", e.Message, e.Body)
		}
		if e.RetryAfter < 0 || e.RetryAfter > MaxRetryAfter {
			t.Fatalf("RetryAfter = %v", e.RetryAfter)
		}
	})
}
