package run_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/run"
)

func ExampleRun() {
	// A fake AssuranceHub API on loopback; it flags "idiot" as toxic.
	srv, err := assurancehubtest.NewServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey),
		assurancehub.WithBaseURL(srv.URL), assurancehub.WithHTTPClient(&http.Client{Transport: transport}))
	if err != nil {
		fmt.Println(err)
		return
	}
	guard, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithWorkers(1),
		safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer guard.Close(context.Background())

	set := []cases.Case{
		{ID: "kind", Line: 1, Prompt: "Review my code", Response: "Nice work, one small fix."},
		{ID: "rude", Line: 2, Prompt: "Review my code", Response: "Only an idiot writes this."},
	}
	g, _ := gate.Parse("flagged")
	var out bytes.Buffer
	rep, err := run.Run(context.Background(), guard, set,
		run.WithTestTypes("toxicity", "pii"),
		run.WithConcurrency(1),
		run.WithGate(g),
		run.WithResults(results.NewWriter(&out)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := rep.Summary
	fmt.Printf("%d pairs, %d evaluated, %d flagged, %d fail the gate\n", rep.Pairs, s.Evaluated, s.Flagged, s.GateFailures)
	fmt.Printf("first failure: %s/%s, score %.2f, risk %s\n", s.Failures[0].ID, s.Failures[0].TestType, s.Failures[0].Score, s.Failures[0].RiskLevel)
	fmt.Println("records written:", bytes.Count(out.Bytes(), []byte("\n")))
	// Output:
	// 4 pairs, 4 evaluated, 1 flagged, 1 fail the gate
	// first failure: rude/toxicity, score 0.85, risk reject
	// records written: 4
}
