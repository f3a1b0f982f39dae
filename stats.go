package safecheck

import (
	"iter"
	"slices"
	"sort"
	"time"

	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"
)

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
	Dropped   map[drop.Reason]uint64
	Failed    map[failure.Class]uint64 // by the class of the sample's first failed check
	InFlight  int64

	QueueSamples int64 // samples admitted and not finished (capturing, queued or checking)
	QueueBytes   int64 // bytes those samples hold or have reserved
	CacheEntries int
	CircuitOpen  bool
	// CircuitTripClass and CircuitTripStatus name the failure that last
	// opened the circuit (its error class and HTTP status, 0 when none),
	// and CircuitTrippedAt when; all zero until it has opened once.
	CircuitTripClass  failure.Class
	CircuitTripStatus int
	CircuitTrippedAt  time.Time
	Paused            bool // a 429's Retry-After is pausing checks
	// AuthFailed is true while the API has rejected the key in force: no
	// call is made, and samples are dropped as drop.AuthFailed, until the
	// key source yields another key.
	AuthFailed bool
	APICalls   uint64
	APIRetries uint64
	HookPanics uint64

	// CPUBudget is the share of GOMAXPROCS the checking pipeline may use
	// (WithCPUBudget), 0 when the budget is off. Overloaded is true while
	// that budget is spent and new samples are dropped as drop.Overload;
	// RouteStats.EffectiveRate shows the rate that results.
	CPUBudget  float64
	Overloaded bool

	// APIRequests counts calls to the checker by the class of their answer.
	// Calls the checker refused before sending anything (an invalid
	// request, a missing key, a panic) are in no class.
	APIRequests APIRequests
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
	// Latency.Quantile(0.95) is the p95. Its Bounds, 0.001 × 2^i seconds
	// for i from 0 to 17, are those of every duration histogram in Stats.
	Latency Histogram
	// Scores is the distribution of verdict scores over every test type,
	// cached verdicts included. Its Bounds, 0.1 to 1 by 0.1, are those of
	// every score histogram in Stats.
	Scores Histogram

	// Escalated is the number of customers escalated now;
	// EscalationsStarted, EscalationsEnded and EscalationsEvicted count
	// escalations that started, and that ended (expired, ended by
	// EndEscalation, or evicted when the set was full; evicted ones are
	// counted in both). In fleet mode they count this replica's set,
	// escalations that other replicas started or ended included.
	Escalated          int
	EscalationsStarted uint64
	EscalationsEnded   uint64
	EscalationsEvicted uint64
	// Alerts is the status of each WithAlertRules rule, in the order given.
	Alerts []alert.Status

	// Fleet is the mode of the WithCoordinator coordinator (coord.Off
	// without one) and since when it has been in it.
	Fleet coord.Status

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
	Name       string
	SampleRate float64 // the configured rate
	// EffectiveRate is the rate in force now (1 during an incident) times
	// the share of the route's samples not dropped as drop.Overload over
	// the last 10 seconds.
	EffectiveRate float64
	Requests      uint64
	Sampled       uint64
	Dropped       map[drop.Reason]uint64
	Incident      bool     // an incident covers the route
	TestTypes     []string // the test types each sample is checked for
	// EscalationRate is the rate at which the route samples escalated
	// customers, or 0 when the route does not escalate; EscalatedRequests
	// counts the requests of escalated customers it has seen.
	EscalationRate    float64
	EscalatedRequests uint64
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
	// answered by the checker, retries included (the buckets of Stats.Latency).
	Durations Histogram
	// Scores is the distribution of verdict scores, cached ones included
	// (the buckets of Stats.Scores).
	Scores Histogram
}

// APIRequests counts calls to the checker by the answer they got.
type APIRequests struct {
	Status2xx, Status3xx, Status4xx, Status5xx uint64 // by HTTP status
	Network                                    uint64 // no answer: connection failure, timeout, cancellation
}

// All yields each class with its count, labelled as metrics label them:
// "2xx", "3xx", "4xx", "5xx" and "network".
func (a APIRequests) All() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		_ = yield("2xx", a.Status2xx) && yield("3xx", a.Status3xx) && yield("4xx", a.Status4xx) &&
			yield("5xx", a.Status5xx) && yield("network", a.Network)
	}
}

// ByResult yields the four results of Results, labelled as metrics label
// them: "pass", "flagged", "error" and "cached".
func (t TestTypeStats) ByResult() iter.Seq2[string, uint64] {
	passed, flagged, failed, cached := t.Results()
	return func(yield func(string, uint64) bool) {
		_ = yield("pass", passed) && yield("flagged", flagged) && yield("error", failed) && yield("cached", cached)
	}
}

// Results splits Checks into its four disjoint results: answered by the
// checker and passed, answered by the checker and flagged, failed, and
// answered by the verdict cache or an identical check in flight.
func (t TestTypeStats) Results() (passed, flagged, failed, cached uint64) {
	return t.Passed, t.Checks - t.Errors - t.Cached - t.Passed, t.Errors, t.Cached
}

// Stats returns a snapshot of the Guard's accounting.
func (g *Guard) Stats() Stats {
	s := Stats{
		Dropped:      map[drop.Reason]uint64{},
		Failed:       map[failure.Class]uint64{},
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
		CPUBudget:    g.budget.share,
		Overloaded:   g.budget.overloaded(),
		TestTypes:    map[string]TestTypeStats{},

		APIRequests:        g.policy.requestsByClass(),
		APICallsLastMinute: g.policy.window.count(time.Now()),
		RateLimitPerMinute: g.cfg.ratePerMinute,
	}
	s.VerdictCacheHits, s.VerdictCacheMisses = g.cache.lookups()
	s.Fleet = g.fleet.status()
	if trip := g.policy.trip.Load(); trip != nil {
		s.CircuitTripClass, s.CircuitTripStatus, s.CircuitTrippedAt = trip.class, trip.status, trip.at
	}
	for r, v := range g.dropCounts() {
		if v > 0 {
			s.Dropped[dropPublic[r]] += v
		}
	}
	for c := range g.counters.fails {
		if v := g.counters.fails[c].Load(); v > 0 {
			s.Failed[failure.Class(c)] = v
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
			Dropped:    map[drop.Reason]uint64{},
			TestTypes:  slices.Clone(rt.cfg.testTypes),
		}
		for r := range rt.drops {
			if v := rt.drops[r].Load(); v > 0 {
				rs.Dropped[dropPublic[r]] += v
			}
		}
		rs.EffectiveRate = rs.SampleRate
		rt.escalationRouteStats(&rs)
		if inc != nil && inc.covers(rt.name) {
			rs.EffectiveRate = 1
			rs.Incident = true
		}
		rs.EffectiveRate *= g.budget.admittedShare(rt)
		s.Sampled += rs.Sampled
		s.Routes = append(s.Routes, rs)
	}
	g.routesMu.RUnlock()
	sort.Slice(s.Routes, func(i, j int) bool { return s.Routes[i].Name < s.Routes[j].Name })
	s.InFlight = s.QueueSamples
	g.escalationStats(&s)
	s.Alerts = g.alertStats()
	g.counters.mu.Lock()
	for k, v := range g.counters.tests {
		ts := v.TestTypeStats
		ts.Durations = v.durations.snapshot()
		ts.Scores = v.scores.snapshot()
		s.TestTypes[k] = ts
	}
	g.counters.mu.Unlock()
	s.Latency = Histogram{Bounds: slices.Clone(latencyBounds), Counts: make([]uint64, len(latencyBounds)+1)}
	s.Scores = Histogram{Bounds: slices.Clone(scoreBounds), Counts: make([]uint64, len(scoreBounds)+1)}
	for _, t := range s.TestTypes {
		s.Latency.merge(t.Durations)
		s.Scores.merge(t.Scores)
	}
	return s
}
