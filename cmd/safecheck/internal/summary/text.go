package summary

import (
	"cmp"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/words"
)

// shownFailures is how many gate failures WriteText lists.
const shownFailures = 10

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
