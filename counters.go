package safecheck

import (
	"sync"
	"sync/atomic"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"
)

// dropReason indexes the drop counters, so that counting a drop on the
// request path is one atomic add.
type dropReason uint8

const (
	dropNone dropReason = iota
	dropQueueFull
	dropQueueBytes
	dropCircuitOpen
	dropRateLimited
	dropClosed
	dropShutdown
	dropHandlerPanic
	dropEmptyResponse
	dropBinary
	dropUndecodable
	dropExtractError
	dropAborted
	dropAuthFailed  // at admission
	dropEmptyPrompt // the reasons from here on are decided in the workers
	dropPanic
	dropAuthStopped   // auth_failed, decided by a worker
	dropRateLimitLate // rate_limited: no permit of the plan rate limit in time
	dropOverload      // at admission: the CPU budget is spent
	numDropReasons
)

// dropPublic is the exported reason each counter is reported as. Two
// reasons have two counters: one decided in Route.Begin, before the sample
// counts as admitted, and one decided later.
var dropPublic = [numDropReasons]drop.Reason{
	0, drop.QueueFull, drop.QueueBytes, drop.CircuitOpen, drop.RateLimited, drop.Closed, drop.Shutdown,
	drop.HandlerPanic, drop.EmptyResponse, drop.Binary, drop.Undecodable, drop.ExtractError, drop.Aborted,
	drop.AuthFailed, drop.EmptyPrompt, drop.Panic, drop.AuthFailed, drop.RateLimited, drop.Overload,
}

// dropReasonOf maps a reason an adapter gives Capture.Abort to its counter:
// an admitted sample can end only for a reason decided after Begin, and an
// unknown reason counts as aborted.
func dropReasonOf(r drop.Reason) dropReason {
	for i, pub := range dropPublic {
		if i > 0 && pub == r && !dropReason(i).inBegin() {
			return dropReason(i)
		}
	}
	return dropAborted
}

// atAdmission reports whether r is decided at admission, where a run of
// drops is a loss episode worth a warning. A rejected key has a warning of
// its own.
func (r dropReason) atAdmission() bool {
	switch r {
	case dropQueueFull, dropQueueBytes, dropCircuitOpen, dropRateLimited, dropOverload:
		return true
	}
	return false
}

// inBegin reports whether r is decided in Route.Begin, before a sample is
// admitted.
func (r dropReason) inBegin() bool {
	return r.atAdmission() || r == dropClosed || r == dropAuthFailed
}

// counters are the Guard's lock-free tallies. The maps are filled once in
// init and only read afterwards.
// maxClasses bounds the failure classes counters can hold; TestFailureClassesFit
// guards it.
const maxClasses = 16

type counters struct {
	fails      [maxClasses]atomic.Uint64
	checked    atomic.Uint64
	cacheHits  atomic.Uint64
	hookPanics atomic.Uint64

	mu    sync.Mutex
	tests map[string]*testTally
}

// testTally is what recordCheck keeps for one test type.
type testTally struct {
	TestTypeStats
	durations hist
	scores    hist
}

func (c *counters) init() {
	c.tests = map[string]*testTally{}
}

func (c *counters) failed(class failure.Class) *atomic.Uint64 {
	if !class.Valid() {
		class = failure.Network
	}
	return &c.fails[class]
}

// dropCounts returns the drops of every route by reason.
func (g *Guard) dropCounts() [numDropReasons]uint64 {
	var n [numDropReasons]uint64
	g.routesMu.RLock()
	defer g.routesMu.RUnlock()
	for _, rt := range g.routes {
		for r := range rt.drops {
			n[r] += rt.drops[r].Load()
		}
	}
	return n
}

func (g *Guard) dropped(reason dropReason) uint64 { return g.dropCounts()[reason] }

func (g *Guard) admissionDrops() uint64 {
	var n uint64
	for r, v := range g.dropCounts() {
		if dropReason(r).atAdmission() {
			n += v
		}
	}
	return n
}

func (g *Guard) admissionSnapshot() map[string]uint64 {
	m := map[string]uint64{}
	for r, v := range g.dropCounts() {
		if v > 0 && dropReason(r).atAdmission() {
			m[dropPublic[r].String()] += v
		}
	}
	return m
}

// recordCheck tallies one finished check of one test type. It runs on
// worker goroutines (and in Guard.Check), never on the request path.
func (c *counters) recordCheck(o *Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tests[o.TestType]
	if t == nil {
		t = &testTally{durations: newHist(latencyBounds), scores: newHist(scoreBounds)}
		c.tests[o.TestType] = t
	}
	t.Checks++
	switch {
	case o.Err != nil:
		t.Errors++
	case o.Cached:
		t.Cached++
	case !o.Verdict.Flagged:
		t.Passed++
	}
	if o.Err == nil {
		if o.Verdict.Flagged {
			t.Flagged++
		}
		t.ScoreSum += o.Verdict.Score
		t.scores.observe(o.Verdict.Score)
	}
	if o.Err == nil && !o.Cached {
		t.Latency += o.Duration
		t.durations.observe(o.Duration.Seconds())
	}
}
