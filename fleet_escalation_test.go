package safecheck

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/audit"
)

// escalatingFleet is localFleet with two escalating routes on each
// replica: "flag", sampled fully, whose answers are flagged, and
// "search", which samples no one but escalated customers.
func escalatingFleet(t *testing.T, n int) (l *coord.Local, gs []*Guard, bufs []*syncBuffer, evs []*events, flag, search []func(customer string)) {
	t.Helper()
	l, err := coord.NewLocal(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		buf, ev := &syncBuffer{}, &events{}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithCoordinator(l.Replica()), WithOnEvent(ev.add),
			WithDefaultEscalation(escalation.Config{Duration: 10 * time.Minute}))
		f := mustRoute(t, g, "flag", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("UNSAFE"))
		s := mustRoute(t, g, "search", WithSampleRate(0), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("ok"))
		gs, bufs, evs = append(gs, g), append(bufs, buf), append(evs, ev)
		flag = append(flag, func(c string) { serveAs(f, c, "question") })
		search = append(search, func(c string) { serveAs(s, c, "q") })
	}
	return l, gs, bufs, evs, flag, search
}

// TestFleetEscalationReachesEveryReplica: a customer escalated on replica
// A is escalated on B and C (their requests sampled there); a flag on C
// extends it on all; it expires on all at the extended end, audited once,
// by A; escalated again on A and ended on B by an operator, it ends on A
// and C, audited once, by B, with the operator. Events are emitted only
// where the record is written.
func TestFleetEscalationReachesEveryReplica(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, gs, bufs, evs, flag, search := escalatingFleet(t, 3)
		escalated := func(when string, want bool) {
			t.Helper()
			settleEscalations()
			for i, g := range gs {
				if got := g.rx.esc.snap.Load().has("alice"); got != want {
					t.Errorf("%s: replica %d: alice escalated %v on the request path, want %v", when, i, got, want)
				}
				if n := g.Stats().Escalated; n != map[bool]int{true: 1, false: 0}[want] {
					t.Errorf("%s: replica %d: Stats().Escalated %d", when, i, n)
				}
			}
		}
		start := time.Now()
		flag[0]("alice")
		escalated("started on A", true)
		for i := range gs {
			search[i]("alice") // sampled everywhere: escalated
			search[i]("bob")   // not escalated: rate 0
		}
		settleEscalations()
		for i, g := range gs {
			if rs := g.Stats().Routes[1]; rs.Name != "search" || rs.Sampled != 1 || rs.EscalatedRequests != 1 {
				t.Errorf("replica %d: search %+v, want alice's request sampled and bob's not", i, rs)
			}
		}
		page, _, err := gs[2].Escalations("", 10)
		if err != nil || len(page) != 1 || page[0].CustomerID != "alice" || page[0].Until.Sub(start) < 10*time.Minute || page[0].Until.Sub(start) > 10*time.Minute+time.Second ||
			len(page[0].Routes) != 1 || page[0].Routes[0] != "flag" {
			t.Errorf("listing on C: %+v, %v", page, err)
		}

		time.Sleep(5 * time.Minute)
		flag[2]("alice") // extends on every replica to +15 min
		time.Sleep(5*time.Minute + time.Second)
		escalated("after the first end, extended", true)
		time.Sleep(5 * time.Minute)
		escalated("expired on all", false)

		flag[0]("alice")
		escalated("started again on A", true)
		ops := audit.WithAttrs(context.Background(), slog.String("actor", "alice-the-operator"))
		if err := gs[1].EndEscalation(ops, "alice"); err != nil {
			t.Fatal(err)
		}
		escalated("ended on B", false)
		if err := gs[2].EndEscalation(ops, "alice"); !errors.Is(err, ErrNoEscalation) {
			t.Errorf("EndEscalation on C after B's: %v, want ErrNoEscalation", err)
		}

		want := [3]map[string]int{
			{"escalation started": 2, "escalation expired": 1, "escalation ended": 0},
			{"escalation started": 0, "escalation expired": 0, "escalation ended": 1},
			{"escalation started": 0, "escalation expired": 0, "escalation ended": 0},
		}
		for i, buf := range bufs {
			out := buf.String()
			for msg, n := range want[i] {
				if got := len(auditOf(t, out, msg)); got != n {
					t.Errorf("replica %d: %d %q records, want %d", i, got, msg, n)
				}
			}
			if i > 0 {
				if n := countMsg(t, out, "fleet: escalation started by another replica"); n != 2 {
					t.Errorf("replica %d: %d debug lines for remote starts, want 2", i, n)
				}
			}
		}
		if r := auditOf(t, bufs[1].String(), "escalation ended"); len(r) != 1 || r[0]["actor"] != "alice-the-operator" || r[0]["customer_id"] != "alice" {
			t.Errorf("B's end record: %v", r)
		}
		if n := len(evs[0].of(event.EscalationStarted)); n != 2 {
			t.Errorf("A emitted %d start events, want 2", n)
		}
		if ev := evs[1].of(event.EscalationEnded); len(ev) != 1 || ev[0].Reason != "ended" {
			t.Errorf("B's end events: %+v", ev)
		}
		if n := len(evs[1].of(event.EscalationStarted)) + len(evs[2].of(event.EscalationStarted)) + len(evs[2].of(event.EscalationEnded)); n != 0 {
			t.Errorf("B and C emitted %d start or end events of A's escalations", n)
		}
		if c, ok := l.Changes()["escalation:alice"]; !ok || !c.Escalation.Ended {
			t.Errorf("the deployment's last change of alice: %+v", c)
		}
		for _, g := range gs {
			closeGuard(t, g)
			checkAccounting(t, g.Stats())
		}
	})
}

// TestFleetEscalationEvictionIsLocal: at its cap a replica evicts a remote
// escalation without a record (it is simply gone there) while the others
// keep it; a late replica starts with the escalations in force. An e-mail
// address as the customer id reaches no replica's log in clear.
func TestFleetEscalationEvictionIsLocal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := coord.NewLocal(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		var gs []*Guard
		var bufs []*syncBuffer
		var flag []func(string)
		for _, max := range []int{10, 1} {
			buf := &syncBuffer{}
			g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithCoordinator(l.Replica()),
				WithDefaultEscalation(escalation.Config{MaxCustomers: max}))
			h := mustRoute(t, g, "flag", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("UNSAFE"))
			gs, bufs = append(gs, g), append(bufs, buf)
			flag = append(flag, func(c string) { serveAs(h, c, "q") })
		}
		const ann = "ann@example.com"
		flag[0](ann)
		settleEscalations() // the two in this order
		flag[0]("ben")      // B, at its cap of 1, evicts ann
		settleEscalations()
		if a, b := gs[0].Stats(), gs[1].Stats(); a.Escalated != 2 || b.Escalated != 1 || b.EscalationsEvicted != 1 || !gs[1].rx.esc.snap.Load().has("ben") {
			t.Errorf("A escalated %d, B escalated %d evicted %d (ben: %v), want 2, 1, 1 (ben: true)", a.Escalated, b.Escalated, b.EscalationsEvicted, gs[1].rx.esc.snap.Load().has("ben"))
		}
		if n := len(auditOf(t, bufs[1].String(), "escalation evicted")); n != 0 {
			t.Errorf("B wrote %d eviction records for A's escalation", n)
		}
		late := newGuard(t, &recorder{}, WithLogger(discardLogger()), WithCoordinator(l.Replica()), WithDefaultEscalation(escalation.Config{}))
		settleEscalations()
		if s := late.Stats(); s.Escalated != 2 {
			t.Errorf("a late replica starts with %d escalations, want 2", s.Escalated)
		}
		for _, g := range append(gs, late) {
			closeGuard(t, g)
			checkAccounting(t, g.Stats())
		}
		for i, buf := range bufs {
			if strings.Contains(buf.String(), ann) {
				t.Errorf("replica %d logged the e-mail address in clear", i)
			}
		}
		if n := countMsg(t, bufs[1].String(), "fleet: escalation started by another replica"); n != 2 {
			t.Errorf("B: %d debug lines for remote starts, want 2", n)
		}
	})
}

// TestFleetAutomaticIncident: an alert rule on replica A starts an
// incident that replica B applies; only A writes the audit record, naming
// the rule as the actor.
func TestFleetAutomaticIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rule := alert.Rule{Name: "burst", Route: "chat", Window: time.Minute, MinChecks: 10, FlaggedShare: 0.5, IncidentFor: 10 * time.Minute}
		_, gs, bufs := localFleet(t, 2, &recorder{}, WithAlertRules(rule))
		if err := gs[0].SetSampleRate(context.Background(), "chat", 1); err != nil {
			t.Fatal(err)
		}
		sendN(gs[0].route("chat").Wrap(echo), 10, true, "a")
		synctest.Wait()
		for i, g := range gs {
			if s := g.Stats(); s.Incident == nil || s.Incident.Reason != "alert burst" || s.Routes[0].EffectiveRate != 1 {
				t.Errorf("replica %d: incident %+v", i, s.Incident)
			}
		}
		if r := auditOf(t, bufs[0].String(), "incident started"); len(r) != 1 || r[0]["actor"] != "rule:burst" || r[0]["via"] != "alert" {
			t.Errorf("A's records: %v", r)
		}
		if n := len(auditOf(t, bufs[1].String(), "incident started")); n != 0 {
			t.Errorf("B wrote %d incident records", n)
		}
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		for i, g := range gs {
			if g.Stats().Incident != nil {
				t.Errorf("replica %d: the incident outlived its 10 min", i)
			}
		}
		if a, b := len(auditOf(t, bufs[0].String(), "incident expired")), len(auditOf(t, bufs[1].String(), "incident expired")); a != 1 || b != 0 {
			t.Errorf("expiry records: A %d, B %d, want 1, 0", a, b)
		}
		for _, g := range gs {
			closeGuard(t, g)
			checkAccounting(t, g.Stats())
		}
	})
}

// TestFleetRemoteEscalationIsChecked: what another replica (or the store)
// sends is checked before it is applied: ids that cleaning would change
// are refused, an end beyond the longest escalation is cut to it, a route
// name that cleaning would change is not listed, an escalation over already, an end of
// an unknown customer and a change older than the one applied are ignored.
func TestFleetRemoteEscalationIsChecked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := coord.NewLocal(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		g := newGuard(t, &recorder{}, WithCoordinator(l.Replica()), WithDefaultEscalation(escalation.Config{}))
		mustRoute(t, g, "chat", WithTestTypes("toxicity"), WithCustomerID(customerHeader))
		other := l.Replica()
		if err := other.Start(coord.Member{Apply: func(coord.Change) {}}); err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		now := time.Now()
		send := func(at time.Duration, e coord.Escalation) {
			other.Publish(coord.Change{Kind: coord.KindEscalation, At: now.Add(at), Escalation: &e})
		}
		send(1, coord.Escalation{Customer: "bad\x00id", Until: now.Add(time.Hour)})
		send(2, coord.Escalation{Customer: strings.Repeat("x", 200), Until: now.Add(time.Hour)})
		send(3, coord.Escalation{Customer: "over", Until: now.Add(-time.Second)})
		send(4, coord.Escalation{Customer: "nobody", Until: now.Add(time.Hour), Ended: true})
		send(5, coord.Escalation{Customer: "far", Route: "bad\nroute", Until: now.Add(365 * 24 * time.Hour)})
		send(6, coord.Escalation{Customer: "near", Route: "elsewhere", Until: now.Add(time.Hour)})
		synctest.Wait()
		page, _, err := g.Escalations("", 10)
		if err != nil || len(page) != 2 || page[0].CustomerID != "far" || len(page[0].Routes) != 0 ||
			!page[0].Until.Equal(now.Add(maxEscalationDuration)) || page[1].CustomerID != "near" || !slices.Equal(page[1].Routes, []string{"elsewhere"}) {
			t.Fatalf("listing: %+v, %v; want far (no route, until cut to %s) and near (on elsewhere, a route of another replica)", page, err, maxEscalationDuration)
		}
		// An older change of far, delivered late, is ignored.
		g.applyRemote(coord.Change{Kind: coord.KindEscalation, At: now, Escalation: &coord.Escalation{Customer: "far", Until: now.Add(time.Hour), Ended: true}})
		if s := g.Stats(); s.Escalated != 2 {
			t.Errorf("an older end applied: escalated %d", s.Escalated)
		}
		closeGuard(t, g)
	})
}
