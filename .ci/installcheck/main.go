// Command installcheck is the program .ci/proxy-install.sh builds in a
// scratch module outside the checkout, against the released modules as
// `go get` fetches them. It uses the core and every adapter: a net/http
// route and a gin route behind one Guard, the Prometheus collector and the
// OpenTelemetry instruments, one request through each route, checked by an
// in-process fake of the AssuranceHub API on loopback; and a Guard with the
// Redis coordinator on an address where no Redis listens, which starts in
// degraded mode and checks all the same.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck"
	safecheckgin "github.com/safecheck/safecheck/adapters/gin"
	safecheckotel "github.com/safecheck/safecheck/adapters/otel"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	safecheckredis "github.com/safecheck/safecheck/adapters/redis"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func main() {
	api, err := assurancehubtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer api.Close()
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(api.URL))
	if err != nil {
		log.Fatal(err)
	}
	defer client.CloseIdleConnections()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	inst, err := safecheckotel.New(safecheckotel.WithMeterProvider(mp))
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
	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)

	// The capture sees the request body as the handler reads it.
	answer := func(w io.Writer, body io.Reader) {
		io.Copy(io.Discard, body)
		io.WriteString(w, "Paris is the capital of France.")
	}
	chat, err := guard.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat", chat.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w, r.Body) })))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	mw, err := safecheckgin.Middleware(guard,
		safecheckgin.WithRoute("POST", "/gin/chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity)))
	if err != nil {
		log.Fatal(err)
	}
	engine.Use(mw)
	engine.POST("/gin/chat", func(c *gin.Context) { answer(c.Writer, c.Request.Body) })
	mux.Handle("/gin/", engine)

	app := httptest.NewServer(mux)
	defer app.Close()
	for _, path := range []string{"/v1/chat", "/gin/chat"} {
		resp, err := app.Client().Post(app.URL+path, "text/plain", strings.NewReader("What is the capital of France? Asked on "+path))
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Paris") {
			log.Fatalf("POST %s: %s %q", path, resp.Status, body)
		}
	}
	resp, err := app.Client().Get(app.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	app.Client().CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := guard.Close(ctx); err != nil {
		log.Fatal(err)
	}
	st := guard.Stats()
	if st.Sampled != 2 || st.Checked+st.CacheHits != 2 {
		log.Fatalf("sampled %d, checked %d, cache hits %d; want 2 sampled and checked; failed %v", st.Sampled, st.Checked, st.CacheHits, st.Failed)
	}
	if !strings.Contains(string(metrics), "safecheck_samples_total") {
		log.Fatal("/metrics has no safecheck_samples_total")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	instruments := 0
	for _, sm := range rm.ScopeMetrics {
		instruments += len(sm.Metrics)
	}
	if instruments == 0 {
		log.Fatal("no OpenTelemetry instruments were collected")
	}
	fmt.Printf("installcheck: 2 requests (net/http, gin) sampled and checked; /metrics served; %d OpenTelemetry instruments\n", instruments)
	fmt.Printf("installcheck: a Guard with the Redis coordinator and no Redis: %s\n", fleetWithoutRedis(client))
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// fleetWithoutRedis checks one pair through a Guard whose coordinator's
// Redis does not answer, and returns its fleet mode.
func fleetWithoutRedis(client *assurancehub.Client) string {
	redis.SetLogger(quiet{}) // the client's reconnection notes
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	secret := make([]byte, 32)
	rand.Read(secret)
	c, err := safecheckredis.New(rdb, safecheckredis.WithSecret(secret))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithCoordinator(c),
		safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	o := guard.Check(context.Background(), safecheck.CheckRequest{TestType: assurancehub.Toxicity, Prompt: "Hi", Response: "Hello."})
	mode := guard.Stats().Fleet.Mode
	if err := guard.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	if o.Err != nil || mode.String() != "degraded" {
		log.Fatalf("with no Redis: check error %v, fleet mode %s; want a verdict in degraded mode", o.Err, mode)
	}
	return "degraded, checked"
}
