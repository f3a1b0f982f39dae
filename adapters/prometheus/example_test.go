package safecheckprom_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

// An app serves its Guard's metrics on /metrics beside its own routes.
func ExampleNewCollector() {
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
	guard, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	chat, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		log.Fatal(err)
	}

	// The wiring: a registry with the collector, served on /metrics.
	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat", chat.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // a real handler reads the prompt
		io.WriteString(w, "Paris is the capital of France.")
	})))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	app := httptest.NewServer(mux)
	defer app.Close()

	resp, err := app.Client().Post(app.URL+"/v1/chat", "text/plain", strings.NewReader("What is the capital of France?"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	if err := guard.Close(context.Background()); err != nil { // waits for the check
		log.Fatal(err)
	}

	resp, err = app.Client().Get(app.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "safecheck_samples_total") || strings.HasPrefix(line, "safecheck_checks_total") {
			fmt.Println(line)
		}
	}
	app.Client().CloseIdleConnections()
	// Output:
	// safecheck_checks_total{result="cached",test_type="toxicity"} 0
	// safecheck_checks_total{result="error",test_type="toxicity"} 0
	// safecheck_checks_total{result="flagged",test_type="toxicity"} 0
	// safecheck_checks_total{result="pass",test_type="toxicity"} 1
	// safecheck_samples_total{route="chat"} 1
}
