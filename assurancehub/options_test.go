package assurancehub

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/safecheck/safecheck/internal/syncbuf"
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
		// text, when set, must appear in it.
		text string
	}{
		{name: "key option", opts: []Option{WithAPIKey(testKey)}},
		{name: "live key", opts: []Option{WithAPIKey("ash_live_abcdefghij0123456789abcdef")}},
		{name: "shortest id accepted", opts: []Option{WithAPIKey("ash_test_0123456789abcdef")}},
		{name: "env key", env: "ash_test_fromtheenvironment0123"},
		{name: "short id", opts: []Option{WithAPIKey("ash_test_x")}, want: ErrInvalidAPIKey},
		{name: "one short of the minimum", opts: []Option{WithAPIKey("ash_test_0123456789SHORT")}, want: ErrInvalidAPIKey, secret: "0123456789SHORT"},
		{name: "short live key", opts: []Option{WithAPIKey("ash_live_abSECRET")}, want: ErrInvalidAPIKey, secret: "abSECRET"},
		{name: "short env key", env: "ash_test_abSECRET", want: ErrInvalidAPIKey, secret: "abSECRET"},
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
		{name: "nil option", opts: []Option{WithAPIKey(testKey), nil}, want: errAny, text: "assurancehub: option 2 is nil"},
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
			if err != nil && tt.text != "" && !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q lacks %q", err, tt.text)
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

func TestShortKeyErrorIsClear(t *testing.T) {
	t.Setenv(EnvAPIKey, "")
	_, err := New(WithAPIKey("ash_live_x"))
	if !errors.Is(err, ErrInvalidAPIKey) {
		t.Fatalf("err = %v, want ErrInvalidAPIKey", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "too short") || strings.Contains(msg, "ash_live_x") {
		t.Errorf("error %q should say the key is too short without quoting it", msg)
	}
}

func TestBaseURLFromEnvironment(t *testing.T) {
	// A key-like canary in the variable must never be echoed.
	const canary = "ash_test_URLCANARY0123456789abcdef"
	tests := []struct {
		name string
		env  string   // ASSURANCEHUB_BASE_URL
		opts []Option // besides the key
		want string   // base URL in use; "" means New must fail
	}{
		{name: "unset", env: "", want: DefaultBaseURL},
		{name: "blank", env: "  \t", want: DefaultBaseURL},
		{name: "https gateway", env: "https://gw.internal.example/assurancehub/", want: "https://gw.internal.example/assurancehub"},
		{name: "loopback fake", env: " http://127.0.0.1:8089\n", want: "http://127.0.0.1:8089"},
		{name: "option wins", env: "https://env.example", opts: []Option{WithBaseURL("https://option.example")}, want: "https://option.example"},
		{name: "option wins over a bad variable", env: "http://not-loopback.example", opts: []Option{WithBaseURL("https://option.example")}, want: "https://option.example"},
		{name: "plain http to a remote host", env: "http://api.assurancehub.ai"},
		{name: "not a URL", env: "gw.internal.example:8443"},
		{name: "other scheme", env: "ftp://api.assurancehub.ai"},
		{name: "ends in /v1", env: "https://api.assurancehub.ai/v1"},
		{name: "credentials", env: "https://user:" + canary + "@api.assurancehub.ai"},
		{name: "query", env: "https://api.assurancehub.ai/?key=" + canary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvAPIKey, "")
			t.Setenv(EnvBaseURL, tt.env)
			c, err := New(append([]Option{WithAPIKey(testKey)}, tt.opts...)...)
			if tt.want == "" {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				msg := err.Error()
				if !errors.Is(err, ErrInvalidBaseURL) || !strings.Contains(msg, EnvBaseURL) {
					t.Errorf("err = %v, want ErrInvalidBaseURL naming %s", err, EnvBaseURL)
				}
				if strings.Contains(msg, "URLCANARY") || strings.Contains(msg, testKey) || strings.Contains(msg, strings.TrimSpace(tt.env)) {
					t.Errorf("error %q quotes the variable's value", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got, want := c.endpoints[Bias], tt.want+"/v1/evaluate/bias"; got != want {
				t.Errorf("endpoint = %q, want %q", got, want)
			}
		})
	}

	t.Run("requests go there", func(t *testing.T) {
		srv, rec := newServer(t, nil)
		t.Setenv(EnvAPIKey, testKey)
		t.Setenv(EnvBaseURL, srv.URL)
		c, err := New()
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseIdleConnections()
		if _, err := c.Evaluate(context.Background(), Bias, biasRequest); err != nil {
			t.Fatal(err)
		}
		if reqs := rec.all(); len(reqs) != 1 || reqs[0].Path != "/v1/evaluate/bias" {
			t.Errorf("server saw %d requests (%v), want one to /v1/evaluate/bias", len(reqs), reqs)
		}
	})
}

func TestLiveKeyWithoutEnvironmentWarnsOnce(t *testing.T) {
	const (
		live  = "ash_live_LIVEWARN0123456789abcdefABCD"
		live2 = "ash_live_LIVEWARN2123456789abcdefABCD"
		test  = "ash_test_TESTWARN0123456789abcdefABCD"
	)
	rotating := func(keys ...string) Option {
		var n atomic.Int32
		return WithKeySource(func(context.Context) (string, error) {
			return keys[int(n.Add(1)-1)%len(keys)], nil
		})
	}
	tests := []struct {
		name string
		opts func(t *testing.T) []Option
		warn bool
	}{
		{"WithAPIKey live", func(*testing.T) []Option { return []Option{WithAPIKey(live)} }, true},
		{"environment variable live", func(t *testing.T) []Option { t.Setenv(EnvAPIKey, live); return nil }, true},
		{"WithKeyFile live", func(t *testing.T) []Option {
			path := filepath.Join(t.TempDir(), "key")
			writeKeyFile(t, path, live+"\n")
			return []Option{WithKeyFile(path)}
		}, true},
		{"key source rotating between live keys", func(*testing.T) []Option { return []Option{rotating(test, live, live2)} }, true},
		{"test key", func(*testing.T) []Option { return []Option{WithAPIKey(test)} }, false},
		{"key source of test keys", func(*testing.T) []Option { return []Option{rotating(test)} }, false},
		{"live key in staging", func(*testing.T) []Option { return []Option{WithAPIKey(live), WithEnvironment(Staging)} }, false},
		{"live key in production", func(*testing.T) []Option { return []Option{WithAPIKey(live), WithEnvironment(Production)} }, false},
		{"live key source in production", func(*testing.T) []Option { return []Option{rotating(live), WithEnvironment(Production)} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, nil)
			t.Setenv(EnvAPIKey, "")
			var logs logBuffer
			opts := append(tt.opts(t), WithBaseURL(srv.URL), WithLogger(logs.logger()))
			c, err := New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			for range 4 {
				if _, err := c.Evaluate(context.Background(), Bias, biasRequest); err != nil {
					t.Fatal(err)
				}
			}
			out := logs.String()
			if strings.Contains(out, "LIVEWARN") || strings.Contains(out, "TESTWARN") {
				t.Fatalf("a key reached the log: %s", out)
			}
			var warnings []map[string]any
			for _, r := range syncbuf.Records(t, out) {
				if r["level"] == "WARN" && strings.Contains(r["msg"].(string), "live API key") {
					warnings = append(warnings, r)
				}
			}
			if !tt.warn {
				if len(warnings) != 0 {
					t.Errorf("got %d live-key warnings, want none: %s", len(warnings), out)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("got %d live-key warnings, want 1: %s", len(warnings), out)
			}
			if got := warnings[0]["fingerprint"]; got != Fingerprint(live) {
				t.Errorf("fingerprint = %v, want %s (the first live key's)", got, Fingerprint(live))
			}
			if msg := warnings[0]["msg"].(string); !strings.Contains(msg, "WithEnvironment") {
				t.Errorf("warning %q does not say what to do", msg)
			}
		})
	}
}
