package safecheckotel_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/safecheck/safecheck"
	safecheckotel "github.com/safecheck/safecheck/adapters/otel"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Each verdict becomes a gen_ai.evaluation.result event on a span in the
// trace of the request that was sampled.
func ExampleNew() {
	// The app's SDK setup; here everything stays in memory.
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())

	api, err := assurancehubtest.NewServer() // a local stand-in for the AssuranceHub API
	if err != nil {
		log.Fatal(err)
	}
	defer api.Close()
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(api.URL))
	if err != nil {
		log.Fatal(err)
	}
	defer client.CloseIdleConnections()

	inst, err := safecheckotel.New(safecheckotel.WithTracerProvider(tp), safecheckotel.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := safecheck.New(safecheck.AssuranceHub(client),
		append(inst.GuardOptions(), safecheck.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := inst.Observe(guard); err != nil {
		log.Fatal(err)
	}
	chat, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		log.Fatal(err)
	}

	// Tracing middleware (otelhttp in a real app) goes outside the route.
	guarded := chat.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "You idiot, I hate you.")
	}))
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tp.Tracer("app").Start(r.Context(), "POST /v1/chat")
		defer span.End()
		guarded.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer app.Close()
	resp, err := app.Client().Post(app.URL+"/v1/chat", "text/plain", strings.NewReader("Say something rude."))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	app.Client().CloseIdleConnections()
	if err := guard.Close(context.Background()); err != nil { // waits for the check
		log.Fatal(err)
	}

	ended := spans.Ended() // the request's span, then the check's
	request, check := ended[0], ended[1]
	fmt.Println(check.Name(), "child of", request.Name()+":", check.Parent().SpanID() == request.SpanContext().SpanID())
	for _, e := range check.Events() {
		fmt.Println(e.Name)
		for _, kv := range e.Attributes {
			fmt.Printf("  %s=%s\n", kv.Key, kv.Value.String())
		}
	}
	// Output:
	// safecheck.check toxicity child of POST /v1/chat: true
	// gen_ai.evaluation.result
	//   gen_ai.evaluation.name=toxicity
	//   gen_ai.evaluation.score.value=0.9
	//   gen_ai.evaluation.score.label=fail
	//   safecheck.flagged=true
	//   safecheck.risk_level=reject
}
