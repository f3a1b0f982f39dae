package coord

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Coordinator shares one Guard's state with the other replicas of its
// deployment. A Coordinator serves one Guard: the Guard calls Start in
// safecheck.New and Close in Guard.Close. Every method may be called
// concurrently; none may block the caller on a store that does not answer
// for longer than its own timeouts.
type Coordinator interface {
	// Start joins the deployment. From then on the Coordinator calls
	// m.Apply, from its own goroutines, for every change made by another
	// replica (and, on a resync, for the state it finds in the store).
	Start(m Member) error
	// Publish shares a change this replica made. It never blocks: the
	// change is written in the background, and written again after the
	// store has been lost and found.
	Publish(c Change)
	// Reserve takes one call of the fleet's budget of m.RatePerMinute
	// calls a minute. When none is free it says how long to wait before
	// asking again. It errs only when ctx ends; a store that does not
	// answer is replaced by a local budget.
	Reserve(ctx context.Context) (Permit, error)
	// VerdictKey returns the key of a verdict in the shared cache: a keyed
	// hash of the test type and the texts, never the texts nor a plain hash
	// of them (see Key).
	VerdictKey(testType, prompt, response string) string
	// Lookup returns the verdict stored under key, if any.
	Lookup(ctx context.Context, key string) (Verdict, bool)
	// Store keeps v under key for ttl.
	Store(ctx context.Context, key string, v Verdict, ttl time.Duration)
	// Status says whether the Coordinator is sharing state or serving
	// from local state, and since when.
	Status() Status
	// Close stops every goroutine of the Coordinator before it returns.
	Close() error
}

// Member is what a Guard gives its Coordinator in Start.
type Member struct {
	// RatePerMinute is the plan's limit for the whole deployment
	// (safecheck.WithRateLimit); 0 means no budget.
	RatePerMinute int
	// Logger takes the Coordinator's records: the fallback to local state
	// and the recovery, once each.
	Logger *slog.Logger
	// Apply applies a change made elsewhere. It is safe to call from any
	// goroutine and returns quickly.
	Apply func(Change)
}

// Kind says what a Change changes.
type Kind uint8

// The kinds of change.
const (
	KindIncident   Kind = iota + 1 // an incident started (Incident set) or ended (Incident nil)
	KindRate                       // a route's sample rate changed
	KindPause                      // a 429 asked every call to wait until Until
	KindEscalation                 // a customer's escalation started or was extended (Escalation set), or ended early (Escalation.Ended)
)

var kindNames = [...]string{KindIncident: "incident", KindRate: "rate", KindPause: "pause", KindEscalation: "escalation"}

// String returns the kind's name: "incident", "rate", "pause" or
// "escalation".
func (k Kind) String() string {
	if k >= 1 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText returns the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if i > 0 && n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("coord: unknown change kind %q", b)
}

// Change is one change of shared state.
type Change struct {
	Kind Kind `json:"kind"`
	// At is when the change was made. Of two changes of the same thing,
	// the later wins.
	At time.Time `json:"at"`
	// Origin names the replica that made the change; a Coordinator sets it
	// in Publish and never delivers a replica its own changes.
	Origin string `json:"origin,omitempty"`
	// Incident is the incident started, or nil for one that ended.
	Incident *Incident `json:"incident,omitempty"`
	// Route and Rate are a KindRate change.
	Route string  `json:"route,omitempty"`
	Rate  float64 `json:"rate,omitempty"`
	// Until is the end of a KindPause.
	Until time.Time `json:"until,omitzero"`
	// Escalation is a KindEscalation change.
	Escalation *Escalation `json:"escalation,omitempty"`
}

// Subject names what c changes: "incident", "pause", "rate:" and the
// route, or "escalation:" and the customer id. Of two changes with one
// subject, the later wins.
func (c Change) Subject() string {
	switch {
	case c.Kind == KindRate:
		return "rate:" + c.Route
	case c.Kind == KindEscalation && c.Escalation != nil:
		return "escalation:" + c.Escalation.Customer
	}
	return c.Kind.String()
}

// Escalation is a customer's escalation as it is shared: Customer, the id
// as the application's customer-id function returns it (replicas match
// requests on it, so it is shared as it is, not hashed), is escalated from
// Since until Until, or, when Ended, no longer. An ended escalation keeps
// its Until: a store holds any escalation change until then, and no
// longer.
type Escalation struct {
	Customer string    `json:"customer"`
	Route    string    `json:"route,omitempty"` // the route whose flagged verdict started or extended it
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until"`
	Ended    bool      `json:"ended,omitempty"`
}

// Incident is an incident as it is shared: full sampling of Routes (nil
// means every route) from Start until Until, for Reason.
type Incident struct {
	Reason string    `json:"reason"`
	Routes []string  `json:"routes,omitempty"`
	Start  time.Time `json:"start"`
	Until  time.Time `json:"until"`
}

// Verdict is a verdict as the shared cache holds it: no text, no id.
type Verdict struct {
	Flagged   bool    `json:"flagged"`
	Score     float64 `json:"score"`
	RiskLevel string  `json:"risk_level"`
	PassFail  string  `json:"pass_fail"`
}

// Permit is Reserve's answer: Allowed, or how long to wait.
type Permit struct {
	Allowed    bool
	RetryAfter time.Duration
}

// Mode says where a Guard's shared state comes from.
type Mode uint8

// The modes.
const (
	// Off: the Guard has no Coordinator.
	Off Mode = iota
	// Shared: the store answers; changes and the budget are the fleet's.
	Shared
	// Degraded: the store does not answer; the replica keeps its last
	// known state and spends a local share of the budget.
	Degraded
)

var modeNames = [...]string{Off: "off", Shared: "shared", Degraded: "degraded"}

// String returns the mode's name: "off", "shared" or "degraded".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// MarshalText returns the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode's name.
func (m *Mode) UnmarshalText(b []byte) error {
	for i, n := range modeNames {
		if n == string(b) {
			*m = Mode(i)
			return nil
		}
	}
	return fmt.Errorf("coord: unknown mode %q", b)
}

// Status is a Coordinator's mode and when it began.
type Status struct {
	Mode  Mode
	Since time.Time
}
