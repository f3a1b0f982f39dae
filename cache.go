package safecheck

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"
)

// verdictCache holds verdicts by a hash of test type and texts, with a TTL
// and an entry cap, and makes identical checks in flight only once.
type verdictCache struct {
	c       *gocache.Cache // nil when caching is off
	max     int
	flight  singleflight.Group
	hits    atomic.Uint64
	misses  atomic.Uint64
	skipped atomic.Uint64 // verdicts not stored because the cache was full
	stop    chan struct{}
	done    sync.WaitGroup
}

func newVerdictCache(ttl time.Duration, maxEntries int) *verdictCache {
	vc := &verdictCache{max: maxEntries, stop: make(chan struct{})}
	if ttl <= 0 {
		return vc
	}
	// Cleanup interval 0: go-cache starts no janitor; ours stops with Close.
	vc.c = gocache.New(ttl, 0)
	interval := min(max(ttl/2, time.Second), time.Minute)
	vc.done.Add(1)
	go func() {
		defer vc.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				vc.c.DeleteExpired()
			case <-vc.stop:
				return
			}
		}
	}()
	return vc
}

// keySeeds are this process's secret seeds for cache keys. With them
// unknown, nobody can craft two inputs whose keys collide, so a verdict
// for one text can never be served for another.
var keySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// cacheKey hashes the test type and both texts into 128 bits; no content
// is kept. maphash reads the strings in place at memory speed, where
// SHA-256 cost more than extracting the text.
func cacheKey(testType, prompt, response string) string {
	var key [16]byte
	for i, seed := range keySeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(testType)
		h.WriteByte(0)
		h.WriteString(prompt)
		h.WriteByte(0)
		h.WriteString(response)
		binary.LittleEndian.PutUint64(key[8*i:], h.Sum64())
	}
	return string(key[:])
}

func (vc *verdictCache) get(key string) (Verdict, bool) {
	if vc.c == nil {
		return Verdict{}, false
	}
	if v, ok := vc.c.Get(key); ok {
		vc.hits.Add(1)
		return v.(Verdict), true
	}
	vc.misses.Add(1)
	return Verdict{}, false
}

// peek looks key up without counting a hit or a miss.
func (vc *verdictCache) peek(key string) (Verdict, bool) {
	if vc.c == nil {
		return Verdict{}, false
	}
	v, ok := vc.c.Get(key)
	if !ok {
		return Verdict{}, false
	}
	return v.(Verdict), true
}

func (vc *verdictCache) put(key string, v Verdict) {
	if vc.c == nil {
		return
	}
	if vc.c.ItemCount() >= vc.max {
		vc.c.DeleteExpired()
		if vc.c.ItemCount() >= vc.max {
			vc.skipped.Add(1)
			return
		}
	}
	vc.c.SetDefault(key, v)
}

// lookups returns how many lookups found a verdict and how many did not.
func (vc *verdictCache) lookups() (hits, misses uint64) {
	return vc.hits.Load(), vc.misses.Load()
}

func (vc *verdictCache) len() int {
	if vc.c == nil {
		return 0
	}
	return vc.c.ItemCount()
}

func (vc *verdictCache) close() {
	close(vc.stop)
	vc.done.Wait()
}
