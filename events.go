package safecheck

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/event"
)

// reactionConfig is what the escalation, alert and event options set.
type reactionConfig struct {
	escalation *escalation.Config // WithDefaultEscalation
	rules      []alert.Rule
	onAlert    []func(alert.Status)
	onEvent    []func(event.Event)
	errs       []error // options that were wrong as given
}

// reactions is the Guard's response to finished checks: escalations,
// alert rules and the event hooks.
type reactions struct {
	escDefault   *escalation.Config // normalised, or nil
	maxCustomers int
	esc          escalations
	rules        []*alertRule
	onAlert      []func(alert.Status)
	onEvent      []func(event.Event)
}

// WithOnEvent calls f with each event.Event as it happens: every flagged
// verdict, every escalation's start and end, every alert's firing and
// clearing. f is called from background goroutines, one event at a time
// per goroutine, and must not block: a sink such as the webhook package
// queues the event and returns. Events carry no content, and their
// customer ids follow the privacy rules of the Guard's records. A panic in
// f is recovered and counted in Stats.HookPanics. It may be given more
// than once; a nil f is an error.
func WithOnEvent(f func(event.Event)) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.reactions.errs = append(c.reactions.errs, errors.New("WithOnEvent: function is nil"))
			return
		}
		c.reactions.onEvent = append(c.reactions.onEvent, f)
	})
}

// initReactions validates the escalation and alert options and readies
// their state; New calls it before any route exists.
func (g *Guard) initReactions(rc *reactionConfig) error {
	errs := append([]error(nil), rc.errs...)
	rx := &g.rx
	rx.maxCustomers = escalation.DefaultMaxCustomers
	if rc.escalation != nil {
		e, err := normalizeEscalation(*rc.escalation, 0, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("WithDefaultEscalation: %w", err))
		} else {
			rx.escDefault, rx.maxCustomers = &e, e.MaxCustomers
		}
	}
	rx.esc.init(rx.maxCustomers)
	rules, err := g.newAlertRules(rc.rules)
	if err != nil {
		errs = append(errs, err)
	}
	rx.rules = rules
	rx.onAlert, rx.onEvent = rc.onAlert, rc.onEvent
	return errors.Join(errs...)
}

// react feeds one finished check to the escalations, the alert rules and
// the event hooks. The workers call it after each check they report.
func (g *Guard) react(rt *Route, o *Outcome) {
	if o.Err != nil {
		return
	}
	if o.Verdict.Flagged && len(g.rx.onEvent) > 0 {
		g.emit(event.Event{Kind: event.Flagged, Route: o.Route, TestType: o.TestType, RequestID: o.RequestID,
			CustomerID: g.publicCustomerID(o.CustomerID), Flagged: true, Score: o.Verdict.Score, RiskLevel: o.Verdict.RiskLevel})
	}
	if o.Verdict.Flagged && rt.cfg.escalation != nil && o.CustomerID != "" {
		g.escalate(rt, o)
	}
	if len(g.rx.rules) > 0 {
		g.observeAlerts(rt.name, o, time.Now())
	}
}

// emit completes e (id, time, service) and hands it to every WithOnEvent
// function.
func (g *Guard) emit(e event.Event) {
	if len(g.rx.onEvent) == 0 {
		return
	}
	e.ID = newEventID()
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Service = g.cfg.service
	for _, f := range g.rx.onEvent {
		callHook(g, f, e)
	}
}

// newEventID returns "evt_" and 32 random hex digits.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:])
	return "evt_" + hex.EncodeToString(b[:])
}

// publicCustomerID is id as the Guard's records show it: the redactor's
// privacy rules applied.
func (g *Guard) publicCustomerID(id string) string {
	if id == "" {
		return ""
	}
	return g.redact.publicCustomerID(id)
}
