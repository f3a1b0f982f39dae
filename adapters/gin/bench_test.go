package safecheckgin

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/extract"
	"github.com/safecheck/safecheck/internal/benchrig"
)

type benchRig = benchrig.Rig

var benchData = benchrig.Text(1024)

// newBenchRig returns an engine with mws mounted by Use and one route,
// POST /v1/chat/:id, whose handler reads the 1 KiB request and answers
// with as many bytes.
func newBenchRig(mws ...gin.HandlerFunc) *benchRig {
	e := gin.New()
	e.Use(mws...)
	e.POST("/v1/chat/:id", func(c *gin.Context) {
		io.Copy(io.Discard, c.Request.Body)
		c.Writer.Write(benchData)
	})
	return benchrig.New(e, "http://example.test/v1/chat/42", benchData)
}

var instant = safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
	return safecheck.Verdict{RiskLevel: "low", PassFail: "pass"}, nil
})

type benchCase struct {
	name string
	rig  *benchRig
}

func benchCases(tb testing.TB) []benchCase {
	gin.SetMode(gin.TestMode)
	g := newGuard(tb, instant, safecheck.WithLogger(slog.New(slog.DiscardHandler)), safecheck.WithQueue(1<<16, 1<<30))
	tt := safecheck.WithTestTypes("toxicity")
	unsampled := mustMiddleware(tb, g, WithRoute("POST", "/v1/chat/:id", safecheck.WithSampleRate(0), tt))
	notInTable := mustMiddleware(tb, g, WithRoute("POST", "/v1/other", safecheck.WithSampleRate(1), tt))
	sampled := mustMiddleware(tb, newGuard(tb, instant, safecheck.WithQueue(1<<16, 1<<30)),
		WithRoute("POST", "/v1/chat/:id", safecheck.WithSampleRate(1), tt),
		WithCustomerIDFromHeader("X-Customer"))
	// Samples whose extraction finds nothing are dropped by the workers at
	// once: what is left is the request path (and the hand-off).
	nothing := extract.ExtractorFunc(func(extract.Input) (extract.Pair, error) { return extract.Pair{}, nil })
	pathOnly := mustMiddleware(tb, newGuard(tb, instant, safecheck.WithQueue(1<<16, 1<<30)),
		WithRoute("POST", "/v1/chat/:id", safecheck.WithSampleRate(1), tt, safecheck.WithRouteExtractor(nothing)),
		WithCustomerIDFromHeader("X-Customer"))
	return []benchCase{
		{"bare", newBenchRig()},
		{"noop_middleware", newBenchRig(func(*gin.Context) {})},
		{"not_in_table", newBenchRig(notInTable)},
		{"unsampled", newBenchRig(unsampled)},
		{"sampled_1KiB", newBenchRig(sampled)},
		{"sampled_1KiB_request_path", newBenchRig(pathOnly)},
	}
}

// BenchmarkGin compares, in one run, the engine alone, the engine with an
// empty middleware, and the engine with safecheck on a route that is not in
// its table, not sampled, and always sampled. Allocations and time include
// the background workers' work, which shares the machine's cores;
// sampled_1KiB_request_path gives the workers next to nothing to do (the
// route's extractor finds no text), so it measures the request path and the
// hand-off.
func BenchmarkGin(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.rig.Data)))
			for b.Loop() {
				bc.rig.Serve()
			}
		})
	}
}

// TestRequestPathAllocations pins what BenchmarkGin shows: a request that is
// not sampled allocates no more than one through an empty middleware, that
// is nothing (except for what -race adds to gin itself).
func TestRequestPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("-race makes sync.Pool drop items at random, so gin's own allocations vary; .ci/run runs this test without -race")
	}
	allocs := map[string]float64{}
	for _, bc := range benchCases(t) {
		if strings.HasPrefix(bc.name, "sampled") {
			continue
		}
		bc.rig.Serve() // warm up gin's context pool
		allocs[bc.name] = testing.AllocsPerRun(200, bc.rig.Serve)
		if bc.rig.W.N == 0 {
			t.Fatalf("%s: the handler wrote nothing", bc.name)
		}
	}
	for _, name := range []string{"unsampled", "not_in_table"} {
		if allocs[name] > allocs["noop_middleware"] {
			t.Errorf("%s: %v allocs per request, more than noop_middleware's %v", name, allocs[name], allocs["noop_middleware"])
		}
	}
	if allocs["unsampled"] != 0 {
		t.Errorf("unsampled: %v allocs per request, want 0", allocs["unsampled"])
	}
}
