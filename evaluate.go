package safecheck

import (
	"context"
	"time"

	"golang.org/x/sync/singleflight"
)

// evaluate answers req from the cache, from an identical check in flight, or
// through the policies, in that order. The call itself runs under the
// Guard's own context, so each caller waits only as long as its ctx allows
// and a caller giving up never cancels the call for the others.
func (g *Guard) evaluate(ctx context.Context, req CheckRequest) (v Verdict, cached bool, attempts int, d time.Duration, err error) {
	return g.evaluateKey(ctx, req, cacheKey(req.TestType, req.Prompt, req.Response), nil, nil, nil)
}

// evaluateKey is evaluate for req, whose cache key is key. It adds the
// time it waited (for the checker, a pause, a permit, a retry or an
// identical check in flight) to *waited, when waited is not nil, and sets
// *end, when end is not nil, to the time it read when the check ended
// (left alone on a cache hit, which reads no clock). Its flight and the
// cell its verdict is cached in come from cells (nil: made one by one).
func (g *Guard) evaluateKey(ctx context.Context, req CheckRequest, key string, waited *time.Duration, end *time.Time, cells *sampleCells) (v Verdict, cached bool, attempts int, d time.Duration, err error) {
	if v, ok := g.cache.get(key); ok {
		return v, true, 0, 0, nil
	}
	start := time.Now()
	f := cells.flight()
	*f = flight{g: g, key: key, req: req, start: start, cells: cells}
	var res singleflight.Result
	if ctx == g.workCtx {
		// A sample's own deadline is the Guard's: wait in place, without a
		// goroutine for the call.
		res.Val, res.Err, _ = g.cache.flight(key).Do(key, f.run)
	} else {
		select {
		case res = <-g.cache.flight(key).DoChan(key, f.run):
		case <-ctx.Done():
			return Verdict{}, false, 0, time.Since(start), classify(ctx.Err())
		}
	}
	d = time.Since(start) // one read of the monotonic clock, where time.Now also reads the wall clock
	now := start.Add(d)
	if end != nil {
		*end = now
	}
	if waited != nil {
		if f.ran {
			*waited += f.waited
		} else {
			*waited += d // another caller's check ran meanwhile
		}
	}
	// The flight that ran is this caller's own, or the identical one that
	// was in flight first; only the one that ran made calls.
	lead, _ := res.Val.(*flight)
	if !f.ran {
		attempts = 0
	} else {
		attempts = f.attempts
	}
	if res.Err != nil {
		return Verdict{}, false, attempts, d, classify(res.Err)
	}
	if lead != nil {
		v = lead.v
	}
	return v, !f.ran, attempts, d, nil
}

// flight is one check handed to the in-flight dedupe: its request, and
// what the call gave once it ran. The caller whose flight runs reads it
// after Do returns; the others read the leader's, which Do returns as its
// value.
type flight struct {
	g        *Guard
	key      string
	req      CheckRequest
	v        Verdict
	attempts int
	ran      bool
	waited   time.Duration // time the policies waited, not working
	start    time.Time     // when the caller began: the first attempt starts its clock there
	actx     attemptCtx    // the first attempt's context, allocated with the flight
	cells    *sampleCells  // where the verdict is cached
}

func (f *flight) run() (any, error) {
	g := f.g
	// An identical check may have finished between the lookup and this
	// call: its verdict is in the cache's current generation now.
	if v, ok := g.cache.recent(f.key); ok {
		f.v = v
		return f, nil
	}
	first := firstAttempt{now: f.start, ctx: &f.actx, lane: f.cells.cpuLane()}
	if g.fleet != nil {
		first.lane.release()    // the fleet's round trips wait
		first.now = time.Time{} // the lookup may wait: the attempt reads the clock
		start := time.Now()
		v, ok := g.fleet.lookup(g.workCtx, f.req) // the fleet's cache: a round trip, waited
		stopwatch(&f.waited, start)
		if ok {
			g.cache.put(f.key, v, f.cells)
			f.v = v
			return f, nil
		}
	}
	f.ran = true
	var (
		v        Verdict
		attempts int
		err      error
	)
	var waited *time.Duration
	if g.budget.on() {
		waited = &f.waited // waits are only subtracted from wall time
	}
	v, attempts, err = g.policy.run(g.workCtx, g.checker, f.req, waited, first)
	f.v, f.attempts = v, attempts
	if err == nil {
		g.cache.put(f.key, v, f.cells)
		if g.fleet != nil {
			start := time.Now()
			g.fleet.store(g.workCtx, f.req, v)
			stopwatch(&f.waited, start)
		}
	}
	return f, err
}

// sampleCells hands out what one sample's checks keep on the heap, made in
// one allocation of each kind for all its test types instead of one per
// check: the flights, and the cells new verdicts are cached in, which are
// never written again. A nil *sampleCells makes each on its own; a sample
// needs at most n of each.
type sampleCells struct {
	n        int
	verdicts []Verdict
	flights  []flight
	lane     *lane // the worker's CPU lane, given up before a wait (lanes.go)
}

// cpuLane returns the CPU lane the sample's worker holds, or nil.
func (s *sampleCells) cpuLane() *lane {
	if s == nil {
		return nil
	}
	return s.lane
}

func (s *sampleCells) verdict() *Verdict {
	if s == nil {
		return new(Verdict)
	}
	return takeCell(&s.verdicts, s.n)
}

func (s *sampleCells) flight() *flight {
	if s == nil {
		return new(flight)
	}
	return takeCell(&s.flights, s.n)
}

// takeCell returns the first cell of *cells, which it first makes n long
// when it is empty, and removes it from *cells.
func takeCell[T any](cells *[]T, n int) *T {
	if len(*cells) == 0 {
		*cells = make([]T, max(n, 1))
	}
	c := &(*cells)[0]
	*cells = (*cells)[1:]
	return c
}
