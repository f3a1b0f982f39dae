package safecheckgin

import (
	"context"
	"github.com/safecheck/safecheck/internal/syncbuf"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// syncBuffer is a log sink read while background goroutines write to it.
type syncBuffer = syncbuf.Buffer

// recorder is a Checker that remembers what it was asked, flagging
// responses that contain "UNSAFE".
type recorder struct {
	mu   sync.Mutex
	reqs []safecheck.CheckRequest
}

func (r *recorder) Check(_ context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	if strings.Contains(req.Response, "UNSAFE") {
		return safecheck.Verdict{Flagged: true, Score: 0.9, RiskLevel: "reject", PassFail: "fail"}, nil
	}
	return safecheck.Verdict{Score: 0.01, RiskLevel: "low", PassFail: "pass"}, nil
}

func (r *recorder) requests() []safecheck.CheckRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]safecheck.CheckRequest(nil), r.reqs...)
}

// newGuard returns a Guard checked by c that the test closes when it ends
// (closeGuard closes it earlier, to wait for the checks).
func newGuard(t testing.TB, c safecheck.Checker, opts ...safecheck.Option) *safecheck.Guard {
	t.Helper()
	opts = append([]safecheck.Option{safecheck.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	g, err := safecheck.New(c, opts...)
	if err != nil {
		t.Fatalf("safecheck.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return g
}

// closeGuard closes g, waiting for every sample to be checked, and asserts
// safecheck's accounting invariant.
func closeGuard(t testing.TB, g *safecheck.Guard) safecheck.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s := g.Stats()
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
	return s
}

func mustMiddleware(t testing.TB, g *safecheck.Guard, opts ...Option) gin.HandlerFunc {
	t.Helper()
	mw, err := Middleware(g, opts...)
	if err != nil {
		t.Fatalf("Middleware: %v", err)
	}
	return mw
}

func mustRouteMiddleware(t testing.TB, g *safecheck.Guard, name string, opts ...safecheck.RouteOption) gin.HandlerFunc {
	t.Helper()
	mw, err := Route(g, name, opts...)
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	return mw
}

func routeStats(s safecheck.Stats, name string) (safecheck.RouteStats, bool) {
	for _, r := range s.Routes {
		if r.Name == name {
			return r, true
		}
	}
	return safecheck.RouteStats{}, false
}

// serve starts e on a loopback server that the test closes.
func serve(t testing.TB, e http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// exchange is what a client saw: status, headers without Date, body.
type exchange struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, client *http.Client, req *http.Request) exchange {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	return exchange{status: resp.StatusCode, header: h, body: string(body)}
}

func newRequest(t testing.TB, method, url, body string, header map[string]string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// askedFor supplies the prompt of test routes whose handlers never read a
// request body (GET routes, mostly): without a prompt a sample is not
// checked.
var askedFor = safecheck.WithPrompt(func(r *http.Request) string { return "asked for " + r.URL.Path })
