package safecheck_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/event"
)

// Escalate a customer whose answer was flagged, and watch the flagged
// share with an alert rule that starts an incident by itself.
func ExampleWithEscalation() {
	unsafe := safecheck.CheckerFunc(func(_ context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{Flagged: true, Score: 0.9, RiskLevel: "high"}, nil
	})
	guard, err := safecheck.New(unsafe,
		safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithAlertRules(alert.Rule{Name: "chat-flagged", Route: "chat", MinChecks: 1, FlaggedShare: 0.5, IncidentFor: time.Minute}),
		safecheck.WithOnEvent(func(e event.Event) {
			if e.Kind != event.Flagged {
				fmt.Printf("%s %s%s\n", e.Kind, e.CustomerID, e.Rule) // a customer or a rule
			}
		}))
	if err != nil {
		panic(err)
	}
	chat, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"),
		safecheck.WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer-ID") }),
		safecheck.WithEscalation(escalation.Config{Duration: 2 * time.Hour}))
	if err != nil {
		panic(err)
	}
	h := chat.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "a bad answer")
	}))
	r := httptest.NewRequest(http.MethodPost, "/chat", strings.NewReader("a question"))
	r.Header.Set("X-Customer-ID", "cust_42")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if err := guard.Flush(context.Background()); err != nil {
		panic(err)
	}
	s := guard.Stats()
	fmt.Println("escalated:", s.Escalated, "alert:", s.Alerts[0].State, "incident:", s.Incident.Reason)
	guard.Close(context.Background())
	// Output:
	// escalation.started cust_42
	// alert.fired chat-flagged
	// escalated: 1 alert: firing incident: alert chat-flagged
}
