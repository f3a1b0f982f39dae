package safecheck

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/audit"
	"github.com/safecheck/safecheck/internal/syncbuf"
)

// customerHeader is where the escalation tests' requests name their customer.
func customerHeader(r *http.Request) string { return headerValue(r.Header, "X-Customer") }

// serveAs sends body as customer through h.
func serveAs(h http.Handler, customer, body string) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("X-Customer", customer)
	h.ServeHTTP(httptest.NewRecorder(), r)
}

// settleEscalations waits until a change of the escalated set has reached
// the request path and every sample has been checked.
func settleEscalations() {
	time.Sleep(publishEvery)
	synctest.Wait()
}

// events collects what WithOnEvent reports.
type events struct {
	mu  sync.Mutex
	all []event.Event
}

func (e *events) add(ev event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) of(k event.Kind) []event.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []event.Event
	for _, ev := range e.all {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// auditOf returns the audit records of out whose msg is msg.
func auditOf(t *testing.T, out, msg string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, r := range syncbuf.Records(t, out) {
		if r["audit"] == true && r["msg"] == msg {
			recs = append(recs, r)
		}
	}
	return recs
}

// TestEscalationStartsAndExpires: a flagged verdict on chat escalates its
// customer; her requests on search, which samples nothing, are sampled
// until the escalation expires, and nobody else's are; the start and the
// expiry are audit records and events.
func TestEscalationStartsAndExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf, evs := &syncBuffer{}, &events{}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithOnEvent(evs.add), WithService("svc"))
		esc := WithEscalation(escalation.Config{Duration: 10 * time.Minute})
		chat := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader), esc).Wrap(answer("UNSAFE answer"))
		search := mustRoute(t, g, "search", WithSampleRate(0), WithTestTypes("toxicity"), WithCustomerID(customerHeader), esc).Wrap(answer("ok"))
		plain := mustRoute(t, g, "plain", WithSampleRate(0), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("ok"))
		round := func() {
			for range 3 {
				for _, c := range []string{"alice", "bob"} {
					serveAs(search, c, "q")
					serveAs(plain, c, "q")
				}
			}
			settleEscalations()
		}
		round() // nobody is escalated
		serveAs(chat, "alice", "question")
		settleEscalations()
		s := g.Stats()
		if s.Escalated != 1 || s.EscalationsStarted != 1 {
			t.Fatalf("after the flagged verdict: escalated %d, started %d", s.Escalated, s.EscalationsStarted)
		}
		round()                            // alice's three search requests are sampled
		serveAs(chat, "alice", "question") // flagged again: extends, no new start
		settleEscalations()
		time.Sleep(10*time.Minute + time.Second)
		settleEscalations()
		round() // expired: nothing sampled
		closeGuard(t, g)
		s = g.Stats()
		checkAccounting(t, s)
		byName := map[string]RouteStats{}
		for _, rs := range s.Routes {
			byName[rs.Name] = rs
		}
		if got := byName["search"]; got.Sampled != 3 || got.EscalatedRequests != 3 || got.EscalationRate != 1 {
			t.Errorf("search: sampled %d, escalated requests %d, rate %v; want 3, 3, 1", got.Sampled, got.EscalatedRequests, got.EscalationRate)
		}
		if got := byName["plain"]; got.Sampled != 0 || got.EscalatedRequests != 0 || got.EscalationRate != 0 {
			t.Errorf("plain, which does not escalate: %+v", got)
		}
		if s.Escalated != 0 || s.EscalationsStarted != 1 || s.EscalationsEnded != 1 || s.EscalationsEvicted != 0 {
			t.Errorf("stats: escalated %d started %d ended %d evicted %d", s.Escalated, s.EscalationsStarted, s.EscalationsEnded, s.EscalationsEvicted)
		}
		out := buf.String()
		started, expired := auditOf(t, out, "escalation started"), auditOf(t, out, "escalation expired")
		if len(started) != 1 || len(expired) != 1 {
			t.Fatalf("%d start and %d expiry records, want 1 each:\n%s", len(started), len(expired), out)
		}
		if r := started[0]; r["customer_id"] != "alice" || r["route"] != "chat" || r["duration"] != "10m0s" || r["test_type"] != "toxicity" {
			t.Errorf("start record: %v", r)
		}
		if r := expired[0]; r["customer_id"] != "alice" || !matchesList(r["routes"], "chat") {
			t.Errorf("expiry record: %v", r)
		}
		if ev := evs.of(event.EscalationStarted); len(ev) != 1 || ev[0].CustomerID != "alice" || ev[0].Route != "chat" || ev[0].Service != "svc" ||
			!ev[0].Until.Equal(ev[0].Time.Add(10*time.Minute)) {
			t.Errorf("start events: %+v", ev)
		}
		if ev := evs.of(event.EscalationEnded); len(ev) != 1 || ev[0].Reason != "expired" || ev[0].CustomerID != "alice" {
			t.Errorf("end events: %+v", ev)
		}
		if ev := evs.of(event.Flagged); len(ev) != 2 || ev[0].ID == ev[1].ID || !strings.HasPrefix(ev[0].ID, "evt_") {
			t.Errorf("flagged events: %+v", ev)
		}
	})
}

func matchesList(v any, want ...string) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for i, w := range want {
		if list[i] != w {
			return false
		}
	}
	return true
}

// TestEscalationEvictsTheLeastRecentlyFlagged: at the cap, a new customer
// evicts the one flagged longest ago, counted and audited.
func TestEscalationEvictsTheLeastRecentlyFlagged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf, evs := &syncBuffer{}, &events{}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithOnEvent(evs.add),
			WithDefaultEscalation(escalation.Config{MaxCustomers: 2}))
		chat := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("UNSAFE"))
		for _, c := range []string{"ann", "ben", "ann", "cat"} { // ann is flagged again after ben
			serveAs(chat, c, "question of "+c)
			settleEscalations()
			time.Sleep(time.Second)
		}
		closeGuard(t, g)
		s := g.Stats()
		checkAccounting(t, s)
		if s.Escalated != 2 || s.EscalationsStarted != 3 || s.EscalationsEvicted != 1 || s.EscalationsEnded != 1 {
			t.Errorf("escalated %d started %d evicted %d ended %d, want 2, 3, 1, 1", s.Escalated, s.EscalationsStarted, s.EscalationsEvicted, s.EscalationsEnded)
		}
		page, next, err := g.Escalations("", 10)
		if err != nil || next != "" || len(page) != 2 || page[0].CustomerID != "ann" || page[1].CustomerID != "cat" {
			t.Errorf("Escalations: %+v, %q, %v", page, next, err)
		}
		if recs := auditOf(t, buf.String(), "escalation evicted"); len(recs) != 1 || recs[0]["customer_id"] != "ben" {
			t.Errorf("eviction records: %v", recs)
		}
		if ev := evs.of(event.EscalationEnded); len(ev) != 1 || ev[0].Reason != "evicted" || ev[0].CustomerID != "ben" {
			t.Errorf("eviction events: %+v", ev)
		}
	})
}

// TestEscalationPrivacyAndEnd: an e-mail address as customer id is hashed
// in the records, the events and the listing, exactly as in verdict
// records; EndEscalation accepts the listed id and the raw one, audits
// the actor, and events carry no content.
func TestEscalationPrivacyAndEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf, evs := &syncBuffer{}, &events{}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithOnEvent(evs.add), WithDefaultEscalation(escalation.Config{}))
		chat := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("UNSAFE secret answer text"))
		const mail, other = "jane.doe@example.com", "cust_42"
		serveAs(chat, mail, "secret prompt text")
		serveAs(chat, other, "another secret prompt")
		settleEscalations()

		verdicts := 0
		var hashed string
		for _, r := range syncbuf.Records(t, buf.String()) {
			if r["msg"] == "safecheck verdict: flagged" && r["customer_id"] != other {
				hashed, _ = r["customer_id"].(string)
				verdicts++
			}
		}
		if verdicts != 1 || !strings.HasPrefix(hashed, "hmac:") {
			t.Fatalf("flagged verdict record of %s: customer_id %q", mail, hashed)
		}
		started := auditOf(t, buf.String(), "escalation started")
		if len(started) != 2 || started[0]["customer_id"] != hashed && started[1]["customer_id"] != hashed {
			t.Errorf("start records do not carry the verdict records' hash %s: %v", hashed, started)
		}
		page, _, err := g.Escalations("", 10)
		if err != nil || len(page) != 2 || !slices.ContainsFunc(page, func(e escalation.Entry) bool { return e.CustomerID == hashed }) {
			t.Fatalf("listing: %+v, %v", page, err)
		}
		for _, ev := range evs.of(event.Flagged) {
			if ev.CustomerID != hashed && ev.CustomerID != other {
				t.Errorf("flagged event customer id %q", ev.CustomerID)
			}
		}
		for _, ev := range evs.all {
			b, _ := json.Marshal(ev)
			if strings.Contains(string(b), "secret") || strings.Contains(string(b), mail) {
				t.Errorf("event holds content or the raw id: %s", b)
			}
		}

		ops := audit.WithAttrs(context.Background(), slog.String("actor", "alice"))
		if err := g.EndEscalation(ops, hashed); err != nil { // the listed id
			t.Fatalf("EndEscalation(listed id): %v", err)
		}
		if err := g.EndEscalation(ops, other); err != nil { // the raw id
			t.Fatalf("EndEscalation(raw id): %v", err)
		}
		if err := g.EndEscalation(ops, other); !errors.Is(err, ErrNoEscalation) {
			t.Errorf("ending it again: %v, want ErrNoEscalation", err)
		}
		if err := g.EndEscalation(ops, ""); err == nil {
			t.Error("EndEscalation(\"\") succeeded")
		}
		ended := auditOf(t, buf.String(), "escalation ended")
		if len(ended) != 2 || ended[0]["actor"] != "alice" || ended[0]["customer_id"] != hashed || ended[1]["customer_id"] != other {
			t.Errorf("end records: %v", ended)
		}
		if strings.Contains(buf.String(), mail) {
			t.Error("the raw e-mail address reached a record")
		}
		closeGuard(t, g)
		checkAccounting(t, g.Stats())
		if err := g.EndEscalation(ops, other); !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	})
}

// TestEscalationMinimums: only verdicts at or above MinScore and
// MinRiskLevel escalate.
func TestEscalationMinimums(t *testing.T) {
	tests := []struct {
		name string
		cfg  escalation.Config
		want uint64
	}{
		{"any", escalation.Config{}, 1},
		{"score met", escalation.Config{MinScore: 0.9}, 1},
		{"score not met", escalation.Config{MinScore: 0.95}, 0},
		{"risk met", escalation.Config{MinRiskLevel: "high"}, 1}, // the recorder answers "reject"
		{"risk met exactly", escalation.Config{MinRiskLevel: "reject"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newGuard(t, &recorder{})
				h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader),
					WithEscalation(tt.cfg)).Wrap(answer("UNSAFE"))
				serveAs(h, "ann", "q")
				settleEscalations()
				closeGuard(t, g)
				s := g.Stats()
				checkAccounting(t, s)
				if s.EscalationsStarted != tt.want {
					t.Errorf("started %d, want %d", s.EscalationsStarted, tt.want)
				}
			})
		})
	}
}

// TestEscalationRateIsExact: an escalated customer's requests are sampled
// at the escalated rate, not at the sum of the two rates.
func TestEscalationRateIsExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGuard(t, &recorder{}, withRandom(steps(100)))
		trigger := mustRoute(t, g, "trigger", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader),
			WithEscalation(escalation.Config{Rate: 0.5})).Wrap(answer("UNSAFE"))
		rt := mustRoute(t, g, "r", WithSampleRate(0.2), WithTestTypes("toxicity"), WithCustomerID(customerHeader),
			WithEscalation(escalation.Config{Rate: 0.5}))
		serveAs(trigger, "ann", "q")
		settleEscalations()
		n := 0
		for range 1000 {
			if rt.sampleCustomer("ann") {
				n++
			}
		}
		// Between 0.5·1000 ± a few: the two draws come from one stepping source.
		if n < 450 || n > 550 {
			t.Errorf("sampled %d of 1000 at an escalated rate of 0.5", n)
		}
		closeGuard(t, g)
		checkAccounting(t, g.Stats())
	})
}

// TestEscalationCustomerFunctionPanics: a panic in the customer-id
// function before the decision is contained and counted; the request is
// served unsampled.
func TestEscalationCustomerFunctionPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGuard(t, &recorder{}, WithDefaultEscalation(escalation.Config{}))
		trigger := mustRoute(t, g, "trigger", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("UNSAFE"))
		serveAs(trigger, "ann", "q") // someone is escalated: the function now runs first
		settleEscalations()
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"),
			WithCustomerID(func(*http.Request) string { panic("boom") })).Wrap(answer("ok"))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("q")))
		if w.Body.String() != "ok" {
			t.Errorf("answer %q", w.Body.String())
		}
		closeGuard(t, g)
		s := g.Stats()
		checkAccounting(t, s)
		if s.HookPanics != 1 || s.Routes[0].Requests != 1 || s.Routes[0].Sampled != 0 {
			t.Errorf("panics %d, route %+v", s.HookPanics, s.Routes[0])
		}
	})
}

// TestEscalationLookupAllocations: deciding for a customer, escalated or
// not, allocates nothing.
func TestEscalationLookupAllocations(t *testing.T) {
	g := newGuard(t, instant, WithDefaultEscalation(escalation.Config{}))
	rt := mustRoute(t, g, "r", WithSampleRate(0), WithTestTypes("toxicity"), WithCustomerID(customerHeader))
	fillEscalations(g, rt, 1000)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("X-Customer", "cust_00007")
	for _, id := range []string{"cust_00007", "nobody"} {
		if n := testing.AllocsPerRun(500, func() { rt.sampleCustomer(id) }); n != 0 {
			t.Errorf("sampleCustomer(%q): %v allocs", id, n)
		}
	}
	if n := testing.AllocsPerRun(500, func() { rt.customerFirst(r) }); n != 0 {
		t.Errorf("customerFirst: %v allocs", n)
	}
}

func TestEscalationOptionsAreValidated(t *testing.T) {
	guardTests := []struct {
		name string
		opt  Option
		want string
	}{
		{"rate above 1", WithDefaultEscalation(escalation.Config{Rate: 1.5}), "rate must be within (0, 1]"},
		{"negative rate", WithDefaultEscalation(escalation.Config{Rate: -0.1}), "rate must be within (0, 1]"},
		{"negative duration", WithDefaultEscalation(escalation.Config{Duration: -time.Minute}), "duration must be within"},
		{"duration too long", WithDefaultEscalation(escalation.Config{Duration: 31 * 24 * time.Hour}), "duration must be within"},
		{"score above 1", WithDefaultEscalation(escalation.Config{MinScore: 2}), "min score"},
		{"unknown risk level", WithDefaultEscalation(escalation.Config{MinRiskLevel: "severe"}), `min risk level "severe"`},
		{"negative max customers", WithDefaultEscalation(escalation.Config{MaxCustomers: -1}), "max customers"},
		{"nil event function", WithOnEvent(nil), "WithOnEvent: function is nil"},
		{"nil alert function", WithOnAlert(nil), "WithOnAlert: function is nil"},
		{"no rules", WithAlertRules(), "WithAlertRules: no rules"},
	}
	for _, tt := range guardTests {
		_, err := New(&recorder{}, tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	g := newGuard(t, &recorder{}, WithDefaultEscalation(escalation.Config{MaxCustomers: 5}))
	routeTests := []struct {
		name string
		opts []RouteOption
		want string
	}{
		{"another max", []RouteOption{WithCustomerID(customerHeader), WithEscalation(escalation.Config{MaxCustomers: 6})}, "differs from the guard's 5"},
		{"NaN rate", []RouteOption{WithCustomerID(customerHeader), WithEscalation(escalation.Config{Rate: nan()})}, "rate must be within"},
	}
	for _, tt := range routeTests {
		_, err := g.Route(tt.name, tt.opts...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s: Route = %v, want an error naming the route with %q", tt.name, err, tt.want)
		}
	}
	// The guard's default needs no customer id on a route without one: it
	// does not escalate there.
	if rt, err := g.Route("plain", WithTestTypes("toxicity")); err != nil || rt.cfg.escalation != nil {
		t.Errorf("a route without customer ids: %v, escalation %v", err, rt.cfg.escalation)
	}
	if _, _, err := g.Escalations("", 0); err == nil {
		t.Error("Escalations with limit 0 succeeded")
	}
	if _, _, err := g.Escalations("!!", 10); err == nil {
		t.Error("Escalations with a bad cursor succeeded")
	}
}

// TestEscalationsArePaged: pages follow each other without a repeat.
func TestEscalationsArePaged(t *testing.T) {
	g := newGuard(t, instant, WithDefaultEscalation(escalation.Config{}))
	rt := mustRoute(t, g, "r", WithTestTypes("toxicity"), WithCustomerID(customerHeader))
	fillEscalations(g, rt, 25)
	var seen []string
	cursor := ""
	for range 10 {
		page, next, err := g.Escalations(cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			seen = append(seen, e.CustomerID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 25 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 25 {
		t.Errorf("paged through %d customers: %v", len(seen), seen)
	}
}

func nan() float64 { return math.NaN() }

// TestEscalatedSetFilter: the filter never turns away an id in the set,
// whatever its length, and the set answers exactly.
func TestEscalatedSetFilter(t *testing.T) {
	in := map[string]struct{}{}
	for _, id := range []string{"", "a", "abcdefg", "abcdefgh", "cust_00001", strings.Repeat("x", 40) + "1", strings.Repeat("x", 40) + "2", "ü✓"} {
		in[id] = struct{}{}
	}
	s := newEscSnapshot(in)
	for id := range in {
		if !s.has(id) {
			t.Errorf("has(%q) = false for an id in the set", id)
		}
	}
	for _, id := range []string{"b", "abcdefgi", "cust_00002", strings.Repeat("x", 40) + "3", strings.Repeat("x", 41) + "1"} {
		if s.has(id) {
			t.Errorf("has(%q) = true for an id not in the set", id)
		}
	}
	if newEscSnapshot(nil).has("a") {
		t.Error("the empty set has an id")
	}
}

// TestEscalationsArePublishedAtMostEvery100ms: a burst of new escalations
// reaches the request path at once for the first, and within publishEvery
// for the rest, in one copy of the set.
func TestEscalationsArePublishedAtMostEvery100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGuard(t, instant, WithDefaultEscalation(escalation.Config{}))
		rt := mustRoute(t, g, "r", WithTestTypes("toxicity"), WithCustomerID(customerHeader))
		flag := func(id string) {
			g.escalate(rt, &Outcome{Route: "r", CustomerID: id, Verdict: Verdict{Flagged: true, Score: 0.9}})
		}
		flag("first")
		flag("second")
		snap := g.rx.esc.snap.Load()
		if !snap.has("first") || snap.has("second") {
			t.Fatalf("right after the burst: first %v, second %v; want true, false", snap.has("first"), snap.has("second"))
		}
		time.Sleep(publishEvery)
		synctest.Wait()
		if !g.rx.esc.snap.Load().has("second") {
			t.Error("the second escalation was not published within publishEvery")
		}
		if s := g.Stats(); s.Escalated != 2 {
			t.Errorf("Stats().Escalated = %d, want 2", s.Escalated)
		}
		closeGuard(t, g)
	})
}

// FuzzEscalationsCursor: a cursor from a client (GET /escalations) never
// panics Escalations; a page after a valid cursor holds only ids after it.
func FuzzEscalationsCursor(f *testing.F) {
	for _, seed := range []string{"", "Y3VzdF8wMDAwNQ", "!!", "====", "aGVsbG8", strings.Repeat("A", 200)} {
		f.Add(seed, 3)
	}
	g := newGuard(f, instant, WithDefaultEscalation(escalation.Config{}))
	rt := mustRoute(f, g, "r", WithTestTypes("toxicity"), WithCustomerID(customerHeader))
	fillEscalations(g, rt, 12)
	f.Fuzz(func(t *testing.T, cursor string, limit int) {
		page, next, err := g.Escalations(cursor, limit)
		if err != nil {
			if page != nil || next != "" {
				t.Fatalf("an error with a page: %v %q", page, next)
			}
			return
		}
		if len(page) > limit {
			t.Fatalf("%d entries for limit %d", len(page), limit)
		}
		if next != "" {
			if _, _, err := g.Escalations(next, limit); err != nil {
				t.Fatalf("the next cursor %q is refused: %v", next, err)
			}
		}
	})
}

// TestEventHookPanicIsContained: a panicking WithOnEvent function is
// counted, and the check and the escalation go on.
func TestEventHookPanicIsContained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGuard(t, &recorder{}, WithDefaultEscalation(escalation.Config{}), WithOnEvent(func(event.Event) { panic("boom") }))
		h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader)).Wrap(answer("UNSAFE"))
		serveAs(h, "ann", "q")
		settleEscalations()
		closeGuard(t, g)
		s := g.Stats()
		checkAccounting(t, s)
		if s.HookPanics != 2 || s.EscalationsStarted != 1 || s.Checked != 1 { // the flagged event and the escalation's
			t.Errorf("panics %d, escalations %d, checked %d", s.HookPanics, s.EscalationsStarted, s.Checked)
		}
	})
}
