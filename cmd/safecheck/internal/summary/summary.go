package summary

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/words"
)

// shownFailures is how many gate failures WriteText lists.
const shownFailures = 10

// SlowestCalls is how many of the slowest calls a Summary lists.
const SlowestCalls = 5

// Summary describes a whole run. The JSON form is what -summary-json
// writes.
type Summary struct {
	// Cases is the number of usable input cases; InputProblems the number
	// of input lines that were skipped.
	Cases         int `json:"cases"`
	InputProblems int `json:"input_problems"`
	// Pairs is Cases × the number of test types.
	Pairs int `json:"pairs"`
	// Evaluated pairs have a verdict, from this run or (Resumed) from the
	// results file of an earlier run.
	Evaluated int `json:"evaluated"`
	Resumed   int `json:"resumed"`
	Flagged   int `json:"flagged"`
	// Errors are pairs whose evaluation failed, by class in ErrorsByClass.
	Errors        int            `json:"errors"`
	ErrorsByClass map[string]int `json:"errors_by_class"`
	// NotRun pairs were not evaluated because the run was interrupted or
	// stopped.
	NotRun int `json:"not_run"`
	// Gate is the -fail-on expression and GateFailures the number of
	// verdicts that fail it.
	Gate         string `json:"gate,omitempty"`
	GateFailures int    `json:"gate_failures"`
	// Failures lists pairs that failed the gate, by input line and then
	// test type order (at most MaxFailures).
	Failures []Failure `json:"failures"`
	// Problems lists the first skipped input lines (at most MaxProblems);
	// the caller fills it in.
	Problems []Problem `json:"input_problem_lines,omitempty"`

	TestTypes []TestType `json:"test_types"`
	// Latency covers the calls this run made to the API (verdicts answered
	// by the cache and resumed verdicts excluded; failed calls included).
	Latency Latency `json:"latency"`
	Slowest []Call  `json:"slowest"`
	// APIAttempts is the number of HTTP attempts this run made.
	APIAttempts int `json:"api_attempts"`

	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Status is "pass", "fail" (the gate failed), "error" (a run error)
	// or "interrupted"; ExitCode is the process's exit status and Reason
	// says why, for anything but "pass".
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Reason   string `json:"reason,omitempty"`
}

// TestType summarises the pairs of one test type.
type TestType struct {
	TestType     string         `json:"test_type"`
	Evaluated    int            `json:"evaluated"`
	Flagged      int            `json:"flagged"`
	FlaggedPct   float64        `json:"flagged_pct"`
	Cached       int            `json:"cached"`
	Score        Scores         `json:"score"`
	RiskLevels   map[string]int `json:"risk_levels"`
	Errors       map[string]int `json:"errors"`
	GateFailures int            `json:"gate_failures"`
	Latency      Latency        `json:"latency"`
}

// Scores are percentiles of the verdicts' scores.
type Scores struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// Latency holds call latency percentiles in milliseconds.
type Latency struct {
	Calls int     `json:"calls"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// MaxFailures is how many gate failures a Summary lists; MaxProblems how
// many input problems.
const (
	MaxFailures = 50
	MaxProblems = 100
)

// Failure is a pair that failed the gate.
type Failure struct {
	ID        string  `json:"id"`
	TestType  string  `json:"test_type"`
	Score     float64 `json:"score"`
	RiskLevel string  `json:"risk_level"`
	Line      int     `json:"line,omitempty"`
	Rule      string  `json:"rule"`
}

// Problem is a skipped input line.
type Problem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Call is one of the slowest calls.
type Call struct {
	ID        string  `json:"id"`
	TestType  string  `json:"test_type"`
	LatencyMS float64 `json:"latency_ms"`
	Attempts  int     `json:"attempts"`
	Error     string  `json:"error_class,omitempty"`
}

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

// riskOrder lists known levels in gate order, then others alphabetically.
func riskOrder(m map[string]int) []string {
	var out []string
	for _, l := range gate.RiskLevels {
		if m[l] > 0 {
			out = append(out, l)
		}
	}
	var other []string
	for l := range m {
		if _, known := gate.RiskRank(l); !known || l != strings.ToLower(l) {
			other = append(other, l)
		}
	}
	sort.Strings(other)
	return append(out, other...)
}

func classes(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	return Counts(m)
}

// Counts renders counts by name as "a 1, b 2", sorted by name.
func Counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func ms(v float64) string {
	d := time.Duration(v * float64(time.Millisecond))
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func pct(n, of int) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// WriteText writes the human-readable summary.
func (s *Summary) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	types := len(s.TestTypes)
	ew.printf("safecheck summary: %s × %s = %s, %.1fs\n",
		words.N(s.Cases, "case", "cases"), words.N(types, "test type", "test types"), words.N(s.Pairs, "pair", "pairs"), s.ElapsedSeconds)
	ew.printf("  evaluated %d", s.Evaluated)
	if s.Resumed > 0 {
		ew.printf(" (%d from the results file)", s.Resumed)
	}
	ew.printf(", flagged %d (%s), errors %d, not run %d\n", s.Flagged, pct(s.Flagged, s.Evaluated), s.Errors, s.NotRun)
	if s.InputProblems > 0 {
		ew.printf("  input: %s skipped\n", words.N(s.InputProblems, "line", "lines"))
	}
	if len(s.ErrorsByClass) > 0 {
		ew.printf("  errors by class: %s\n", classes(s.ErrorsByClass))
	}
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "test type\tevaluated\tflagged\tscore p50/p95/max\trisk levels\terrors\tlatency p50/p95")
	for _, t := range s.TestTypes {
		var risks []string
		for _, l := range riskOrder(t.RiskLevels) {
			risks = append(risks, fmt.Sprintf("%s %d", l, t.RiskLevels[l]))
		}
		risk := strings.Join(risks, ", ")
		if risk == "" {
			risk = "-"
		}
		latency := "-" // no call made for this test type in this run
		if t.Latency.Calls > 0 {
			latency = ms(t.Latency.P50) + "/" + ms(t.Latency.P95)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d (%s)\t%.2f/%.2f/%.2f\t%s\t%s\t%s\n", t.TestType, t.Evaluated, t.Flagged,
			pct(t.Flagged, t.Evaluated), t.Score.P50, t.Score.P95, t.Score.Max, risk, classes(t.Errors), latency)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.printf("\n")
	if s.Latency.Calls > 0 { // a resumed run may have made none
		ew.printf("latency over %s: p50 %s, p95 %s, p99 %s, max %s (%s)\n",
			words.N(s.Latency.Calls, "API call", "API calls"), ms(s.Latency.P50), ms(s.Latency.P95),
			ms(s.Latency.P99), ms(s.Latency.Max), words.N(s.APIAttempts, "HTTP attempt", "HTTP attempts"))
	}
	if len(s.Slowest) > 0 {
		ew.printf("slowest:")
		for i, c := range s.Slowest {
			sep := ","
			if i == 0 {
				sep = ""
			}
			ew.printf("%s %s/%s %s", sep, c.ID, c.TestType, ms(c.LatencyMS))
			if c.Attempts > 1 {
				ew.printf(" (%d attempts)", c.Attempts)
			}
			if c.Error != "" {
				ew.printf(" [%s]", c.Error)
			}
		}
		ew.printf("\n")
	}
	if s.Gate != "" {
		ew.printf("gate -fail-on %s: %s %s\n", s.Gate, words.N(s.GateFailures, "pair", "pairs"),
			words.Plural(s.GateFailures, "fails", "fail"))
		for i, f := range s.Failures {
			if i == shownFailures {
				ew.printf("  ... and %d more (see the results file or -summary-json)\n", s.GateFailures-shownFailures)
				break
			}
			ew.printf("  %s/%s", f.ID, f.TestType)
			if f.Line > 0 {
				ew.printf(" (line %d)", f.Line)
			}
			ew.printf(": score %.2f, risk %s [%s]\n", f.Score, cmp.Or(f.RiskLevel, "none"), f.Rule)
		}
	}
	ew.printf("result: %s (exit %d)", strings.ToUpper(s.Status), s.ExitCode)
	if s.Reason != "" {
		ew.printf(": %s", s.Reason)
	}
	ew.printf("\n")
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

// Write writes p unless an earlier write failed.
func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
