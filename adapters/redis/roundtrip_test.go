package safecheckredis_test

import (
	"context"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck"
	safecheckredis "github.com/safecheck/safecheck/adapters/redis"
	"github.com/safecheck/safecheck/adapters/redis/redistest"
)

// commands counts the commands a client sends, by name.
type commands struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *commands) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.n[cmd.Name()]++
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.n["pipeline"]++
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *commands) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// TestRoundTripsPerCheckedSample counts the Redis commands of one sample
// of one test type, beside the resyncs: checked by the API, 3 (the shared
// cache's GET, the budget's EVALSHA, the verdict's SET); answered from the
// shared cache, 1 (GET); unsampled, none.
func TestRoundTripsPerCheckedSample(t *testing.T) {
	srv := redistest.ForTest(t)
	fake := newFake(t)
	rdb := srv.Client()
	defer rdb.Close()
	count := &commands{n: map[string]int{}}
	rdb.AddHook(count)
	c, err := safecheckredis.New(rdb, safecheckredis.WithSecret(secret), safecheckredis.WithPrefix(t.Name()),
		safecheckredis.WithResync(1<<40)) // no resync during the count
	if err != nil {
		t.Fatal(err)
	}
	a := newFleet(t, fake, fleetOpts{n: 1, rate: 1, guard: []safecheck.Option{safecheck.WithCoordinator(c), safecheck.WithRateLimit(600000)}})[0]
	c2, err := safecheckredis.New(rdb, safecheckredis.WithSecret(secret), safecheckredis.WithPrefix(t.Name()),
		safecheckredis.WithResync(1<<40))
	if err != nil {
		t.Fatal(err)
	}
	b := newFleet(t, fake, fleetOpts{n: 1, rate: 1, guard: []safecheck.Option{safecheck.WithCoordinator(c2), safecheck.WithRateLimit(600000)}})[0]
	a.serve("warm-up: loads the budget script")
	a.flush(t)
	count.take()

	a.serve("a question checked by the API")
	a.flush(t)
	checked := count.take()
	if want := map[string]int{"get": 1, "evalsha": 1, "set": 1}; !equal(checked, want) {
		t.Errorf("commands for a checked sample %v, want %v", checked, want)
	}
	// Replica b answers the same question from the shared cache: one GET.
	b.serve("a question checked by the API")
	b.flush(t)
	if got, want := count.take(), map[string]int{"get": 1}; !equal(got, want) {
		t.Errorf("commands for a shared cache hit %v, want %v", got, want)
	}
	// a asks for nothing more: its local cache has the verdict.
	a.serve("a question checked by the API")
	a.flush(t)
	if got := count.take(); len(got) != 0 {
		t.Errorf("a local cache hit sent %v", got)
	}
	if s := b.g.Stats(); s.CacheHits != 1 {
		t.Errorf("replica b: %d cache hits, want 1", s.CacheHits)
	}
	t.Logf("Redis round trips: %d per sample checked by the API (%v), 1 per shared cache hit, 0 per local cache hit or unsampled request",
		checked["get"]+checked["evalsha"]+checked["set"], checked)
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
