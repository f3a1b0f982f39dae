package safecheckprom_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/escalation"
)

// TestCollectorEscalationsAndAlerts: a burst of flagged answers escalates
// its customer and fires the rule; the metrics say so.
func TestCollectorEscalationsAndAlerts(t *testing.T) {
	flagAll := safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{Flagged: true, Score: 0.9, RiskLevel: "high"}, nil
	})
	g, err := safecheck.New(flagAll, safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithDefaultEscalation(escalation.Config{}),
		safecheck.WithAlertRules(alert.Rule{Name: "burst", Route: "chat", MinChecks: 5, FlaggedShare: 0.5}))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := g.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"),
		safecheck.WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer-ID") }))
	if err != nil {
		t.Fatal(err)
	}
	h := rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	for i := range 5 {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("q"+strconv.Itoa(i)))
		r.Header.Set("X-Customer-ID", "cust_1")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := safecheckprom.NewCollector(g)
	if err != nil {
		t.Fatal(err)
	}
	const want = `
# HELP safecheck_alert_firing 1 while the alert rule is firing, else 0.
# TYPE safecheck_alert_firing gauge
safecheck_alert_firing{rule="burst"} 1
# HELP safecheck_alert_value The alert rule's measure (flagged share or score p95) over its window.
# TYPE safecheck_alert_value gauge
safecheck_alert_value{rule="burst"} 1
# HELP safecheck_escalated_customers Customers escalated now: their requests are sampled at the escalated rate.
# TYPE safecheck_escalated_customers gauge
safecheck_escalated_customers 1
# HELP safecheck_escalations_started_total Escalations started by a flagged verdict.
# TYPE safecheck_escalations_started_total counter
safecheck_escalations_started_total 1
# HELP safecheck_escalations_evicted_total Escalations ended because the set of escalated customers was full.
# TYPE safecheck_escalations_evicted_total counter
safecheck_escalations_evicted_total 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "safecheck_alert_firing", "safecheck_alert_value",
		"safecheck_escalated_customers", "safecheck_escalations_started_total", "safecheck_escalations_evicted_total"); err != nil {
		t.Error(err)
	}
	if err := g.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
