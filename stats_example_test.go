package safecheck_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/safecheck/safecheck"
)

func ExampleHistogram_Quantile() {
	// Ten checks: two took up to 100 ms, five 100-200 ms, three 200-400 ms.
	h := safecheck.Histogram{Bounds: []float64{0.1, 0.2, 0.4}, Counts: []uint64{2, 5, 3, 0}, Count: 10, Sum: 1.9}
	fmt.Printf("p50 %.2f s, p95 %.2f s\n", h.Quantile(0.5), h.Quantile(0.95))
	// Output:
	// p50 0.16 s, p95 0.37 s
}

// A tracing adapter keeps what it needs from the sampled request (here a
// header; safecheckotel keeps the span context) and finds it again on
// every verdict of that request.
func ExampleWithAnnotate() {
	checker := safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{Score: 0.01, RiskLevel: "low", PassFail: "pass"}, nil
	})
	guard, err := safecheck.New(checker,
		safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithAnnotate(func(r *http.Request) any { return r.Header.Get("Traceparent") }),
		safecheck.WithOnVerdict(func(o safecheck.Outcome) {
			fmt.Println(o.TestType, o.Annotation)
		}))
	if err != nil {
		log.Fatal(err)
	}
	chat, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"))
	if err != nil {
		log.Fatal(err)
	}
	h := chat.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body.Read(make([]byte, 64))
		w.Write([]byte("Paris."))
	}))
	r := httptest.NewRequest(http.MethodPost, "/v1/chat", strings.NewReader("Capital of France?"))
	r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if err := guard.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// toxicity 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
}
