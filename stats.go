package safecheck

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a sample is dropped without being checked.
const (
	DropQueueFull     = "queue_full"     // the queue holds its maximum number of samples
	DropQueueBytes    = "queue_bytes"    // the queue's byte budget is spent
	DropCircuitOpen   = "circuit_open"   // the API is failing; checks are paused
	DropRateLimited   = "rate_limited"   // a 429's Retry-After is pausing checks
	DropClosed        = "closed"         // sampled after Close began
	DropShutdown      = "shutdown"       // admitted but not checked before Close's deadline
	DropHandlerPanic  = "handler_panic"  // the handler panicked; the exchange is incomplete
	DropEmptyResponse = "empty_response" // no response text to check
	DropBinary        = "binary"         // the body is not text (image, audio, ...)
	DropUndecodable   = "undecodable"    // a compressed body could not be decoded
	DropExtractError  = "extract_error"  // the extractor failed
	DropAborted       = "aborted"        // an adapter aborted the capture
	DropAuthFailed    = "auth_failed"    // the API rejected the key; no call is made until it changes
	DropEmptyPrompt   = "empty_prompt"   // no prompt text to check (see WithPrompt)
	DropPanic         = "panic"          // application code (extractor, id function) panicked
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
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"", DropQueueFull, DropQueueBytes, DropCircuitOpen, DropRateLimited, DropClosed, DropShutdown,
	DropHandlerPanic, DropEmptyResponse, DropBinary, DropUndecodable, DropExtractError, DropAborted,
	DropAuthFailed, DropEmptyPrompt, DropPanic, DropAuthFailed, DropRateLimited,
}

// dropReasonOf maps an exported reason to its index; unknown reasons count
// as aborted.
func dropReasonOf(name string) dropReason {
	for i, n := range dropNames {
		if i > 0 && n == name {
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
	case dropQueueFull, dropQueueBytes, dropCircuitOpen, dropRateLimited:
		return true
	}
	return false
}

// inBegin reports whether r is decided in Route.Begin, before a sample is
// admitted.
func (r dropReason) inBegin() bool {
	return r.atAdmission() || r == dropClosed || r == dropAuthFailed
}

var failClasses = []string{
	ClassRateLimited, ClassServer, ClassUnauthorized, ClassBadRequest, ClassNetwork, ClassTimeout,
	ClassMalformed, ClassCircuitOpen, ClassCanceled, ClassPanic, ClassConfig,
}

// counters are the Guard's lock-free tallies. The maps are filled once in
// init and only read afterwards.
type counters struct {
	fails      map[string]*atomic.Uint64
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
	c.fails = map[string]*atomic.Uint64{}
	for _, r := range failClasses {
		c.fails[r] = new(atomic.Uint64)
	}
	c.tests = map[string]*testTally{}
}

func (c *counters) failed(class string) *atomic.Uint64 {
	if n, ok := c.fails[class]; ok {
		return n
	}
	return c.fails[ClassNetwork]
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
			m[dropNames[r]] += v
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

// Stats is a snapshot of a Guard's accounting. At any quiescent point
//
//	Sampled = Checked + CacheHits + Σ Dropped + Σ Failed + InFlight
//
// holds exactly. Sampled counts requests the sampler chose; each ends in
// exactly one of the other terms.
type Stats struct {
	Sampled   uint64
	Checked   uint64 // every test type got a verdict, at least one from the checker
	CacheHits uint64 // every test type was answered by the verdict cache
	Dropped   map[string]uint64
	Failed    map[string]uint64 // by the class of the sample's first failed check
	InFlight  int64

	QueueSamples int64 // samples admitted and not finished (capturing, queued or checking)
	QueueBytes   int64 // bytes those samples hold or have reserved
	CacheEntries int
	CircuitOpen  bool
	// CircuitTripClass and CircuitTripStatus name the failure that last
	// opened the circuit (its error class and HTTP status, 0 when none),
	// and CircuitTrippedAt when; all zero until it has opened once.
	CircuitTripClass  string
	CircuitTripStatus int
	CircuitTrippedAt  time.Time
	Paused            bool // a 429's Retry-After is pausing checks
	// AuthFailed is true while the API has rejected the key in force: no
	// call is made, and samples are dropped as DropAuthFailed, until the
	// key source yields another key.
	AuthFailed bool
	APICalls   uint64
	APIRetries uint64
	HookPanics uint64

	// APIRequests counts calls to the checker by the class of their answer:
	// APIClass2xx to APIClass5xx by HTTP status, and APIClassNetwork for
	// calls that got no answer (connection failure, timeout, cancellation).
	// Every class is present. Calls the checker refused before sending
	// anything (an invalid request, a missing key, a panic) are in no class.
	APIRequests map[string]uint64
	// APICallsLastMinute is the number of calls counted in APIRequests that
	// were made in the last 60 seconds, to the second: the calls a plan's
	// per-minute limit counts.
	APICallsLastMinute uint64
	// RateLimitPerMinute is the plan limit set with WithRateLimit, or 0.
	RateLimitPerMinute int
	// VerdictCacheHits and VerdictCacheMisses count lookups in the verdict
	// cache, one per check of one test type; both stay 0 when the cache is
	// off. A check answered by an identical check in flight is a miss here
	// and Cached in its Outcome.
	VerdictCacheHits   uint64
	VerdictCacheMisses uint64
	// Latency is the distribution, in seconds, of the durations of checks
	// answered by the checker (retries included), over every test type.
	// Latency.Quantile(0.95) is the p95.
	Latency Histogram

	Incident  *Incident
	Routes    []RouteStats
	TestTypes map[string]TestTypeStats
}

// RateLimitUtilization returns APICallsLastMinute over RateLimitPerMinute,
// and false when no rate limit is configured.
func (s Stats) RateLimitUtilization() (float64, bool) {
	if s.RateLimitPerMinute <= 0 {
		return 0, false
	}
	return float64(s.APICallsLastMinute) / float64(s.RateLimitPerMinute), true
}

// RouteStats describes one route.
type RouteStats struct {
	Name          string
	SampleRate    float64 // the configured rate
	EffectiveRate float64 // the rate in force now: 1 during an incident
	Requests      uint64
	Sampled       uint64
	Dropped       map[string]uint64 // by reason
	Incident      bool              // an incident covers the route
	TestTypes     []string          // the test types each sample is checked for
}

// TestTypeStats tallies the checks of one test type.
type TestTypeStats struct {
	Checks   uint64
	Flagged  uint64 // verdicts that flagged, cached ones included
	Cached   uint64 // answered by the verdict cache or an identical check in flight
	Errors   uint64
	Passed   uint64        // answered by the checker and not flagged
	ScoreSum float64       // over checks with a verdict
	Latency  time.Duration // summed over checks answered by the checker

	// Durations is the distribution, in seconds, of the durations of checks
	// answered by the checker, retries included (buckets: LatencyBounds).
	Durations Histogram
	// Scores is the distribution of verdict scores, cached ones included
	// (buckets: ScoreBounds).
	Scores Histogram
}

// Results of one check, as ByResult splits them.
const (
	ResultPass    = "pass"    // answered by the checker, not flagged
	ResultFlagged = "flagged" // answered by the checker, flagged
	ResultError   = "error"   // no verdict
	ResultCached  = "cached"  // answered by the verdict cache or an identical check in flight
)

// ByResult splits Checks into the four disjoint results ResultPass,
// ResultFlagged, ResultError and ResultCached; every key is present.
func (t TestTypeStats) ByResult() map[string]uint64 {
	return map[string]uint64{
		ResultPass:    t.Passed,
		ResultFlagged: t.Checks - t.Errors - t.Cached - t.Passed,
		ResultError:   t.Errors,
		ResultCached:  t.Cached,
	}
}

// Stats returns a snapshot of the Guard's accounting.
func (g *Guard) Stats() Stats {
	s := Stats{
		Dropped:      map[string]uint64{},
		Failed:       map[string]uint64{},
		Checked:      g.counters.checked.Load(),
		CacheHits:    g.counters.cacheHits.Load(),
		QueueSamples: g.pending.Load(),
		QueueBytes:   g.bytes.Load(),
		CacheEntries: g.cache.len(),
		CircuitOpen:  g.policy.isOpen(),
		Paused:       g.policy.isPaused(),
		AuthFailed:   g.auth.stopped(),
		APICalls:     g.policy.calls.Load(),
		APIRetries:   g.policy.retries.Load(),
		HookPanics:   g.counters.hookPanics.Load(),
		TestTypes:    map[string]TestTypeStats{},

		APIRequests:        g.policy.requestsByClass(),
		APICallsLastMinute: g.policy.window.count(time.Now()),
		RateLimitPerMinute: g.cfg.ratePerMinute,
	}
	s.VerdictCacheHits, s.VerdictCacheMisses = g.cache.lookups()
	if trip := g.policy.trip.Load(); trip != nil {
		s.CircuitTripClass, s.CircuitTripStatus, s.CircuitTrippedAt = trip.class, trip.status, trip.at
	}
	for r, v := range g.dropCounts() {
		if v > 0 {
			s.Dropped[dropNames[r]] += v
		}
	}
	for r, n := range g.counters.fails {
		if v := n.Load(); v > 0 {
			s.Failed[r] = v
		}
	}
	inc := g.incident.Load()
	if inc != nil {
		s.Incident = &Incident{Reason: inc.reason, Start: inc.start, Until: inc.until}
		if !inc.all {
			s.Incident.Routes = append([]string(nil), inc.routes...)
		}
	}
	g.routesMu.RLock()
	for _, rt := range g.routes {
		rs := RouteStats{
			Name:       rt.name,
			SampleRate: rt.rate.load(),
			Requests:   rt.unsampled.Load() + rt.sampled(),
			Sampled:    rt.sampled(),
			Dropped:    map[string]uint64{},
			TestTypes:  slices.Clone(rt.cfg.testTypes),
		}
		for r := range rt.drops {
			if v := rt.drops[r].Load(); v > 0 {
				rs.Dropped[dropNames[r]] += v
			}
		}
		rs.EffectiveRate = rs.SampleRate
		if inc != nil && inc.covers(rt.name) {
			rs.EffectiveRate = 1
			rs.Incident = true
		}
		s.Sampled += rs.Sampled
		s.Routes = append(s.Routes, rs)
	}
	g.routesMu.RUnlock()
	sort.Slice(s.Routes, func(i, j int) bool { return s.Routes[i].Name < s.Routes[j].Name })
	s.InFlight = s.QueueSamples
	g.counters.mu.Lock()
	for k, v := range g.counters.tests {
		ts := v.TestTypeStats
		ts.Durations = v.durations.snapshot()
		ts.Scores = v.scores.snapshot()
		s.TestTypes[k] = ts
	}
	g.counters.mu.Unlock()
	s.Latency = Histogram{Bounds: LatencyBounds(), Counts: make([]uint64, len(latencyBounds)+1)}
	for _, t := range s.TestTypes {
		s.Latency.merge(t.Durations)
	}
	return s
}
