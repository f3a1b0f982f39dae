package summary_test

import (
	"fmt"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/summary"
)

func ExampleAggregator() {
	g, _ := gate.Parse("score>=0.8")
	a := summary.New([]string{"toxicity"}, g)
	for i, score := range []float64{0, 0, 0.1, 0.85, 0.9} {
		a.Add(results.Record{
			ID: fmt.Sprint(i + 1), TestType: "toxicity", Line: i + 1, Attempts: 1, LatencyMS: float64(200 + 10*i),
			Verdict: &results.Verdict{Flagged: score >= 0.5, Score: score, RiskLevel: map[bool]string{true: "reject", false: "low"}[score >= 0.5]},
		}, false)
	}
	s := a.Summary()
	tox := s.TestTypes[0]
	fmt.Printf("flagged %d of %d (%.0f%%)\n", tox.Flagged, tox.Evaluated, tox.FlaggedPct)
	fmt.Printf("score p50 %.2f p95 %.2f max %.2f\n", tox.Score.P50, tox.Score.P95, tox.Score.Max)
	fmt.Println("risk levels:", tox.RiskLevels)
	fmt.Printf("latency p50 %.0fms p99 %.0fms\n", s.Latency.P50, s.Latency.P99)
	fmt.Println("gate failures:", s.GateFailures, "first:", s.Failures[0].ID)
	// Output:
	// flagged 2 of 5 (40%)
	// score p50 0.10 p95 0.90 max 0.90
	// risk levels: map[low:3 reject:2]
	// latency p50 220ms p99 240ms
	// gate failures: 2 first: 4
}
