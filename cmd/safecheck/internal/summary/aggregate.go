package summary

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
)

// Aggregator collects records. It is not safe for concurrent use.
type Aggregator struct {
	gate    *gate.Gate
	order   []string
	types   map[string]*acc
	all     []float64
	calls   []Call
	sum     Summary
	errByCl map[string]int
	fails   []failure
}

type failure struct {
	Failure
	pos int
}

type acc struct {
	pos     int // position in the summary's order
	t       TestType
	scores  []float64
	latency []float64
}

// New returns an Aggregator for the given test types, in the order they
// are listed in the summary; g decides gate failures (nil: none).
func New(testTypes []string, g *gate.Gate) *Aggregator {
	a := &Aggregator{gate: g, types: map[string]*acc{}, errByCl: map[string]int{}}
	for _, t := range testTypes {
		a.typ(t)
	}
	return a
}

func (a *Aggregator) typ(name string) *acc {
	t := a.types[name]
	if t == nil {
		t = &acc{pos: len(a.order), t: TestType{TestType: name, RiskLevels: map[string]int{}, Errors: map[string]int{}}}
		a.types[name] = t
		a.order = append(a.order, name)
	}
	return t
}

// Add counts one record. resumed says it comes from an earlier run's
// results file. It reports whether the record fails the gate.
func (a *Aggregator) Add(r results.Record, resumed bool) bool {
	t := a.typ(r.TestType)
	if !resumed {
		a.sum.APIAttempts += r.Attempts
		if !r.Cached {
			ms := r.LatencyMS
			t.latency = append(t.latency, ms)
			a.all = append(a.all, ms)
			a.calls = append(a.calls, Call{ID: r.ID, TestType: r.TestType, LatencyMS: ms, Attempts: r.Attempts, Error: r.ErrorClass})
		}
	}
	if !r.OK() {
		class := cmp.Or(r.ErrorClass, "unknown")
		t.t.Errors[class]++
		a.errByCl[class]++
		a.sum.Errors++
		return false
	}
	a.sum.Evaluated++
	t.t.Evaluated++
	if resumed {
		a.sum.Resumed++
	}
	if r.Cached {
		t.t.Cached++
	}
	if r.Flagged {
		t.t.Flagged++
		a.sum.Flagged++
	}
	t.scores = append(t.scores, r.Score)
	t.t.RiskLevels[cmp.Or(r.RiskLevel, "none")]++
	failed, rule := a.gate.Fails(gate.Verdict{TestType: r.TestType, Flagged: r.Flagged, Score: r.Score, RiskLevel: r.RiskLevel, PassFail: r.PassFail})
	if failed {
		t.t.GateFailures++
		a.sum.GateFailures++
		a.fails = append(a.fails, failure{Failure{ID: r.ID, TestType: r.TestType, Score: r.Score, RiskLevel: r.RiskLevel, Line: r.Line, Rule: rule}, t.pos})
	}
	return failed
}

// GateFailures returns how many verdicts added so far fail the gate.
func (a *Aggregator) GateFailures() int { return a.sum.GateFailures }

// Summary returns the summary of the records added so far. The caller
// fills in the fields about the run itself (Cases, Pairs, NotRun, Status,
// ...).
func (a *Aggregator) Summary() Summary {
	s := a.sum
	fails := slices.Clone(a.fails)
	slices.SortStableFunc(fails, func(x, y failure) int {
		return cmp.Or(cmp.Compare(x.Line, y.Line), cmp.Compare(x.pos, y.pos), cmp.Compare(x.ID, y.ID))
	})
	s.Failures = make([]Failure, 0, min(len(fails), MaxFailures))
	for _, f := range fails[:min(len(fails), MaxFailures)] {
		s.Failures = append(s.Failures, f.Failure)
	}
	s.ErrorsByClass = map[string]int{}
	for k, v := range a.errByCl {
		s.ErrorsByClass[k] = v
	}
	if !a.gate.Empty() {
		s.Gate = a.gate.String()
	}
	s.TestTypes = make([]TestType, 0, len(a.order))
	for _, name := range a.order {
		t := a.types[name]
		out := t.t
		out.RiskLevels = maps(t.t.RiskLevels)
		out.Errors = maps(t.t.Errors)
		if out.Evaluated > 0 {
			out.FlaggedPct = round(100*float64(out.Flagged)/float64(out.Evaluated), 2)
		}
		sc := sorted(t.scores)
		out.Score = Scores{P50: Percentile(sc, 50), P95: Percentile(sc, 95), Max: last(sc)}
		out.Latency = latency(sorted(t.latency))
		s.TestTypes = append(s.TestTypes, out)
	}
	s.Latency = latency(sorted(a.all))
	calls := slices.Clone(a.calls)
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].LatencyMS > calls[j].LatencyMS })
	s.Slowest = append([]Call{}, calls[:min(len(calls), SlowestCalls)]...)
	return s
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sorted(v []float64) []float64 {
	out := slices.Clone(v)
	slices.Sort(out)
	return out
}

func last(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func latency(v []float64) Latency {
	return Latency{Calls: len(v), P50: Percentile(v, 50), P95: Percentile(v, 95), P99: Percentile(v, 99), Max: last(v)}
}

// Percentile returns the nearest-rank p-th percentile of the sorted
// values, or 0 when there are none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}
