package admin

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/internal/syncbuf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a log sink read while the Guard's goroutines write to it.
type syncBuffer = syncbuf.Buffer

func jsonLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// pass is a checker that passes everything; the handler never needs a
// verdict.
var pass = safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
	return safecheck.Verdict{Score: 0.01, RiskLevel: "low", PassFail: "pass"}, nil
})

// newGuard builds a Guard that logs nowhere unless opts say otherwise, and
// that is closed when the test ends.
func newGuard(t testing.TB, opts ...safecheck.Option) *safecheck.Guard {
	t.Helper()
	g, err := safecheck.New(pass, append([]safecheck.Option{safecheck.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
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

func mustRoute(t testing.TB, g *safecheck.Guard, name string, opts ...safecheck.RouteOption) {
	t.Helper()
	if _, err := g.Route(name, opts...); err != nil {
		t.Fatalf("Route(%q): %v", name, err)
	}
}

// closeGuard closes g and fails the test when that fails.
func closeGuard(t testing.TB, g *safecheck.Guard) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
