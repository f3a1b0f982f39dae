package safecheck

import (
	"math"
	"sync/atomic"
	"time"
)

// laneHoldMax is the longest a worker keeps its lane on one sample: a
// wait nothing announced (a checker that blocks without asking for its
// context's Done, a slow log sink, an identical check in flight) gives the
// lane up after it, so that it stalls the other workers that long at most.
// A sample's CPU work takes tens of microseconds.
const laneHoldMax = 2 * time.Millisecond

// lanesFor returns how many workers may do the pipeline's CPU work at
// once: share of GOMAXPROCS, rounded up, at least one; with the budget off
// (share 0), the default share's. Workers running in parallel on a few
// CPUs cost each other more than they gain (BenchmarkPipeline: about a
// fifth more CPU per sample with ten workers than with one on two CPUs),
// and the lanes bound the pipeline's burst on the host as the budget
// bounds its average.
func lanesFor(share float64, procs int) int {
	if share <= 0 {
		share = defaultCPUShare
	}
	return max(1, int(math.Ceil(share*float64(procs))))
}

// lane is one worker's hold on a CPU lane, from before it waits for a
// sample until a sample's work waits. The worker gives the lane up
// (release) before anything that waits: the
// checker asking for its context's Done (a call on the network), a
// Retry-After pause or a permit, a retry's backoff, the fleet's round
// trips, the application's hooks; and, whatever it is doing, once it has
// held the lane laneHoldMax on one sample (the watchdog). It then finishes
// the sample without a lane, so a worker never waits for a lane while it
// holds anything another worker needs.
type lane struct {
	lanes    chan struct{}
	held     atomic.Bool // Done may be called from the checker's goroutines, the watchdog from its own
	watchdog *time.Timer
}

func newLane(lanes chan struct{}) *lane {
	l := &lane{lanes: lanes}
	l.watchdog = time.AfterFunc(time.Hour, l.release)
	l.watchdog.Stop()
	return l
}

// take blocks until a lane is free or quit is closed; it reports whether
// it took one.
func (l *lane) take(quit <-chan struct{}) bool {
	select {
	case l.lanes <- struct{}{}:
		l.held.Store(true)
		return true
	case <-quit:
		return false
	}
}

// release gives the lane up, once; it is safe on a nil lane and from any
// goroutine.
func (l *lane) release() {
	if l != nil && l.held.CompareAndSwap(true, false) {
		<-l.lanes
	}
}

// holding reports whether the worker still holds its lane.
func (l *lane) holding() bool { return l != nil && l.held.Load() }

// work checks samples as they come. A worker takes a CPU lane before it
// waits for a sample and keeps it from one sample to the next, so that
// only lane holders wait on the queue: a batch wakes one worker per lane,
// which checks it through, while the others sleep until a lane is given
// up (a worker that gave its lane up to wait finishes its sample without
// one, then takes a lane again). A sample taken is always processed, even
// if the lane went meanwhile (a watchdog that Stop came too late for).
func (g *Guard) work() {
	defer g.workers.Done()
	l := newLane(g.lanes)
	defer l.watchdog.Stop()
	for {
		if !l.holding() && !l.take(g.quit) {
			return
		}
		select {
		case c := <-g.queue.work:
			l.watchdog.Reset(laneHoldMax)
			g.process(c, l)
			l.watchdog.Stop()
		case <-g.quit:
			l.release()
			return
		}
	}
}
