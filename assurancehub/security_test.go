package assurancehub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/safecheck/safecheck/internal/syncbuf"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

// Fake keys. Each carries a marker that must never appear in any output.
const (
	oldKey    = "ash_test_OLDMARKER0123456789abcdefabcdef"
	newKey    = "ash_test_NEWMARKER0123456789abcdefabcdef"
	liveKey   = "ash_live_LIVEMARKER123456789abcdefabcdef"
	canaryKey = "ash_test_CANARYMARKER3456789abcdefabcdef"
)

var keyMarkers = []string{"OLDMARKER", "NEWMARKER", "LIVEMARKER", "CANARYMARKER"}

var request = assurancehub.Request{
	Prompt:   "What is the capital of France?",
	Response: "The capital of France is Paris.",
}

// syncBuffer is a log sink read while background goroutines write to it.
type syncBuffer = syncbuf.Buffer

func startServer(t *testing.T, opts ...assurancehubtest.Option) *assurancehubtest.Server {
	t.Helper()
	srv, err := assurancehubtest.NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// replaceFile swaps the key file atomically, as a mounted secret is updated.
func replaceFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func noMarkers(t *testing.T, what, s string) {
	t.Helper()
	for _, m := range keyMarkers {
		if strings.Contains(s, m) {
			t.Errorf("%s holds key material %q:\n%s", what, m, s)
		}
	}
}

// TestKeyRotationWhileChecksRun rotates a mounted key file while four
// goroutines keep calling the API: no call fails, every call carries one
// of the two keys, and once the new key is seen the old one is not used
// again.
func TestKeyRotationWhileChecksRun(t *testing.T) {
	srv := startServer(t, assurancehubtest.WithAPIKeys(oldKey, newKey))
	path := filepath.Join(t.TempDir(), "assurancehub-api-key")
	replaceFile(t, path, oldKey+"\n")
	logs := &syncBuffer{}
	c, err := assurancehub.New(assurancehub.WithKeyFile(path), assurancehub.WithBaseURL(srv.URL),
		assurancehub.WithEnvironment(assurancehub.Development), assurancehub.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()

	const before = 12
	for range before {
		if _, err := c.Evaluate(ctx, assurancehub.Bias, request); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.RequestsWithKey(oldKey); got != before {
		t.Fatalf("old key used %d times, want %d", got, before)
	}

	var (
		calls, failures atomic.Int64
		stopped         atomic.Bool
		wg              sync.WaitGroup
		progress        = make(chan struct{}, 1024)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped.Load() {
				if _, err := c.Evaluate(ctx, assurancehub.Toxicity, request); err != nil {
					failures.Add(1)
				}
				calls.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 40 {
		<-progress
	}
	replaceFile(t, path, newKey+"\n")
	for srv.RequestsWithKey(newKey) < 40 {
		<-progress
		if calls.Load() > 5000 {
			t.Error("the new key is not being used")
			break
		}
	}
	stopped.Store(true)
	wg.Wait()

	if n := failures.Load(); n != 0 {
		t.Errorf("%d calls failed during the rotation", n)
	}
	during := int(calls.Load())
	oldUsed, newUsed := srv.RequestsWithKey(oldKey)-before, srv.RequestsWithKey(newKey)
	if oldUsed+newUsed != during || oldUsed < 40 || newUsed < 40 {
		t.Errorf("during the rotation: old key %d + new key %d, want %d calls split with at least 40 each", oldUsed, newUsed, during)
	}
	if got := srv.Requests(assurancehub.Toxicity); got != during {
		t.Errorf("server evaluated %d toxicity requests, want %d", got, during)
	}

	const after = 10
	for range after {
		if _, err := c.Evaluate(ctx, assurancehub.Bias, request); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.RequestsWithKey(newKey); got != newUsed+after {
		t.Errorf("new key used %d times, want %d", got, newUsed+after)
	}
	if got := srv.RequestsWithKey(oldKey); got != before+oldUsed {
		t.Errorf("old key used %d times after the rotation, want still %d", got, before+oldUsed)
	}
	if c.KeyFingerprint() != assurancehub.Fingerprint(newKey) {
		t.Errorf("KeyFingerprint = %q, want the new key's %q", c.KeyFingerprint(), assurancehub.Fingerprint(newKey))
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"AssuranceHub API key rotated","fingerprint":"`+assurancehub.Fingerprint(newKey)) {
		t.Errorf("rotation not logged with the new fingerprint:\n%s", out)
	}
	noMarkers(t, "log", out)
}

// TestRotatedKeyOfTheWrongKindIsRefused rotates the key file of a
// development client to a live key that the API would accept: the client
// keeps the last good test key.
func TestRotatedKeyOfTheWrongKindIsRefused(t *testing.T) {
	srv := startServer(t, assurancehubtest.WithAPIKeys(oldKey, liveKey))
	path := filepath.Join(t.TempDir(), "key")
	replaceFile(t, path, oldKey)
	logs := &syncBuffer{}
	c, err := assurancehub.New(assurancehub.WithKeyFile(path), assurancehub.WithBaseURL(srv.URL),
		assurancehub.WithEnvironment(assurancehub.Development), assurancehub.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	replaceFile(t, path, liveKey)
	for range 5 {
		if _, err := c.Evaluate(context.Background(), assurancehub.Bias, request); err != nil {
			t.Fatal(err)
		}
	}
	if o, l := srv.RequestsWithKey(oldKey), srv.RequestsWithKey(liveKey); o != 5 || l != 0 {
		t.Errorf("test key used %d times, live key %d; want 5 and 0", o, l)
	}
	out := logs.String()
	if n := strings.Count(out, "still sending the last good key"); n != 1 {
		t.Errorf("refusal logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "refused in development") {
		t.Errorf("log does not say why the key was refused:\n%s", out)
	}
	noMarkers(t, "log", out)
}

func TestSignedRequestsAreVerifiedByTheFakeServer(t *testing.T) {
	secret := []byte("shared secret for the gateway")
	srv := startServer(t, assurancehubtest.WithHMACVerification("gw-1", secret))
	good, err := assurancehub.HMACSigner("gw-1", secret)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, _ := assurancehub.HMACSigner("gw-1", []byte("another secret, same length!!"))
	wrongID, _ := assurancehub.HMACSigner("gw-2", secret)
	tests := []struct {
		name   string
		signer assurancehub.RequestSigner
		ok     bool
	}{
		{"signed", good, true},
		{"unsigned", nil, false},
		{"wrong secret", wrongSecret, false},
		{"wrong key id", wrongID, false},
	}
	evaluated := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []assurancehub.Option{assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(srv.URL)}
			if tt.signer != nil {
				opts = append(opts, assurancehub.WithRequestSigner(tt.signer))
			}
			c, err := assurancehub.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			_, err = c.Evaluate(context.Background(), assurancehub.PII, request)
			if tt.ok {
				evaluated++
				if err != nil {
					t.Fatal(err)
				}
			} else if !assurancehub.IsUnauthorized(err) || !strings.Contains(err.Error(), "signature") {
				t.Fatalf("err = %v, want 401 for the signature", err)
			}
			if got := srv.Requests(assurancehub.PII); got != evaluated {
				t.Errorf("server evaluated %d requests, want %d", got, evaluated)
			}
		})
	}
}

// TestCanaryKeyNeverInAnyOutput makes the API echo the key back in every
// kind of answer and checks every output the client produces.
func TestCanaryKeyNeverInAnyOutput(t *testing.T) {
	echo := func(k string) assurancehubtest.Scorer {
		return func(testType string, req assurancehub.Request) assurancehub.Result {
			res := assurancehubtest.NewResult(testType, 0)
			raw, _ := json.Marshal(map[string]any{"evaluation": res.Evaluation, "final_consensus_score": 0,
				"model_execution": map[string]string{"authorization": "Bearer " + k, "note": "key " + k + " used"}})
			res.Raw = raw
			return res
		}
	}
	path := filepath.Join(t.TempDir(), "key")
	replaceFile(t, path, canaryKey)
	srv := startServer(t, assurancehubtest.WithAPIKeys(canaryKey, newKey), assurancehubtest.WithScorer(echo(canaryKey)))
	logs := &syncBuffer{}
	c, err := assurancehub.New(assurancehub.WithKeyFile(path), assurancehub.WithBaseURL(srv.URL),
		assurancehub.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	srv.FailNext(
		assurancehubtest.Fault{Status: 401, Body: `{"error":"Invalid API key ` + canaryKey + `"}`},
		assurancehubtest.Fault{Status: 500, Body: "upstream said: Authorization: Bearer " + canaryKey},
		assurancehubtest.Fault{Status: 422, Body: `{"detail":[{"msg":"bad header","input":"` + canaryKey + `"}]}`},
		assurancehubtest.Fault{Status: 429, RetryAfter: "1", Body: `{"message":"slow down, ` + canaryKey + `"}`},
	)
	var out strings.Builder
	for i := range 5 {
		if i == 4 {
			replaceFile(t, path, "not a key: "+canaryKey) // a refused rotation is logged
		}
		res, err := c.Evaluate(context.Background(), assurancehub.Bias, request)
		fmt.Fprintf(&out, "%v|%+v|%#v|", err, err, err)
		var apiErr *assurancehub.APIError
		if errors.As(err, &apiErr) {
			fmt.Fprintf(&out, "%s|%s|", apiErr.Message, apiErr.Body)
		}
		if res != nil {
			fmt.Fprintf(&out, "%s|%s|%+v|", res.Raw, res.ModelExecution, *res)
		}
		if (i < 4) != (err != nil) {
			t.Errorf("call %d: err = %v", i, err)
		}
	}
	out.WriteString(c.KeyFingerprint())
	out.WriteString(logs.String())
	noMarkers(t, "output", out.String())
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Errorf("no echo was redacted; did the API echo anything?\n%s", out.String())
	}
	if !strings.Contains(logs.String(), "still sending the last good key") {
		t.Errorf("the refused rotation was not logged:\n%s", logs.String())
	}
}
