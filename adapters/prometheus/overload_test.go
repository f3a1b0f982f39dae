package safecheckprom_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/extract"
)

// TestCollectorOverloaded spends a tiny CPU budget on one sample and reads
// safecheck_overloaded at 1 while the Guard sheds.
func TestCollectorOverloaded(t *testing.T) {
	spin := extract.ExtractorFunc(func(in extract.Input) (extract.Pair, error) {
		for start := time.Now(); time.Since(start) < 50*time.Millisecond; { // far past the 2 ms burst
			in.ResponseStatus++
		}
		return extract.Pair{Prompt: "p", Response: "r", Format: extract.FormatText}, nil
	})
	pass := safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{RiskLevel: "low"}, nil
	})
	g, err := safecheck.New(pass, safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithCPUBudget(0.001), safecheck.WithExtractor(spin))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	c, err := safecheckprom.NewCollector(g)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := g.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"))
	if err != nil {
		t.Fatal(err)
	}
	h := rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("question")))
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !g.Stats().Overloaded {
		t.Fatal("the budget is not spent: Stats().Overloaded is false")
	}
	const want = `
# HELP safecheck_overloaded 1 while the CPU budget (WithCPUBudget) is spent and new samples are dropped as overload, else 0.
# TYPE safecheck_overloaded gauge
safecheck_overloaded 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "safecheck_overloaded"); err != nil {
		t.Error(err)
	}
}
