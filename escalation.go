package safecheck

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/safecheck/safecheck/escalation"
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
// Guard's WithDefaultEscalation on this route. The customer is the one
// the WithCustomerID function returns, or for an outbound call
// (Route.Transport) the one ContextWithIDs put in its context.
//
// On an escalating route, while any customer is escalated, the
// WithCustomerID function runs for every request, before the sampling
// decision, and the customer is looked up in
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
	// Without WithCustomerID only outbound calls whose context carries a
	// customer (ContextWithIDs) can be escalated.
	c.escalation = &e
	return nil
}

// beginEscalating is start on an escalating route: the customer is known
// before the sampling decision.
func (rt *Route) beginEscalating(r *http.Request, outbound bool) *Capture {
	var customer string
	var have, ok bool
	if outbound {
		customer, have, ok = rt.outboundCustomer(r)
	} else {
		customer, have, ok = rt.customerFirst(r)
	}
	if !ok {
		rt.g.appPanicked(panicIDFunc)
		rt.unsampled.Add(1)
		return nil
	}
	if !rt.sampleCustomer(customer) {
		rt.unsampled.Add(1)
		return nil
	}
	return rt.begin(r, outbound, customer, have)
}

// customerFirst runs the customer-id function of an escalating route
// before the sampling decision while any customer is escalated (have),
// containing its panic (ok false).
func (rt *Route) customerFirst(r *http.Request) (id string, have, ok bool) {
	if rt.cfg.escalation == nil || rt.cfg.customerID == nil || rt.g.rx.esc.snap.Load().bits == nil {
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
