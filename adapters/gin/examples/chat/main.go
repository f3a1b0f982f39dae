package main

import (
	"context"
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

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safecheck/safecheck"
	safecheckgin "github.com/safecheck/safecheck/adapters/gin"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/internal/demo"
)

// The demo's timings.
const (
	incidentFor = 2 * time.Second  // the incident expires by itself after this
	drainFor    = 10 * time.Second // Close waits this long for the checks in flight
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
		fmt.Fprintln(os.Stderr, "chat (gin):", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, demoMode bool, addr, recordsFile string, stdout, stderr io.Writer) error {
	story := demo.NewStory(stdout)
	story.Printf("safecheck demo (gin): a chat API whose answers are sampled and checked in the background")

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
	opts := []safecheck.Option{
		safecheck.WithLogger(slog.New(slog.NewJSONHandler(io.MultiWriter(records, shown), nil))),
		safecheck.WithService("chat-demo-gin"),
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

	// The routes: safecheck's table of gin routes (method and template);
	// a share of each route's requests is sampled and checked for its test
	// types, with the customer id that the auth middleware sets.
	mw, err := safecheckgin.Middleware(guard,
		safecheckgin.WithRoute("POST", "/v1/chat/completions", safecheck.WithSampleRate(0.2),
			safecheck.WithTestTypes(assurancehub.Toxicity, assurancehub.PII, assurancehub.Jailbreak)),
		safecheckgin.WithRoute("POST", "/v1/completions", safecheck.WithSampleRate(0.5),
			safecheck.WithTestTypes(assurancehub.Toxicity)),
		safecheckgin.WithCustomerIDFromContextKey(customerKey),
	)
	if err != nil {
		return err
	}

	// The guard's metrics, for Prometheus.
	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)

	gin.SetMode(gin.ReleaseMode) // no gin debug output between the story's lines
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(stderr), mw)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	v1 := r.Group("/v1", authenticate)
	v1.POST("/chat/completions", chatCompletions)
	v1.POST("/completions", legacyCompletions)

	if demoMode {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	story.Printf("  server: %s, metrics on %s/metrics", base, base)
	story.Routes(guard.Stats())
	story.Printf("  verdict records: one JSON line per check, to %s", where)

	if demoMode {
		err = traffic(ctx, guard, base, story)
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
// round during an incident, when every route samples 100 %, and a round
// after the incident has expired by itself.
func traffic(ctx context.Context, guard *safecheck.Guard, base string, story *demo.Story) error {
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
	return nil
}

const customerKey = "customer_id"

// authenticate stands in for a real auth middleware: it takes the customer
// from a header and stores it in the gin context, where safecheck finds it
// after the handler chain has run.
func authenticate(c *gin.Context) {
	id := c.GetHeader("X-Customer-ID")
	if id == "" {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "missing X-Customer-ID"})
		return
	}
	c.Set(customerKey, id)
}

type chatRequest struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages" binding:"required,min=1"`
}

func chatCompletions(c *gin.Context) {
	var req chatRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid request"})
		return
	}
	last := req.Messages[len(req.Messages)-1].Content
	c.JSON(http.StatusOK, gin.H{
		"id":     "chatcmpl-demo",
		"object": "chat.completion",
		"choices": []gin.H{{
			"index":         0,
			"message":       gin.H{"role": "assistant", "content": demo.Answer(last)},
			"finish_reason": "stop",
		}},
	})
}

func legacyCompletions(c *gin.Context) {
	var req struct {
		Prompt string `json:"prompt" binding:"required"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid request"})
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"object":  "text_completion",
		"choices": []gin.H{{"index": 0, "text": demo.Answer(req.Prompt)}},
	})
}
