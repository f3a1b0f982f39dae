package safecheck

import (
	"context"
	"fmt"
	"github.com/safecheck/safecheck/drop"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

// hubGuard starts the fake API on loopback and a guard whose real client
// talks to it.
func hubGuard(t *testing.T, srvOpts []assurancehubtest.Option, opts ...Option) (*Guard, *assurancehubtest.Server) {
	t.Helper()
	srv, err := assurancehubtest.NewServer(srvOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	return newGuard(t, AssuranceHub(client), opts...), srv
}

const chatResponse = `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}]}`

func chatHandler(answer string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 4096)
		for {
			if _, err := r.Body.Read(buf); err != nil {
				break
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, chatResponse, answer)
	})
}

func TestEndToEndWithTheFakeAPI(t *testing.T) {
	buf := &syncBuffer{}
	// One worker: the repeated exchange is checked after the first, from the cache.
	g, srv := hubGuard(t, nil, WithLogger(jsonLogger(buf)), WithService("chat-app"), WithWorkers(1))
	rt := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes(assurancehub.Toxicity, assurancehub.PII),
		WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer") }))
	mux := http.NewServeMux()
	mux.Handle("POST /safe", rt.Wrap(chatHandler("Paris is the capital of France.")))
	mux.Handle("POST /unsafe", rt.Wrap(chatHandler("I will kill you, idiot.")))
	app := httptest.NewServer(mux)
	defer app.Close()
	post := func(path, customer, reqID string) {
		req, _ := http.NewRequest(http.MethodPost, app.URL+path,
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"tell me something"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Customer", customer)
		req.Header.Set("X-Request-ID", reqID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("/safe", "cust_1", "r-safe")
	post("/unsafe", "cust_2", "r-unsafe")
	post("/safe", "cust_3", "r-safe-again") // same texts: answered by the cache
	closeGuard(t, g)

	s := g.Stats()
	if s.Sampled != 3 || s.Checked != 2 || s.CacheHits != 1 {
		t.Errorf("sampled %d checked %d cache hits %d, want 3, 2, 1", s.Sampled, s.Checked, s.CacheHits)
	}
	checkAccounting(t, s)
	if n := srv.Requests(assurancehub.Toxicity) + srv.Requests(assurancehub.PII); n != 4 {
		t.Errorf("API evaluations = %d, want 4", n)
	}
	if tt := s.TestTypes[assurancehub.Toxicity]; tt.Checks != 3 || tt.Flagged != 1 || tt.Cached != 1 {
		t.Errorf("toxicity stats = %+v", tt)
	}
	out := buf.String()
	var flagged string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"request_id":"r-unsafe"`) && strings.Contains(line, `"test_type":"toxicity"`) {
			flagged = line
		}
	}
	for _, want := range []string{`"level":"WARN"`, `"flagged":true`, `"customer_id":"cust_2"`, `"service":"chat-app"`,
		`"route":"chat"`, `"risk_level":"reject"`, `"cached":false`, `"response_time_ms":`, `"score":0.9`} {
		if !strings.Contains(flagged, want) {
			t.Errorf("flagged record lacks %s: %s", want, flagged)
		}
	}
	if !strings.Contains(out, `"request_id":"r-safe-again"`) || !strings.Contains(out, `"cached":true`) {
		t.Errorf("no cached record for the repeated exchange:\n%s", out)
	}
}

// TestCanaryContentAndKeyNeverLeak plants canary strings in the prompt, the
// response and the API key, makes the API echo them back in error bodies,
// and greps every output the library produces.
func TestCanaryContentAndKeyNeverLeak(t *testing.T) {
	const key = "ash_test_CANARYKEY0123456789abcdef01234567"
	buf := &syncBuffer{}
	var outs []Outcome
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithAPIKeys(key))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := assurancehub.New(assurancehub.WithAPIKey(key), assurancehub.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseIdleConnections()
	g, err := New(AssuranceHub(client), WithLogger(jsonLogger(buf)), WithRetries(1, time.Millisecond, time.Millisecond, 0),
		WithOnVerdict(func(o Outcome) { outs = append(outs, o) }), WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	rt := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"),
		WithCustomerID(func(*http.Request) string { return "canary.customer@example.com" }))
	echo := fmt.Sprintf(`{"error":{"message":"bad input %s %s with key %s"}}`, canaryPrompt, canaryResponse, key)
	srv.FailNext(
		assurancehubtest.Fault{Status: 400, Body: echo},
		assurancehubtest.Fault{Status: 500, Body: echo},
		assurancehubtest.Fault{Status: 500, Body: echo},
		assurancehubtest.Fault{Status: 401, Body: echo},
	)
	h := rt.Wrap(chatHandler(canaryResponse + " kill you"))
	for i := range 4 {
		req := httptest.NewRequest(http.MethodPost, "/",
			strings.NewReader(fmt.Sprintf(`{"messages":[{"role":"user","content":"%s %d"}]}`, canaryPrompt, i)))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closeErr := g.Close(ctx)

	var all strings.Builder
	all.WriteString(buf.String())
	fmt.Fprintf(&all, "%v %+v %#v", closeErr, g.Stats(), g.Stats())
	for _, canary := range []string{canaryPrompt, canaryResponse, key, "CANARYKEY", "canary.customer@example.com"} {
		if strings.Contains(all.String(), canary) {
			t.Errorf("%q leaked:\n%s", canary, all.String())
		}
	}
	// The hook is the application's own code: it gets the customer id as
	// the application gave it, but no content and no key in errors. The
	// 401 stops calls, so the fourth sample is dropped without one.
	if len(outs) != 3 {
		t.Fatalf("outcomes = %d, want 3", len(outs))
	}
	if s := g.Stats(); s.Dropped[drop.AuthFailed] != 1 {
		t.Errorf("dropped %v, want the sample after the 401 dropped as auth_failed", s.Dropped)
	}
	var hook strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&hook, "%+v %v", o.Verdict, o.Err)
	}
	for _, canary := range []string{canaryPrompt, canaryResponse, key} {
		if strings.Contains(hook.String(), canary) {
			t.Errorf("%q reached the hook's outcome: %s", canary, hook.String())
		}
	}
}
