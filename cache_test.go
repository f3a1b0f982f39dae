package safecheck

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// testCacheKey returns a distinct cache key for each i.
func testCacheKey(i int) string { return fmt.Sprintf("key-%08d", i) }

// TestVerdictCacheEvictsOldestAtCap fills verdict caches far past their
// cap: the count never exceeds the cap and the newest verdicts are all
// kept, where a full cache used to refuse every new verdict after a full
// scan.
func TestVerdictCacheEvictsOldestAtCap(t *testing.T) {
	tests := []struct {
		max, puts  int
		wantRecent int // the newest verdicts that must all be found
	}{
		{100, 1000, 50},
		{101, 1000, 50},
		{10, 25, 5},
		{3, 30, 1},
		{2, 30, 1},
		{1, 30, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("max %d", tt.max), func(t *testing.T) {
			vc := newVerdictCache(time.Hour, tt.max)
			defer vc.close()
			for i := range tt.puts {
				vc.put(testCacheKey(i), Verdict{Score: float64(i)}, nil)
				if n := vc.len(); n > tt.max {
					t.Fatalf("after %d puts the cache holds %d entries, cap %d", i+1, n, tt.max)
				}
			}
			for i := tt.puts - tt.wantRecent; i < tt.puts; i++ {
				v, ok := vc.get(testCacheKey(i))
				if !ok || v.Score != float64(i) {
					t.Errorf("verdict %d of %d: found %v (%v), want it kept", i, tt.puts, ok, v)
				}
			}
			if _, ok := vc.get(testCacheKey(0)); ok {
				t.Error("the oldest verdict is still there")
			}
		})
	}
}

// TestVerdictCacheConcurrentPuts has workers store and look up verdicts at
// once while the cache rotates: the count stays under the cap and every
// verdict found is the one stored under its key.
func TestVerdictCacheConcurrentPuts(t *testing.T) {
	for _, maxEntries := range []int{1, 10, 100} {
		t.Run(fmt.Sprintf("max %d", maxEntries), func(t *testing.T) {
			vc := newVerdictCache(time.Hour, maxEntries)
			defer vc.close()
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := range 500 {
						k := w*1000 + i
						vc.put(testCacheKey(k), Verdict{Score: float64(k)}, nil)
						if v, ok := vc.get(testCacheKey(k - 1)); ok && v.Score != float64(k-1) {
							t.Errorf("key %d holds the verdict of %v", k-1, v.Score)
						}
						if n := vc.len(); n > maxEntries {
							t.Errorf("%d entries, cap %d", n, maxEntries)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestVerdictCacheTTLAcrossGenerations checks that verdicts expire after
// the TTL in either generation, that a hit in the older generation keeps
// a verdict through the next rotation without extending its TTL, and that
// the janitor empties both generations.
func TestVerdictCacheTTLAcrossGenerations(t *testing.T) {
	const ttl = time.Minute
	type step struct {
		put   string        // a key to store
		sleep time.Duration // then wait this long
		found []string      // keys get must find
		gone  []string      // keys get must miss
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"expiry in both generations", []step{
			{put: "a"}, {put: "b"},
			{put: "c", found: []string{"a", "b", "c"}}, // a and b moved to the older generation
			{sleep: ttl + time.Second, gone: []string{"a", "b", "c"}},
		}},
		{"a hit keeps a verdict but not past its TTL", []step{
			{put: "a"}, {put: "x1"}, {put: "x2"}, // a in the older generation
			{sleep: ttl / 2, found: []string{"a"}}, // copied to the current one
			{put: "y1", found: []string{"a"}},      // rotated: a survives only as a copy
			{sleep: ttl/2 + time.Second, gone: []string{"a"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				vc := newVerdictCache(ttl, 4) // generations of 2
				defer vc.close()
				for i, st := range tt.steps {
					if st.put != "" {
						vc.put(st.put, Verdict{RiskLevel: st.put}, nil)
					}
					time.Sleep(st.sleep)
					for _, k := range st.found {
						if v, ok := vc.get(k); !ok || v.RiskLevel != k {
							t.Errorf("step %d: %s not found", i, k)
						}
					}
					for _, k := range st.gone {
						if _, ok := vc.get(k); ok {
							t.Errorf("step %d: %s found after its TTL", i, k)
						}
					}
				}
				time.Sleep(2 * ttl)
				synctest.Wait()
				if n := vc.len(); n != 0 {
					t.Errorf("%d entries left after the janitor ran past every TTL", n)
				}
			})
		})
	}
}

// BenchmarkVerdictCache measures put in a cache with room (the baseline)
// and in a full cache, where every put evicts.
func BenchmarkVerdictCache(b *testing.B) {
	const maxEntries = 10_000
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = testCacheKey(i)
	}
	b.Run("put_below_cap", func(b *testing.B) {
		b.ReportAllocs()
		vc := newVerdictCache(time.Hour, maxEntries)
		i := 0
		for b.Loop() {
			if i == maxEntries/4 {
				// Start again with an empty cache before it gets full.
				b.StopTimer()
				vc.close()
				vc = newVerdictCache(time.Hour, maxEntries)
				i = 0
				b.StartTimer()
			}
			vc.put(keys[i], Verdict{}, nil)
			i++
		}
		vc.close()
	})
	b.Run("put_at_cap", func(b *testing.B) {
		b.ReportAllocs()
		vc := newVerdictCache(time.Hour, maxEntries)
		defer vc.close()
		for i := range 2 * maxEntries {
			vc.put(keys[i], Verdict{}, nil)
		}
		i := 2 * maxEntries
		for b.Loop() {
			vc.put(keys[i%len(keys)], Verdict{}, nil)
			i++
		}
	})
}

// TestFullCacheKeepsCachingNewVerdicts fills a Guard's verdict cache far
// past its cap with distinct samples: a new verdict is still cached, so the
// same exchange again is a cache hit, not another call.
func TestFullCacheKeepsCachingNewVerdicts(t *testing.T) {
	const maxEntries = 10
	rec := &recorder{}
	g := newGuard(t, rec, WithCache(time.Hour, maxEntries), WithCPUBudget(0))
	h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
	for i := range 5 * maxEntries {
		serve(h, fmt.Sprintf("filler %d", i))
	}
	if err := g.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := g.cache.len(); n > maxEntries {
		t.Fatalf("the cache holds %d verdicts, cap %d", n, maxEntries)
	}
	for i := range 3 {
		serve(h, fmt.Sprintf("new question %d", i))
		if err := g.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		serve(h, fmt.Sprintf("new question %d", i))
		if err := g.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	s := g.Stats()
	if s.CacheHits != 3 || s.Checked != 5*maxEntries+3 || len(rec.requests()) != 5*maxEntries+3 {
		t.Errorf("cache hits %d, checked %d, calls %d; want every repeat answered by the cache",
			s.CacheHits, s.Checked, len(rec.requests()))
	}
	checkAccounting(t, s)
}

// TestTextsKeysAreEachTestTypesKey checks that the keys textsKeys makes in
// one allocation are textsKey's, test type by test type, for short and long
// lists of test types.
func TestTextsKeysAreEachTestTypesKey(t *testing.T) {
	th := hashTexts("a prompt", "a response")
	tests := []struct {
		name      string
		testTypes []string
	}{
		{"one", []string{"toxicity"}},
		{"three", []string{"toxicity", "jailbreak", "pii"}},
		{"more than the stack buffer", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := textsKeys(tt.testTypes, th)
			if len(keys) != 16*len(tt.testTypes) {
				t.Fatalf("len(keys) = %d, want %d", len(keys), 16*len(tt.testTypes))
			}
			for i, testType := range tt.testTypes {
				if got, want := keys[16*i:16*i+16], textsKey(testType, th); got != want {
					t.Errorf("key %d (%s) = %x, want %x", i, testType, got, want)
				}
				if got, want := keys[16*i:16*i+16], cacheKey(testType, "a prompt", "a response"); got != want {
					t.Errorf("key %d (%s) = %x, cacheKey %x", i, testType, got, want)
				}
			}
		})
	}
}
