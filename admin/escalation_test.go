package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/escalation"
)

// flagUnsafe flags every response that contains "UNSAFE".
var flagUnsafe = safecheck.CheckerFunc(func(_ context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
	if strings.Contains(req.Response, "UNSAFE") {
		return safecheck.Verdict{Flagged: true, Score: 0.9, RiskLevel: "high", PassFail: "fail"}, nil
	}
	return safecheck.Verdict{Score: 0.01, RiskLevel: "low", PassFail: "pass"}, nil
})

// TestAdminEscalations lists two escalated customers a page at a time,
// their ids as the records show them, and ends each: one by its listed
// (hashed) id, one by its raw id, each audited with the actor.
func TestAdminEscalations(t *testing.T) {
	buf := &syncBuffer{}
	g, err := safecheck.New(flagUnsafe, safecheck.WithLogger(jsonLogger(buf)), safecheck.WithDefaultEscalation(escalation.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	defer closeGuard(t, g)
	rt, err := g.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"),
		safecheck.WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer") }))
	if err != nil {
		t.Fatal(err)
	}
	chat := rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("UNSAFE"))
	}))
	const mail = "jane.doe@example.com"
	for _, c := range []string{mail, "cust_7"} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("question of "+c))
		r.Header.Set("X-Customer", c)
		chat.ServeHTTP(httptest.NewRecorder(), r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := New(g, WithToken("alice", aliceToken))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/admin", h))
	defer srv.Close()
	f := &adminFixture{g: g, srv: srv, log: buf}

	first := f.do(t, adminCall{method: "GET", path: "/escalations?limit=1", token: aliceToken})
	list, _ := first.json["escalations"].([]any)
	next, _ := first.json["next_cursor"].(string)
	if first.status != 200 || len(list) != 1 || next == "" {
		t.Fatalf("first page: %d %s", first.status, first.raw)
	}
	second := f.do(t, adminCall{method: "GET", path: "/escalations?limit=1&cursor=" + url.QueryEscape(next), token: aliceToken})
	list2, _ := second.json["escalations"].([]any)
	if second.status != 200 || len(list2) != 1 || second.json["next_cursor"] != "" {
		t.Fatalf("second page: %d %s", second.status, second.raw)
	}
	var hashed string
	for _, e := range append(list, list2...) {
		m := e.(map[string]any)
		if id := m["customer_id"].(string); id != "cust_7" {
			hashed = id
		}
		if !matches(m["routes"], []any{"chat"}) || m["since"] == nil || m["until"] == nil {
			t.Errorf("entry %v", m)
		}
	}
	if !strings.HasPrefix(hashed, "hmac:") {
		t.Fatalf("the e-mail address is listed as %q", hashed)
	}
	for _, bad := range []string{"?limit=0", "?limit=1001", "?limit=x", "?cursor=%21%21"} {
		if r := f.do(t, adminCall{method: "GET", path: "/escalations" + bad, token: aliceToken}); r.status != 400 || r.json["error"] == "" {
			t.Errorf("GET /escalations%s: %d %s", bad, r.status, r.raw)
		}
	}
	if r := f.do(t, adminCall{method: "GET", path: "/escalations"}); r.status != 401 {
		t.Errorf("without a token: %d", r.status)
	}

	for _, id := range []string{hashed, "cust_7"} {
		r := f.do(t, adminCall{method: "DELETE", path: "/escalations/" + url.PathEscape(id), token: aliceToken})
		if r.status != 200 || r.json["ended"] != id {
			t.Errorf("DELETE %s: %d %s", id, r.status, r.raw)
		}
	}
	if r := f.do(t, adminCall{method: "DELETE", path: "/escalations/cust_7", token: aliceToken}); r.status != 404 {
		t.Errorf("ending it again: %d %s", r.status, r.raw)
	}
	var ended []map[string]any
	for _, rec := range auditRecords(t, buf.String()) {
		if rec["msg"] == "escalation ended" {
			ended = append(ended, rec)
		}
	}
	if len(ended) != 2 || ended[0]["customer_id"] != hashed || ended[1]["customer_id"] != "cust_7" {
		t.Fatalf("end records: %v", ended)
	}
	for _, rec := range ended {
		if rec["actor"] != "alice" || rec["via"] != "admin" || rec["client_ip"] != "127.0.0.1" {
			t.Errorf("end record without its actor: %v", rec)
		}
	}
	st := f.do(t, adminCall{method: "GET", path: "/state", token: aliceToken})
	if !matches(st.json["escalations"], map[string]any{"active": 0.0, "started": 2.0, "ended": 2.0, "evicted": 0.0}) {
		t.Errorf("state: %v", st.json["escalations"])
	}
	if strings.Contains(buf.String(), mail) {
		t.Error("the raw e-mail address reached a record")
	}
}

// TestAdminStateShowsAlerts: GET /state lists each alert rule with its
// state and value.
func TestAdminStateShowsAlerts(t *testing.T) {
	g := newGuard(t, safecheck.WithAlertRules(alert.Rule{Name: "chat-toxicity", Route: "chat", FlaggedShare: 0.05, IncidentFor: time.Minute}))
	mustRoute(t, g, "chat", safecheck.WithTestTypes("toxicity"))
	h, err := New(g, WithToken("alice", aliceToken))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/state", nil)
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Alerts []map[string]any `json:"alerts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"rule": "chat-toxicity", "route": "chat", "test_type": "", "measure": "flagged_share", "state": "ok",
		"value": 0.0, "threshold": 0.05, "clear": 0.025, "checks": 0.0, "window": "5m0s", "incident_until": nil}
	if len(st.Alerts) != 1 || !matches(st.Alerts[0], want) {
		t.Errorf("alerts in GET /state: %v", st.Alerts)
	}
}
