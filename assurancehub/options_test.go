package assurancehub

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestNewValidation(t *testing.T) {
	src := func(context.Context) (string, error) { return testKey, nil }
	tests := []struct {
		name string
		opts []Option
		env  string
		want error // nil means New must succeed
		// secret must not appear in the error string.
		secret string
	}{
		{name: "key option", opts: []Option{WithAPIKey(testKey)}},
		{name: "live key", opts: []Option{WithAPIKey("ash_live_abc")}},
		{name: "short id is fine", opts: []Option{WithAPIKey("ash_test_x")}},
		{name: "env key", env: "ash_test_fromenv"},
		{name: "key source", opts: []Option{WithKeySource(src)}},
		{name: "no key", want: ErrNoAPIKey},
		{name: "empty key option", opts: []Option{WithAPIKey("")}, env: testKey, want: ErrNoAPIKey},
		{name: "wrong prefix", opts: []Option{WithAPIKey("sk-secretvalue123")}, want: ErrInvalidAPIKey, secret: "secretvalue123"},
		{name: "unknown environment", opts: []Option{WithAPIKey("ash_prod_secretvalue123")}, want: ErrInvalidAPIKey, secret: "secretvalue123"},
		{name: "upper case prefix", opts: []Option{WithAPIKey("ASH_TEST_secretvalue123")}, want: ErrInvalidAPIKey, secret: "secretvalue123"},
		{name: "prefix only", opts: []Option{WithAPIKey("ash_test_")}, want: ErrInvalidAPIKey},
		{name: "space in key", opts: []Option{WithAPIKey("ash_test_secret value123")}, want: ErrInvalidAPIKey, secret: "secret value123"},
		{name: "header injection", opts: []Option{WithAPIKey("ash_test_secretvalue123\r\nX-Evil: 1")}, want: ErrInvalidAPIKey, secret: "secretvalue123"},
		{name: "non-ASCII", opts: []Option{WithAPIKey("ash_test_sécretvalue123")}, want: ErrInvalidAPIKey, secret: "cretvalue123"},
		{name: "bad env key", env: "Bearer ash_test_secretvalue123", want: ErrInvalidAPIKey, secret: "secretvalue123"},
		{name: "key and source", opts: []Option{WithAPIKey(testKey), WithKeySource(src)}, want: errAny},
		{name: "nil source", opts: []Option{WithKeySource(nil)}, want: errAny},
		{name: "nil option", opts: []Option{WithAPIKey(testKey), nil}, want: errAny},
		{name: "nil http client", opts: []Option{WithAPIKey(testKey), WithHTTPClient(nil)}, want: errAny},
		{name: "zero max response", opts: []Option{WithAPIKey(testKey), WithMaxResponseBytes(0)}, want: errAny},
		{name: "negative max response", opts: []Option{WithAPIKey(testKey), WithMaxResponseBytes(-1)}, want: errAny},
		{name: "empty user agent", opts: []Option{WithAPIKey(testKey), WithUserAgent("")}, want: errAny},
		{name: "user agent with newline", opts: []Option{WithAPIKey(testKey), WithUserAgent("a\nb")}, want: errAny},
		{name: "insecure base URL", opts: []Option{WithAPIKey(testKey), WithBaseURL("http://api.assurancehub.ai")}, want: ErrInvalidBaseURL},
		{name: "custom https base URL", opts: []Option{WithAPIKey(testKey), WithBaseURL("https://proxy.internal.example/ah")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvAPIKey, tt.env)
			c, err := New(tt.opts...)
			switch {
			case tt.want == nil:
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
			case err == nil:
				t.Fatal("New succeeded, want an error")
			case tt.want != errAny && !errors.Is(err, tt.want):
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the key", err)
			}
			if err != nil && c != nil {
				t.Error("New returned both a client and an error")
			}
		})
	}
}

// errAny marks a case where any error is acceptable.
var errAny = errors.New("any error")

func TestNewDefaults(t *testing.T) {
	c := newTestClient(t, DefaultBaseURL)
	if c.maxResponse != 1<<20 {
		t.Errorf("max response = %d, want 1 MiB", c.maxResponse)
	}
	if c.userAgent != "safecheck-go/0.1.0" {
		t.Errorf("user agent = %q", c.userAgent)
	}
	if got := c.endpoints[ChildSafety]; got != "https://api.assurancehub.ai/v1/evaluate/child_safety" {
		t.Errorf("endpoint = %q", got)
	}
	if c.apiKeyHeader {
		t.Error("X-API-Key is the default; want Bearer")
	}
}

func TestParseBaseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string // "" means an error is expected
		insecur bool   // the error is about plain http
	}{
		{in: "https://api.assurancehub.ai", want: "https://api.assurancehub.ai"},
		{in: "https://api.assurancehub.ai/", want: "https://api.assurancehub.ai"},
		{in: "https://gw.example.com:8443/assurance/", want: "https://gw.example.com:8443/assurance"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "http://127.45.6.7", want: "http://127.45.6.7"},
		{in: "http://[::1]:9000", want: "http://[::1]:9000"},
		{in: "http://[::ffff:127.0.0.1]:9000", want: "http://[::ffff:127.0.0.1]:9000"},
		{in: "http://localhost:3000", want: "http://localhost:3000"},
		{in: "http://LocalHost", want: "http://LocalHost"},
		{in: "http://api.assurancehub.ai", insecur: true},
		{in: "http://10.0.0.5", insecur: true},
		{in: "http://0.0.0.0:80", insecur: true},
		{in: "http://[::]:80", insecur: true},
		{in: "http://localhost.evil.example", insecur: true},
		{in: "http://127.0.0.1.nip.io", insecur: true},
		{in: "http://128.0.0.1", insecur: true},
		{in: ""},
		{in: "api.assurancehub.ai"},
		{in: "ftp://api.assurancehub.ai"},
		{in: "https://"},
		{in: "https:///v1"},
		{in: "https://user:pass@api.assurancehub.ai"},
		{in: "https://api.assurancehub.ai/?x=1"},
		{in: "https://api.assurancehub.ai/#frag"},
		{in: "https://api.assurancehub.ai/v1"},
		{in: "https://api.assurancehub.ai/v1/"},
		{in: "https://api assurancehub.ai"},
		{in: "https://[::1"},
		{in: "mailto:someone@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBaseURL(tt.in)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("parseBaseURL = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidBaseURL) {
				t.Fatalf("parseBaseURL = %q, %v; want ErrInvalidBaseURL", got, err)
			}
			if tt.insecur && !strings.Contains(err.Error(), "loopback") {
				t.Errorf("error %q does not explain the http rule", err)
			}
		})
	}
}

func TestTestTypes(t *testing.T) {
	want := []string{"bias", "hallucination", "toxicity", "robustness", "jailbreak", "injection",
		"pii", "copyright", "misinformation", "child_safety", "hipaa", "gdpr"}
	got := TestTypes()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("TestTypes() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if TestTypes()[0] != "bias" {
		t.Error("TestTypes returns the package's own slice")
	}
	for _, tt := range want {
		if !IsTestType(tt) {
			t.Errorf("IsTestType(%q) = false", tt)
		}
	}
	for _, tt := range []string{"", "Bias", "child-safety", "bias ", "evaluate"} {
		if IsTestType(tt) {
			t.Errorf("IsTestType(%q) = true", tt)
		}
	}
}
