package safecheckotel_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/safecheck/safecheck"
	safecheckotel "github.com/safecheck/safecheck/adapters/otel"
	"github.com/safecheck/safecheck/extract"
)

// TestOverloadedGauge spends a tiny CPU budget on one sample and reads
// safecheck.overloaded at 1 while the Guard sheds.
func TestOverloadedGauge(t *testing.T) {
	tel := newTelemetry(t)
	spin := extract.ExtractorFunc(func(in extract.Input) (extract.Pair, error) {
		for start := time.Now(); time.Since(start) < 50*time.Millisecond; { // far past the 2 ms burst
			in.ResponseStatus++
		}
		return extract.Pair{Prompt: "p", Response: "r", Format: extract.FormatText}, nil
	})
	pass := safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{RiskLevel: "low"}, nil
	})
	guard, err := safecheck.New(pass, safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithCPUBudget(0.001), safecheck.WithExtractor(spin))
	if err != nil {
		t.Fatal(err)
	}
	defer closeGuard(t, guard)
	inst, err := safecheckotel.New(safecheckotel.WithTracerProvider(tel.tp), safecheckotel.WithMeterProvider(tel.mp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Observe(guard); err != nil {
		t.Fatal(err)
	}
	rt, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"))
	if err != nil {
		t.Fatal(err)
	}
	h := rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("question")))
	if err := guard.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !guard.Stats().Overloaded {
		t.Fatal("the budget is not spent: Stats().Overloaded is false")
	}
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	want := gauge("safecheck.overloaded", "1 while the CPU budget (WithCPUBudget) is spent and new samples are dropped as overload, else 0.", point[int64](1))
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == want.Name {
			metricdatatest.AssertEqual(t, want, m, metricdatatest.IgnoreTimestamp())
			return
		}
	}
	t.Error("no safecheck.overloaded")
}
