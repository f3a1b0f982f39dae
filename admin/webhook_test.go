package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/webhook"
)

// webhookSecret is fake, of the documented shape.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestAdminStateWebhooks: with WithWebhooks, GET /state carries the
// Sink's counts, in total and per endpoint named by scheme and host; a
// real Sink delivers to a loopback receiver that verifies each signature
// and refuses one event. Without the option there is no "webhooks".
func TestAdminStateWebhooks(t *testing.T) {
	var bad atomic.Int64
	rv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := webhook.Verify(webhookSecret, r.Header, body, 0); err != nil {
			bad.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.Header.Get(webhook.HeaderID) == "evt_refused" {
			http.Error(w, "no", http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rv.Close)
	sink, err := webhook.New(webhook.WithEndpoint(rv.URL+"/hooks/tok_PATHSECRET123", webhookSecret), webhook.WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	closeSink := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sink.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(closeSink)

	f := newAdminFixture(t, WithToken("alice", aliceToken), WithWebhooks(sink))
	for _, id := range []string{"evt_ok", "evt_refused"} {
		sink.Send(event.Event{ID: id, Kind: event.Flagged, Time: time.Now(), Route: "chat", Flagged: true})
	}
	sink.Send(event.Event{Kind: event.Flagged}) // no id: invalid
	closeSink()
	sink.Send(event.Event{ID: "evt_late", Kind: event.AlertFired, Time: time.Now()})

	r := f.do(t, adminCall{method: "GET", path: "/state", token: aliceToken})
	if r.status != 200 {
		t.Fatalf("GET /state: %d %s", r.status, r.raw)
	}
	var st struct {
		Webhooks *webhooksJSON `json:"webhooks"`
	}
	if err := json.Unmarshal([]byte(r.raw), &st); err != nil {
		t.Fatal(err)
	}
	counts := webhookCountsJSON{Offered: 3, Enqueued: 2, Delivered: 1, Failed: 1, Dropped: map[webhook.DropReason]uint64{}}
	for _, reason := range webhook.DropReasons() {
		counts.Dropped[reason] = 0
	}
	counts.Dropped[webhook.DroppedClosed] = 1
	want := webhooksJSON{Received: 4, Invalid: 1, Total: counts,
		Endpoints: []webhookEndpointJSON{{Endpoint: rv.URL, webhookCountsJSON: counts}}}
	gotJSON, _ := json.Marshal(st.Webhooks)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("webhooks =\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	for _, leak := range []string{"PATHSECRET", "/hooks", "whsec_", strings.TrimPrefix(webhookSecret, "whsec_")} {
		if strings.Contains(r.raw, leak) {
			t.Errorf("GET /state holds %q: %s", leak, r.raw)
		}
	}
	if n := bad.Load(); n != 0 {
		t.Errorf("%d deliveries failed verification", n)
	}

	plain := newAdminFixture(t)
	if r := plain.do(t, adminCall{method: "GET", path: "/state", token: aliceToken}); r.status != 200 || r.json["webhooks"] != nil {
		t.Errorf("without WithWebhooks: %d, webhooks %v", r.status, r.json["webhooks"])
	}

	g := newGuard(t)
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"nil sink", []Option{WithToken("alice", aliceToken), WithWebhooks(nil)}, "WithWebhooks: nil"},
		{"twice", []Option{WithToken("alice", aliceToken), WithWebhooks(sink), WithWebhooks(sink)}, "WithWebhooks given twice"},
	} {
		if h, err := New(g, tc.opts...); err == nil || h != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, %v; want an error with %q", tc.name, h, err, tc.want)
		}
	}
}
