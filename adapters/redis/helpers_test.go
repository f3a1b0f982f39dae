package safecheckredis_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck"
	safecheckredis "github.com/safecheck/safecheck/adapters/redis"
	"github.com/safecheck/safecheck/adapters/redis/redistest"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/internal/syncbuf"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // the client's own reconnection notes, expected when Redis is killed
	goleak.VerifyTestMain(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var secret = []byte("fleet-test-secret-0123456789")

// replica is one Guard of a test fleet, with its log and its chat route.
type replica struct {
	g    *safecheck.Guard
	log  *syncbuf.Buffer
	chat http.Handler
	c    *safecheckredis.Coordinator // nil without the adapter
}

// fleetOpts configures a test fleet.
type fleetOpts struct {
	n       int
	redis   *redistest.Server // nil: no coordinator (the baseline)
	prefix  string
	guard   []safecheck.Option
	rate    float64
	adapter []safecheckredis.Option
	route   []safecheck.RouteOption // more options of the route "chat"
}

func newFake(t *testing.T) *assurancehubtest.Server {
	t.Helper()
	fake, err := assurancehubtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	return fake
}

// newFleet starts o.n Guards checking against fake, each with a route
// "chat" that takes plain text, sharing o.redis when set, and the CPU
// budget off.
func newFleet(t *testing.T, fake *assurancehubtest.Server, o fleetOpts) []*replica {
	t.Helper()
	if o.prefix == "" {
		o.prefix = strings.ReplaceAll(t.Name(), "/", "_")
	}
	var rs []*replica
	for range o.n {
		client, err := assurancehub.New(assurancehub.WithBaseURL(fake.URL), assurancehub.WithAPIKey(assurancehubtest.TestAPIKey))
		if err != nil {
			t.Fatal(err)
		}
		buf := &syncbuf.Buffer{}
		opts := []safecheck.Option{safecheck.WithLogger(slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			// The tests count on every sample being checked. On a loaded
			// machine, under -race, the default CPU budget is spent by the
			// samples a test sends while it waits, and sheds the next
			// (overload), as it should in an application.
			safecheck.WithCPUBudget(0)}
		r := &replica{log: buf}
		if o.redis != nil {
			rdb := o.redis.Client()
			t.Cleanup(func() { rdb.Close() })
			r.c, err = safecheckredis.New(rdb, append([]safecheckredis.Option{
				safecheckredis.WithSecret(secret), safecheckredis.WithPrefix(o.prefix),
				safecheckredis.WithResync(200 * time.Millisecond)}, o.adapter...)...)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, safecheck.WithCoordinator(r.c))
		}
		g, err := safecheck.New(safecheck.AssuranceHub(client), append(opts, o.guard...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			g.Close(ctx)
		})
		rt, err := g.Route("chat", append([]safecheck.RouteOption{safecheck.WithSampleRate(o.rate),
			safecheck.WithTestTypes(assurancehub.Toxicity)}, o.route...)...)
		if err != nil {
			t.Fatal(err)
		}
		r.g, r.chat = g, rt.Wrap(echo)
		rs = append(rs, r)
	}
	return rs
}

// echo answers a prompt with a fixed, harmless text.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Happy to help.")
})

// serve sends one request with prompt as its plain-text body and returns
// how long the request path took.
func (r *replica) serve(prompt string) time.Duration {
	req := httptest.NewRequest(http.MethodPost, "/chat", strings.NewReader(prompt))
	req.Header.Set("Content-Type", "text/plain")
	start := time.Now()
	r.chat.ServeHTTP(httptest.NewRecorder(), req)
	return time.Since(start)
}

// serveAs sends one request of customer (the header X-Customer) with
// prompt as its plain-text body.
func (r *replica) serveAs(customer, prompt string) {
	req := httptest.NewRequest(http.MethodPost, "/chat", strings.NewReader(prompt))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Customer", customer)
	r.chat.ServeHTTP(httptest.NewRecorder(), req)
}

// customerHeader is the customer-id function of escalating test routes.
func customerHeader(r *http.Request) string { return r.Header.Get("X-Customer") }

func (r *replica) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.g.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// count returns how many records of r's log have the message msg.
func (r *replica) count(msg string) int {
	return strings.Count(r.log.String(), `"msg":"`+msg+`"`)
}

// checkAccounting asserts the accounting invariant on a quiescent guard.
func checkAccounting(t *testing.T, s safecheck.Stats) {
	t.Helper()
	sum := s.Checked + s.CacheHits + uint64(s.InFlight)
	for _, n := range s.Dropped {
		sum += n
	}
	for _, n := range s.Failed {
		sum += n
	}
	if sum != s.Sampled {
		t.Errorf("accounting: sampled %d != checked %d + cache hits %d + dropped %v + failed %v + in flight %d",
			s.Sampled, s.Checked, s.CacheHits, s.Dropped, s.Failed, s.InFlight)
	}
}

// eventually polls cond every millisecond until it holds or d passes, and
// returns how long it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

func rawClient(s *redistest.Server) *redis.Client { return s.Client() }
