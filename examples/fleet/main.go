package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck"
	safecheckredis "github.com/safecheck/safecheck/adapters/redis"
	"github.com/safecheck/safecheck/adapters/redis/redistest"
	"github.com/safecheck/safecheck/admin"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

// Demo settings.
const (
	replicas      = 3
	planPerMinute = 120
	sampleRate    = 0.1
	incidentFor   = 2 * time.Second
	budgetWindow  = 3 * time.Second
)

// errNoRedis is the setup failure that exits 2.
var errNoRedis = errors.New("examples/fleet needs Redis: set REDIS_URL (redis://host:port/0) or put redis-server on PATH (Debian: apt-get install redis-server)")

func main() {
	demo := flag.Bool("demo", false, "run the demo and exit")
	flag.Parse()
	if !*demo {
		fmt.Fprintln(os.Stderr, "usage: go run ./examples/fleet -demo")
		os.Exit(2)
	}
	err := run(context.Background(), os.Getenv("REDIS_URL"), os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errNoRedis):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "examples/fleet:", err)
		os.Exit(1)
	}
}

// replica is one Guard of the demo's app on its own port.
type replica struct {
	n     int
	guard *safecheck.Guard
	srv   *http.Server
	url   string
}

func run(ctx context.Context, redisURL string, stdout, stderr io.Writer) error {
	rdb, where, stop, err := connect(redisURL)
	if err != nil {
		return err
	}
	defer stop()
	defer rdb.Close()
	api, err := assurancehubtest.NewServer()
	if err != nil {
		return err
	}
	defer api.Close()
	fmt.Fprintf(stdout, "safecheck fleet demo: %d replicas on one Redis (%s), a plan of %d calls/min\n", replicas, where, planPerMinute)

	// One deployment: one prefix and one secret for every replica. A real
	// deployment reads the secret from its secret store.
	secret := make([]byte, 32)
	rand.Read(secret)
	prefix := "safecheck-demo-" + hex.EncodeToString(secret[:4])
	token := hex.EncodeToString(secret[4:24])
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var rs []*replica
	defer func() {
		for _, r := range rs {
			r.srv.Close()
		}
	}()
	for i := range replicas {
		r, err := start(i+1, rdb, api, secret, prefix, token, logger)
		if err != nil {
			return err
		}
		rs = append(rs, r)
		fmt.Fprintf(stdout, "  replica %d: %s (admin at /admin/)\n", r.n, r.url)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()

	fmt.Fprintf(stdout, "1. traffic: 20 requests to each replica, sampled at %.0f %%\n", 100*sampleRate)
	if err := traffic(ctx, hc, rs, 20, "warm-up"); err != nil {
		return err
	}
	rates(stdout, rs)

	fmt.Fprintf(stdout, "2. incident through replica 1's admin handler, for %s\n", incidentFor)
	t0 := time.Now()
	if err := adminCall(ctx, hc, rs[0].url, token, fmt.Sprintf(`{"reason":"demo: bad deploy","duration":%q}`, incidentFor)); err != nil {
		return err
	}
	for _, r := range rs {
		d, err := waitFor(r, 1, time.Second)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  replica %d: 100 %% after %s\n", r.n, d.Round(time.Microsecond))
	}
	rates(stdout, rs)
	for _, r := range rs {
		if err := waitFor2(r, sampleRate, incidentFor+time.Second, t0); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "3. the incident expired after %s: every replica is back to %.0f %%\n", incidentFor, 100*sampleRate)
	rates(stdout, rs)

	fmt.Fprintf(stdout, "4. budget: every replica samples 100 %% of fresh questions for %s, far more than the plan\n", budgetWindow)
	for _, r := range rs {
		if err := r.guard.Flush(ctx); err != nil {
			return err
		}
	}
	before := make([]uint64, len(rs))
	for i, r := range rs {
		before[i] = r.guard.Stats().APICalls
	}
	for _, r := range rs {
		if err := r.guard.SetSampleRate(ctx, "chat", 1); err != nil {
			return err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	var trafficErr error
	var mu sync.Mutex
	for _, r := range rs {
		wg.Go(func() {
			for n := 0; time.Since(start) < budgetWindow; n++ {
				if err := post(ctx, hc, r.url, fmt.Sprintf("fresh question %d for replica %d", n, r.n)); err != nil {
					mu.Lock()
					trafficErr = err
					mu.Unlock()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if trafficErr != nil {
		return trafficErr
	}
	allowed := int(math.Floor(elapsed.Minutes()*planPerMinute)) + 1
	var per []string
	var made uint64
	for i, r := range rs {
		n := r.guard.Stats().APICalls - before[i]
		made += n
		per = append(per, fmt.Sprintf("replica %d: %d", r.n, n))
	}
	fmt.Fprintf(stdout, "  the fleet made %d API calls in %s (%s); the plan allows %d in that time\n",
		made, elapsed.Round(100*time.Millisecond), strings.Join(per, ", "), allowed)
	if made > uint64(allowed) {
		return fmt.Errorf("the fleet made %d calls, over the plan's %d", made, allowed)
	}
	fmt.Fprintf(stdout, "  fleet call rate %.0f/min, within the plan's %d/min (each replica alone would have spent the whole plan)\n",
		float64(made)/elapsed.Minutes(), planPerMinute)

	fmt.Fprintln(stdout, "accounting")
	for _, r := range rs {
		mode := r.guard.Stats().Fleet.Mode
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_ = r.guard.Close(cctx) // samples still waiting for the budget end as shutdown drops
		cancel()
		s := r.guard.Stats()
		var dropped uint64
		for _, n := range s.Dropped {
			dropped += n
		}
		fmt.Fprintf(stdout, "  replica %d: %d sampled, %d checked, %d from the cache, %d dropped (rate limited or at shutdown), fleet mode %s\n",
			r.n, s.Sampled, s.Checked, s.CacheHits, dropped, mode)
	}
	fmt.Fprintln(stdout, "fleet demo: ok")
	return nil
}

// connect returns a client for REDIS_URL, or for a redis-server it starts.
func connect(redisURL string) (*redis.Client, string, func(), error) {
	if redisURL != "" {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, "", nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opt.ContextTimeoutEnabled = true
		return redis.NewClient(opt), "REDIS_URL", func() {}, nil
	}
	srv, err := redistest.Start()
	if errors.Is(err, redistest.ErrMissing) {
		return nil, "", nil, errNoRedis
	}
	if err != nil {
		return nil, "", nil, err
	}
	return srv.Client(), "redis-server on " + srv.Addr, srv.Kill, nil
}

func start(n int, rdb *redis.Client, api *assurancehubtest.Server, secret []byte, prefix, token string, logger *slog.Logger) (*replica, error) {
	client, err := assurancehub.New(assurancehub.WithBaseURL(api.URL), assurancehub.WithAPIKey(assurancehubtest.TestAPIKey))
	if err != nil {
		return nil, err
	}
	c, err := safecheckredis.New(rdb, safecheckredis.WithSecret(secret), safecheckredis.WithPrefix(prefix),
		safecheckredis.WithReplicaName(fmt.Sprintf("replica-%d", n)))
	if err != nil {
		return nil, err
	}
	g, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithCoordinator(c),
		safecheck.WithRateLimit(planPerMinute), safecheck.WithMaxRetryAfter(200*time.Millisecond),
		safecheck.WithLogger(logger.With(slog.Int("replica", n))))
	if err != nil {
		return nil, err
	}
	chat, err := g.Route("chat", safecheck.WithSampleRate(sampleRate), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		return nil, err
	}
	adm, err := admin.New(g, admin.WithToken("operator", token))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /chat", chat.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Happy to help with: %s", q)
	})))
	mux.Handle("/admin/", http.StripPrefix("/admin", adm))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return &replica{n: n, guard: g, srv: srv, url: "http://" + ln.Addr().String()}, nil
}

func traffic(ctx context.Context, hc *http.Client, rs []*replica, n int, tag string) error {
	for i := range n {
		for _, r := range rs {
			if err := post(ctx, hc, r.url, fmt.Sprintf("%s question %d", tag, i%5)); err != nil {
				return err
			}
		}
	}
	return nil
}

func post(ctx context.Context, hc *http.Client, base, q string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat", strings.NewReader(q))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s/chat: %s", base, resp.Status)
	}
	return nil
}

func adminCall(ctx context.Context, hc *http.Client, base, token, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/incident", bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /admin/incident: %s %v", resp.Status, out)
	}
	return nil
}

// effective returns the chat route's effective rate on r.
func effective(r *replica) float64 { return r.guard.Stats().Routes[0].EffectiveRate }

// waitFor waits until r's effective rate is want and says how long it took.
func waitFor(r *replica, want float64, within time.Duration) (time.Duration, error) {
	start := time.Now()
	for effective(r) != want {
		if time.Since(start) > within {
			return 0, fmt.Errorf("replica %d: effective rate %v after %s, want %v", r.n, effective(r), within, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Since(start), nil
}

// waitFor2 waits, from t0, until r's effective rate is back to want.
func waitFor2(r *replica, want float64, within time.Duration, t0 time.Time) error {
	_, err := waitFor(r, want, within-time.Since(t0))
	return err
}

func rates(w io.Writer, rs []*replica) {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("replica %d %.0f %%", r.n, 100*effective(r)))
	}
	fmt.Fprintf(w, "  effective rates: %s\n", strings.Join(parts, ", "))
}
