package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/internal/demo"
)

// The demo's timings.
const (
	incidentFor = 2 * time.Second  // the incident expires by itself after this
	drainFor    = 10 * time.Second // Close waits this long for the checks in flight
	burstRule   = "unsafe-burst"   // the alert rule a burst of unsafe answers trips
	burstOf     = "cust_666"       // the customer who sends the burst
	burstSize   = 20
)

func main() {
	demoMode := flag.Bool("demo", false, "send demo traffic to the server, tell what happens, then exit")
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on (with -demo, a free loopback port)")
	records := flag.String("records", "", "write the JSON verdict records to `file` instead of stderr")
	flag.Parse()
	// Ctrl-C and SIGTERM both stop the traffic and drain the checks.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *demoMode, *addr, *records, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, demoMode bool, addr, recordsFile string, stdout, stderr io.Writer) error {
	story := demo.NewStory(stdout)
	story.Printf("safecheck demo: a chat API whose answers are sampled and checked in the background")

	// The verdict records: one JSON line per check, to stderr or a file.
	// (The demo also keeps two of them to show at the end.)
	var records io.Writer = stderr
	where := "stderr"
	if recordsFile != "" {
		f, err := os.Create(recordsFile)
		if err != nil {
			return err
		}
		defer f.Close()
		records, where = f, recordsFile
	}
	shown := &demo.Records{}

	// The AssuranceHub client: the real API when ASSURANCEHUB_API_KEY is
	// set, else a fake one in this process that speaks the same contract.
	var client *assurancehub.Client
	if os.Getenv(assurancehub.EnvAPIKey) != "" {
		c, err := assurancehub.New() // the key comes from ASSURANCEHUB_API_KEY
		if err != nil {
			return err
		}
		client = c
		story.Printf("  checker: the AssuranceHub API (key from %s)", assurancehub.EnvAPIKey)
	} else {
		fake, err := assurancehubtest.NewServer()
		if err != nil {
			return err
		}
		defer fake.Close()
		c, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(fake.URL))
		if err != nil {
			return err
		}
		client = c
		story.Printf("  checker: a fake AssuranceHub API at %s (set %s for the real one)", fake.URL, assurancehub.EnvAPIKey)
	}
	defer client.CloseIdleConnections()

	// The guard: samples requests on its routes and checks them in the
	// background; it must be closed.
	//
	// A customer whose answer is flagged with a score of at least 0.95 is
	// escalated: all of its requests are sampled for an hour. An alert rule
	// watches the toxicity scores of completions and starts an incident
	// there when their p95 reaches 0.95.
	opts := []safecheck.Option{
		safecheck.WithLogger(slog.New(slog.NewJSONHandler(io.MultiWriter(records, shown), nil))),
		safecheck.WithService("chat-demo"),
		safecheck.WithDefaultEscalation(escalation.Config{MinScore: 0.95}),
		safecheck.WithAlertRules(alert.Rule{Name: burstRule, Route: "completions", TestType: assurancehub.Toxicity,
			Window: time.Minute, MinChecks: 10, ScoreP95: 0.95, IncidentFor: incidentFor}),
	}
	if demoMode {
		// The demo's traffic comes from this process, in bursts, and its
		// story counts every sample. On a busy machine the default CPU
		// budget would shed some of them (overload), so the demo turns it
		// off; a server keeps it.
		opts = append(opts, safecheck.WithCPUBudget(0))
	}
	guard, err := safecheck.New(safecheck.AssuranceHub(client), opts...)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			guard.Close(context.Background())
		}
	}()

	// The routes: a share of each route's requests is sampled and checked
	// for its test types, with the customer id from a header.
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

	// The guard's metrics, for Prometheus.
	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	if demoMode {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	story.Printf("  server: %s, metrics on %s/metrics", base, base)
	story.Routes(guard.Stats())
	story.Printf("  verdict records: one JSON line per check, to %s", where)

	if demoMode {
		err = traffic(ctx, guard, base, story, shown)
	} else {
		story.Printf("\nserving until Ctrl-C; try:\n  curl -s %s/v1/chat/completions -H 'Content-Type: application/json' -H 'X-Customer-ID: cust_001' \\\n"+
			"    -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Please insult me.\"}]}'", base)
		<-ctx.Done()
	}
	if ctx.Err() != nil { // Ctrl-C or SIGTERM
		story.Printf("\ninterrupted: no more requests; draining the checks in flight (at most %s)", drainFor)
		if demo.Interrupted(ctx, err) {
			err = nil
		}
	}

	// Shutting down: stop serving, then let the guard finish the checks in
	// flight while drainCtx lives. Close says how many were not checked.
	drainCtx, cancel := context.WithTimeout(context.Background(), drainFor)
	defer cancel()
	_ = srv.Shutdown(drainCtx)
	closeErr := guard.Close(drainCtx)
	closed = true

	st := guard.Stats()
	story.Printf("\nverdicts")
	story.Verdicts(st)
	story.Printf("")
	shown.Show(story, where)
	story.Printf("\naccounting")
	story.Accounting(st)
	story.Closed(closeErr)
	if err != nil {
		return err
	}
	return closeErr
}

// traffic sends the demo's requests: a round at the configured rates, a
// round during an incident, when every route samples 100 %, a round after
// the incident has expired by itself, and a burst of unsafe answers.
func traffic(ctx context.Context, guard *safecheck.Guard, base string, story *demo.Story, shown *demo.Records) error {
	const perRoute = 20

	story.Step("before the incident: %d requests on each route", perRoute)
	if err := demo.Traffic(ctx, base, perRoute); err != nil {
		return err
	}
	story.Sampled(guard.Stats())
	story.Metrics(ctx, base+"/metrics")

	// An operator starts an incident: every route (none are named) samples
	// every request until it expires or guard.EndIncident is called.
	if err := guard.StartIncident(ctx, "demo: bad deploy", incidentFor); err != nil {
		return err
	}
	story.Step("incident \"demo: bad deploy\" for %s: every route samples 100 %%", incidentFor)
	if err := demo.Traffic(ctx, base, perRoute); err != nil {
		return err
	}
	story.Sampled(guard.Stats())
	story.Metrics(ctx, base+"/metrics")

	for guard.Stats().Incident != nil { // it ends by itself
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	story.Step("the incident expired after %s: the configured rates are back", incidentFor)
	if err := demo.Traffic(ctx, base, perRoute); err != nil {
		return err
	}
	story.Sampled(guard.Stats())
	story.Metrics(ctx, base+"/metrics")
	return burst(ctx, guard, base, story, shown)
}

// burst sends a burst of unsafe answers: its first sampled answer escalates
// the customer, and the scores trip the alert rule, which starts an
// incident on completions by itself.
func burst(ctx context.Context, guard *safecheck.Guard, base string, story *demo.Story, shown *demo.Records) error {
	story.Step("a burst of unsafe answers: %s asks completions for a rant %d times (more if none was sampled), then %d more",
		burstOf, burstSize/2, burstSize/2)
	start := guard.Stats()
	if err := demo.Burst(ctx, base, burstOf, burstSize/2); err != nil {
		return err
	}
	// At rate 0.5 none of the ten is sampled once in 1024 runs: the
	// customer asks again until one is, or nothing escalates it.
	first := burstSize / 2
	for completionsSampled(guard.Stats()) == completionsSampled(start) {
		if first == 10*burstSize {
			return fmt.Errorf("none of %d requests to completions was sampled", first)
		}
		if err := demo.Burst(ctx, base, burstOf, 1); err != nil {
			return err
		}
		first++
	}
	mid, err := waitFor(ctx, guard, func(s safecheck.Stats) bool { return s.EscalationsStarted > start.EscalationsStarted })
	if err != nil {
		return err
	}
	if err := demo.Burst(ctx, base, burstOf, burstSize/2); err != nil {
		return err
	}
	st, err := waitFor(ctx, guard, func(s safecheck.Stats) bool {
		return s.Incident != nil && len(s.Alerts) == 1 && s.Alerts[0].State == alert.Firing
	})
	if err != nil {
		return err
	}
	story.Printf("  escalation: its first flagged answer (score 1) escalated %s for 1h: completions sampled %d of the first %d, %d of the next %d",
		burstOf, completionsSampled(mid)-completionsSampled(start), first, completionsSampled(st)-completionsSampled(mid), burstSize/2)
	a := st.Alerts[0]
	story.Printf("  alert %q fired: toxicity score p95 %.2f >= %.2f over %d checks; it started a %s incident on completions",
		a.Rule.Name, a.Value, a.Rule.ScoreP95, a.Checks, a.Rule.IncidentFor)
	story.Printf("  their audit records:")
	shown.Audit(story, "escalation started", "incident started by rule")
	return nil
}

func completionsSampled(s safecheck.Stats) uint64 {
	for _, rt := range s.Routes {
		if rt.Name == "completions" {
			return rt.Sampled
		}
	}
	return 0
}

// waitFor polls guard's Stats until done holds, for at most 10 s.
func waitFor(ctx context.Context, guard *safecheck.Guard, done func(safecheck.Stats) bool) (safecheck.Stats, error) {
	deadline := time.After(10 * time.Second)
	for {
		if s := guard.Stats(); done(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return safecheck.Stats{}, ctx.Err()
		case <-deadline:
			s := guard.Stats()
			return safecheck.Stats{}, fmt.Errorf("the burst did not escalate its customer and trip %q within 10s (escalations started %d, alerts %v, completions sampled %d, dropped %v, failed %v)",
				burstRule, s.EscalationsStarted, s.Alerts, completionsSampled(s), s.Dropped, s.Failed)
		case <-time.After(20 * time.Millisecond):
		}
	}
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
