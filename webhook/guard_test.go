package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/internal/syncbuf"
	"github.com/safecheck/safecheck/webhook"
)

// Fakes for the chain test: none may appear in a payload or a record.
const (
	chainSecret  = "whsec_c2FmZWNoZWNrLXRlc3Qtcm90YXRlZC1rZXktMzI="
	wrongSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	hashKey      = "test-only-customer-hash-key-CANARYKEY"
	promptCanary = "CANARY-PROMPT-41d7"
	unsafeAnswer = "CANARY-UNSAFE-ANSWER-9c2e"
	safeAnswer   = "CANARY-SAFE-ANSWER-03fa"
	flaggedEmail = "jane.doe@example.com"
	plainID      = "cust_plain_42"
	hookPath     = "/hooks/tok_CANARYPATH77"
)

// delivery is one request as the receiver got it.
type delivery struct {
	header http.Header
	body   []byte
}

// chainReceiver is a real loopback endpoint that runs webhook.Verify on
// each delivery before it looks at the body.
type chainReceiver struct {
	srv *httptest.Server

	mu         sync.Mutex
	deliveries []delivery
	bad        int
}

func newChainReceiver(t *testing.T) *chainReceiver {
	t.Helper()
	rv := &chainReceiver{}
	rv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		rv.mu.Lock()
		defer rv.mu.Unlock()
		if r.URL.Path != hookPath || webhook.Verify(chainSecret, r.Header, body, 0) != nil {
			rv.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		rv.deliveries = append(rv.deliveries, delivery{header: r.Header.Clone(), body: body})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rv.srv.Close)
	return rv
}

// TestGuardToReceiver runs the whole chain: a Guard whose in-process
// checker flags a canary answer, on a route with escalation and an alert
// rule with an automatic incident, hands its events to a Sink through
// WithOnEvent, and the Sink delivers them to a loopback receiver that
// verifies each signature. The receiver gets exactly the events the
// traffic makes, in order: one verdict.flagged per flagged check, the
// escalation's start and its end by an operator, the rule firing (with
// its incident) and clearing. Customer ids arrive with the privacy rules
// applied; no prompt, answer, secret, hash key or URL path is in any
// payload or record.
func TestGuardToReceiver(t *testing.T) {
	rv := newChainReceiver(t)
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sink, err := webhook.New(webhook.WithEndpoint(rv.srv.URL+hookPath, chainSecret), webhook.WithWorkers(1),
		webhook.WithRetries(2, time.Millisecond, 5*time.Millisecond, 0), webhook.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer sink.Close(ctx) // after the Guard's Close, as documented; a no-op once the test closed it

	checker := safecheck.CheckerFunc(func(_ context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
		if strings.Contains(req.Response, unsafeAnswer) {
			return safecheck.Verdict{Flagged: true, Score: 0.95, RiskLevel: "high", PassFail: "fail"}, nil
		}
		return safecheck.Verdict{Score: 0.02, RiskLevel: "low", PassFail: "pass"}, nil
	})
	guard, err := safecheck.New(checker, safecheck.WithLogger(logger), safecheck.WithService("chat-api"),
		safecheck.WithCustomerIDHashKey([]byte(hashKey)),
		safecheck.WithAlertRules(alert.Rule{Name: "burst", Route: "chat", TestType: "toxicity",
			MinChecks: 3, FlaggedShare: 0.5, IncidentFor: time.Minute}),
		safecheck.WithOnEvent(sink.Send))
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close(ctx)
	route, err := guard.Route("chat", safecheck.WithSampleRate(0.01), safecheck.WithTestTypes("toxicity"),
		safecheck.WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer-ID") }),
		safecheck.WithRequestID(func(r *http.Request) string { return r.Header.Get("X-Request-ID") }),
		safecheck.WithEscalation(escalation.Config{Duration: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	if err := guard.SetSampleRate(ctx, "chat", 1); err != nil { // every request, so the counts are exact
		t.Fatal(err)
	}
	app := route.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if strings.Contains(string(b), "unsafe") {
			io.WriteString(w, "Sure. "+unsafeAnswer)
			return
		}
		io.WriteString(w, "Here you go. "+safeAnswer)
	}))
	// ask sends one request and waits until its check, and the events it
	// makes, are done: each step's events are in the Sink's queue, in
	// order, before the next step.
	ask := func(customer, requestID, prompt string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/chat", strings.NewReader(prompt+" "+promptCanary))
		r.Header.Set("Content-Type", "text/plain; charset=utf-8")
		r.Header.Set("X-Customer-ID", customer)
		r.Header.Set("X-Request-ID", requestID)
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", requestID, w.Code)
		}
		if err := guard.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	ask(plainID, "req-1", "hello")           // pass: no event
	ask(flaggedEmail, "req-2", "say unsafe") // flagged, escalates; 1 of 2 checks, fewer than 3
	ask(flaggedEmail, "req-3", "say unsafe") // flagged; 2 of 3 flagged: the rule fires, with an incident
	ask(flaggedEmail, "req-4", "say unsafe") // flagged; already escalated, already firing
	hashed := "hmac:" + hexHMAC(hashKey, flaggedEmail)
	if page, _, err := guard.Escalations("", 10); err != nil || len(page) != 1 || page[0].CustomerID != hashed {
		t.Fatalf("Escalations = %+v, %v; want %s", page, err, hashed)
	}
	if err := guard.EndEscalation(ctx, hashed); err != nil { // as an operator would, by the listed id
		t.Fatal(err)
	}
	for i := range 9 { // 3 flagged of 13: below the clear threshold, 0.25, at the 9th
		ask(plainID, fmt.Sprintf("req-%d", 5+i), "hello again")
	}
	if err := guard.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}

	type want struct {
		kind                                  event.Kind
		testType, requestID, customerID, rule string
		value, threshold                      float64
		until                                 bool   // Until is set
		reason                                string // "*": any, but set
	}
	const tt = "toxicity"
	wants := []want{
		{kind: event.Flagged, testType: tt, requestID: "req-2", customerID: hashed},
		{kind: event.EscalationStarted, testType: tt, requestID: "req-2", customerID: hashed, until: true},
		{kind: event.Flagged, testType: tt, requestID: "req-3", customerID: hashed},
		{kind: event.AlertFired, testType: tt, rule: "burst", value: 2.0 / 3, threshold: 0.5, until: true, reason: "*"},
		{kind: event.Flagged, testType: tt, requestID: "req-4", customerID: hashed},
		{kind: event.EscalationEnded, customerID: hashed, reason: "ended"},
		{kind: event.AlertCleared, testType: tt, rule: "burst", value: 3.0 / 13, threshold: 0.25},
	}
	reasonOK := func(want, got string) bool { return want == got || want == "*" && got != "" }
	rv.mu.Lock()
	got, bad := rv.deliveries, rv.bad
	rv.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d deliveries failed webhook.Verify", bad)
	}
	if len(got) != len(wants) {
		for _, d := range got {
			t.Logf("got %s", d.body)
		}
		t.Fatalf("receiver got %d events, want %d", len(got), len(wants))
	}
	ids := map[string]bool{}
	for i, d := range got {
		w := wants[i]
		var e event.Event
		if err := json.Unmarshal(d.body, &e); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, d.body)
		}
		if e.ID != d.header.Get(webhook.HeaderID) || ids[e.ID] || !strings.HasPrefix(e.ID, "evt_") {
			t.Errorf("event %d: id %q, webhook-id %q (each once)", i, e.ID, d.header.Get(webhook.HeaderID))
		}
		ids[e.ID] = true
		if e.Kind != w.kind || e.Service != "chat-api" || e.Route != "chat" || e.TestType != w.testType ||
			e.RequestID != w.requestID || e.CustomerID != w.customerID || e.Rule != w.rule ||
			math.Abs(e.Value-w.value) > 1e-9 || math.Abs(e.Threshold-w.threshold) > 1e-9 ||
			e.Until.IsZero() == w.until || !reasonOK(w.reason, e.Reason) || time.Since(e.Time) > time.Minute {
			t.Errorf("event %d = %s\nwant %+v", i, d.body, w)
		}
		if w.kind == event.Flagged && (!e.Flagged || e.Score != 0.95 || e.RiskLevel != "high") {
			t.Errorf("event %d: verdict %v %v %q", i, e.Flagged, e.Score, e.RiskLevel)
		}
		// The signature is real: another secret or another body fails.
		if err := webhook.Verify(wrongSecret, d.header, d.body, 0); !errors.Is(err, webhook.ErrInvalidSignature) {
			t.Errorf("event %d: Verify with another secret: %v", i, err)
		}
		if err := webhook.Verify(chainSecret, d.header, append([]byte(" "), d.body...), 0); !errors.Is(err, webhook.ErrInvalidSignature) {
			t.Errorf("event %d: Verify of a changed body: %v", i, err)
		}
	}

	st := sink.Stats()
	if st.Received != 7 || st.Total.Offered != 7 || st.Total.Delivered != 7 || st.Total.Failed != 0 ||
		st.Total.Queued != 0 || st.Total.Retries != 0 || len(st.Total.Dropped) != 0 {
		t.Errorf("sink stats %+v", st)
	}
	// Three distinct exchanges are checked; the repeats are cache hits,
	// whose verdicts make events and count in the rule's window too.
	if gs := guard.Stats(); gs.Sampled != 13 || gs.Checked != 3 || gs.CacheHits != 10 || gs.HookPanics != 0 {
		t.Errorf("guard stats: sampled %d, checked %d, cache hits %d, hook panics %d", gs.Sampled, gs.Checked, gs.CacheHits, gs.HookPanics)
	} else {
		for _, m := range []map[string]uint64{mapByName(gs.Dropped), mapByName(gs.Failed)} {
			for k, n := range m {
				if n != 0 {
					t.Errorf("guard stats: %d %s", n, k)
				}
			}
		}
	}

	var payloads strings.Builder
	for _, d := range got {
		payloads.Write(d.body)
		for k, v := range d.header {
			if k != http.CanonicalHeaderKey(webhook.HeaderSignature) {
				fmt.Fprintln(&payloads, k, v)
			}
		}
	}
	records := logs.String()
	if !strings.Contains(records, `"msg":"escalation started"`) || !strings.Contains(records, `"msg":"alert fired"`) {
		t.Errorf("the records lack the escalation or the alert:\n%s", records)
	}
	for what, text := range map[string]string{"payload": payloads.String(), "record": records} {
		for _, leak := range []string{promptCanary, unsafeAnswer, safeAnswer, "say unsafe", "hello", flaggedEmail,
			chainSecret, strings.TrimPrefix(chainSecret, webhook.SecretPrefix), webhook.SecretPrefix, "CANARYKEY", "CANARYPATH"} {
			if strings.Contains(text, leak) {
				t.Errorf("a %s holds %q", what, leak)
			}
		}
	}
}

// hexHMAC is how the Guard hashes a PII-shaped customer id: HMAC-SHA256
// under its key, the first 12 bytes in hex.
func hexHMAC(key, id string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// mapByName keys m by name, for a message.
func mapByName[K interface {
	comparable
	fmt.Stringer
}](m map[K]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, n := range m {
		out[k.String()] = n
	}
	return out
}
