package safecheck

import (
	"container/list"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/audit"
)

// ErrNoEscalation is returned by EndEscalation when the customer is not
// escalated.
var ErrNoEscalation = errors.New("safecheck: the customer is not escalated")

// Bounds of an escalation's configuration.
const (
	maxEscalationDuration = 30 * 24 * time.Hour
	maxEscalatedCustomers = 1_000_000
)

// WithEscalation escalates the route's flagged customers as e describes
// (see escalation.Config): after a flagged verdict for customer X on the
// route, X's requests on every escalating route are sampled at that
// route's escalated rate until the escalation ends. It replaces the
// Guard's WithDefaultEscalation on this route.
//
// On an escalating route the WithCustomerID function runs for every
// request, before the sampling decision, and the customer is looked up in
// the escalated set without a lock and without allocating. Ids are matched
// as the function returns them; ids that cleaning would change (control
// characters, invalid UTF-8, more than 128 bytes) and ids set with
// Capture.SetCustomerID are never escalated.
func WithEscalation(e escalation.Config) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.escalation = &e })
}

// WithDefaultEscalation escalates flagged customers on every route that
// has no WithEscalation of its own, as WithEscalation describes; its
// MaxCustomers bounds the Guard's set of escalated customers.
func WithDefaultEscalation(e escalation.Config) Option {
	return optionFunc(func(c *config) { c.reactions.escalation = &e })
}

// normalizeEscalation fills e's defaults and validates it; guardMax is the
// Guard's MaxCustomers, which a route's must match.
func normalizeEscalation(e escalation.Config, guardMax int, isDefault bool) (escalation.Config, error) {
	var errs []error
	if e.Rate == 0 {
		e.Rate = escalation.DefaultRate
	}
	if !(e.Rate > 0 && e.Rate <= 1) {
		errs = append(errs, fmt.Errorf("rate must be within (0, 1], got %v", e.Rate))
	}
	if e.Duration == 0 {
		e.Duration = escalation.DefaultDuration
	}
	if e.Duration < 0 || e.Duration > maxEscalationDuration {
		errs = append(errs, fmt.Errorf("duration must be within (0, %s], got %s", maxEscalationDuration, e.Duration))
	}
	if !(e.MinScore >= 0 && e.MinScore <= 1) {
		errs = append(errs, fmt.Errorf("min score must be within [0, 1], got %v", e.MinScore))
	}
	if e.MinRiskLevel != "" && escalation.Rank(e.MinRiskLevel) == 0 {
		errs = append(errs, fmt.Errorf("min risk level %q is not one of %q", e.MinRiskLevel, escalation.RiskLevels()))
	}
	switch {
	case e.MaxCustomers < 0 || e.MaxCustomers > maxEscalatedCustomers:
		errs = append(errs, fmt.Errorf("max customers must be within [1, %d], got %d", maxEscalatedCustomers, e.MaxCustomers))
	case isDefault && e.MaxCustomers == 0:
		e.MaxCustomers = escalation.DefaultMaxCustomers
	case !isDefault && e.MaxCustomers != 0 && e.MaxCustomers != guardMax:
		errs = append(errs, fmt.Errorf("max customers %d differs from the guard's %d: the set of escalated customers is one per guard, set its bound with WithDefaultEscalation", e.MaxCustomers, guardMax))
	case !isDefault:
		e.MaxCustomers = guardMax
	}
	return e, errors.Join(errs...)
}

// routeEscalation gives a route being registered the Guard's default
// escalation unless it has its own, and validates it.
func (g *Guard) routeEscalation(c *routeConfig) error {
	if c.escalation == nil {
		if c.customerID != nil { // a route without customer ids has no one to escalate
			c.escalation = g.rx.escDefault
		}
		return nil
	}
	e, err := normalizeEscalation(*c.escalation, g.rx.maxCustomers, false)
	if err != nil {
		return fmt.Errorf("escalation: %w", err)
	}
	if c.customerID == nil {
		return errors.New("escalation needs WithCustomerID: without a customer id there is no one to escalate")
	}
	c.escalation = &e
	return nil
}

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

// escSnapshot is an immutable set of escalated customer ids. A Bloom
// filter of 16 bits per id, small enough to stay in the CPU's cache, turns
// away almost every id that is not in the set before the map is read.
type escSnapshot struct {
	ids  map[string]struct{}
	seed uint64
	mask uint64   // the filter's size in bits, minus one
	bits []uint64 // nil when the set is empty
}

// filterHash is the Bloom filter's hash of id: its length and its first
// and last 8 bytes, mixed with seed. It costs a few instructions where a
// full hash of the id costs several times more; ids that differ only in
// the middle collide, which costs a map lookup, never a wrong answer.
func filterHash(id string, seed uint64) uint64 {
	var a, b uint64
	if len(id) >= 8 {
		a, b = load8(id), load8(id[len(id)-8:])
	} else {
		for i := 0; i < len(id); i++ {
			a = a<<8 | uint64(id[i])
		}
	}
	h := (a ^ seed) * 0x9E3779B97F4A7C15
	h ^= (b + uint64(len(id))) * 0xC2B2AE3D27D4EB4F
	return h ^ h>>29
}

// load8 reads the first 8 bytes of s, little-endian.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func newEscSnapshot(ids map[string]struct{}) *escSnapshot {
	s := &escSnapshot{ids: ids, seed: rand.Uint64()}
	if len(ids) == 0 {
		return s
	}
	m := uint64(64)
	for m < 16*uint64(len(ids)) {
		m <<= 1
	}
	s.mask, s.bits = m-1, make([]uint64, m/64)
	for id := range ids {
		h := filterHash(id, s.seed)
		for _, i := range [2]uint64{h & s.mask, (h >> 32) & s.mask} {
			s.bits[i>>6] |= 1 << (i & 63)
		}
	}
	return s
}

// has reports whether id is in the set, without allocating.
func (s *escSnapshot) has(id string) bool {
	if s.bits == nil {
		return false
	}
	h := filterHash(id, s.seed)
	i, j := h&s.mask, (h>>32)&s.mask
	if s.bits[i>>6]&(1<<(i&63)) == 0 || s.bits[j>>6]&(1<<(j&63)) == 0 {
		return false
	}
	_, ok := s.ids[id]
	return ok
}

type escEntry struct {
	id, public  string
	routes      []string
	since, last time.Time
	until       time.Time
	elem        *list.Element
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

// customerFirst runs the customer-id function of an escalating route
// before the sampling decision while any customer is escalated (have),
// containing its panic (ok false).
func (rt *Route) customerFirst(r *http.Request) (id string, have, ok bool) {
	if rt.cfg.escalation == nil || rt.g.rx.esc.snap.Load().bits == nil {
		return "", false, true
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return rt.cfg.customerID(r), true, true
}

// sampleCustomer decides whether a request of customer id is sampled: at
// the route's rate, or for an escalated customer at the escalated rate
// when that is higher. It never allocates.
func (rt *Route) sampleCustomer(id string) bool {
	if id == "" || rt.cfg.escalation == nil {
		return rt.sample()
	}
	if !rt.g.rx.esc.snap.Load().has(id) {
		return rt.sample()
	}
	rt.escalatedRequests.Add(1)
	if rt.sample() {
		return true
	}
	// Not sampled at the route's rate p: sampling now with probability
	// (e-p)/(1-p) makes the share of sampled requests exactly e.
	p, e := rt.rate.load(), rt.cfg.escalation.Rate
	switch {
	case e <= p:
		return false
	case e >= 1:
		return true
	}
	return rt.g.random() < (e-p)/(1-p)
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
		if until.After(ent.until) {
			ent.until = until
		}
		if !slices.Contains(ent.routes, rt.name) {
			ent.routes = append(slices.Clone(ent.routes), rt.name)
			slices.Sort(ent.routes)
		}
		e.lru.MoveToFront(ent.elem)
		e.mu.Unlock()
		return
	}
	var evicted *escEntry
	if len(e.byID) >= e.max {
		evicted = e.lru.Back().Value.(*escEntry)
		e.remove(evicted)
		e.evicted.Add(1)
	}
	ent := &escEntry{id: o.CustomerID, public: g.publicCustomerID(o.CustomerID), routes: []string{rt.name},
		since: now, last: now, until: until}
	ent.elem = e.lru.PushFront(ent)
	e.byID[ent.id] = ent
	e.started.Add(1)
	e.publish()
	g.scheduleExpiry(until)
	e.mu.Unlock()

	if evicted != nil {
		g.auditEscalationEnd(evicted, "evicted")
	}
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
		g.auditEscalationEnd(ent, "expired")
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
	g.emit(event.Event{Kind: event.EscalationEnded, Route: route, CustomerID: ent.public, Until: ent.until, Reason: how})
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
