package safecheckotel_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Canaries that must never appear in telemetry.
const (
	canaryContent  = "CANARY-CONTENT-5e1d"
	canaryCustomer = "cust-CANARY-7f3a"
)

// answers is the app's model: the answer to each prompt.
var answers = map[string]string{
	"q-capital": "Paris is the capital of France.",
	"q-insult":  "You idiot, I hate you. Write to jane@example.com.",
	"q-joke":    "A joke about ducks.",
	"q-weather": "Sunny all week.",
}

// chat answers the prompt in the request body.
func chat(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	prompt, _, _ := strings.Cut(string(b), " ")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, answers[prompt])
}

// telemetry is an SDK setup that keeps everything in memory.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t testing.TB) *telemetry {
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		tel.tp.Shutdown(context.Background())
		tel.mp.Shutdown(context.Background())
	})
	return tel
}

// api starts an assurancehubtest server and a client for it.
func api(t testing.TB) (*assurancehubtest.Server, *assurancehub.Client) {
	t.Helper()
	srv, err := assurancehubtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(srv.URL))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	return srv, client
}

// app serves mux on loopback.
func app(t testing.TB, mux *http.ServeMux) *httptest.Server {
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Client().CloseIdleConnections()
		srv.Close()
	})
	return srv
}

// post sends one prompt, carrying the canaries, with a request id.
func post(t testing.TB, srv *httptest.Server, path, prompt, requestID string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(prompt+" "+canaryContent))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("X-Customer-ID", canaryCustomer)
	req.Header.Set("X-Request-ID", requestID)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != answers[prompt] {
		t.Errorf("%s: answer %q", prompt, b)
	}
}

// wait receives n outcomes.
func wait(t testing.TB, ch <-chan safecheck.Outcome, n int) []safecheck.Outcome {
	t.Helper()
	var got []safecheck.Outcome
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for range n {
		select {
		case o := <-ch:
			got = append(got, o)
		case <-timeout.C:
			t.Fatalf("got %d of %d outcomes", len(got), n)
		}
	}
	return got
}

func closeGuard(t testing.TB, g *safecheck.Guard) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
