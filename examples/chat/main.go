// Command chat is a small chat-completions-style server with safecheck on
// its routes.
//
//	go run ./examples/chat -demo
//
// starts the server, sends a few dozen requests to itself (some with unsafe
// answers, from several customers, on two routes sampled at different
// rates), switches to incident mode part-way so every request is sampled
// until the incident expires, waits for the checks and prints the verdict
// records (JSON lines on stdout), the share sampled in each round (stderr)
// and a summary (stdout). Without ASSURANCEHUB_API_KEY it checks against an
// in-process assurancehubtest server; with it, against the real API.
//
// Without -demo it serves on -addr until interrupted. Either way the
// guard's Prometheus metrics are on GET /metrics.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/internal/demo"
)

func main() {
	demoMode := flag.Bool("demo", false, "send demo traffic to the server, print verdicts and a summary, then exit")
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on (ignored with -demo, which picks a free loopback port)")
	flag.Parse()
	if err := run(*demoMode, *addr, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(demoMode bool, addr string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	client, closeAPI, err := demo.Client(stderr)
	if err != nil {
		return err
	}
	defer closeAPI()

	// Verdict records go to stdout as JSON lines.
	guard, err := safecheck.New(safecheck.AssuranceHub(client),
		safecheck.WithLogger(slog.New(slog.NewJSONHandler(stdout, nil))), safecheck.WithService("chat-demo"))
	if err != nil {
		return err
	}
	customer := safecheck.WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer-ID") })
	chat, err := guard.Route("chat", safecheck.WithSampleRate(0.2), customer,
		safecheck.WithTestTypes(assurancehub.Toxicity, assurancehub.PII, assurancehub.Jailbreak))
	if err != nil {
		return err
	}
	completions, err := guard.Route("completions", safecheck.WithSampleRate(0.5), customer,
		safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat/completions", chat.Wrap(http.HandlerFunc(chatCompletions)))
	mux.Handle("POST /v1/completions", completions.Wrap(http.HandlerFunc(legacyCompletions)))

	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return demo.Serve(ctx, demoMode, addr, mux, guard, stdout, stderr)
}

func chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":"invalid request"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id":     "chatcmpl-demo",
		"object": "chat.completion",
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]string{"role": "assistant", "content": demo.Answer(req.Messages[len(req.Messages)-1].Content)},
			"finish_reason": "stop",
		}},
	})
}

func legacyCompletions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt string `json:"prompt"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, `{"error":"invalid request"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"object":  "text_completion",
		"choices": []map[string]any{{"index": 0, "text": demo.Answer(req.Prompt)}},
	})
}
