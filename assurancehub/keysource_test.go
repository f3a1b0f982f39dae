package assurancehub

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safecheck/safecheck/internal/syncbuf"
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
		before := len(syncbuf.Records(t, logs.String()))
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
		for _, r := range syncbuf.Records(t, logs.String())[before:] {
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

// TestKeyRotationFollowsReadOrder has a key source answer two concurrent
// calls out of order: the call that read first is recorded last. The last
// good key is the one read last; the late result is used for its own
// request only and logs no rotation.
func TestKeyRotationFollowsReadOrder(t *testing.T) {
	const (
		oldKey = "ash_test_OLDold0123456789abcdefABCDEF"
		newKey = "ash_test_NEWnew0123456789abcdefABCDEF"
	)
	tests := []struct {
		name          string
		first, second string // keys read by the late call and by the call recorded before it
		wantGood      string
		wantRotations int
		active        bool // the late call is ActiveKeyFingerprint's
	}{
		{"old key recorded after the new", oldKey, newKey, newKey, 1, false},
		{"new key recorded after a rollback to the old", newKey, oldKey, oldKey, 0, false},
		{"same key", newKey, newKey, newKey, 1, false},
		{"ActiveKeyFingerprint reads the old key late", oldKey, newKey, newKey, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			var calls sync.Mutex
			n := 0
			src := func(context.Context) (string, error) {
				calls.Lock()
				n++
				call := n
				calls.Unlock()
				switch call {
				case 1:
					return oldKey, nil // the key in use before
				case 2:
					close(entered) // read, then held up until the next call is recorded
					<-release
					return tt.first, nil
				default:
					return tt.second, nil
				}
			}
			logs := &logBuffer{}
			c, err := New(WithKeySource(src), WithLogger(logs.logger()), WithBaseURL("http://127.0.0.1:9"))
			if err != nil {
				t.Fatal(err)
			}
			if k, err := c.apiKey(context.Background()); err != nil || k != oldKey {
				t.Fatalf("first call: %q, %v", k, err)
			}
			late := make(chan string)
			go func() {
				if tt.active {
					fp, _ := c.ActiveKeyFingerprint(context.Background())
					late <- fp
					return
				}
				k, _ := c.apiKey(context.Background())
				late <- k
			}()
			<-entered
			if k, err := c.apiKey(context.Background()); err != nil || k != tt.second {
				t.Fatalf("second call: %q, %v", k, err)
			}
			close(release)
			switch k := <-late; {
			case tt.active && k != Fingerprint(tt.wantGood):
				t.Errorf("the late ActiveKeyFingerprint = %q, want the last good key's %q", k, Fingerprint(tt.wantGood))
			case !tt.active && k != tt.first:
				t.Errorf("the late call sent %q, want the key it read, %q", k, tt.first)
			}
			if got, want := c.KeyFingerprint(), Fingerprint(tt.wantGood); got != want {
				t.Errorf("KeyFingerprint = %q, want %q (the key read last)", got, want)
			}
			var rotations []map[string]any
			for _, r := range syncbuf.Records(t, logs.String()) {
				if r["msg"] == "AssuranceHub API key rotated" {
					rotations = append(rotations, r)
				}
			}
			if len(rotations) != tt.wantRotations {
				t.Fatalf("%d rotation records, want %d:\n%s", len(rotations), tt.wantRotations, logs.String())
			}
			for _, r := range rotations {
				if r["fingerprint"] != Fingerprint(newKey) || r["previous_fingerprint"] != Fingerprint(oldKey) {
					t.Errorf("rotation record %v, want from %s to %s", r, Fingerprint(oldKey), Fingerprint(newKey))
				}
			}
		})
	}
}

// TestActiveKeyFingerprint walks a key source through rotations and
// failures, checking that ActiveKeyFingerprint names the key the next
// request sends, with the same fallback as a request, and sends nothing.
func TestActiveKeyFingerprint(t *testing.T) {
	const nextKey = "ash_test_NEXTnext0123456789abcdefABCDEF"
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()

	static, err := New(WithAPIKey(devKey), WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if fp, err := static.ActiveKeyFingerprint(context.Background()); err != nil || fp != Fingerprint(devKey) {
		t.Errorf("fixed key: ActiveKeyFingerprint = %q, %v; want %q", fp, err, Fingerprint(devKey))
	}

	errSource := errors.New("vault unreachable")
	var mu sync.Mutex
	answer, answerErr := "", errSource
	logs := &logBuffer{}
	c, err := New(WithKeySource(func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return answer, answerErr
	}), WithEnvironment(Development), WithLogger(logs.logger()), WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		key     string
		err     error
		want    string // fingerprint
		wantErr error
	}{
		{"source fails before any good key", "", errSource, "", errSource},
		{"refused key before any good key", liveKey, nil, "", ErrKeyEnvironment},
		{"first good key", devKey, nil, Fingerprint(devKey), nil},
		{"source fails: the last good key", "", errSource, Fingerprint(devKey), nil},
		{"refused key: the last good key", liveKey, nil, Fingerprint(devKey), nil},
		{"rotated", nextKey, nil, Fingerprint(nextKey), nil},
	}
	for _, st := range steps {
		mu.Lock()
		answer, answerErr = st.key, st.err
		mu.Unlock()
		fp, err := c.ActiveKeyFingerprint(context.Background())
		if fp != st.want || !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
			t.Errorf("%s: ActiveKeyFingerprint = %q, %v; want %q, %v", st.name, fp, err, st.want, st.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "CANARY") {
			t.Errorf("%s: error %q holds the key", st.name, err)
		}
		if got := c.KeyFingerprint(); st.want != "" && got != st.want {
			t.Errorf("%s: KeyFingerprint = %q, want %q", st.name, got, st.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the API got %d requests, want none", n)
	}
	var rotated int
	for _, r := range syncbuf.Records(t, logs.String()) {
		if r["msg"] == "AssuranceHub API key rotated" {
			rotated++
		}
	}
	if rotated != 1 {
		t.Errorf("%d rotation records, want 1:\n%s", rotated, logs.String())
	}
}
