package safecheck

import (
	"container/list"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/audit"
)

// escalations is the Guard's bounded set of escalated customers. The
// request path reads only snap, an immutable set replaced on every change
// of membership; everything else is under mu.
type escalations struct {
	snap atomic.Pointer[escSnapshot]

	mu      sync.Mutex
	max     int
	byID    map[string]*escEntry
	lru     list.List // of *escEntry, most recently flagged first
	timer   *time.Timer
	timerAt time.Time
	closed  bool
	// A change is published at once unless the last publication was less
	// than publishEvery ago; then pubTimer publishes the changes since.
	lastPub  time.Time
	pubTimer *time.Timer

	started, ended, evicted atomic.Uint64
}

type escEntry struct {
	id, public  string
	routes      []string
	since, last time.Time
	until       time.Time
	elem        *list.Element
	remote      bool      // started by another replica of the fleet: its expiry is that replica's to audit
	at          time.Time // the last fleet change of the escalation made or applied (coordinator.go)
}

func (e *escalations) init(max int) {
	e.max = max
	e.byID = map[string]*escEntry{}
	e.snap.Store(newEscSnapshot(nil))
}

// publishEvery is the shortest interval between two publications of the
// escalated set, so that a burst of changes costs one copy of the set per
// interval, not one per change. A change waits at most this long to reach
// the request path.
const publishEvery = 100 * time.Millisecond

// publish makes the request path see the set's changes, now or, after a
// recent publication, once publishEvery has passed; mu is held.
func (e *escalations) publish() {
	if e.pubTimer != nil || e.closed {
		return // the pending publication will include this change
	}
	wait := publishEvery - time.Since(e.lastPub)
	if wait <= 0 {
		e.publishNow()
		return
	}
	e.pubTimer = time.AfterFunc(wait, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.pubTimer = nil
		if !e.closed {
			e.publishNow()
		}
	})
}

// publishNow replaces the request path's set; mu is held.
func (e *escalations) publishNow() {
	e.lastPub = time.Now()
	ids := make(map[string]struct{}, len(e.byID))
	for id := range e.byID {
		ids[id] = struct{}{}
	}
	e.snap.Store(newEscSnapshot(ids))
}

// remove takes ent out of the set; mu is held and the caller publishes.
func (e *escalations) remove(ent *escEntry) {
	delete(e.byID, ent.id)
	e.lru.Remove(ent.elem)
	e.ended.Add(1)
}

// escalates reports whether a flagged verdict meets e's minimums.
func escalates(e *escalation.Config, v Verdict) bool {
	if v.Score < e.MinScore {
		return false
	}
	return e.MinRiskLevel == "" || escalation.Rank(v.RiskLevel) >= escalation.Rank(e.MinRiskLevel)
}

// escalate starts or extends the escalation of o's customer after a
// flagged verdict on rt.
func (g *Guard) escalate(rt *Route, o *Outcome) {
	cfg := rt.cfg.escalation
	if !escalates(cfg, o.Verdict) {
		return
	}
	e := &g.rx.esc
	now := time.Now()
	until := now.Add(cfg.Duration)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	if ent := e.byID[o.CustomerID]; ent != nil {
		ent.last = now
		if extendEscalation(ent, until, rt.name) {
			g.fleet.publishEscalation(ent, rt.name)
		}
		e.lru.MoveToFront(ent.elem)
		e.mu.Unlock()
		return
	}
	ent := &escEntry{id: o.CustomerID, public: g.publicCustomerID(o.CustomerID), routes: []string{rt.name},
		since: now, last: now, until: until}
	evicted := g.insertEscalation(ent)
	g.fleet.publishEscalation(ent, rt.name)
	e.mu.Unlock()

	g.auditEviction(evicted)
	g.audit("escalation started",
		slog.String("customer_id", ent.id),
		slog.String("route", rt.name),
		slog.String("test_type", o.TestType),
		slog.String("request_id", o.RequestID),
		slog.Float64("score", o.Verdict.Score),
		slog.String("risk_level", o.Verdict.RiskLevel),
		slog.Float64("rate", cfg.Rate),
		slog.String("duration", cfg.Duration.String()),
		slog.Time("until", until))
	g.emit(event.Event{Kind: event.EscalationStarted, Time: now, Route: rt.name, TestType: o.TestType,
		RequestID: o.RequestID, CustomerID: ent.public, Flagged: true, Score: o.Verdict.Score,
		RiskLevel: o.Verdict.RiskLevel, Until: until})
}

// extendEscalation moves ent's end to until when that is later and adds
// route to its routes, and reports whether either changed; mu is held.
func extendEscalation(ent *escEntry, until time.Time, route string) bool {
	changed := false
	if until.After(ent.until) {
		ent.until, changed = until, true
	}
	if route != "" && !slices.Contains(ent.routes, route) {
		ent.routes = append(slices.Clone(ent.routes), route)
		slices.Sort(ent.routes)
		changed = true
	}
	return changed
}

// insertEscalation adds ent, a customer not in the set, evicting the
// least recently flagged one at the cap, which it returns; mu is held.
func (g *Guard) insertEscalation(ent *escEntry) (evicted *escEntry) {
	e := &g.rx.esc
	if len(e.byID) >= e.max {
		evicted = e.lru.Back().Value.(*escEntry)
		e.remove(evicted)
		e.evicted.Add(1)
	}
	ent.elem = e.lru.PushFront(ent)
	e.byID[ent.id] = ent
	e.started.Add(1)
	e.publish()
	g.scheduleExpiry(ent.until)
	return evicted
}

// auditEviction writes the record of an eviction, if any, unless the
// evicted escalation came from another replica: each replica bounds its
// own set, and that one is simply gone here.
func (g *Guard) auditEviction(evicted *escEntry) {
	if evicted != nil && !evicted.remote {
		g.auditEscalationEnd(evicted, "evicted")
	}
}

// scheduleExpiry makes the expiry timer fire by at; mu is held.
func (g *Guard) scheduleExpiry(at time.Time) {
	e := &g.rx.esc
	if e.timer != nil && !at.Before(e.timerAt) {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timerAt = at
	e.timer = time.AfterFunc(time.Until(at), g.expireEscalations)
}

// expireEscalations ends the escalations whose time is up and sets the
// timer for the next.
func (g *Guard) expireEscalations() {
	e := &g.rx.esc
	now := time.Now()
	var ended []*escEntry
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.timer = nil
	next := time.Time{}
	for _, ent := range e.byID {
		switch {
		case !ent.until.After(now):
			ended = append(ended, ent)
		case next.IsZero() || ent.until.Before(next):
			next = ent.until
		}
	}
	for _, ent := range ended {
		e.remove(ent)
	}
	if len(ended) > 0 {
		e.publish()
	}
	if !next.IsZero() {
		g.scheduleExpiry(next)
	}
	e.mu.Unlock()
	sort.Slice(ended, func(i, j int) bool { return ended[i].until.Before(ended[j].until) })
	for _, ent := range ended {
		if !ent.remote { // the replica that started it says so, once
			g.auditEscalationEnd(ent, "expired")
		}
	}
}

// auditEscalationEnd writes the audit record and the event of an
// escalation's end.
func (g *Guard) auditEscalationEnd(ent *escEntry, how string, extra ...slog.Attr) {
	g.audit("escalation "+how, append([]slog.Attr{
		slog.String("customer_id", ent.id),
		slog.Any("routes", ent.routes),
		slog.Time("since", ent.since),
		slog.String("lasted", time.Since(ent.since).Round(time.Millisecond).String())}, extra...)...)
	route := ""
	if len(ent.routes) == 1 {
		route = ent.routes[0]
	}
	g.emit(event.Event{Kind: event.EscalationEnded, Route: route, CustomerID: ent.public, Reason: how})
}

// closeEscalations stops the expiry timer; the escalations end with the
// Guard, without a record each.
func (g *Guard) closeEscalations() {
	e := &g.rx.esc
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if e.pubTimer != nil {
		e.pubTimer.Stop()
		e.pubTimer = nil
	}
}

// EndEscalation ends the escalation of a customer now: the customer's
// requests are sampled at the routes' rates again. customerID is the id
// as the application gives it, or as Escalations lists it (with the
// privacy rules applied, such as "hmac:..." for an e-mail address). The
// end is one audit record that carries who made the change from ctx, as
// StartIncident's do. It returns ErrNoEscalation when the customer is not
// escalated, an error when a listed id matches several customers, and
// ErrClosed after Close.
func (g *Guard) EndEscalation(ctx context.Context, customerID string) error {
	if customerID == "" {
		return errors.New("safecheck: customer id is empty")
	}
	e := &g.rx.esc
	e.mu.Lock()
	if e.closed || g.closed.Load() {
		e.mu.Unlock()
		return ErrClosed
	}
	ent := e.byID[customerID]
	if ent == nil {
		n := 0
		for _, c := range e.byID {
			if c.public == customerID {
				ent, n = c, n+1
			}
		}
		if n > 1 {
			e.mu.Unlock()
			return fmt.Errorf("safecheck: the listed customer id matches %d escalated customers; end them by their ids", n)
		}
	}
	if ent == nil {
		e.mu.Unlock()
		return ErrNoEscalation
	}
	e.remove(ent)
	e.publish()
	g.fleet.publishEscalationEnd(ent)
	e.mu.Unlock()
	g.auditEscalationEnd(ent, "ended", audit.Attrs(ctx)...)
	return nil
}

// Escalations lists escalated customers, ordered by their listed ids:
// at most limit (1 to 1000) after cursor ("" for the first page). next is
// the cursor of the following page, or "" after the last.
func (g *Guard) Escalations(cursor string, limit int) (page []escalation.Entry, next string, err error) {
	if limit < 1 || limit > 1000 {
		return nil, "", fmt.Errorf("safecheck: limit must be within [1, 1000], got %d", limit)
	}
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) == 0 {
			return nil, "", fmt.Errorf("safecheck: cursor %q is not one Escalations returned", cursor)
		}
		after = string(b)
	}
	e := &g.rx.esc
	e.mu.Lock()
	all := make([]escalation.Entry, 0, len(e.byID))
	for _, ent := range e.byID {
		if cursor == "" || ent.public > after {
			all = append(all, escalation.Entry{CustomerID: ent.public, Routes: slices.Clone(ent.routes),
				Since: ent.since, LastFlagged: ent.last, Until: ent.until})
		}
	}
	e.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].CustomerID != all[j].CustomerID {
			return all[i].CustomerID < all[j].CustomerID
		}
		return all[i].Since.Before(all[j].Since)
	})
	if len(all) > limit {
		all = all[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(all[limit-1].CustomerID))
	}
	return all, next, nil
}

// escalationStats fills the escalation fields of s.
func (g *Guard) escalationStats(s *Stats) {
	e := &g.rx.esc
	e.mu.Lock()
	s.Escalated = len(e.byID)
	e.mu.Unlock()
	s.EscalationsStarted = e.started.Load()
	s.EscalationsEnded = e.ended.Load()
	s.EscalationsEvicted = e.evicted.Load()
}

// escalationRouteStats fills the escalation fields of one route's stats.
func (rt *Route) escalationRouteStats(rs *RouteStats) {
	if rt.cfg.escalation != nil {
		rs.EscalationRate = rt.cfg.escalation.Rate
	}
	rs.EscalatedRequests = rt.escalatedRequests.Load()
}
