package webhook

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck/event"
)

// TestNewRefusesBadOptions names each bad setting: New fails, builds no
// Sink, starts nothing (goleak), and its error says what is wrong without
// quoting a secret or a URL's path.
func TestNewRefusesBadOptions(t *testing.T) {
	ok := WithEndpoint("https://hooks.example.com/in/tok_PATHSECRET123", testSecret)
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"no endpoint", nil, "no endpoint"},
		{"nil option", []Option{ok, nil}, "option 2 is nil"},
		{"http to a public host", []Option{WithEndpoint("http://hooks.example.com/tok_PATHSECRET123", testSecret)}, "plain http is allowed only for loopback"},
		{"http to a private address", []Option{WithEndpoint("http://10.0.0.7/tok_PATHSECRET123", testSecret)}, "plain http is allowed only for loopback"},
		{"another scheme", []Option{WithEndpoint("ftp://hooks.example.com/tok_PATHSECRET123", testSecret)}, "scheme must be https"},
		{"no host", []Option{WithEndpoint("https:///tok_PATHSECRET123", testSecret)}, "no host"},
		{"credentials", []Option{WithEndpoint("https://user:PATHSECRET@hooks.example.com/", testSecret)}, "credentials"},
		{"fragment", []Option{WithEndpoint("https://hooks.example.com/x#PATHSECRET", testSecret)}, "fragment"},
		{"empty URL", []Option{WithEndpoint("", testSecret)}, "empty URL"},
		{"no secret", []Option{WithEndpoint("https://hooks.example.com/")}, "endpoint 1: no secret"},
		{"secret without prefix", []Option{WithEndpoint("https://hooks.example.com/", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")}, "secret 1: webhook: invalid secret"},
		{"second secret bad", []Option{WithEndpoint("https://hooks.example.com/", testSecret, "whsec_PATHSECRET!!")}, "secret 2"},
		{"queue", []Option{ok, WithQueue(0)}, "WithQueue"},
		{"workers", []Option{ok, WithWorkers(0)}, "WithWorkers"},
		{"too many workers", []Option{ok, WithWorkers(65)}, "WithWorkers"},
		{"retries", []Option{ok, WithRetries(-1, time.Second, time.Second, 0)}, "negative retries"},
		{"backoff", []Option{ok, WithRetries(1, 2*time.Second, time.Second, 0)}, "base <= maxBackoff"},
		{"retry-after cap", []Option{ok, WithMaxRetryAfter(0)}, "WithMaxRetryAfter"},
		{"attempt timeout", []Option{ok, WithAttemptTimeout(-time.Second)}, "WithAttemptTimeout"},
		{"breaker", []Option{ok, WithCircuitBreaker(0, time.Second)}, "WithCircuitBreaker"},
		{"nil logger", []Option{ok, WithLogger(nil)}, "nil *slog.Logger"},
		{"no kind", []Option{ok, WithKinds()}, "WithKinds: no kind"},
		{"bad kind", []Option{ok, WithKinds(event.Kind(0))}, "not an event.Kind"},
		{"nil client", []Option{ok, WithHTTPClient(nil)}, "nil *http.Client"},
		{"old TLS", []Option{ok, WithHTTPClient(&http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS10}}})}, "TLS versions below 1.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.opts...)
			if err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not say %q", msg, tc.want)
			}
			if strings.Contains(msg, "PATHSECRET") || strings.Contains(msg, strings.TrimPrefix(testSecret, SecretPrefix)) {
				t.Fatalf("error %q quotes a secret or a path", msg)
			}
		})
	}
	// Every problem is reported at once.
	_, err := New(WithEndpoint("http://example.com/", "x"), WithQueue(0))
	if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), "WithQueue") || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("joined error %v", err)
	}
}

func TestNewAcceptsLoopbackAndHTTPS(t *testing.T) {
	for u, want := range map[string]string{
		"https://hooks.example.com/in?token=x": "https://hooks.example.com",
		"http://127.0.0.1:8080/":               "http://127.0.0.1:8080",
		"http://[::1]:9/":                      "http://[::1]:9",
		"http://localhost/hook":                "http://localhost",
		"HTTP://LOCALHOST/":                    "http://LOCALHOST",
	} {
		s, err := New(WithEndpoint(u, testSecret, otherSecret))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if st := s.Stats(); len(st.Endpoints) != 1 || st.Endpoints[0].Endpoint != want {
			t.Fatalf("%s: Stats names the endpoint %q, want %q", u, st.Endpoints[0].Endpoint, want)
		}
		closeAll(t, s)
	}
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range DropReasons() {
		b, err := r.MarshalText()
		if err != nil || string(b) != r.String() || seen[r.String()] || !r.Valid() {
			t.Fatalf("%d: %q, %v", r, b, err)
		}
		seen[r.String()] = true
		var back DropReason
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Fatalf("UnmarshalText(%q) = %v, %v", b, back, err)
		}
	}
	if _, err := DropReason(0).MarshalText(); err == nil || DropReason(numReasons).String() != "" {
		t.Fatal("the zero reason or one past the end is named")
	}
	var r DropReason
	if r.UnmarshalText([]byte("lost")) == nil {
		t.Fatal("an unknown name is read")
	}
}
