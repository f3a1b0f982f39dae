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
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/failure"
)

// Mount safecheck on one net/http route, checking every exchange against a
// fake AssuranceHub API on loopback.
func Example() {
	api, _ := assurancehubtest.NewServer()
	defer api.Close()
	client, _ := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(api.URL))

	verdicts := make(chan safecheck.Outcome, 1)
	guard, err := safecheck.New(safecheck.AssuranceHub(client),
		safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithOnVerdict(func(o safecheck.Outcome) { verdicts <- o })) // from a worker, in the background
	if err != nil {
		panic(err)
	}
	chat, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /chat", chat.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "Shut up, you idiot.")
	})))
	app := httptest.NewServer(mux)
	defer app.Close()

	resp, _ := http.Post(app.URL+"/chat", "text/plain", strings.NewReader("Say something."))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("client got:", string(body))

	guard.Close(context.Background()) // waits for the check
	client.CloseIdleConnections()
	o := <-verdicts
	fmt.Printf("%s %s: flagged=%v risk=%s\n", o.Route, o.TestType, o.Verdict.Flagged, o.Verdict.RiskLevel)
	// Output:
	// client got: Shut up, you idiot.
	// chat toxicity: flagged=true risk=reject
}

// After an incident, sample every request of a route for a while; the rate
// reverts by itself when the duration has passed.
func ExampleGuard_StartIncident() {
	guard, _ := safecheck.New(safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{}, nil
	}), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	defer guard.Close(context.Background())
	guard.Route("chat", safecheck.WithSampleRate(0.1))

	guard.StartIncident(context.Background(), "INC-42: jailbreak reports", 30*time.Minute, "chat")
	fmt.Println("during:", guard.Stats().Routes[0].EffectiveRate)
	guard.EndIncident(context.Background())
	fmt.Println("after:", guard.Stats().Routes[0].EffectiveRate)
	// Output:
	// during: 1
	// after: 0.1
}

// Check evaluates one pair synchronously through the same cache and
// policies as sampled traffic, as the safecheck CLI does.
func ExampleGuard_Check() {
	api, _ := assurancehubtest.NewServer()
	defer api.Close()
	client, _ := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(api.URL))
	defer client.CloseIdleConnections()
	guard, _ := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	defer guard.Close(context.Background())

	req := safecheck.CheckRequest{TestType: assurancehub.PII, Prompt: "Who runs billing?", Response: "Mail jane@example.com."}
	first := guard.Check(context.Background(), req)
	again := guard.Check(context.Background(), req)
	fmt.Println(first.Verdict.Flagged, first.Cached, again.Cached)
	// Output: true false true
}

// A Checker of your own can stand in for AssuranceHub; returning a
// *CheckError tells the policies whether to retry.
func ExampleCheckerFunc() {
	calls := 0
	checker := safecheck.CheckerFunc(func(ctx context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
		calls++
		if calls == 1 {
			return safecheck.Verdict{}, &safecheck.CheckError{Class: failure.BadRequest, Status: 400}
		}
		return safecheck.Verdict{Flagged: strings.Contains(req.Response, "secret")}, nil
	})
	guard, _ := safecheck.New(checker, safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	defer guard.Close(context.Background())

	o := guard.Check(context.Background(), safecheck.CheckRequest{TestType: "pii", Prompt: "p", Response: "the secret"})
	fmt.Println(o.Err, o.Attempts)
	o = guard.Check(context.Background(), safecheck.CheckRequest{TestType: "pii", Prompt: "p", Response: "the secret"})
	fmt.Println(o.Verdict.Flagged, o.Attempts)
	// Output:
	// safecheck: check failed: bad_request (HTTP 400) 1
	// true 1
}

// Middleware registers a route and returns its net/http middleware, for
// routers that take func(http.Handler) http.Handler.
func ExampleGuard_Middleware() {
	guard, _ := safecheck.New(safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{}, nil
	}), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	defer guard.Close(context.Background())

	mw, err := guard.Middleware("chat", safecheck.WithSampleRate(0.25))
	if err != nil {
		panic(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello")))
	fmt.Println(rec.Body.String(), guard.Stats().Routes[0].Requests)
	// Output: hi 1
}

// Sample rates change at runtime, without a restart; out-of-range rates are
// refused rather than clamped.
func ExampleGuard_SetSampleRate() {
	guard, _ := safecheck.New(safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{}, nil
	}), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	defer guard.Close(context.Background())
	guard.Route("chat")

	fmt.Println(guard.SetSampleRate(context.Background(), "chat", 0.5), guard.Stats().Routes[0].SampleRate)
	fmt.Println(guard.SetSampleRate(context.Background(), "chat", 1.5))
	// Output:
	// <nil> 0.5
	// safecheck: sample rate must be within [0, 1], got 1.5
}

// Framework adapters build on Route.Begin and Capture: decide, tee the
// bytes the framework writes, then Finish (or Abort on a panic).
func ExampleRoute_Begin() {
	var got []string
	guard, _ := safecheck.New(safecheck.CheckerFunc(func(_ context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
		got = append(got, req.Response)
		return safecheck.Verdict{}, nil
	}), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	rt, _ := guard.Route("custom", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"))

	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("a question"))
	if c := rt.Begin(r); c != nil {
		r.Body = c.WrapRequestBody(r.Body)
		io.ReadAll(r.Body) // the framework's handler reads the request...
		h := http.Header{"Content-Type": {"text/plain"}}
		c.NoteResponseHeader(http.StatusOK, h)
		c.WriteString("an answer") // ...and writes its response
		c.Finish()
	}
	guard.Close(context.Background())
	fmt.Println(got)
	// Output: [an answer]
}
