package event

import (
	"fmt"
	"time"
)

// Kind says what happened. The zero Kind is not a kind.
type Kind uint8

// The kinds, in the order Kinds returns them.
const (
	Flagged           Kind = iota + 1 // a check flagged a sample
	EscalationStarted                 // a flagged customer's requests are now sampled at the escalated rate
	EscalationEnded                   // an escalation expired, was ended by an operator or was evicted
	AlertFired                        // an alert rule's value crossed its threshold
	AlertCleared                      // a firing rule's value fell below its clear threshold
	numKinds
)

var names = [numKinds]string{
	"", "verdict.flagged", "escalation.started", "escalation.ended", "alert.fired", "alert.cleared",
}

// String returns the kind's name as event payloads write it, such as
// "verdict.flagged", or "" for a value that is not a kind.
func (k Kind) String() string {
	if k < numKinds {
		return names[k]
	}
	return ""
}

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { return k > 0 && k < numKinds }

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("event: %d is not a kind", uint8(k))
	}
	return []byte(names[k]), nil
}

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i := Kind(1); i < numKinds; i++ {
		if names[i] == string(b) {
			*k = i
			return nil
		}
	}
	return fmt.Errorf("event: unknown kind %q", b)
}

// Kinds returns every kind, in a stable order.
func Kinds() []Kind {
	out := make([]Kind, 0, numKinds-1)
	for k := Kind(1); k < numKinds; k++ {
		out = append(out, k)
	}
	return out
}

// Event is one thing that happened. Fields that do not apply to its Kind
// are zero and left out of its JSON form. It never holds content.
type Event struct {
	// ID is unique per event; a receiver uses it to drop a redelivery.
	ID   string    `json:"id"`
	Kind Kind      `json:"type"`
	Time time.Time `json:"timestamp"`

	Service  string `json:"service,omitempty"`
	Route    string `json:"route,omitempty"`
	TestType string `json:"test_type,omitempty"`

	// RequestID and CustomerID identify the sample, or for an escalation
	// the customer; CustomerID follows the Guard's privacy rules.
	RequestID  string `json:"request_id,omitempty"`
	CustomerID string `json:"customer_id,omitempty"`

	// Verdict fields, for Flagged.
	Flagged   bool    `json:"flagged,omitempty"`
	Score     float64 `json:"score,omitempty"`
	RiskLevel string  `json:"risk_level,omitempty"`

	// Rule, Value and Threshold, for the alert kinds: the rule's name, its
	// current value and the threshold it crossed.
	Rule      string  `json:"rule,omitempty"`
	Value     float64 `json:"value,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`

	// Until is when an escalation or an alert's automatic incident ends.
	Until time.Time `json:"until,omitzero"`
	// Reason says why an escalation ended ("expired", "ended", "evicted")
	// or names an alert's automatic incident.
	Reason string `json:"reason,omitempty"`
}
