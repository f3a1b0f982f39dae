package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/extract"
)

// TestAdminStateShowsOverload spends a tiny CPU budget on one sample: GET
// /state says the Guard is overloaded and which budget it has.
func TestAdminStateShowsOverload(t *testing.T) {
	spin := extract.ExtractorFunc(func(in extract.Input) (extract.Pair, error) {
		for start := time.Now(); time.Since(start) < 50*time.Millisecond; { // far past the 2 ms burst
			in.ResponseStatus++
		}
		return extract.Pair{Prompt: "p", Response: "r", Format: extract.FormatText}, nil
	})
	g := newGuard(t, safecheck.WithCPUBudget(0.001), safecheck.WithExtractor(spin))
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
	a, err := New(g, WithToken("alice", aliceToken))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/state", nil)
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /state: %d %s", w.Code, w.Body)
	}
	var st struct {
		Overloaded *bool    `json:"overloaded"`
		CPUBudget  *float64 `json:"cpu_budget"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Overloaded == nil || !*st.Overloaded || st.CPUBudget == nil || *st.CPUBudget != 0.001 {
		t.Errorf("state: overloaded %v, cpu_budget %v; want true and 0.001: %s", st.Overloaded, st.CPUBudget, w.Body)
	}
}
