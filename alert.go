package safecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/audit"
)

// Bounds of an alert rule's configuration.
const (
	maxAlertWindow      = 24 * time.Hour
	maxAlertIncidentFor = 24 * time.Hour
	maxAlertRules       = 100
)

// WithAlertRules evaluates rules over the verdicts of sampled traffic (see
// the alert package): when a rule fires or clears, the Guard writes one
// WARN record ("alert fired", "alert cleared"), calls every WithOnAlert
// hook and emits an event; a rule with IncidentFor starts incident mode
// through StartIncident, in an audit record whose actor is "rule:<name>".
// Every rule's state and value are in Stats.Alerts. It may be given more
// than once; rules are validated in New.
func WithAlertRules(rules ...alert.Rule) Option {
	return optionFunc(func(c *config) {
		if len(rules) == 0 {
			c.reactions.errs = append(c.reactions.errs, errors.New("WithAlertRules: no rules"))
		}
		c.reactions.rules = append(c.reactions.rules, rules...)
	})
}

// WithOnAlert calls f with a rule's Status each time the rule fires or
// clears, from a background goroutine; f must not block. A panic in f is
// recovered and counted in Stats.HookPanics. It may be given more than
// once; a nil f is an error.
func WithOnAlert(f func(alert.Status)) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.reactions.errs = append(c.reactions.errs, errors.New("WithOnAlert: function is nil"))
			return
		}
		c.reactions.onAlert = append(c.reactions.onAlert, f)
	})
}

// alertRule is one rule's sliding window and state.
type alertRule struct {
	rule             alert.Rule // defaults filled in
	threshold, clear float64
	reason           string // of the incidents it starts

	mu     sync.Mutex
	ring   []alertBucket
	status alert.Status
}

// alertBucket holds the verdicts of one alert.Bucket of time.
type alertBucket struct {
	epoch   int64 // the bucket's start in alert.Bucket units; 0: unused
	checks  uint64
	flagged uint64
	scores  [len(scoreBoundsArray) + 1]uint64
}

// scoreBoundsArray fixes the length of a bucket's score counts; it equals
// scoreBounds.
var scoreBoundsArray = [...]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}

func validRuleName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == '.' || b == '-') {
			return false
		}
	}
	return true
}

// newAlertRules fills in the rules' defaults and validates them.
func (g *Guard) newAlertRules(in []alert.Rule) ([]*alertRule, error) {
	var errs []error
	if len(in) > maxAlertRules {
		return nil, fmt.Errorf("WithAlertRules: %d rules, at most %d", len(in), maxAlertRules)
	}
	seen := map[string]bool{}
	var out []*alertRule
	now := time.Now()
	for i, r := range in {
		bad := func(format string, args ...any) {
			name := fmt.Sprintf("rule %d", i+1)
			if r.Name != "" && validRuleName(r.Name) {
				name = fmt.Sprintf("rule %q", r.Name)
			}
			errs = append(errs, fmt.Errorf("WithAlertRules: %s: "+format, append([]any{name}, args...)...))
		}
		n := len(errs)
		switch {
		case !validRuleName(r.Name):
			bad("name must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'")
		case seen[r.Name]:
			bad("name given twice")
		}
		seen[r.Name] = true
		if r.TestType != "" && !g.supports(r.TestType) {
			bad("unknown test type %q", r.TestType)
		}
		if r.Window == 0 {
			r.Window = alert.DefaultWindow
		}
		if r.Window < alert.Bucket || r.Window > maxAlertWindow || r.Window%alert.Bucket != 0 {
			bad("window must be a multiple of %s within [%s, %s], got %s", alert.Bucket, alert.Bucket, maxAlertWindow, r.Window)
		}
		if r.MinChecks == 0 {
			r.MinChecks = alert.DefaultMinChecks
		}
		if r.MinChecks < 0 {
			bad("min checks must be positive, got %d", r.MinChecks)
		}
		inRange := func(v float64) bool { return v > 0 && v <= 1 }
		switch {
		case r.FlaggedShare != 0 && r.ScoreP95 != 0:
			bad("set one of FlaggedShare and ScoreP95, not both")
		case r.FlaggedShare == 0 && r.ScoreP95 == 0:
			bad("set one of FlaggedShare and ScoreP95")
		case r.FlaggedShare != 0 && !inRange(r.FlaggedShare):
			bad("flagged share must be within (0, 1], got %v", r.FlaggedShare)
		case r.ScoreP95 != 0 && !inRange(r.ScoreP95):
			bad("score p95 must be within (0, 1], got %v", r.ScoreP95)
		}
		th := r.Threshold()
		if r.Clear == 0 {
			r.Clear = th / 2
		}
		if !(r.Clear >= 0 && r.Clear < th) && len(errs) == n {
			bad("clear threshold must be within [0, %v), got %v", th, r.Clear)
		}
		if r.IncidentFor < 0 || r.IncidentFor > maxAlertIncidentFor {
			bad("incident duration must be within [0, %s], got %s", maxAlertIncidentFor, r.IncidentFor)
		}
		if len(errs) > n {
			continue
		}
		out = append(out, &alertRule{
			rule: r, threshold: th, clear: r.Clear, reason: "alert " + r.Name,
			ring:   make([]alertBucket, r.Window/alert.Bucket),
			status: alert.Status{Rule: r, State: alert.OK, Since: now},
		})
	}
	return out, errors.Join(errs...)
}

func (r *alertRule) watches(route, testType string) bool {
	return (r.rule.Route == "" || r.rule.Route == route) && (r.rule.TestType == "" || r.rule.TestType == testType)
}

func alertEpoch(now time.Time) int64 { return now.UnixNano() / int64(alert.Bucket) }

// add counts one verdict; mu is held.
func (r *alertRule) add(v Verdict, now time.Time) {
	epoch := alertEpoch(now)
	b := &r.ring[epoch%int64(len(r.ring))]
	if b.epoch != epoch {
		*b = alertBucket{epoch: epoch}
	}
	b.checks++
	if v.Flagged {
		b.flagged++
	}
	b.scores[sort.SearchFloat64s(scoreBoundsArray[:], v.Score)]++
}

// measure sums the window ending now; mu is held.
func (r *alertRule) measure(now time.Time) (value float64, checks int) {
	epoch := alertEpoch(now)
	var flagged, n uint64
	h := Histogram{Bounds: scoreBoundsArray[:], Counts: make([]uint64, len(scoreBoundsArray)+1)}
	for i := range r.ring {
		b := &r.ring[i]
		if b.epoch == 0 || b.epoch <= epoch-int64(len(r.ring)) || b.epoch > epoch {
			continue
		}
		n += b.checks
		flagged += b.flagged
		for j, c := range b.scores {
			h.Counts[j] += c
		}
	}
	if n == 0 {
		return 0, 0
	}
	if r.rule.ScoreP95 > 0 {
		h.Count = n
		return h.Quantile(0.95), int(n)
	}
	return float64(flagged) / float64(n), int(n)
}

// alertChange is a rule's transition, to act on once mu is released.
type alertChange uint8

const (
	alertSame alertChange = iota
	alertFired
	alertCleared
)

// evaluateRule updates the rule's value and state at now; mu is held.
func (g *Guard) evaluateRule(r *alertRule, now time.Time) alertChange {
	value, checks := r.measure(now)
	st := &r.status
	st.Value, st.Checks = value, checks
	if !st.IncidentUntil.IsZero() && !g.ownIncidentActive(r, now) {
		st.IncidentUntil = time.Time{}
	}
	switch {
	case st.State == alert.Firing && (checks == 0 || checks >= r.rule.MinChecks && value < r.clear):
		st.State, st.Since = alert.OK, now
		return alertCleared
	case st.State == alert.OK && checks >= r.rule.MinChecks && value >= r.threshold && st.IncidentUntil.IsZero():
		st.State, st.Since = alert.Firing, now
		if r.rule.IncidentFor > 0 && g.incident.Load() == nil {
			st.IncidentUntil = now.Add(r.rule.IncidentFor) // until StartIncident says otherwise
		}
		return alertFired
	}
	return alertSame
}

// ownIncidentActive reports whether the incident the rule started is
// still the active one.
func (g *Guard) ownIncidentActive(r *alertRule, now time.Time) bool {
	inc := g.incident.Load()
	return inc != nil && inc.reason == r.reason && now.Before(r.status.IncidentUntil)
}

// observeAlerts counts one verdict of route in the rules that watch it.
func (g *Guard) observeAlerts(route string, o *Outcome, now time.Time) {
	for _, r := range g.rx.rules {
		if !r.watches(route, o.TestType) {
			continue
		}
		r.mu.Lock()
		r.add(o.Verdict, now)
		change := g.evaluateRule(r, now)
		st := r.status
		r.mu.Unlock()
		g.alertChanged(r, change, st)
	}
}

// tickAlerts re-evaluates every rule, so that a window that empties clears
// its rule and Stats shows values that slide with time.
func (g *Guard) tickAlerts(now time.Time) {
	for _, r := range g.rx.rules {
		r.mu.Lock()
		change := g.evaluateRule(r, now)
		st := r.status
		r.mu.Unlock()
		g.alertChanged(r, change, st)
	}
}

// alertChanged writes the record, calls the hooks, emits the event and
// starts the incident of a rule that fired or cleared.
func (g *Guard) alertChanged(r *alertRule, change alertChange, st alert.Status) {
	if change == alertSame {
		return
	}
	routeName, testType := orAll(r.rule.Route), orAll(r.rule.TestType)
	attrs := []slog.Attr{
		slog.String("rule", r.rule.Name),
		slog.String("route", routeName),
		slog.String("test_type", testType),
		slog.String("measure", r.rule.Measure()),
		slog.Float64("value", st.Value),
		slog.Int("checks", st.Checks),
		slog.String("window", r.rule.Window.String()),
	}
	kind, threshold := event.AlertFired, r.threshold
	if change == alertFired {
		attrs = append(attrs, slog.Float64("threshold", r.threshold))
		if !st.IncidentUntil.IsZero() {
			attrs = append(attrs, slog.String("incident_for", r.rule.IncidentFor.String()))
		}
		g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "alert fired", attrs...)
	} else {
		kind, threshold = event.AlertCleared, r.clear
		g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "alert cleared", append(attrs, slog.Float64("clear", r.clear))...)
	}
	if change == alertFired && !st.IncidentUntil.IsZero() {
		st.IncidentUntil = g.startRuleIncident(r, st.IncidentUntil)
	}
	for _, f := range g.rx.onAlert {
		callHook(g, f, st)
	}
	ev := event.Event{Kind: kind, Route: r.rule.Route, TestType: r.rule.TestType, Rule: r.rule.Name,
		Value: st.Value, Threshold: threshold}
	if change == alertFired && !st.IncidentUntil.IsZero() {
		ev.Until, ev.Reason = st.IncidentUntil, r.reason
	}
	g.emit(ev)
}

// startRuleIncident starts the rule's incident through StartIncident, with
// the rule as the actor, and returns its end, or zero when it did not
// start.
func (g *Guard) startRuleIncident(r *alertRule, until time.Time) time.Time {
	var routes []string
	if r.rule.Route != "" {
		routes = []string{r.rule.Route}
	}
	ctx := audit.WithAttrs(context.Background(), slog.String("actor", "rule:"+r.rule.Name), slog.String("via", "alert"))
	err := g.StartIncident(ctx, r.reason, r.rule.IncidentFor, routes...)
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "alert: automatic incident not started",
				slog.String("rule", r.rule.Name), slog.String("error", err.Error()))
		}
		until = time.Time{}
	}
	if inc := g.incident.Load(); err == nil && inc != nil && inc.reason == r.reason {
		until = inc.until
	}
	r.mu.Lock()
	r.status.IncidentUntil = until
	r.mu.Unlock()
	return until
}

func orAll(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// alertStats lists every rule's status.
func (g *Guard) alertStats() []alert.Status {
	var out []alert.Status
	for _, r := range g.rx.rules {
		r.mu.Lock()
		out = append(out, r.status)
		r.mu.Unlock()
	}
	return out
}
