package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/internal/syncbuf"

	"github.com/safecheck/safecheck"
)

// Fake admin tokens; the canary must never appear in any output.
const (
	aliceToken  = "alice-token-0123456789abcdef"
	botToken    = "deploy-bot-token-0123456789"
	canaryToken = "CANARY-ADMIN-TOKEN-5f1e2d3c"
)

// adminFixture is a Guard with two routes, its admin handler mounted under
// /admin on a loopback server, and the Guard's JSON log.
type adminFixture struct {
	g   *safecheck.Guard
	srv *httptest.Server
	log *syncBuffer
}

func newAdminFixture(t *testing.T, opts ...Option) *adminFixture {
	t.Helper()
	buf := &syncBuffer{}
	g := newGuard(t, safecheck.WithLogger(jsonLogger(buf)))
	mustRoute(t, g, "chat", safecheck.WithSampleRate(0.1), safecheck.WithTestTypes("toxicity"))
	mustRoute(t, g, "search", safecheck.WithSampleRate(0.2), safecheck.WithTestTypes("toxicity"))
	if len(opts) == 0 {
		opts = []Option{WithToken("alice", aliceToken), WithToken("deploy-bot", botToken)}
	}
	h, err := New(g, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &adminFixture{g: g, srv: srv, log: buf}
}

// adminCall is one request to the admin handler.
type adminCall struct {
	method, path, body string
	token              string            // "" sends no Authorization header
	header             map[string]string // extra headers
}

type adminReply struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func (f *adminFixture) do(t testing.TB, c adminCall) adminReply {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, f.srv.URL+"/admin"+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k) // "": send no such header
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := adminReply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if c.method != http.MethodHead {
		if err := json.Unmarshal(raw, &r.json); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %q", c.method, c.path, raw)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
	}
	return r
}

// auditRecords returns the audit records of a JSON log.
func auditRecords(t testing.TB, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, r := range syncbuf.Records(t, out) {
		if r["audit"] == true {
			recs = append(recs, r)
		}
	}
	return recs
}

func TestNewValidatesOptions(t *testing.T) {
	g := newGuard(t)
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"no token", nil, "no token"},
		{"only an allowlist", []Option{WithAllowlist("10.0.0.0/8")}, "no token"},
		{"empty name", []Option{WithToken("", canaryToken)}, "token name"},
		{"name with a space", []Option{WithToken("on call", canaryToken)}, "token name"},
		{"short token", []Option{WithToken("alice", "CANARY-short")}, "shorter than 16"},
		{"token with a space", []Option{WithToken("alice", "CANARY token 0123456789")}, "space"},
		{"token with a newline", []Option{WithToken("alice", "CANARY-token-0123456789\n")}, "control"},
		{"same name twice", []Option{WithToken("alice", canaryToken), WithToken("alice", aliceToken)}, "given twice"},
		{"same token twice", []Option{WithToken("alice", canaryToken), WithToken("bob", canaryToken)}, "another name"},
		{"bad allowlist entry", []Option{WithToken("alice", canaryToken), WithAllowlist("10.0.0.0/33")}, "WithAllowlist"},
		{"hostname in allowlist", []Option{WithToken("alice", canaryToken), WithAllowlist("localhost")}, "WithAllowlist"},
		{"empty allowlist", []Option{WithToken("alice", canaryToken), WithAllowlist()}, "no CIDRs"},
		{"bad proxy entry", []Option{WithToken("alice", canaryToken), WithTrustedProxies("10.0.0.1/8/8")}, "WithTrustedProxies"},
		{"nil option", []Option{WithToken("alice", canaryToken), nil}, "option 2 is a nil admin.Option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(g, tt.opts...)
			if err == nil || h != nil {
				t.Fatalf("New = %v, %v; want an error", h, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Errorf("err = %q contains a token", err)
			}
		})
	}
	if _, err := New(g, WithToken("ops@example", canaryToken), WithAllowlist("10.0.0.0/8", "192.0.2.7", "2001:db8::/32"),
		WithTrustedProxies("127.0.0.1")); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestAdminAuthentication(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		trusted []string
		header  map[string]string // sent with every request, Authorization included
		status  int
	}{
		{"no token", nil, nil, nil, 401},
		{"wrong token", nil, nil, map[string]string{"Authorization": "Bearer " + canaryToken}, 401},
		{"prefix of a token", nil, nil, map[string]string{"Authorization": "Bearer " + aliceToken[:20]}, 401},
		{"token with a suffix", nil, nil, map[string]string{"Authorization": "Bearer " + aliceToken + "x"}, 401},
		{"basic scheme", nil, nil, map[string]string{"Authorization": "Basic " + aliceToken}, 401},
		{"token without scheme", nil, nil, map[string]string{"Authorization": aliceToken}, 401},
		{"empty bearer", nil, nil, map[string]string{"Authorization": "Bearer "}, 401},
		{"token in another header", nil, nil, map[string]string{"X-Admin-Token": aliceToken}, 401},
		{"valid token", nil, nil, map[string]string{"Authorization": "Bearer " + aliceToken}, 200},
		{"lower-case scheme", nil, nil, map[string]string{"Authorization": "bearer " + botToken}, 200},
		{"allowed address, wrong token", []string{"127.0.0.0/8"}, nil, map[string]string{"Authorization": "Bearer " + canaryToken}, 401},
		{"allowed single address", []string{"127.0.0.1"}, nil, map[string]string{"Authorization": "Bearer " + aliceToken}, 200},
		{"outside the allowlist, no token", []string{"10.0.0.0/8"}, nil, nil, 403},
		{"outside the allowlist, valid token", []string{"10.0.0.0/8"}, nil,
			map[string]string{"Authorization": "Bearer " + aliceToken}, 403},
		{"spoofed X-Forwarded-For, no trusted proxy", []string{"10.0.0.0/8"}, nil,
			map[string]string{"Authorization": "Bearer " + aliceToken, "X-Forwarded-For": "10.1.2.3"}, 403},
		{"spoofed X-Forwarded-For, peer is not the trusted proxy", []string{"10.0.0.0/8"}, []string{"192.0.2.0/24"},
			map[string]string{"Authorization": "Bearer " + aliceToken, "X-Forwarded-For": "10.1.2.3"}, 403},
		{"X-Forwarded-For from a trusted proxy", []string{"10.0.0.0/8"}, []string{"127.0.0.1/32"},
			map[string]string{"Authorization": "Bearer " + aliceToken, "X-Forwarded-For": "10.1.2.3"}, 200},
		{"right-most untrusted hop decides", []string{"10.0.0.0/8"}, []string{"127.0.0.1/32"},
			map[string]string{"Authorization": "Bearer " + aliceToken, "X-Forwarded-For": "10.1.2.3, 192.0.2.1"}, 403},
		{"hops through trusted proxies are skipped", []string{"10.0.0.0/8"}, []string{"127.0.0.1/32", "192.0.2.0/24"},
			map[string]string{"Authorization": "Bearer " + aliceToken, "X-Forwarded-For": "10.1.2.3, 192.0.2.1"}, 200},
		{"client-supplied left-most hop is ignored", []string{"192.0.2.0/24"}, []string{"127.0.0.1/32"},
			map[string]string{"Authorization": "Bearer " + aliceToken, "X-Forwarded-For": "192.0.2.9, 10.1.2.3"}, 403},
		{"garbage hop", []string{"10.0.0.0/8"}, []string{"127.0.0.1/32"},
			map[string]string{"Authorization": "Bearer " + aliceToken, "X-Forwarded-For": "10.1.2.3, not-an-ip"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []Option{WithToken("alice", aliceToken), WithToken("deploy-bot", botToken)}
			if tt.allow != nil {
				opts = append(opts, WithAllowlist(tt.allow...))
			}
			if tt.trusted != nil {
				opts = append(opts, WithTrustedProxies(tt.trusted...))
			}
			f := newAdminFixture(t, opts...)
			for _, c := range []adminCall{
				{method: "GET", path: "/state"},
				{method: "PUT", path: "/routes/chat/rate", body: `{"rate":0.5}`},
				{method: "GET", path: "/nothing-here"},
			} {
				c.header = tt.header
				r := f.do(t, c)
				want := tt.status
				if want == 200 && c.path == "/nothing-here" {
					want = 404
				}
				if r.status != want {
					t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, r.status, want, r.raw)
				}
				if r.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without a Bearer challenge: %v", r.header)
				}
				if r.status >= 400 && r.json["error"] == nil {
					t.Errorf("error answer without an error message: %s", r.raw)
				}
			}
			wantRate := 0.1
			if tt.status == 200 {
				wantRate = 0.5
			}
			if got := f.g.Stats().Routes[0].SampleRate; got != wantRate {
				t.Errorf("rate after the requests = %v, want %v", got, wantRate)
			}
			if tt.status != 200 && len(auditRecords(t, f.log.String())) != 0 {
				t.Errorf("a refused request changed something:\n%s", f.log.String())
			}
		})
	}
}

func TestAdminTwoAuthorizationHeaders(t *testing.T) {
	f := newAdminFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/admin/state", nil)
	req.Header.Add("Authorization", "Bearer "+aliceToken)
	req.Header.Add("Authorization", "Bearer "+canaryToken)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		remote string
		xff    []string
		want   string // "" means unknown
	}{
		{"192.0.2.1:5000", nil, "192.0.2.1"},
		{"192.0.2.1:5000", []string{"198.51.100.7"}, "192.0.2.1"}, // peer not trusted: header ignored
		{"10.0.0.2:5000", nil, "10.0.0.2"},
		{"10.0.0.2:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"10.0.0.2:5000", []string{"203.0.113.5, 198.51.100.7"}, "198.51.100.7"},
		{"10.0.0.2:5000", []string{"203.0.113.5", "198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"10.0.0.2:5000", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"}, // all trusted: the left-most
		{"10.0.0.2:5000", []string{"198.51.100.7:4711"}, "198.51.100.7"},
		{"10.0.0.2:5000", []string{"[2001:db9::1]:443"}, "2001:db9::1"},
		{"10.0.0.2:5000", []string{" 198.51.100.7 "}, "198.51.100.7"},
		{"10.0.0.2:5000", []string{"unknown"}, ""},
		{"10.0.0.2:5000", []string{"198.51.100.7,"}, ""},
		{"10.0.0.2:5000", []string{""}, ""},
		{"[::ffff:10.0.0.2]:5000", []string{"198.51.100.7"}, "198.51.100.7"}, // IPv4-mapped peer
		{"[2001:db8::5]:443", []string{"2001:db9::1"}, "2001:db9::1"},
		{"[fe80::1%eth0]:443", nil, "fe80::1"},
		{"not an address", []string{"198.51.100.7"}, ""},
	}
	for _, tt := range tests {
		got := addrString(clientIP(tt.remote, tt.xff, trusted))
		want := tt.want
		if want == "" {
			want = "unknown"
		}
		if got != want {
			t.Errorf("clientIP(%q, %q) = %s, want %s", tt.remote, tt.xff, got, want)
		}
	}
}

// FuzzClientIP feeds arbitrary peers and X-Forwarded-For values to clientIP:
// it never panics, ignores the header unless the peer is trusted, and only
// ever returns the peer or an address named in the header.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:5000", "198.51.100.7, 10.1.1.1")
	f.Add("192.0.2.1:80", "10.0.0.1")
	f.Add("[::1]:1", "[::ffff:1.2.3.4]:9, ,")
	f.Add("10.0.0.2:5000", "fe80::1%25eth0")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := clientIP(remote, []string{xff}, trusted)
		peer, ok := parseHostAddr(remote)
		if !ok || !inPrefixes(trusted, peer) {
			if got != peer {
				t.Fatalf("untrusted peer %q: got %v, want the peer", remote, got)
			}
			return
		}
		if !got.IsValid() || got == peer {
			return
		}
		for hop := range strings.SplitSeq(xff, ",") {
			if a, ok := parseHostAddr(strings.TrimSpace(hop)); ok && a == got {
				return
			}
		}
		t.Fatalf("clientIP(%q, %q) = %v: neither the peer nor a hop", remote, xff, got)
	})
}

func TestAdminState(t *testing.T) {
	f := newAdminFixture(t)
	if err := f.g.StartIncident(context.Background(), "checking a deploy", 0, "chat"); err == nil {
		t.Fatal("zero-length incident accepted")
	}
	if r := f.do(t, adminCall{method: "POST", path: "/incident", token: aliceToken,
		body: `{"reason":"bad deploy #42","duration":"30m","routes":["chat"]}`}); r.status != 200 {
		t.Fatalf("POST /incident: %d %s", r.status, r.raw)
	}
	r := f.do(t, adminCall{method: "GET", path: "/state", token: aliceToken})
	if r.status != 200 {
		t.Fatalf("GET /state: %d %s", r.status, r.raw)
	}
	var st stateJSON
	if err := json.Unmarshal([]byte(r.raw), &st); err != nil {
		t.Fatal(err)
	}
	want := []routeJSON{
		{Name: "chat", Rate: 0.1, EffectiveRate: 1, Dropped: map[drop.Reason]uint64{}},
		{Name: "search", Rate: 0.2, EffectiveRate: 0.2, Dropped: map[drop.Reason]uint64{}},
	}
	if fmt.Sprint(st.Routes) != fmt.Sprint(want) {
		t.Errorf("routes = %+v, want %+v", st.Routes, want)
	}
	if st.Incident == nil || st.Incident.Reason != "bad deploy #42" || st.Incident.AllRoutes ||
		!slices.Equal(st.Incident.Routes, []string{"chat"}) || st.Incident.Until.Sub(st.Incident.Start).Minutes() != 30 {
		t.Errorf("incident = %+v", st.Incident)
	}
	for _, key := range []string{"queue", "dropped", "failed", "circuit_open", "overloaded", "cpu_budget", "paused", "sampled", "checked", "in_flight", "fleet"} {
		if _, ok := r.json[key]; !ok {
			t.Errorf("state lacks %q: %s", key, r.raw)
		}
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	if r := f.do(t, adminCall{method: "HEAD", path: "/state", token: aliceToken}); r.status != 200 {
		t.Errorf("HEAD /state: %d", r.status)
	}
	for _, c := range []adminCall{
		{method: "POST", path: "/state", body: `{}`},
		{method: "GET", path: "/incident"},
		{method: "GET", path: "/routes/chat/rate"},
		{method: "PATCH", path: "/routes/chat/rate", body: `{"rate":0.5}`},
	} {
		c.token = aliceToken
		if r := f.do(t, c); r.status != 405 || r.header.Get("Allow") == "" {
			t.Errorf("%s %s: %d, Allow %q; want 405 with Allow", c.method, c.path, r.status, r.header.Get("Allow"))
		}
	}
}

// TestAdminChangesAreAudited sends valid and invalid requests and checks
// that every change, and nothing else, wrote exactly one audit record with
// who, what, before, after, reason and when.
func TestAdminChangesAreAudited(t *testing.T) {
	f := newAdminFixture(t)
	type rec = map[string]any
	steps := []struct {
		name   string
		call   adminCall
		status int
		audit  []rec // expected records (subset of fields), in order
	}{
		{"rate", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":0.5,"reason":"more data after #42"}`}, 200,
			[]rec{{"msg": "sample rate changed", "actor": "alice", "route": "chat", "before": 0.1, "after": 0.5, "reason": "more data after #42"}}},
		{"rate 0", adminCall{method: "PUT", path: "/routes/search/rate", token: botToken, body: `{"rate":0}`}, 200,
			[]rec{{"msg": "sample rate changed", "actor": "deploy-bot", "route": "search", "before": 0.2, "after": 0.0}}},
		{"rate above 1", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":1.5}`}, 422, nil},
		{"rate below 0", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":-0.01}`}, 422, nil},
		{"rate as a string", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":"0.7"}`}, 400, nil},
		{"rate missing", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{}`}, 422, nil},
		{"rate with a bad reason", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":0.7,"reason":"a\u0000b"}`}, 422, nil},
		{"rate too large a number", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":1e999}`}, 400, nil},
		{"unknown field", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":0.7,"force":true}`}, 400, nil},
		{"two JSON values", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":0.7}{"rate":0.8}`}, 400, nil},
		{"not JSON", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `rate=0.7`}, 400, nil},
		{"empty body", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken}, 400, nil},
		{"wrong content type", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: `{"rate":0.7}`,
			header: map[string]string{"Content-Type": "text/plain"}}, 415, nil},
		{"huge body", adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken,
			body: `{"rate":0.7` + strings.Repeat(" ", maxBody) + `}`}, 413, nil},
		{"unknown route", adminCall{method: "PUT", path: "/routes/nope/rate", token: aliceToken, body: `{"rate":0.7}`}, 404, nil},
		{"route name with a slash", adminCall{method: "PUT", path: "/routes/chat/x/rate", token: aliceToken, body: `{"rate":0.7}`}, 404, nil},
		{"start incident", adminCall{method: "POST", path: "/incident", token: aliceToken,
			body: `{"reason":"bad deploy #42","duration":"30m","routes":["chat"]}`}, 200,
			[]rec{{"msg": "incident started", "actor": "alice", "reason": "bad deploy #42", "before": "none",
				"after": rec{"reason": "bad deploy #42", "routes": []any{"chat"}}, "duration": "30m0s"}}},
		{"replace incident", adminCall{method: "POST", path: "/incident", token: botToken,
			body: `{"reason":"all routes now","duration":"1h"}`}, 200,
			[]rec{
				{"msg": "incident replaced", "actor": "deploy-bot", "reason": "bad deploy #42", "after": "none"},
				{"msg": "incident started", "actor": "deploy-bot", "reason": "all routes now",
					"before": rec{"reason": "bad deploy #42", "routes": []any{"chat"}}, "after": rec{"reason": "all routes now", "routes": []any{"*"}}},
			}},
		{"bad duration", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"reason":"r","duration":"30 minutes"}`}, 422, nil},
		{"zero duration", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"reason":"r","duration":"0s"}`}, 422, nil},
		{"negative duration", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"reason":"r","duration":"-5m"}`}, 422, nil},
		{"duration too long", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"reason":"r","duration":"48h"}`}, 422, nil},
		{"duration missing", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"reason":"r"}`}, 422, nil},
		{"duration as a number", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"reason":"r","duration":1800}`}, 400, nil},
		{"reason missing", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"duration":"30m"}`}, 422, nil},
		{"reason with a newline", adminCall{method: "POST", path: "/incident", token: aliceToken, body: `{"reason":"a\nb","duration":"30m"}`}, 422, nil},
		{"unknown route in body", adminCall{method: "POST", path: "/incident", token: aliceToken,
			body: `{"reason":"r","duration":"30m","routes":["chat","nope"]}`}, 422, nil},
		{"route twice", adminCall{method: "POST", path: "/incident", token: aliceToken,
			body: `{"reason":"r","duration":"30m","routes":["chat","chat"]}`}, 422, nil},
		{"end incident", adminCall{method: "DELETE", path: "/incident", token: aliceToken}, 200,
			[]rec{{"msg": "incident ended", "actor": "alice", "reason": "all routes now", "after": "none",
				"before": rec{"reason": "all routes now"}}}},
		{"end again", adminCall{method: "DELETE", path: "/incident", token: aliceToken}, 409, nil},
	}
	seen := 0
	for _, st := range steps {
		r := f.do(t, st.call)
		if r.status != st.status {
			t.Errorf("%s: status %d, want %d: %s", st.name, r.status, st.status, r.raw)
		}
		if msg, _ := r.json["error"].(string); (st.status >= 400) != (msg != "") {
			t.Errorf("%s: error message %q for status %d", st.name, msg, r.status)
		}
		recs := auditRecords(t, f.log.String())
		got := recs[seen:]
		seen = len(recs)
		if len(got) != len(st.audit) {
			t.Errorf("%s: %d audit records, want %d: %v", st.name, len(got), len(st.audit), got)
			continue
		}
		for i, want := range st.audit {
			for k, v := range want {
				if !matches(got[i][k], v) {
					t.Errorf("%s: record %d %s = %v, want %v", st.name, i, k, got[i][k], v)
				}
			}
			for _, k := range []string{"time", "client_ip", "via"} {
				if got[i][k] == nil || got[i][k] == "" {
					t.Errorf("%s: record %d lacks %s: %v", st.name, i, k, got[i])
				}
			}
			if got[i]["client_ip"] != "127.0.0.1" || got[i]["via"] != "admin" {
				t.Errorf("%s: record %d: client_ip %v via %v", st.name, i, got[i]["client_ip"], got[i]["via"])
			}
		}
	}
	s := f.g.Stats()
	if s.Routes[0].SampleRate != 0.5 || s.Routes[1].SampleRate != 0 || s.Incident != nil {
		t.Errorf("final state: chat %v search %v incident %v", s.Routes[0].SampleRate, s.Routes[1].SampleRate, s.Incident)
	}

	// A change made in code is audited once too, without an actor.
	if err := f.g.SetSampleRate(context.Background(), "chat", 0.25); err != nil {
		t.Fatal(err)
	}
	recs := auditRecords(t, f.log.String())
	if len(recs) != seen+1 || recs[seen]["actor"] != nil || recs[seen]["before"] != 0.5 {
		t.Errorf("SetSampleRate audit records: %v", recs[seen:])
	}
}

// matches compares a decoded JSON value with an expectation; a map
// expectation needs only its own keys to match.
func matches(got, want any) bool {
	if w, ok := want.(map[string]any); ok {
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !matches(g[k], v) {
				return false
			}
		}
		return true
	}
	if w, ok := want.([]any); ok {
		g, ok := got.([]any)
		return ok && fmt.Sprint(g) == fmt.Sprint(w)
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

// TestAdminConcurrentChanges runs changes in parallel (run it with -race):
// every change is audited once, and the before/after values of the rate
// records, and those of the answers, chain up exactly, as each change saw
// the rate it replaced.
func TestAdminConcurrentChanges(t *testing.T) {
	f := newAdminFixture(t)
	const workers, perWorker = 8, 12
	var (
		mu      sync.Mutex
		status  = map[string]int{}          // "METHOD path status" -> count
		replied = map[string][2][]float64{} // route -> befores, afters of the answers
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var c adminCall
				switch i % 4 {
				case 0, 1:
					route := []string{"chat", "search"}[(w+i)%2]
					rate := float64(w*perWorker+i+1) / 1000 // distinct, so records can be matched up
					c = adminCall{method: "PUT", path: "/routes/" + route + "/rate", body: fmt.Sprintf(`{"rate":%v}`, rate)}
				case 2:
					c = adminCall{method: "POST", path: "/incident", body: fmt.Sprintf(`{"reason":"worker %d","duration":"1h"}`, w)}
				case 3:
					c = adminCall{method: "DELETE", path: "/incident"}
				}
				c.token = []string{aliceToken, botToken}[w%2]
				r := f.do(t, c)
				mu.Lock()
				status[fmt.Sprintf("%s %d", c.method, r.status)]++
				if c.method == "PUT" && r.status == 200 {
					route, _ := r.json["route"].(string)
					before, _ := r.json["before"].(float64)
					after, _ := r.json["after"].(float64)
					ba := replied[route]
					replied[route] = [2][]float64{append(ba[0], before), append(ba[1], after)}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := status["PUT 200"]; n != workers*perWorker/2 {
		t.Errorf("successful rate changes = %d, want %d (%v)", n, workers*perWorker/2, status)
	}
	if status["POST 200"] != workers*perWorker/4 || status["DELETE 200"]+status["DELETE 409"] != workers*perWorker/4 {
		t.Errorf("incident answers: %v", status)
	}

	count := map[string]int{}
	befores := map[string][]float64{}
	afters := map[string][]float64{}
	for _, r := range auditRecords(t, f.log.String()) {
		msg := r["msg"].(string)
		count[msg]++
		if r["actor"] != "alice" && r["actor"] != "deploy-bot" {
			t.Errorf("record without its actor: %v", r)
		}
		if msg == "sample rate changed" {
			route := r["route"].(string)
			befores[route] = append(befores[route], r["before"].(float64))
			afters[route] = append(afters[route], r["after"].(float64))
		}
	}
	active := 0
	if f.g.Stats().Incident != nil {
		active = 1
	}
	if count["sample rate changed"] != status["PUT 200"] || count["incident started"] != status["POST 200"] ||
		count["incident ended"] != status["DELETE 200"] ||
		count["incident replaced"] != status["POST 200"]-status["DELETE 200"]-active {
		t.Errorf("audit records %v do not match the answers %v (incident active at the end: %d)", count, status, active)
	}
	final := map[string]float64{}
	for _, rs := range f.g.Stats().Routes {
		final[rs.Name] = rs.SampleRate
	}
	initial := map[string]float64{"chat": 0.1, "search": 0.2}
	for route := range initial {
		checkChain(t, route+" records", initial[route], final[route], befores[route], afters[route])
		checkChain(t, route+" answers", initial[route], final[route], replied[route][0], replied[route][1])
	}
}

// checkChain checks that the rate changes of one route chain up: each
// before is the initial rate or another change's after, and the final rate
// is the after nobody replaced.
func checkChain(t *testing.T, what string, initial, final float64, befores, afters []float64) {
	t.Helper()
	want := append(slices.Clone(afters), initial)
	i := slices.Index(want, final)
	if i < 0 {
		t.Errorf("%s: final rate %v is no change's after", what, final)
		return
	}
	want = slices.Delete(want, i, i+1)
	got := slices.Clone(befores)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: before values %v do not chain with after values %v", what, got, want)
	}
}

func TestAdminTokenNeverLogged(t *testing.T) {
	f := newAdminFixture(t, WithToken("alice", canaryToken))
	var answers strings.Builder
	for _, c := range []adminCall{
		{method: "PUT", path: "/routes/chat/rate", token: canaryToken, body: `{"rate":0.3}`},
		{method: "POST", path: "/incident", token: canaryToken, body: `{"reason":"token check","duration":"10m"}`},
		{method: "DELETE", path: "/incident", token: canaryToken},
		{method: "GET", path: "/state", token: canaryToken},
		{method: "GET", path: "/state", token: canaryToken + "-wrong"},
		{method: "POST", path: "/incident", token: "CANARY-ADMIN-WRONG-0000000", body: `{"reason":"x","duration":"1m"}`},
		{method: "PUT", path: "/routes/chat/rate", token: canaryToken, body: `{"rate":"` + canaryToken + `"}`},
	} {
		r := f.do(t, c)
		answers.WriteString(r.raw)
		fmt.Fprint(&answers, r.header)
	}
	out := f.log.String() + answers.String()
	if strings.Contains(out, "CANARY") {
		t.Errorf("a token leaked:\n%s", out)
	}
	if n := len(auditRecords(t, f.log.String())); n != 3 {
		t.Errorf("audit records = %d, want 3", n)
	}
}

func TestAdminAfterClose(t *testing.T) {
	f := newAdminFixture(t)
	closeGuard(t, f.g)
	if r := f.do(t, adminCall{method: "POST", path: "/incident", token: aliceToken,
		body: `{"reason":"late","duration":"1m"}`}); r.status != 503 {
		t.Errorf("POST /incident after Close: %d %s", r.status, r.raw)
	}
	if r := f.do(t, adminCall{method: "GET", path: "/state", token: aliceToken}); r.status != 200 {
		t.Errorf("GET /state after Close: %d", r.status)
	}
}

// TestAdminContentType: a JSON body without a Content-Type, or with
// curl -d's form type, is read as JSON; another type is refused with the
// header to send.
func TestAdminContentType(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
		want                    string // in the error message
	}{
		{"no Content-Type", "", `{"rate":0.3}`, 200, ""},
		{"application/json", "application/json", `{"rate":0.3}`, 200, ""},
		{"with a charset", "application/json; charset=utf-8", `{"rate":0.3}`, 200, ""},
		{"no Content-Type, not JSON", "", `rate=0.3`, 400, "body is not valid JSON"},
		{"text/plain", "text/plain", `{"rate":0.3}`, 415, `send the header "Content-Type: application/json"`},
		{"curl -d's default", "application/x-www-form-urlencoded", `{"rate":0.3}`, 200, ""},
		{"curl -d with a form", "application/x-www-form-urlencoded", `rate=0.3`, 415,
			`the body is form-encoded, not JSON: send a JSON object such as {"rate": 0.5} and send the header "Content-Type: application/json"`},
		{"multipart", "multipart/form-data; boundary=x", `{"rate":0.3}`, 415, `send the header "Content-Type: application/json"`},
		{"unparsable", "json", `{"rate":0.3}`, 415, `Content-Type "json" is not JSON`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAdminFixture(t)
			r := f.do(t, adminCall{method: "PUT", path: "/routes/chat/rate", token: aliceToken, body: tt.body,
				header: map[string]string{"Content-Type": tt.contentType}})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if msg, _ := r.json["error"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			if want := tt.status == 200; (f.g.Stats().Routes[0].SampleRate == 0.3) != want {
				t.Errorf("rate changed: %v, want %v", !want, want)
			}
		})
	}
}

// TestAdminRouteNames: a route named like a gin route ("POST /v1/chat")
// is addressed by name in the body of PUT /rate, or in the path with
// its slashes as they are or percent-encoded.
func TestAdminRouteNames(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		want   string // in the error message
	}{
		{"name in the body", "/rate", `{"route":"POST /v1/chat","rate":0.5,"reason":"after #42"}`, 200, ""},
		{"plain name in the body", "/rate", `{"route":"chat","rate":0.5}`, 200, ""},
		{"percent-encoded path", "/routes/POST%20%2Fv1%2Fchat/rate", `{"rate":0.5}`, 200, ""},
		{"slashes left in the path", "/routes/POST%20/v1/chat/rate", `{"rate":0.5}`, 200, ""},
		{"path and body agree", "/routes/chat/rate", `{"route":"chat","rate":0.5}`, 200, ""},
		{"no route in the body", "/rate", `{"rate":0.5}`, 422, `route is required, e.g. {"route": "chat", "rate": 0.5}`},
		{"unknown route in the body", "/rate", `{"route":"POST /v2/chat","rate":0.5}`, 422,
			`unknown route "POST /v2/chat"; routes: "POST /v1/chat", "chat", "search"`},
		{"unknown route in the path", "/routes/POST%20/v2/chat/rate", `{"rate":0.5}`, 404,
			`unknown route "POST /v2/chat"; routes: "POST /v1/chat", "chat", "search"`},
		{"path and body disagree", "/routes/chat/rate", `{"route":"search","rate":0.5}`, 422,
			`the body names route "search", the path route "chat"`},
		{"route not a string", "/rate", `{"route":["chat"],"rate":0.5}`, 400, "route must be a string, got a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAdminFixture(t)
			mustRoute(t, f.g, "POST /v1/chat", safecheck.WithSampleRate(0.1), safecheck.WithTestTypes("toxicity"))
			r := f.do(t, adminCall{method: "PUT", path: tt.path, token: aliceToken, body: tt.body})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			msg, _ := r.json["error"].(string)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			recs := auditRecords(t, f.log.String())
			if tt.status != 200 {
				if len(recs) != 0 {
					t.Errorf("a refused request was audited: %v", recs)
				}
				return
			}
			if len(recs) != 1 || recs[0]["after"] != 0.5 || recs[0]["route"] != r.json["route"] || recs[0]["actor"] != "alice" {
				t.Errorf("answer %s, audit records %v", r.raw, recs)
			}
		})
	}
	f := newAdminFixture(t)
	if r := f.do(t, adminCall{method: "POST", path: "/rate", token: aliceToken, body: `{"route":"chat","rate":0.5}`}); r.status != 405 ||
		r.header.Get("Allow") != "PUT" {
		t.Errorf("POST /rate: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}

// TestAdminErrorsSpeakJSON: a body encoding/json refuses is answered in
// the request's terms, never with a Go type.
func TestAdminErrorsSpeakJSON(t *testing.T) {
	tests := []struct {
		name, path, body string
		want             string
	}{
		{"rate as a string", "/routes/chat/rate", `{"rate":"0.7"}`, "rate must be a number from 0 to 1, got a JSON string"},
		{"rate as a bool", "/routes/chat/rate", `{"rate":true}`, "rate must be a number from 0 to 1, got a JSON bool"},
		{"rate out of range", "/routes/chat/rate", `{"rate":1e999}`, "rate must be a number from 0 to 1, got 1e999, which is out of range"},
		{"reason as a number", "/routes/chat/rate", `{"rate":0.5,"reason":42}`, "reason must be a string, got a JSON number"},
		{"duration as a number", "/incident", `{"reason":"r","duration":1800}`, `duration must be a string such as "30m", got a JSON number`},
		{"routes as a string", "/incident", `{"reason":"r","duration":"1m","routes":"chat"}`, "routes must be a list of route names (strings), got a JSON string"},
		{"a route as a number", "/incident", `{"reason":"r","duration":"1m","routes":[1]}`, "routes must be a list of route names (strings), got a JSON number"},
		{"an array", "/routes/chat/rate", `[0.5]`, "body must be a JSON object, got a JSON array"},
		{"a string", "/rate", `"chat"`, "body must be a JSON object, got a JSON string"},
		{"unknown field", "/routes/chat/rate", `{"rate":0.7,"force":true}`, `unknown field "force"; the fields are "route", "rate", "reason"`},
		{"unknown incident field", "/incident", `{"reason":"r","until":"noon"}`, `unknown field "until"; the fields are "reason", "duration", "routes"`},
		{"syntax error", "/routes/chat/rate", `{"rate" 0.7}`, "body is not valid JSON: invalid character '0' after object key (at byte 9)"},
		{"cut short", "/routes/chat/rate", `{"rate":0.7`, "body is not valid JSON: it ends before the object does"},
		{"two values", "/routes/chat/rate", `{"rate":0.7}{"rate":0.8}`, "body holds more than one JSON value; send one object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAdminFixture(t)
			method := "PUT"
			if tt.path == "/incident" {
				method = "POST"
			}
			r := f.do(t, adminCall{method: method, path: tt.path, token: aliceToken, body: tt.body})
			if r.status != 400 {
				t.Errorf("status %d, want 400", r.status)
			}
			msg, _ := r.json["error"].(string)
			if msg != tt.want {
				t.Errorf("error %q, want %q", msg, tt.want)
			}
			for _, goism := range []string{"Go ", "float64", "string into", "struct", "safecheck.", "json: "} {
				if strings.Contains(msg, goism) {
					t.Errorf("error %q speaks Go (%q)", msg, goism)
				}
			}
		})
	}
}

// TestAdminNotFoundShowsTheMount: a path the handler does not serve gets
// the prefix it is mounted at and its endpoints there; a path that still
// carries the prefix names the missing http.StripPrefix.
func TestAdminNotFoundShowsTheMount(t *testing.T) {
	stripped := newAdminFixture(t) // mounted with http.StripPrefix("/admin", ...)
	h, err := New(stripped.g, WithToken("alice", aliceToken))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/internal/safecheck/", h) // without http.StripPrefix
	bare := httptest.NewServer(mux)
	t.Cleanup(bare.Close)

	endpoints := func(prefix string) []any {
		return []any{"GET " + prefix + "/state", "POST " + prefix + "/incident", "DELETE " + prefix + "/incident",
			"PUT " + prefix + "/rate", "PUT " + prefix + "/routes/{name}/rate",
			"GET " + prefix + "/escalations", "DELETE " + prefix + "/escalations/{customer}"}
	}
	tests := []struct {
		name      string
		srv       string
		path      string
		mountedAt string
		endpoints []any
		want      string
	}{
		{"unknown path", stripped.srv.URL, "/admin/nothing-here", "/admin", endpoints("/admin"),
			"no endpoint /admin/nothing-here here; the admin handler serves GET /admin/state, POST /admin/incident"},
		{"the mount itself", stripped.srv.URL, "/admin/", "/admin", endpoints("/admin"), "no endpoint /admin/ here"},
		{"prefix twice", stripped.srv.URL, "/admin/admin/state", "/admin", endpoints("/admin"),
			`got the path with /admin still on it; mount it with http.StripPrefix("/admin/admin", handler), or send /admin/state`},
		{"no StripPrefix", bare.URL, "/internal/safecheck/state", "/", endpoints(""),
			`mount it with http.StripPrefix("/internal/safecheck", handler)`},
		{"no StripPrefix, a rate", bare.URL, "/internal/safecheck/routes/chat/rate", "/", endpoints(""),
			`mount it with http.StripPrefix("/internal/safecheck", handler)`},
		{"no StripPrefix, unknown path", bare.URL, "/internal/safecheck/stats", "/", endpoints(""),
			"no endpoint /internal/safecheck/stats here; the admin handler serves GET /state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tt.srv+tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+aliceToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if msg, _ := body["error"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			if body["mounted_at"] != tt.mountedAt || !matches(body["endpoints"], tt.endpoints) {
				t.Errorf("mounted_at %v, endpoints %v; want %v, %v", body["mounted_at"], body["endpoints"], tt.mountedAt, tt.endpoints)
			}
		})
	}
	http.DefaultClient.CloseIdleConnections()
}
