package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/webhook"
)

// secret is a fake secret; a real one comes from the environment or a
// secret store, never from code.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receive is a receiver's handler: it verifies the raw body before it
// parses anything.
func receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read", http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(secret, r.Header, body, 0); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var e event.Event
	if err := json.Unmarshal(body, &e); err != nil {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	// Drop an e.ID already seen: a delivery can come twice.
	fmt.Println("received", e.Kind, e.Route, e.TestType, e.RiskLevel)
	w.WriteHeader(http.StatusNoContent)
}

func ExampleVerify() {
	body := []byte(`{"id":"evt_1","type":"verdict.flagged","timestamp":"2026-12-01T00:00:00Z","route":"chat","test_type":"toxicity","flagged":true,"risk_level":"high"}`)
	now := time.Now()
	sig, err := webhook.Sign(secret, "evt_1", now, body)
	if err != nil {
		panic(err)
	}
	post := func(body []byte) int {
		r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(string(body)))
		r.Header.Set(webhook.HeaderID, "evt_1")
		r.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		r.Header.Set(webhook.HeaderSignature, sig)
		w := httptest.NewRecorder()
		receive(w, r)
		return w.Code
	}
	fmt.Println(post(body))
	fmt.Println(post([]byte(strings.Replace(string(body), "high", "low", 1))))

	h := http.Header{}
	h.Set(webhook.HeaderID, "evt_1")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Add(-time.Hour).Unix(), 10))
	h.Set(webhook.HeaderSignature, sig)
	fmt.Println(errors.Is(webhook.Verify(secret, h, body, 0), webhook.ErrTimestamp))
	// Output:
	// received verdict.flagged chat toxicity high
	// 204
	// 401
	// true
}

// A Sink for one endpoint. With a Guard, give it sink.Send through
// safecheck.WithOnEvent, and close the Sink after the Guard.
func ExampleNew() {
	receiver := httptest.NewServer(http.HandlerFunc(receive)) // a loopback receiver: plain http is allowed
	defer receiver.Close()

	sink, err := webhook.New(
		webhook.WithEndpoint(receiver.URL+"/hooks", secret),
		webhook.WithKinds(event.Flagged, event.AlertFired),
	)
	if err != nil {
		panic(err)
	}
	sink.Send(event.Event{ID: "evt_1", Kind: event.Flagged, Time: time.Now(),
		Route: "chat", TestType: "toxicity", Flagged: true, Score: 0.91, RiskLevel: "high"})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sink.Close(ctx); err != nil { // delivers what is queued
		panic(err)
	}
	st := sink.Stats().Total
	fmt.Println("delivered", st.Delivered, "failed", st.Failed, "retries", st.Retries)
	// Output:
	// received verdict.flagged chat toxicity high
	// delivered 1 failed 0 retries 0
}
