package alert

import (
	"fmt"
	"time"
)

// Defaults of a Rule's zero fields, and the width of a window's buckets.
const (
	DefaultWindow    = 5 * time.Minute
	DefaultMinChecks = 50
	// Bucket is the resolution of the sliding window: a Window is a whole
	// number of Buckets, and verdicts leave the window a bucket at a time.
	Bucket = 10 * time.Second
)

// Rule is one alert rule. Exactly one of FlaggedShare and ScoreP95 is set.
type Rule struct {
	// Name identifies the rule in records, events and metrics, and names
	// it as the actor of its automatic incident ("rule:<Name>"): 1 to 64
	// characters of A-Z, a-z, 0-9, '.', '_' and '-'; unique per Guard.
	Name string
	// Route is the route whose verdicts the rule watches; "" watches every
	// route, and its incident covers every route. Routes are registered
	// after the rules: a name no route ever takes is never watched.
	Route string
	// TestType is the test type watched; "" watches every test type.
	TestType string
	// Window is the length of the sliding window, a multiple of Bucket up
	// to 24 h; 0 means DefaultWindow.
	Window time.Duration
	// MinChecks is how many verdicts the window must hold before the rule
	// may fire; 0 means DefaultMinChecks.
	MinChecks int
	// FlaggedShare, within (0, 1], fires the rule when at least this share
	// of the window's verdicts is flagged.
	FlaggedShare float64
	// ScoreP95, within (0, 1], fires the rule when the 95th percentile of
	// the window's scores is at least this value (estimated from the score
	// histogram's buckets of 0.1).
	ScoreP95 float64
	// Clear is the value below which a firing rule clears, within
	// [0, threshold); 0 means half the threshold.
	Clear float64
	// IncidentFor, when positive (at most 24 h), starts incident mode for
	// Route (every route when Route is "") for this long when the rule
	// fires, unless an incident is already active.
	IncidentFor time.Duration
}

// Threshold returns the rule's threshold: FlaggedShare or ScoreP95.
func (r Rule) Threshold() float64 { return max(r.FlaggedShare, r.ScoreP95) }

// Measure names what the rule measures: "flagged_share" or "score_p95".
func (r Rule) Measure() string {
	if r.ScoreP95 > 0 {
		return "score_p95"
	}
	return "flagged_share"
}

// State is a rule's state. The zero State is not a state.
type State uint8

// The states.
const (
	OK     State = iota + 1 // the value is below the threshold, or has fallen below the clear threshold
	Firing                  // the value reached the threshold and has not cleared
	numStates
)

var stateNames = [numStates]string{"", "ok", "firing"}

// String returns "ok" or "firing", or "" for a value that is not a state.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return ""
}

// Valid reports whether s is OK or Firing.
func (s State) Valid() bool { return s > 0 && s < numStates }

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("alert: %d is not a state", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i := State(1); i < numStates; i++ {
		if stateNames[i] == string(b) {
			*s = i
			return nil
		}
	}
	return fmt.Errorf("alert: unknown state %q", b)
}

// Status is a rule's state and value: what a WithOnAlert hook receives
// when the rule fires or clears, and what Stats.Alerts lists.
type Status struct {
	// Rule is the rule, its defaults filled in.
	Rule Rule
	// State is the state now; Since is when the rule entered it (the
	// Guard's start for a rule that never fired).
	State State
	Since time.Time
	// Value is the rule's measure over the window when it was last
	// evaluated, and Checks the number of verdicts in the window then.
	Value  float64
	Checks int
	// IncidentUntil is when the automatic incident the rule started ends,
	// or zero when it started none that is still active.
	IncidentUntil time.Time
}
