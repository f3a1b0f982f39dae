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
//
// The cap is kept without scanning: verdicts go to the current of two
// generations, and when it has taken half the cap the older generation is
// dropped whole and the current one becomes the older. A lookup tries the
// current generation, then the older. Each generation spreads its keys
// over cacheShards go-caches, one lock each.
type verdictCache struct {
	ttl     time.Duration // 0 when caching is off
	genMax  int64         // inserts a generation takes before it rotates
	keep    bool          // the older generation is kept (false when the cap is 1)
	cur     atomic.Pointer[generation]
	prev    atomic.Pointer[generation]
	rotate  sync.Mutex                      // held to replace cur and prev
	flights [cacheShards]singleflight.Group // by the key's shard, as the generations' go-caches
	hits    atomic.Uint64
	misses  atomic.Uint64
	stop    chan struct{}
	done    sync.WaitGroup
}

// cacheShards is the number of go-caches a generation spreads its keys
// over, so that workers storing and looking up verdicts rarely wait on
// each other's lock.
const cacheShards = 8

// generation is cacheShards go-caches, each holding the keys whose last
// byte selects it, and the count of inserts they have taken.
type generation struct {
	shards  [cacheShards]*gocache.Cache
	inserts atomic.Int64
}

// shardOf returns the shard of key, among cacheShards.
func shardOf(key string) int {
	if key == "" {
		return 0
	}
	return int(key[len(key)-1] % cacheShards)
}

// flight returns the in-flight dedupe that identical checks of key meet in.
func (vc *verdictCache) flight(key string) *singleflight.Group { return &vc.flights[shardOf(key)] }

// c returns the go-cache that holds key.
func (g *generation) c(key string) *gocache.Cache {
	return g.shards[shardOf(key)]
}

// deleteExpired removes the expired verdicts of every shard.
func (g *generation) deleteExpired() {
	for _, c := range g.shards {
		c.DeleteExpired()
	}
}

// itemCount returns the verdicts held by every shard, expired ones not
// yet removed included.
func (g *generation) itemCount() int {
	n := 0
	for _, c := range g.shards {
		n += c.ItemCount()
	}
	return n
}

// maxPresized bounds the entries a generation's maps are made for.
const maxPresized = 1 << 14

// newGeneration returns an empty generation whose map is made for size
// entries (at most maxPresized): a generation that replaces a full one is
// made for the inserts it will take, so its map never grows under the lock.
func newGeneration(ttl time.Duration, size int64) *generation {
	g := &generation{}
	for i := range g.shards {
		// Cleanup interval 0: go-cache starts no janitor; ours stops with Close.
		g.shards[i] = gocache.NewFrom(ttl, 0, make(map[string]gocache.Item, min(size, maxPresized)/cacheShards))
	}
	return g
}

func newVerdictCache(ttl time.Duration, maxEntries int) *verdictCache {
	vc := &verdictCache{stop: make(chan struct{})}
	if ttl <= 0 {
		return vc
	}
	vc.ttl = ttl
	vc.genMax = int64(max(maxEntries/2, 1))
	vc.keep = 2*vc.genMax <= int64(maxEntries)
	vc.cur.Store(newGeneration(ttl, 0))
	vc.prev.Store(newGeneration(ttl, 0))
	interval := min(max(ttl/2, time.Second), time.Minute)
	vc.done.Add(1)
	go func() {
		defer vc.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				vc.cur.Load().deleteExpired()
				vc.prev.Load().deleteExpired()
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
	return textsKey(testType, hashTexts(prompt, response))
}

// textHash is the keyed 128-bit hash of a prompt and a response, computed
// once per sample and combined with each test type by textsKey.
type textHash [2]uint64

func hashTexts(prompt, response string) textHash {
	var th textHash
	for i, seed := range keySeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(prompt)
		h.WriteByte(0)
		h.WriteString(response)
		th[i] = h.Sum64()
	}
	return th
}

// textsKey is the cache key of testType for the texts hashed as th.
func textsKey(testType string, th textHash) string {
	var key [16]byte
	putTextsKey(key[:], testType, th)
	return string(key[:])
}

// textsKeys returns the cache keys of every test type for the texts hashed
// as th, made in one allocation: key i is keys[16*i : 16*i+16].
func textsKeys(testTypes []string, th textHash) (keys string) {
	var small [8 * 16]byte
	buf := small[:0]
	if n := 16 * len(testTypes); n > len(small) {
		buf = make([]byte, 0, n)
	}
	for _, tt := range testTypes {
		buf = buf[:len(buf)+16]
		putTextsKey(buf[len(buf)-16:], tt, th)
	}
	return string(buf)
}

// putTextsKey writes the 16-byte cache key of testType for th into key.
func putTextsKey(key []byte, testType string, th textHash) {
	var in [16]byte
	binary.LittleEndian.PutUint64(in[:], th[0])
	binary.LittleEndian.PutUint64(in[8:], th[1])
	for i, seed := range keySeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(testType)
		h.WriteByte(0)
		h.Write(in[:])
		binary.LittleEndian.PutUint64(key[8*i:], h.Sum64())
	}
}

func (vc *verdictCache) get(key string) (Verdict, bool) {
	if vc.ttl == 0 {
		return Verdict{}, false
	}
	if v, ok := vc.peek(key); ok {
		vc.hits.Add(1)
		return v, true
	}
	vc.misses.Add(1)
	return Verdict{}, false
}

// peek looks key up without counting a hit or a miss. A verdict found in
// the older generation moves to the current one, with the time it has
// left, so that verdicts in use outlive the next rotation.
func (vc *verdictCache) peek(key string) (Verdict, bool) {
	if vc.ttl == 0 {
		return Verdict{}, false
	}
	if v, ok := vc.cur.Load().c(key).Get(key); ok {
		return *v.(*Verdict), true
	}
	prev := vc.prev.Load()
	v, exp, ok := prev.c(key).GetWithExpiration(key)
	if !ok {
		return Verdict{}, false
	}
	if left := time.Until(exp); left > 0 {
		vc.store(key, v, left)
		prev.c(key).Delete(key)
	}
	return *v.(*Verdict), true
}

// recent looks key up in the current generation only, without counting:
// for a verdict stored since a lookup missed, which went there (unless a
// rotation came in between, and then the check is only made again).
func (vc *verdictCache) recent(key string) (Verdict, bool) {
	if vc.ttl == 0 {
		return Verdict{}, false
	}
	if v, ok := vc.cur.Load().c(key).Get(key); ok {
		return *v.(*Verdict), true
	}
	return Verdict{}, false
}

// put caches v under key in a cell of cells, which is then never written
// again: the cache holds the pointer, and a pointer is stored in go-cache's
// interface value without an allocation of its own.
func (vc *verdictCache) put(key string, v Verdict, cells *sampleCells) {
	if vc.ttl == 0 {
		return
	}
	cell := cells.verdict()
	*cell = v
	vc.store(key, cell, gocache.DefaultExpiration)
}

// store puts v in the current generation, rotating first when that is full.
func (vc *verdictCache) store(key string, v any, d time.Duration) {
	for {
		g := vc.cur.Load()
		if g.inserts.Add(1) <= vc.genMax {
			g.c(key).Set(key, v, d)
			return
		}
		vc.rotate.Lock()
		if vc.cur.Load() == g {
			older := newGeneration(vc.ttl, 0)
			if vc.keep {
				older = g
			}
			vc.prev.Store(older)
			vc.cur.Store(newGeneration(vc.ttl, vc.genMax)) // the last one filled: traffic will fill this one too
		}
		vc.rotate.Unlock()
	}
}

// lookups returns how many lookups found a verdict and how many did not.
func (vc *verdictCache) lookups() (hits, misses uint64) {
	return vc.hits.Load(), vc.misses.Load()
}

// len returns the number of verdicts held, expired ones not yet removed
// included.
func (vc *verdictCache) len() int {
	if vc.ttl == 0 {
		return 0
	}
	return vc.cur.Load().itemCount() + vc.prev.Load().itemCount()
}

func (vc *verdictCache) close() {
	close(vc.stop)
	vc.done.Wait()
}
