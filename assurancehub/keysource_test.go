package assurancehub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Fake keys of both kinds. The live one is a canary: no output may hold it.
const (
	devKey  = "ash_test_devDEVdev0123456789abcdefABCDEF"
	liveKey = "ash_live_CANARYlive0123456789abcdefABCD"
)

// logBuffer is a log sink that tests read while clients write to it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, nil))
}

// writeKeyFile replaces the key file at path atomically, as a mounted
// secret is replaced.
func writeKeyFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestEnvironmentRefusesTheWrongKindOfKey(t *testing.T) {
	sources := []struct {
		name string
		opts func(t *testing.T, key string) []Option
	}{
		{"WithAPIKey", func(t *testing.T, key string) []Option { return []Option{WithAPIKey(key)} }},
		{"environment variable", func(t *testing.T, key string) []Option {
			t.Setenv(EnvAPIKey, key)
			return nil
		}},
		{"named environment variable", func(t *testing.T, key string) []Option {
			t.Setenv("MY_APP_ASSURANCEHUB_KEY", key)
			return []Option{WithKeyFromEnv("MY_APP_ASSURANCEHUB_KEY")}
		}},
		{"WithKeyFile", func(t *testing.T, key string) []Option {
			path := filepath.Join(t.TempDir(), "key")
			writeKeyFile(t, path, key+"\n")
			return []Option{WithKeyFile(path)}
		}},
	}
	tests := []struct {
		env     string
		key     string
		refused bool
	}{
		{"", devKey, false},
		{"", liveKey, false},
		{Development, devKey, false},
		{Development, liveKey, true},
		{Staging, devKey, false},
		{Staging, liveKey, false},
		{Production, devKey, true},
		{Production, liveKey, false},
	}
	for _, src := range sources {
		for _, tt := range tests {
			t.Run(src.name+"/"+tt.env+"/"+tt.key[:9], func(t *testing.T) {
				t.Setenv(EnvAPIKey, "")
				opts := src.opts(t, tt.key)
				if tt.env != "" {
					opts = append(opts, WithEnvironment(tt.env))
				}
				c, err := New(opts...)
				if !tt.refused {
					if err != nil {
						t.Fatalf("New: %v", err)
					}
					if got, want := c.KeyFingerprint(), Fingerprint(tt.key); got != want {
						t.Errorf("KeyFingerprint = %q, want %q", got, want)
					}
					return
				}
				if !errors.Is(err, ErrKeyEnvironment) {
					t.Fatalf("New: err = %v, want ErrKeyEnvironment", err)
				}
				if strings.Contains(err.Error(), tt.key) || strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "devDEV") {
					t.Errorf("error %q contains the key", err)
				}
				if !strings.Contains(err.Error(), tt.env) {
					t.Errorf("error %q does not name the environment", err)
				}
			})
		}
	}
}

func TestKeyOptionValidation(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	bad := filepath.Join(dir, "bad")
	writeKeyFile(t, bad, "sk-CANARYnotanassurancehubkey")
	big := filepath.Join(dir, "big")
	writeKeyFile(t, big, devKey+strings.Repeat(" ", MaxKeyFileBytes))
	src := func(context.Context) (string, error) { return devKey, nil }
	tests := []struct {
		name string
		opts []Option
		want error // errAny: any error
		in   string
	}{
		{"missing key file", []Option{WithKeyFile(missing)}, os.ErrNotExist, missing},
		{"badly shaped key in file", []Option{WithKeyFile(bad)}, ErrInvalidAPIKey, "WithKeyFile"},
		{"key file too large", []Option{WithKeyFile(big)}, errAny, "larger than"},
		{"key file is a directory", []Option{WithKeyFile(dir)}, errAny, "not a regular file"},
		{"empty key file path", []Option{WithKeyFile("")}, errAny, "empty path"},
		{"empty variable name", []Option{WithKeyFromEnv("")}, errAny, "WithKeyFromEnv"},
		{"variable name with =", []Option{WithKeyFromEnv("A=B")}, errAny, "WithKeyFromEnv"},
		{"unset variable", []Option{WithKeyFromEnv("SAFECHECK_TEST_UNSET_VARIABLE")}, ErrNoAPIKey, "SAFECHECK_TEST_UNSET_VARIABLE"},
		{"unknown environment", []Option{WithAPIKey(devKey), WithEnvironment("prod")}, errAny, "WithEnvironment"},
		{"two key options", []Option{WithAPIKey(devKey), WithKeyFile(bad)}, errAny, "mutually exclusive"},
		{"source and env name", []Option{WithKeySource(src), WithKeyFromEnv("X")}, errAny, "mutually exclusive"},
		{"nil logger", []Option{WithAPIKey(devKey), WithLogger(nil)}, errAny, "WithLogger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts...)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if tt.want != errAny && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.in) {
				t.Errorf("err = %q, want it to mention %q", err, tt.in)
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Errorf("err = %q contains the key", err)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	fp := Fingerprint(devKey)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{8}$`).MatchString(fp) {
		t.Fatalf("Fingerprint = %q, want sha256: and 8 hex digits", fp)
	}
	if Fingerprint(devKey) != fp || Fingerprint(liveKey) == fp {
		t.Error("Fingerprint is not a stable function of the key")
	}
	// The first 4 bytes of SHA-256("ash_test_x"): pinning the value keeps
	// fingerprints comparable across versions and with sha256sum.
	if got := Fingerprint("ash_test_x"); got != "sha256:a8272cb4" {
		t.Errorf("Fingerprint(ash_test_x) = %q, want sha256:a8272cb4", got)
	}
	if Fingerprint("") != "" {
		t.Error("Fingerprint of no key is not empty")
	}
	c, err := New(WithKeySource(func(context.Context) (string, error) { return devKey, nil }), WithBaseURL("http://127.0.0.1:9"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.KeyFingerprint(); got != "" {
		t.Errorf("KeyFingerprint before the source was called = %q, want empty", got)
	}
	if _, err := c.apiKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.KeyFingerprint(); got != fp {
		t.Errorf("KeyFingerprint = %q, want %q", got, fp)
	}
}

// TestKeySourceKeepsTheLastGoodKey walks a file key source through the ways
// rotation goes wrong, checking the key each request would carry and what is
// logged.
func TestKeySourceKeepsTheLastGoodKey(t *testing.T) {
	const nextKey = "ash_test_NEXTnext0123456789abcdefABCDEF"
	path := filepath.Join(t.TempDir(), "api-key")
	writeKeyFile(t, path, devKey+"\n")
	logs := &logBuffer{}
	c, err := New(WithKeyFile(path), WithEnvironment(Development), WithLogger(logs.logger()),
		WithBaseURL("http://127.0.0.1:9"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		change  func()
		calls   int
		want    string
		logMsgs []string // records expected from this step, in order
	}{
		{"first key, read by New", func() {}, 3, devKey, nil},
		{"file removed", func() { os.Remove(path) }, 3, devKey,
			[]string{"AssuranceHub API key source failed; still sending the last good key"}},
		{"file back with the same key", func() { writeKeyFile(t, path, devKey) }, 2, devKey,
			[]string{"AssuranceHub API key source recovered"}},
		{"live key refused in development", func() { writeKeyFile(t, path, liveKey+"\n") }, 3, devKey,
			[]string{"AssuranceHub API key source failed; still sending the last good key"}},
		{"garbage refused", func() { writeKeyFile(t, path, "sk-CANARYgarbage") }, 2, devKey, nil},
		{"empty file refused", func() { writeKeyFile(t, path, "") }, 2, devKey, nil},
		{"rotated to a good key", func() { writeKeyFile(t, path, "  "+nextKey+"\r\n") }, 3, nextKey,
			[]string{"AssuranceHub API key rotated", "AssuranceHub API key source recovered"}},
	}
	for _, st := range steps {
		before := len(logRecords(t, logs.String()))
		st.change()
		for range st.calls {
			key, err := c.apiKey(context.Background())
			if err != nil || key != st.want {
				t.Fatalf("%s: apiKey = %q, %v; want %q", st.name, key[:min(len(key), 12)], err, st.want[:12])
			}
		}
		if got, want := c.KeyFingerprint(), Fingerprint(st.want); got != want {
			t.Errorf("%s: KeyFingerprint = %q, want %q", st.name, got, want)
		}
		var msgs []string
		for _, r := range logRecords(t, logs.String())[before:] {
			msgs = append(msgs, r["msg"].(string))
		}
		if strings.Join(msgs, "|") != strings.Join(st.logMsgs, "|") {
			t.Errorf("%s: logged %q, want %q", st.name, msgs, st.logMsgs)
		}
	}
	out := logs.String()
	for _, secret := range []string{devKey, liveKey, nextKey, "CANARY", "NEXTnext", "devDEV"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{Fingerprint(devKey), Fingerprint(nextKey), "does not match the environment"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestKeySourceErrorsBeforeAGoodKeyFailTheCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	c, err := New(WithKeySource(FileKeySource(path)), WithBaseURL("http://127.0.0.1:9"))
	if err != nil {
		t.Fatalf("New must not read a plain key source: %v", err)
	}
	if _, err := c.Evaluate(context.Background(), Bias, biasRequest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Evaluate without a key file: err = %v, want os.ErrNotExist", err)
	}
	writeKeyFile(t, path, liveKey)
	c, err = New(WithKeySource(FileKeySource(path)), WithEnvironment(Development), WithBaseURL("http://127.0.0.1:9"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Evaluate(context.Background(), Bias, biasRequest)
	if !errors.Is(err, ErrKeyEnvironment) || strings.Contains(err.Error(), "CANARY") {
		t.Errorf("Evaluate with a live key in development: err = %v, want ErrKeyEnvironment without the key", err)
	}
}

func TestFileKeySourceRereadsOnlyOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	writeKeyFile(t, path, devKey)
	src := FileKeySource(path)
	if k, err := src(context.Background()); err != nil || k != devKey {
		t.Fatalf("first read = %q, %v", k, err)
	}
	// Same inode, size and modification time: the key read before is
	// returned without reading the file. Rewriting it in place with a key
	// of the same length and restoring the time proves that no read happens.
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sameLength := "ash_test_" + strings.Repeat("z", len(devKey)-len("ash_test_"))
	if err := os.WriteFile(path, []byte(sameLength), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if k, err := src(context.Background()); err != nil || k != devKey {
		t.Fatalf("unchanged file = %q, %v; want the cached key", k, err)
	}
	writeKeyFile(t, path, liveKey)
	if k, err := src(context.Background()); err != nil || k != liveKey {
		t.Fatalf("replaced file = %q, %v; want the new key", k, err)
	}
}

// logRecords parses JSON log lines.
func logRecords(t testing.TB, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}
