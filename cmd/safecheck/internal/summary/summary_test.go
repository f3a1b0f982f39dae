package summary

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
)

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	tests := []struct {
		values []float64
		p      float64
		want   float64
	}{
		{nil, 50, 0},
		{[]float64{7}, 50, 7},
		{[]float64{7}, 99, 7},
		{[]float64{1, 2}, 50, 1},
		{[]float64{1, 2, 3, 4}, 50, 2},
		{[]float64{1, 2, 3, 4}, 95, 4},
		{hundred, 50, 50},
		{hundred, 95, 95},
		{hundred, 99, 99},
		{hundred, 100, 100},
		{hundred, 0, 1},
	}
	for _, tt := range tests {
		if got := Percentile(tt.values, tt.p); got != tt.want {
			t.Errorf("Percentile(%d values, %v) = %v, want %v", len(tt.values), tt.p, got, tt.want)
		}
	}
}

func rec(id, tt string, flagged bool, score float64, risk string, ms float64) results.Record {
	pf := "pass"
	if flagged {
		pf = "fail"
	}
	return results.Record{ID: id, TestType: tt, Verdict: &results.Verdict{Flagged: flagged, Score: score, RiskLevel: risk, PassFail: pf},
		LatencyMS: ms, Attempts: 1, Line: len(id)}
}

func TestAggregator(t *testing.T) {
	g, err := gate.Parse("risk>=reject")
	if err != nil {
		t.Fatal(err)
	}
	a := New([]string{"toxicity", "pii"}, g)
	resumed := rec("r", "pii", true, 0.9, "reject", 5000)
	if !a.Add(resumed, true) {
		t.Error("resumed reject did not fail the gate")
	}
	adds := []results.Record{
		rec("aaa", "toxicity", false, 0, "low", 100),
		rec("bb", "toxicity", true, 0.85, "reject", 300),
		rec("c", "toxicity", false, 0.2, "medium", 200),
		rec("dddd", "pii", true, 0.95, "high", 400),
		{ID: "e", TestType: "pii", ErrorClass: "server_error", Status: 503, Attempts: 4, LatencyMS: 7000},
		{ID: "f", TestType: "toxicity", ErrorClass: "rate_limited", Status: 429, Attempts: 40, LatencyMS: 9000},
	}
	cached := rec("g", "toxicity", false, 0, "low", 0)
	cached.Cached, cached.Attempts = true, 0
	adds = append(adds, cached)
	fails := 0
	for _, r := range adds {
		if a.Add(r, false) {
			fails++
		}
	}
	if fails != 1 || a.GateFailures() != 2 {
		t.Errorf("gate failures: %d from Add, %d in total; want 1 and 2", fails, a.GateFailures())
	}
	s := a.Summary()
	want := Summary{
		Evaluated:     6,
		Resumed:       1,
		Flagged:       3,
		Errors:        2,
		ErrorsByClass: map[string]int{"server_error": 1, "rate_limited": 1},
		Gate:          "risk>=reject",
		GateFailures:  2,
		Failures: []Failure{
			{ID: "r", TestType: "pii", Score: 0.9, RiskLevel: "reject", Line: 1, Rule: "risk>=reject"},
			{ID: "bb", TestType: "toxicity", Score: 0.85, RiskLevel: "reject", Line: 2, Rule: "risk>=reject"},
		},
		TestTypes: []TestType{
			{
				TestType: "toxicity", Evaluated: 4, Flagged: 1, FlaggedPct: 25, Cached: 1,
				Score:        Scores{P50: 0, P95: 0.85, Max: 0.85},
				RiskLevels:   map[string]int{"low": 2, "reject": 1, "medium": 1},
				Errors:       map[string]int{"rate_limited": 1},
				GateFailures: 1,
				Latency:      Latency{Calls: 4, P50: 200, P95: 9000, P99: 9000, Max: 9000},
			},
			{
				TestType: "pii", Evaluated: 2, Flagged: 2, FlaggedPct: 100,
				Score:        Scores{P50: 0.9, P95: 0.95, Max: 0.95},
				RiskLevels:   map[string]int{"reject": 1, "high": 1},
				Errors:       map[string]int{"server_error": 1},
				GateFailures: 1,
				Latency:      Latency{Calls: 2, P50: 400, P95: 7000, P99: 7000, Max: 7000},
			},
		},
		Latency: Latency{Calls: 6, P50: 300, P95: 9000, P99: 9000, Max: 9000},
		Slowest: []Call{
			{ID: "f", TestType: "toxicity", LatencyMS: 9000, Attempts: 40, Error: "rate_limited"},
			{ID: "e", TestType: "pii", LatencyMS: 7000, Attempts: 4, Error: "server_error"},
			{ID: "dddd", TestType: "pii", LatencyMS: 400, Attempts: 1},
			{ID: "bb", TestType: "toxicity", LatencyMS: 300, Attempts: 1},
			{ID: "c", TestType: "toxicity", LatencyMS: 200, Attempts: 1},
		},
		APIAttempts: 48,
	}
	if !reflect.DeepEqual(s, want) {
		got, _ := json.MarshalIndent(s, "", " ")
		exp, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("Summary:\n%s\nwant\n%s", got, exp)
	}
}

func TestFailuresOrderAndCap(t *testing.T) {
	g, _ := gate.Parse("flagged")
	a := New([]string{"pii", "bias"}, g)
	for line := MaxFailures + 10; line >= 1; line-- {
		for _, tt := range []string{"bias", "pii"} {
			r := rec("x", tt, true, 0.9, "reject", 1)
			r.Line = line
			a.Add(r, false)
		}
	}
	s := a.Summary()
	if len(s.Failures) != MaxFailures || s.GateFailures != 2*(MaxFailures+10) {
		t.Fatalf("%d failures listed of %d, want %d", len(s.Failures), s.GateFailures, MaxFailures)
	}
	for i, f := range s.Failures {
		wantLine, wantType := i/2+1, []string{"pii", "bias"}[i%2]
		if f.Line != wantLine || f.TestType != wantType {
			t.Fatalf("failure %d = line %d %s, want line %d %s", i, f.Line, f.TestType, wantLine, wantType)
		}
	}
}

func TestEmptySummaryJSON(t *testing.T) {
	s := New([]string{"pii"}, nil).Summary()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"failures":[]`, `"errors_by_class":{}`, `"risk_levels":{}`, `"slowest":[]`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
}

func TestWriteText(t *testing.T) {
	g, _ := gate.Parse("flagged")
	a := New([]string{"toxicity", "pii"}, g)
	a.Add(rec("a", "toxicity", true, 0.9, "reject", 210), false)
	a.Add(rec("b", "toxicity", false, 0, "low", 190), false)
	a.Add(rec("a", "pii", false, 0, "low", 205), false)
	a.Add(results.Record{ID: "b", TestType: "pii", ErrorClass: "server_error", Attempts: 4, LatencyMS: 7100}, false)
	s := a.Summary()
	s.Cases, s.Pairs, s.InputProblems, s.ElapsedSeconds = 2, 4, 1, 7.25
	s.Status, s.ExitCode, s.Reason = "fail", 1, "1 pair fails -fail-on flagged"
	var buf bytes.Buffer
	if err := s.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `safecheck summary: 2 cases × 2 test types = 4 pairs, 7.2s
  evaluated 3, flagged 1 (33.3%), errors 1, not run 0
  input: 1 line skipped
  errors by class: server_error 1

test type  evaluated  flagged    score p50/p95/max  risk levels      errors          latency p50/p95
toxicity   2          1 (50.0%)  0.00/0.90/0.90     low 1, reject 1  -               190ms/210ms
pii        1          0 (0.0%)   0.00/0.00/0.00     low 1            server_error 1  205ms/7.1s

latency over 4 API calls: p50 205ms, p95 7.1s, p99 7.1s, max 7.1s (7 HTTP attempts)
slowest: b/pii 7.1s (4 attempts) [server_error], a/toxicity 210ms, a/pii 205ms, b/toxicity 190ms
gate -fail-on flagged: 1 pair fails
  a/toxicity (line 1): score 0.90, risk reject [flagged]
result: FAIL (exit 1): 1 pair fails -fail-on flagged
`
	if got := buf.String(); got != want {
		t.Errorf("WriteText:\n%s\nwant\n%s", got, want)
	}
}

func TestWriteTextListsTenFailures(t *testing.T) {
	g, _ := gate.Parse("flagged")
	a := New([]string{"pii"}, g)
	for i := range 12 {
		r := rec(strings.Repeat("x", i+1), "pii", true, 0.9, "reject", 1)
		a.Add(r, false)
	}
	s := a.Summary()
	var buf bytes.Buffer
	if err := s.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "[flagged]"); n != 10 {
		t.Errorf("%d failures listed, want 10", n)
	}
	if !strings.Contains(buf.String(), "... and 2 more") {
		t.Errorf("no mention of the 2 others:\n%s", buf.String())
	}
}

// TestWriteTextCounts: every count agrees with its noun, and a run that
// made no call (everything came from the results file) has no latency.
func TestWriteTextCounts(t *testing.T) {
	tests := []struct {
		name     string
		resumed  bool
		problems int
		want     string
	}{
		{"one of everything", false, 1, `safecheck summary: 1 case × 1 test type = 1 pair, 0.5s
  evaluated 1, flagged 1 (100.0%), errors 0, not run 0
  input: 1 line skipped

test type  evaluated  flagged     score p50/p95/max  risk levels  errors  latency p50/p95
pii        1          1 (100.0%)  0.90/0.90/0.90     reject 1     -       120ms/120ms

latency over 1 API call: p50 120ms, p95 120ms, p99 120ms, max 120ms (1 HTTP attempt)
slowest: a/pii 120ms
gate -fail-on flagged: 1 pair fails
  a/pii (line 1): score 0.90, risk reject [flagged]
result: PASS (exit 0)
`},
		{"resumed without a call", true, 2, `safecheck summary: 1 case × 1 test type = 1 pair, 0.5s
  evaluated 1 (1 from the results file), flagged 1 (100.0%), errors 0, not run 0
  input: 2 lines skipped

test type  evaluated  flagged     score p50/p95/max  risk levels  errors  latency p50/p95
pii        1          1 (100.0%)  0.90/0.90/0.90     reject 1     -       -

gate -fail-on flagged: 1 pair fails
  a/pii (line 1): score 0.90, risk reject [flagged]
result: PASS (exit 0)
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := gate.Parse("flagged")
			a := New([]string{"pii"}, g)
			a.Add(rec("a", "pii", true, 0.9, "reject", 120), tt.resumed)
			s := a.Summary()
			s.Cases, s.Pairs, s.InputProblems, s.ElapsedSeconds, s.Status = 1, 1, tt.problems, 0.5, "pass"
			var buf bytes.Buffer
			if err := s.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("WriteText:\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
