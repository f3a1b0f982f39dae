package safecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/internal/audit"
)

// rate is a sample rate stored as float64 bits so the request path reads it
// with one atomic load.
type rate struct{ bits atomic.Uint64 }

func (r *rate) load() float64   { return math.Float64frombits(r.bits.Load()) }
func (r *rate) store(v float64) { r.bits.Store(math.Float64bits(v)) }

// swap stores v and returns the rate it replaced, atomically, so that
// concurrent changes each report the rate they really replaced.
func (r *rate) swap(v float64) float64 { return math.Float64frombits(r.bits.Swap(math.Float64bits(v))) }

// sample reports whether a request on rt is sampled. It never allocates.
func (rt *Route) sample() bool {
	p := rt.rate.load()
	if inc := rt.g.incident.Load(); inc != nil && inc.covers(rt.name) {
		p = 1
	}
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	return rt.g.random() < p
}

// incident is one period of full sampling.
type incident struct {
	reason string
	all    bool
	routes []string
	start  time.Time
	until  time.Time
	timer  *time.Timer
	remote bool // started by another replica of the fleet (coordinator.go)
}

func (i *incident) covers(route string) bool {
	return i.all || slices.Contains(i.routes, route)
}

// Incident describes an active incident for Stats.
type Incident struct {
	Reason string
	Routes []string // nil means every route
	Start  time.Time
	Until  time.Time
}

// ErrNoIncident is returned by EndIncident when no incident is active.
var ErrNoIncident = errors.New("safecheck: no incident is active")

// StartIncident samples every request of the named routes, or of every route
// when none are named, until d has passed or EndIncident is called. Starting
// an incident while one is active replaces it. Naming a route that is not
// registered is an error. The start and the end are each logged once as an
// audit record; ctx carries who made the change into those records (the
// admin handler puts the operator there) and does not bound the call. After
// Close it returns ErrClosed.
func (g *Guard) StartIncident(ctx context.Context, reason string, d time.Duration, routes ...string) error {
	extra := audit.Attrs(ctx)
	if reason == "" {
		return errors.New("safecheck: incident reason is empty")
	}
	if d <= 0 {
		return fmt.Errorf("safecheck: incident duration must be positive, got %s", d)
	}
	for _, r := range routes {
		if r == "" {
			return errors.New("safecheck: empty route name")
		}
		if g.route(r) == nil {
			return fmt.Errorf("safecheck: unknown route %q", r)
		}
	}
	now := time.Now()
	inc := &incident{
		reason: reason,
		all:    len(routes) == 0,
		routes: slices.Clone(routes),
		start:  now,
		until:  now.Add(d),
	}
	g.incidentMu.Lock()
	defer g.incidentMu.Unlock()
	// Close sets closed before it takes incidentMu to end the incident:
	// an incident either is installed before Close ends it or not at all.
	if g.closed.Load() {
		return ErrClosed
	}
	prev := g.incident.Load()
	if prev != nil {
		prev.timer.Stop()
		g.auditIncidentEnd(prev, "replaced", extra...)
	}
	inc.timer = time.AfterFunc(d, func() { g.expireIncident(inc) })
	g.incident.Store(inc)
	g.fleet.publishIncident(inc)
	g.audit("incident started", append([]slog.Attr{
		slog.String("reason", reason),
		slog.Any("routes", routeList(inc)),
		slog.String("duration", d.String()),
		slog.Time("until", inc.until),
		incidentState("before", prev),
		incidentState("after", inc)}, extra...)...)
	return nil
}

// EndIncident ends the active incident now; sampling returns to the
// configured rates. The end is logged once as an audit record that carries
// who made the change from ctx, as StartIncident's do. It returns
// ErrNoIncident when no incident is active, and ErrClosed after Close.
func (g *Guard) EndIncident(ctx context.Context) error {
	extra := audit.Attrs(ctx)
	g.incidentMu.Lock()
	defer g.incidentMu.Unlock()
	if g.closed.Load() {
		return ErrClosed
	}
	inc := g.incident.Load()
	if inc == nil {
		return ErrNoIncident
	}
	inc.timer.Stop()
	g.incident.Store(nil)
	g.fleet.publishIncident(nil)
	g.auditIncidentEnd(inc, "ended", extra...)
	return nil
}

func (g *Guard) expireIncident(inc *incident) {
	g.incidentMu.Lock()
	defer g.incidentMu.Unlock()
	if g.incident.CompareAndSwap(inc, nil) && !inc.remote {
		g.auditIncidentEnd(inc, "expired") // the replica that started it says so, once
	}
}

func (g *Guard) auditIncidentEnd(inc *incident, how string, extra ...slog.Attr) {
	g.audit("incident "+how, append([]slog.Attr{
		slog.String("reason", inc.reason),
		slog.Any("routes", routeList(inc)),
		slog.String("lasted", time.Since(inc.start).Round(time.Millisecond).String()),
		incidentState("before", inc),
		incidentState("after", nil)}, extra...)...)
}

// incidentState describes inc, or its absence, for an audit record.
func incidentState(key string, inc *incident) slog.Attr {
	if inc == nil {
		return slog.String(key, "none")
	}
	return slog.Group(key,
		slog.String("reason", inc.reason),
		slog.Any("routes", routeList(inc)),
		slog.Time("until", inc.until))
}

func routeList(inc *incident) []string {
	if inc.all {
		return []string{"*"}
	}
	return inc.routes
}

func (g *Guard) audit(msg string, attrs ...slog.Attr) {
	attrs = append(attrs, slog.Bool("audit", true))
	g.log.LogAttrs(g.baseCtx, slog.LevelWarn, msg, attrs...)
}

// SetSampleRate changes a route's sample rate at runtime. The rate must lie
// within [0, 1]; it is rejected, not clamped. The change is logged once as
// an audit record with the rate before and after, and with who made it from
// ctx, as StartIncident's records are. After Close it returns ErrClosed.
func (g *Guard) SetSampleRate(ctx context.Context, route string, r float64) error {
	if !validRate(r) {
		return fmt.Errorf("safecheck: sample rate must be within [0, 1], got %v", r)
	}
	if g.closed.Load() {
		return ErrClosed
	}
	rt := g.route(route)
	if rt == nil {
		return fmt.Errorf("safecheck: unknown route %q", route)
	}
	before := rt.rate.swap(r)
	g.fleet.publishRate(route, r)
	g.audit("sample rate changed", append([]slog.Attr{slog.String("route", route),
		slog.Float64("before", before), slog.Float64("after", r)}, audit.Attrs(ctx)...)...)
	return nil
}

func defaultRandom() float64 { return rand.Float64() }
