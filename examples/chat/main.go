package main

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/internal/demo"
)

func main() { demo.Main("chat-demo", mount) }

// mount registers the two routes on guard and serves its metrics.
func mount(guard *safecheck.Guard, _ io.Writer) (http.Handler, error) {
	customer := safecheck.WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer-ID") })
	chat, err := guard.Route("chat", safecheck.WithSampleRate(0.2), customer,
		safecheck.WithTestTypes(assurancehub.Toxicity, assurancehub.PII, assurancehub.Jailbreak))
	if err != nil {
		return nil, err
	}
	completions, err := guard.Route("completions", safecheck.WithSampleRate(0.5), customer,
		safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat/completions", chat.Wrap(http.HandlerFunc(chatCompletions)))
	mux.Handle("POST /v1/completions", completions.Wrap(http.HandlerFunc(legacyCompletions)))

	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux, nil
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
