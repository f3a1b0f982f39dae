package safecheck_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/safecheck/safecheck"
)

// Sample the app's own calls to its LLM: the route's transport goes into
// the SDK's (here a plain) *http.Client, and the call's context says which
// customer it is for.
func ExampleRoute_Transport() {
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Bonjour !"}}]}`)
	}))
	defer llm.Close()
	checker := safecheck.CheckerFunc(func(_ context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
		fmt.Printf("checking %q -> %q for %s\n", req.Prompt, req.Response, req.CustomerID)
		return safecheck.Verdict{RiskLevel: "low", PassFail: "pass"}, nil
	})
	guard, err := safecheck.New(checker, safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithOnVerdict(func(o safecheck.Outcome) { fmt.Println("outbound:", o.Outbound, "format:", o.Format) }))
	if err != nil {
		panic(err)
	}
	route, err := guard.Route("llm", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: route.Transport(nil)}

	ctx := safecheck.ContextWithIDs(context.Background(), "customer-42", "")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, llm.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"Say hello in French."}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("app got", len(body), "bytes")

	guard.Close(context.Background()) // waits for the check
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	// Output:
	// app got 105 bytes
	// checking "Say hello in French." -> "Bonjour !" for customer-42
	// outbound: true format: openai.chat
}
