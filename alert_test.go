package safecheck

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/syncbuf"
)

// alerts collects what WithOnAlert reports.
type alerts struct {
	mu  sync.Mutex
	all []alert.Status
}

func (a *alerts) add(s alert.Status) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = append(a.all, s)
}

func (a *alerts) states() []alert.State {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []alert.State
	for _, s := range a.all {
		out = append(out, s.State)
	}
	return out
}

// countMsg counts the records of out whose msg is msg.
func countMsg(t *testing.T, out, msg string) int {
	t.Helper()
	n := 0
	for _, r := range syncbuf.Records(t, out) {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}

// sendN sends n requests through h, each with its own prompt (so that the
// cache answers none), UNSAFE answers when unsafe, and lets them be checked.
func sendN(h interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request)
}, n int, unsafe bool, tag string) {
	for i := range n {
		body := tag + " question " + strconv.Itoa(i)
		if unsafe {
			body += " UNSAFE"
		}
		serve(h, body)
	}
	settle()
}

// echo answers with the request body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
})

// TestAlertFiresAndClearsWithHysteresis: the rule fires once at the
// threshold, stays firing below it down to the clear threshold, clears
// once below that, and reports each change as one WARN record, one hook
// call and one event.
func TestAlertFiresAndClearsWithHysteresis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf, hooks, evs := &syncBuffer{}, &alerts{}, &events{}
		rule := alert.Rule{Name: "chat-toxicity", Route: "chat", TestType: "toxicity", Window: time.Minute, MinChecks: 10, FlaggedShare: 0.5}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithAlertRules(rule), WithOnAlert(hooks.add), WithOnEvent(evs.add))
		h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(echo)
		other := mustRoute(t, g, "other", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(echo)

		sendN(other, 20, true, "other") // another route: not watched
		sendN(h, 9, true, "a")          // 9 flagged of 9: too few checks
		if s := g.Stats().Alerts[0]; s.State != alert.OK || s.Checks != 9 || s.Value != 1 {
			t.Fatalf("below MinChecks: %+v", s)
		}
		sendN(h, 1, true, "b") // 10 of 10: fires
		sendN(h, 5, true, "c") // still firing: no second record
		sendN(h, 15, false, "d")
		if s := g.Stats().Alerts[0]; s.State != alert.Firing || s.Value != 0.5 {
			t.Fatalf("at 15 of 30: %+v", s)
		}
		sendN(h, 25, false, "e") // 15 of 55 = 0.27, above the clear threshold 0.25: still firing
		if s := g.Stats().Alerts[0]; s.State != alert.Firing {
			t.Fatalf("at 15 of 55, under the threshold but over the clear threshold: %+v", s)
		}
		sendN(h, 6, false, "f") // 15 of 61 < 0.25: clears
		st := g.Stats().Alerts[0]
		if st.State != alert.OK || st.Rule.Clear != 0.25 || st.Rule.Window != time.Minute {
			t.Errorf("after clearing: %+v", st)
		}
		closeGuard(t, g)
		checkAccounting(t, g.Stats())
		out := buf.String()
		if f, c := countMsg(t, out, "alert fired"), countMsg(t, out, "alert cleared"); f != 1 || c != 1 {
			t.Errorf("%d fired and %d cleared records, want 1 each", f, c)
		}
		for _, r := range syncbuf.Records(t, out) {
			if r["msg"] == "alert fired" && (r["level"] != "WARN" || r["rule"] != "chat-toxicity" || r["value"] != 1.0 || r["threshold"] != 0.5 || r["checks"] != 10.0) {
				t.Errorf("fired record: %v", r)
			}
		}
		if got := hooks.states(); len(got) != 2 || got[0] != alert.Firing || got[1] != alert.OK {
			t.Errorf("hook saw %v, want [firing ok]", got)
		}
		fired, cleared := evs.of(event.AlertFired), evs.of(event.AlertCleared)
		if len(fired) != 1 || len(cleared) != 1 || fired[0].Rule != "chat-toxicity" || fired[0].Threshold != 0.5 || cleared[0].Threshold != 0.25 {
			t.Errorf("events: fired %+v cleared %+v", fired, cleared)
		}
	})
}

// TestAlertStartsAnIncidentAndDoesNotRefireDuringIt: a rule with
// IncidentFor starts incident mode for its route with itself as the
// actor, and fires again only once that incident is over.
func TestAlertStartsAnIncidentAndDoesNotRefireDuringIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		rule := alert.Rule{Name: "burst", Route: "chat", Window: time.Minute, MinChecks: 10, FlaggedShare: 0.5, IncidentFor: 10 * time.Minute}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithAlertRules(rule))
		h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(echo)
		mustRoute(t, g, "other", WithSampleRate(0), WithTestTypes("toxicity"))

		sendN(h, 10, true, "a") // fires, starts the incident
		s := g.Stats()
		if s.Incident == nil || s.Incident.Reason != "alert burst" || len(s.Incident.Routes) != 1 || s.Incident.Routes[0] != "chat" {
			t.Fatalf("incident: %+v", s.Incident)
		}
		if a := s.Alerts[0]; a.State != alert.Firing || !a.IncidentUntil.Equal(s.Incident.Until) {
			t.Errorf("alert status %+v, incident until %v", a, s.Incident.Until)
		}
		started := auditOf(t, buf.String(), "incident started")
		if len(started) != 1 || started[0]["actor"] != "rule:burst" || started[0]["via"] != "alert" || started[0]["reason"] != "alert burst" {
			t.Fatalf("incident start records: %v", started)
		}
		sendN(h, 40, false, "b") // clears
		sendN(h, 60, true, "c")  // would fire again, but its incident is active
		if a := g.Stats().Alerts[0]; a.State != alert.OK {
			t.Errorf("re-fired during its incident: %+v", a)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if g.Stats().Incident != nil {
			t.Fatal("the incident did not expire")
		}
		sendN(h, 10, true, "d") // the window still holds many flagged: fires again, a new incident
		closeGuard(t, g)
		checkAccounting(t, g.Stats())
		out := buf.String()
		if f := countMsg(t, out, "alert fired"); f != 2 {
			t.Errorf("%d fired records, want 2", f)
		}
		if n := len(auditOf(t, out, "incident started")); n != 2 {
			t.Errorf("%d incident start records, want 2", n)
		}
		if n := len(auditOf(t, out, "incident expired")); n != 1 {
			t.Errorf("%d incident expiry records, want 1", n)
		}
	})
}

// TestAlertDoesNotReplaceAnotherIncident: with an operator's incident
// active, a firing rule starts none of its own.
func TestAlertDoesNotReplaceAnotherIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		rule := alert.Rule{Name: "burst", Window: time.Minute, MinChecks: 5, FlaggedShare: 0.5, IncidentFor: time.Minute}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithAlertRules(rule))
		h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(echo)
		if err := g.StartIncident(t.Context(), "operator", time.Hour); err != nil {
			t.Fatal(err)
		}
		sendN(h, 5, true, "a")
		s := g.Stats()
		if s.Incident == nil || s.Incident.Reason != "operator" || s.Alerts[0].State != alert.Firing || !s.Alerts[0].IncidentUntil.IsZero() {
			t.Errorf("incident %+v, alert %+v", s.Incident, s.Alerts[0])
		}
		closeGuard(t, g)
		checkAccounting(t, g.Stats())
	})
}

// TestAlertClearsWhenTheWindowEmpties: without traffic the window slides
// empty and a firing rule clears by itself.
func TestAlertClearsWhenTheWindowEmpties(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		rule := alert.Rule{Name: "p95", ScoreP95: 0.8, Window: 30 * time.Second, MinChecks: 5}
		g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), WithAlertRules(rule))
		h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(echo)
		sendN(h, 5, true, "a") // scores 0.9
		if a := g.Stats().Alerts[0]; a.State != alert.Firing || a.Value < 0.8 || a.Value > 0.9 {
			t.Fatalf("p95 rule: %+v", a)
		}
		time.Sleep(45 * time.Second)
		synctest.Wait()
		if a := g.Stats().Alerts[0]; a.State != alert.OK || a.Checks != 0 {
			t.Errorf("after the window emptied: %+v", a)
		}
		closeGuard(t, g)
		checkAccounting(t, g.Stats())
		if c := countMsg(t, buf.String(), "alert cleared"); c != 1 {
			t.Errorf("%d cleared records, want 1", c)
		}
	})
}

func TestAlertRulesAreValidated(t *testing.T) {
	ok := alert.Rule{Name: "r", FlaggedShare: 0.05}
	with := func(f func(*alert.Rule)) alert.Rule {
		r := ok
		f(&r)
		return r
	}
	tests := []struct {
		name  string
		rules []alert.Rule
		want  string
	}{
		{"no name", []alert.Rule{with(func(r *alert.Rule) { r.Name = "" })}, "rule 1: name must be"},
		{"bad name", []alert.Rule{with(func(r *alert.Rule) { r.Name = "a b" })}, "rule 1: name must be"},
		{"name twice", []alert.Rule{ok, ok}, `rule "r": name given twice`},
		{"no threshold", []alert.Rule{with(func(r *alert.Rule) { r.FlaggedShare = 0 })}, "set one of FlaggedShare and ScoreP95"},
		{"two thresholds", []alert.Rule{with(func(r *alert.Rule) { r.ScoreP95 = 0.5 })}, "not both"},
		{"share above 1", []alert.Rule{with(func(r *alert.Rule) { r.FlaggedShare = 1.5 })}, "flagged share must be within (0, 1]"},
		{"negative p95", []alert.Rule{with(func(r *alert.Rule) { r.FlaggedShare, r.ScoreP95 = 0, -1 })}, "score p95 must be within"},
		{"window not a multiple", []alert.Rule{with(func(r *alert.Rule) { r.Window = 15 * time.Second })}, "window must be a multiple of 10s"},
		{"window too long", []alert.Rule{with(func(r *alert.Rule) { r.Window = 48 * time.Hour })}, "window must be"},
		{"negative min checks", []alert.Rule{with(func(r *alert.Rule) { r.MinChecks = -1 })}, "min checks"},
		{"clear above threshold", []alert.Rule{with(func(r *alert.Rule) { r.Clear = 0.1 })}, "clear threshold must be within [0, 0.05)"},
		{"negative incident", []alert.Rule{with(func(r *alert.Rule) { r.IncidentFor = -time.Minute })}, "incident duration"},
		{"incident too long", []alert.Rule{with(func(r *alert.Rule) { r.IncidentFor = 48 * time.Hour })}, "incident duration"},
		{"unknown test type", []alert.Rule{with(func(r *alert.Rule) { r.TestType = "nope" })}, `unknown test type "nope"`},
	}
	checker := &hubLike{}
	for _, tt := range tests {
		_, err := New(checker, WithAlertRules(tt.rules...))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	g, err := New(checker, WithLogger(discardLogger()), WithAlertRules(ok))
	if err != nil {
		t.Fatalf("a valid rule: %v", err)
	}
	closeGuard(t, g)
}

// hubLike supports only the test types AssuranceHub knows.
type hubLike struct{ recorder }

func (*hubLike) Supports(tt string) bool { return tt == "toxicity" || tt == "pii" || tt == "jailbreak" }
