package safecheckredis_test

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	safecheckredis "github.com/safecheck/safecheck/adapters/redis"
)

// TestNewValidates: bad configuration is a clear error from New, naming
// the case; the secret is never in it.
func TestNewValidates(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, tc := range []struct {
		name string
		opts []safecheckredis.Option
		want string
	}{
		{"no secret", nil, "at least 16 bytes, got 0"},
		{"short secret", []safecheckredis.Option{safecheckredis.WithSecret([]byte("short-secret"))}, "at least 16 bytes, got 12"},
		{"nil option", []safecheckredis.Option{nil}, "option 1 is nil"},
		{"braces", []safecheckredis.Option{safecheckredis.WithSecret(secret), safecheckredis.WithPrefix("a{b}")}, "no braces"},
		{"empty prefix", []safecheckredis.Option{safecheckredis.WithSecret(secret), safecheckredis.WithPrefix("")}, "prefix must be non-empty"},
		{"share", []safecheckredis.Option{safecheckredis.WithSecret(secret), safecheckredis.WithLocalShare(0)}, "local share"},
		{"resync", []safecheckredis.Option{safecheckredis.WithSecret(secret), safecheckredis.WithResync(0)}, "resync"},
		{"timeout", []safecheckredis.Option{safecheckredis.WithSecret(secret), safecheckredis.WithTimeout(-1)}, "timeout"},
		{"name", []safecheckredis.Option{safecheckredis.WithSecret(secret), safecheckredis.WithReplicaName("")}, "replica name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := safecheckredis.New(rdb, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
	if _, err := safecheckredis.New(nil, safecheckredis.WithSecret(secret)); err == nil {
		t.Error("New(nil) succeeded")
	}
	c, err := safecheckredis.New(rdb, safecheckredis.WithSecret(secret), safecheckredis.WithPrefix("shop"))
	if err != nil {
		t.Fatal(err)
	}
	state, channel, budget, verdicts := c.Keys()
	for _, k := range []string{state, channel, budget, verdicts} {
		if !strings.Contains(k, "{shop}") {
			t.Errorf("key %q is outside the hash tag {shop}", k)
		}
	}
}
