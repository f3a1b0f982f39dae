package escalation

import "time"

// Defaults of a Config's zero fields.
const (
	DefaultRate         = 1.0
	DefaultDuration     = time.Hour
	DefaultMaxCustomers = 10_000
)

// Config configures escalation on a route, or on every route as the
// Guard's default. The zero value escalates every flagged customer to full
// sampling for an hour.
type Config struct {
	// Rate is the share of an escalated customer's requests on the route
	// that is sampled, within (0, 1]; 0 means DefaultRate. A rate at or
	// below the route's own sample rate changes nothing.
	Rate float64
	// Duration is how long an escalation started by a flagged verdict on
	// the route lasts; another flagged verdict extends it. 0 means
	// DefaultDuration.
	Duration time.Duration
	// MinScore, within [0, 1], escalates only for flagged verdicts whose
	// score is at least MinScore; 0 means any flagged verdict.
	MinScore float64
	// MinRiskLevel escalates only for flagged verdicts whose risk level is
	// at least this one, in the order RiskLevels gives ("reject" and
	// "critical" rank alike); "" means any flagged verdict. A verdict with
	// a risk level outside that list does not escalate when it is set.
	MinRiskLevel string
	// MaxCustomers bounds the Guard's one set of escalated customers; when
	// it is full, the least recently flagged customer is evicted. Only the
	// Guard's default sets it (0 means DefaultMaxCustomers); on a route it
	// must be 0 or the Guard's value.
	MaxCustomers int
}

// RiskLevels returns the risk levels MinRiskLevel accepts, lowest first.
func RiskLevels() []string { return []string{"low", "medium", "high", "critical", "reject"} }

// Rank returns the rank of a risk level (1 for "low", up to 4 for
// "critical" and "reject"), or 0 for one outside RiskLevels.
func Rank(level string) int {
	switch level {
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	case "critical", "reject":
		return 4
	}
	return 0
}

// Entry is one escalated customer, as safecheck.Guard.Escalations lists it.
type Entry struct {
	// CustomerID is the customer's id with the Guard's privacy rules
	// applied, as in its log records; Guard.EndEscalation accepts it.
	CustomerID string
	// Routes are the routes whose flagged verdicts escalated the customer,
	// sorted.
	Routes []string
	// Since is when the escalation started; LastFlagged when the latest
	// flagged verdict extended it; Until when it ends unless extended.
	Since       time.Time
	LastFlagged time.Time
	Until       time.Time
}
