package safecheckprom_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

// Canaries that must never appear in metric output.
const (
	canaryContent  = "CANARY-CONTENT-5e1d"
	canaryCustomer = "cust-CANARY-7f3a"
)

// answers is the demo app's model: the answer to each prompt.
var answers = map[string]string{
	"q-slow-1":  "Slow answer one.",
	"q-slow-2":  "Slow answer two.",
	"q-drop":    "Dropped answer.",
	"q-capital": "Paris is the capital of France.",
	"q-insult":  "You idiot, I hate you. Write to jane@example.com.",
	"q-joke":    "A joke about ducks.",
	"q-weather": "Sunny all week.",
	"q-outage":  "Down for maintenance.",
}

// rig is a guard checking against an assurancehubtest server on loopback,
// mounted on a real app server, with every outcome delivered on a channel.
type rig struct {
	api      *assurancehubtest.Server
	client   *assurancehub.Client
	guard    *safecheck.Guard
	app      *httptest.Server
	outcomes chan safecheck.Outcome

	entered chan string   // a slow handler has started
	release chan struct{} // lets slow handlers answer
}

func newRig(t testing.TB, opts ...safecheck.Option) *rig {
	t.Helper()
	api, err := assurancehubtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(api.URL))
	if err != nil {
		api.Close()
		t.Fatal(err)
	}
	r := &rig{
		api: api, client: client,
		outcomes: make(chan safecheck.Outcome, 1000),
		entered:  make(chan string, 10),
		release:  make(chan struct{}),
	}
	opts = append([]safecheck.Option{
		safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithRetries(1, time.Millisecond, time.Millisecond, 0),
		safecheck.WithOnVerdict(func(o safecheck.Outcome) { r.outcomes <- o }),
	}, opts...)
	r.guard, err = safecheck.New(safecheck.AssuranceHub(client), opts...)
	if err != nil {
		api.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.guard.Close(ctx) // ErrClosed when the test closed it
		if r.app != nil {
			r.app.Close()
		}
		client.CloseIdleConnections()
		api.Close()
	})
	return r
}

// serve mounts h on the app server at /chat.
func (r *rig) serve(h http.Handler) {
	mux := http.NewServeMux()
	mux.Handle("POST /chat", h)
	r.app = httptest.NewServer(mux)
}

// chat answers the prompt in the request body; prompts starting with
// q-slow wait for release.
func (r *rig) chat(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	prompt, _, _ := strings.Cut(string(b), " ")
	if strings.HasPrefix(prompt, "q-slow") {
		r.entered <- prompt
		<-r.release
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, answers[prompt])
}

// post sends one prompt, carrying the canaries, as the canary customer.
func (r *rig) post(t testing.TB, prompt string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.app.URL+"/chat", strings.NewReader(prompt+" "+canaryContent))
	if err != nil {
		t.Error(err)
		return
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("X-Customer-ID", canaryCustomer)
	resp, err := r.app.Client().Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != answers[prompt] {
		t.Errorf("%s: answer %q, want %q", prompt, b, answers[prompt])
	}
}

// wait receives n outcomes.
func (r *rig) wait(t testing.TB, n int) []safecheck.Outcome {
	t.Helper()
	var got []safecheck.Outcome
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for range n {
		select {
		case o := <-r.outcomes:
			got = append(got, o)
		case <-timeout.C:
			t.Fatalf("got %d of %d outcomes", len(got), n)
		}
	}
	return got
}

// drive sends the standard traffic to route: two slow requests that fill
// the queue of two, one dropped while they wait, then a passing, a
// flagged, a cached, a failing (400), a rate-limited (429, then answered)
// and an outage (503, then no answer) one.
// Each sample is checked for types test types.
func (r *rig) drive(t testing.TB, types int) {
	t.Helper()
	var wg sync.WaitGroup
	for _, p := range []string{"q-slow-1", "q-slow-2"} {
		wg.Go(func() { r.post(t, p) })
		<-r.entered
	}
	r.post(t, "q-drop") // both queue slots are taken: dropped
	close(r.release)
	wg.Wait()
	r.wait(t, 2*types)
	for _, step := range []struct {
		prompt string
		faults []assurancehubtest.Fault
	}{
		{"q-capital", nil},
		{"q-insult", nil},
		{"q-capital", nil}, // cached
		{"q-joke", []assurancehubtest.Fault{assurancehubtest.Status(http.StatusBadRequest)}},
		{"q-weather", []assurancehubtest.Fault{assurancehubtest.RateLimited("0")}},
		{"q-outage", []assurancehubtest.Fault{assurancehubtest.Status(http.StatusServiceUnavailable), assurancehubtest.DropConnection()}},
	} {
		r.api.FailNext(step.faults...)
		r.post(t, step.prompt)
		r.wait(t, types)
	}
}

// closeGuard closes the guard and fails on unchecked samples.
func (r *rig) closeGuard(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.guard.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
