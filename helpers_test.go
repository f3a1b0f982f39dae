package safecheck

import (
	"bytes"
	"context"
	"github.com/safecheck/safecheck/internal/syncbuf"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a log sink read while background goroutines write to it.
type syncBuffer = syncbuf.Buffer

func jsonLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// recorder is a Checker that remembers what it was asked and answers with
// verdict, flagging responses that contain "UNSAFE".
type recorder struct {
	mu   sync.Mutex
	reqs []CheckRequest
}

func (r *recorder) Check(_ context.Context, req CheckRequest) (Verdict, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	if bytes.Contains([]byte(req.Response), []byte("UNSAFE")) {
		return Verdict{Flagged: true, Score: 0.9, RiskLevel: "reject", PassFail: "fail"}, nil
	}
	return Verdict{Score: 0.01, RiskLevel: "low", PassFail: "pass"}, nil
}

func (r *recorder) requests() []CheckRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CheckRequest(nil), r.reqs...)
}

// newGuard builds a Guard that tests close when they end.
func newGuard(t testing.TB, c Checker, opts ...Option) *Guard {
	t.Helper()
	g, err := New(c, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return g
}

func mustRoute(t testing.TB, g *Guard, name string, opts ...RouteOption) *Route {
	t.Helper()
	rt, err := g.Route(name, opts...)
	if err != nil {
		t.Fatalf("Route(%q): %v", name, err)
	}
	return rt
}

// closeGuard closes g and fails the test on any unchecked sample.
func closeGuard(t testing.TB, g *Guard) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkAccounting asserts the accounting invariant on a quiescent guard.
func checkAccounting(t testing.TB, s Stats) {
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
