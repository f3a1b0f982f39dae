package summary

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
