package safecheck

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/safecheck/safecheck/coord"
)

// WithCoordinator shares the Guard's incident mode, sample rates,
// escalated customers, API budget, Retry-After pause and verdict cache
// with the other replicas of its deployment through c (adapters/redis, or coord.Local in one
// process). With it, WithRateLimit is the plan's limit for the whole
// fleet. The Guard starts c in New and closes it in Close; c serves this
// Guard only. The request path never calls c.
func WithCoordinator(c coord.Coordinator) Option {
	return optionFunc(func(cfg *config) { cfg.coordinator, cfg.coordinatorSet = c, true })
}

// fleet is a Guard's side of its Coordinator. Every method is a no-op on a
// nil *fleet, so the hooks in sampler.go, policy.go and worker.go are one
// call each.
type fleet struct {
	c coord.Coordinator
	g *Guard

	incAt time.Time // the last incident change made or applied; under g.incidentMu

	mu      sync.Mutex
	rateAt  map[string]time.Time    // the last rate change of each route made or applied
	pending map[string]coord.Change // rate changes of routes not registered here yet
}

// startFleet starts the configured Coordinator, if any.
func (g *Guard) startFleet() error {
	if g.cfg.coordinator == nil {
		return nil
	}
	f := &fleet{c: g.cfg.coordinator, g: g, rateAt: map[string]time.Time{}, pending: map[string]coord.Change{}}
	g.fleet, g.policy.fleet = f, f // before Start, which may deliver changes at once
	err := f.c.Start(coord.Member{
		RatePerMinute: g.cfg.ratePerMinute,
		Logger:        g.log,
		Apply:         g.applyRemote,
	})
	if err != nil {
		g.fleet, g.policy.fleet = nil, nil
	}
	return err
}

// stopFleet closes the Coordinator; it runs in Close, after the workers.
func (g *Guard) stopFleet() {
	if g.fleet == nil {
		return
	}
	if err := g.fleet.c.Close(); err != nil {
		g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "fleet: closing the coordinator failed", slog.String("error", err.Error()))
	}
}

func (f *fleet) status() coord.Status {
	if f == nil {
		return coord.Status{}
	}
	return f.c.Status()
}

// publishIncident shares an incident this replica started (inc) or ended
// (nil). It runs under g.incidentMu.
func (f *fleet) publishIncident(inc *incident) {
	if f == nil {
		return
	}
	now := later(f.incAt)
	f.incAt = now
	ch := coord.Change{Kind: coord.KindIncident, At: now}
	if inc != nil {
		ch.Incident = &coord.Incident{Reason: inc.reason, Start: inc.start, Until: inc.until}
		if !inc.all {
			ch.Incident.Routes = slices.Clone(inc.routes)
		}
	}
	f.c.Publish(ch)
}

// later returns the time now, or just after last when the clock has not
// moved past it: a replica's changes of one thing are ordered even when
// they come within the clock's resolution.
func later(last time.Time) time.Time {
	now := time.Now()
	if !now.After(last) {
		now = last.Add(time.Nanosecond)
	}
	return now
}

// publishRate shares a rate change this replica made.
func (f *fleet) publishRate(route string, r float64) {
	if f == nil {
		return
	}
	f.mu.Lock()
	now := later(f.rateAt[route])
	f.rateAt[route] = now
	f.mu.Unlock()
	f.c.Publish(coord.Change{Kind: coord.KindRate, At: now, Route: route, Rate: r})
}

// publishPause shares a Retry-After pause this replica was asked for.
func (f *fleet) publishPause(until int64) {
	if f == nil {
		return
	}
	f.c.Publish(coord.Change{Kind: coord.KindPause, At: time.Now(), Until: time.Unix(0, until)})
}

// applyRemote applies a change another replica made to the state the
// request path reads. It writes no audit record (the replica that made the
// change wrote it), only a debug line.
func (g *Guard) applyRemote(ch coord.Change) {
	f := g.fleet
	if f == nil || g.closed.Load() {
		return
	}
	switch ch.Kind {
	case coord.KindIncident:
		g.applyRemoteIncident(ch)
	case coord.KindRate:
		if !validRate(ch.Rate) {
			return
		}
		// f.mu, then routesMu: Route registers without f.mu and calls
		// routeAdded after, so a change is applied now or kept for it.
		f.mu.Lock()
		rt := g.route(ch.Route)
		newer := ch.At.After(f.rateAt[ch.Route])
		switch {
		case !newer:
		case rt == nil:
			if p, ok := f.pending[ch.Route]; !ok || ch.At.After(p.At) {
				f.pending[ch.Route] = ch
			}
			newer = false
		default:
			f.rateAt[ch.Route] = ch.At
			rt.rate.store(ch.Rate)
		}
		f.mu.Unlock()
		if newer {
			g.log.LogAttrs(g.baseCtx, slog.LevelDebug, "fleet: sample rate changed by another replica",
				slog.String("route", ch.Route), slog.Float64("rate", ch.Rate), slog.String("origin", ch.Origin))
		}
	case coord.KindPause:
		now := time.Now()
		until := min(ch.Until.UnixNano(), now.Add(g.cfg.maxRetryAfter).UnixNano())
		if until > now.UnixNano() {
			g.policy.pauseUntil(until)
		}
	case coord.KindEscalation:
		g.applyRemoteEscalation(ch)
	}
}

// publishEscalation shares an escalation this replica started or
// extended after a flagged verdict on route; e.mu is held.
func (f *fleet) publishEscalation(ent *escEntry, route string) {
	if f == nil {
		return
	}
	ent.at = later(ent.at)
	f.c.Publish(coord.Change{Kind: coord.KindEscalation, At: ent.at, Escalation: &coord.Escalation{
		Customer: ent.id, Route: route, Since: ent.since, Until: ent.until}})
}

// publishEscalationEnd shares the early end of an escalation (by
// EndEscalation); e.mu is held. Expiry is not shared: every replica ends
// the escalation at its Until. Neither is eviction: every replica bounds
// its own set.
func (f *fleet) publishEscalationEnd(ent *escEntry) {
	if f == nil {
		return
	}
	ent.at = later(ent.at)
	f.c.Publish(coord.Change{Kind: coord.KindEscalation, At: ent.at, Escalation: &coord.Escalation{
		Customer: ent.id, Since: ent.since, Until: ent.until, Ended: true}})
}

// applyRemoteEscalation applies an escalation another replica started,
// extended or ended to this replica's set, evicting locally at its cap.
// It writes no audit record and emits no event (the replica that made the
// change did), only a debug line.
func (g *Guard) applyRemoteEscalation(ch coord.Change) {
	re := ch.Escalation
	if re == nil || re.Customer == "" || cleanID(re.Customer) != re.Customer {
		return // never escalated by a replica: ids that cleaning changes are not
	}
	now := time.Now()
	until := re.Until
	if limit := now.Add(maxEscalationDuration); until.After(limit) {
		until = limit // what a store holds is not trusted further
	}
	route := re.Route
	if cleanID(route) != route {
		route = "" // not a route name any replica gave: not listed
	}
	e := &g.rx.esc
	e.mu.Lock()
	ent := e.byID[re.Customer]
	if e.closed || ent != nil && !ch.At.After(ent.at) {
		e.mu.Unlock()
		return
	}
	var evicted *escEntry
	msg := "fleet: escalation extended by another replica"
	switch {
	case re.Ended && ent == nil:
		e.mu.Unlock()
		return
	case re.Ended:
		e.remove(ent)
		e.publish()
		msg = "fleet: escalation ended by another replica"
	case !until.After(now):
		e.mu.Unlock()
		return // an escalation that is over already
	case ent != nil:
		ent.at, ent.last = ch.At, now
		extendEscalation(ent, until, route) // the expiry timer finds the later end when it fires
		e.lru.MoveToFront(ent.elem)
	default:
		since := re.Since
		if since.IsZero() || since.After(now) {
			since = now
		}
		ent = &escEntry{id: re.Customer, public: g.publicCustomerID(re.Customer), since: since, last: now,
			until: until, remote: true, at: ch.At}
		if route != "" {
			ent.routes = []string{route}
		}
		evicted = g.insertEscalation(ent)
		msg = "fleet: escalation started by another replica"
	}
	e.mu.Unlock()
	g.auditEviction(evicted)
	g.log.LogAttrs(g.baseCtx, slog.LevelDebug, msg, slog.String("customer_id", re.Customer),
		slog.Time("until", until), slog.String("origin", ch.Origin))
}

func (g *Guard) applyRemoteIncident(ch coord.Change) {
	f := g.fleet
	g.incidentMu.Lock()
	defer g.incidentMu.Unlock()
	if g.closed.Load() || !ch.At.After(f.incAt) {
		return
	}
	f.incAt = ch.At
	if prev := g.incident.Load(); prev != nil {
		prev.timer.Stop()
		g.incident.Store(nil)
	}
	ri := ch.Incident
	if ri == nil {
		g.log.LogAttrs(g.baseCtx, slog.LevelDebug, "fleet: incident ended by another replica", slog.String("origin", ch.Origin))
		return
	}
	left := time.Until(ri.Until)
	if left <= 0 {
		return // an incident that is over already
	}
	inc := &incident{
		reason: ri.Reason,
		all:    len(ri.Routes) == 0,
		routes: slices.Clone(ri.Routes),
		start:  ri.Start,
		until:  ri.Until,
		remote: true,
	}
	inc.timer = time.AfterFunc(left, func() { g.expireIncident(inc) })
	g.incident.Store(inc)
	g.log.LogAttrs(g.baseCtx, slog.LevelDebug, "fleet: incident started by another replica",
		slog.String("reason", ri.Reason), slog.Any("routes", routeList(inc)), slog.Time("until", ri.Until),
		slog.String("origin", ch.Origin))
}

// routeAdded applies to a route just registered the latest rate the fleet
// set for it before.
func (f *fleet) routeAdded(rt *Route) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pending[rt.name]
	if !ok {
		return
	}
	delete(f.pending, rt.name)
	if p.At.After(f.rateAt[rt.name]) {
		f.rateAt[rt.name] = p.At
		rt.rate.store(p.Rate)
	}
}

// hasBudget reports whether calls take permits of the fleet's budget
// instead of the local plan rate limiter.
func (f *fleet) hasBudget() bool { return f != nil && f.g.cfg.ratePerMinute > 0 }

// permit waits for one call of the fleet's budget, for at most maxWait;
// errLocalRateLimit when none is free in time. It runs on workers.
func (f *fleet) permit(ctx context.Context, maxWait time.Duration) error {
	deadline := time.Now().Add(maxWait)
	for {
		p, err := f.c.Reserve(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return errLocalRateLimit
		case p.Allowed:
			return nil
		}
		wait := max(p.RetryAfter, time.Millisecond)
		if time.Now().Add(wait).After(deadline) {
			return errLocalRateLimit
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// lookup asks the shared cache for req's verdict after a local miss.
func (f *fleet) lookup(ctx context.Context, req CheckRequest) (Verdict, bool) {
	if f == nil || f.g.cfg.cacheTTL == 0 {
		return Verdict{}, false
	}
	v, ok := f.c.Lookup(ctx, f.c.VerdictKey(req.TestType, req.Prompt, req.Response))
	return Verdict(v), ok
}

// store shares a verdict the checker gave, with the local cache's TTL.
func (f *fleet) store(ctx context.Context, req CheckRequest, v Verdict) {
	if f == nil || f.g.cfg.cacheTTL == 0 {
		return
	}
	f.c.Store(ctx, f.c.VerdictKey(req.TestType, req.Prompt, req.Response), coord.Verdict(v), f.g.cfg.cacheTTL)
}
