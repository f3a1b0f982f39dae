package safecheck

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/internal/benchrig"
)

type benchRig = benchrig.Rig

func newBenchRig(h http.Handler, size int) *benchRig {
	return benchrig.New(h, "http://example.test/v1/chat", benchrig.Text(size))
}

// benchHandler reads the request and answers with as many bytes.
func benchHandler(data *[]byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(*data)
	})
}

// benchGuard returns a guard whose checker answers at once, with a queue
// large enough and no CPU budget, so that sampled benchmarks measure
// sampling, not drops.
func benchGuard(tb testing.TB, c Checker, opts ...Option) *Guard {
	opts = append([]Option{WithLogger(discardLogger()), WithQueue(1<<16, 1<<30), WithCPUBudget(0)}, opts...)
	return newGuard(tb, c, opts...)
}

var instant = CheckerFunc(func(context.Context, CheckRequest) (Verdict, error) {
	return Verdict{RiskLevel: "low", PassFail: "pass"}, nil
})

func middlewareCases(tb testing.TB) []struct {
	name string
	rig  *benchRig
} {
	var data []byte
	bare := newBenchRig(benchHandler(&data), 1024)
	data = bare.Data

	g := benchGuard(tb, instant)
	unsampled := mustRoute(tb, g, "unsampled", WithSampleRate(0), WithTestTypes("toxicity"))
	fleet := mustRoute(tb, benchGuard(tb, instant, WithCoordinator(benchCoordinator(tb))), "unsampled", WithSampleRate(0), WithTestTypes("toxicity"))
	sampled := mustRoute(tb, g, "sampled", WithSampleRate(1), WithTestTypes("toxicity"))

	gt := newGate()
	full := benchGuard(tb, gt, WithQueue(1, 1<<20), WithWorkers(1))
	tb.Cleanup(func() { close(gt.release) }) // runs before the guard's Close
	dropRoute := mustRoute(tb, full, "drop", WithSampleRate(1), WithTestTypes("toxicity"))
	newBenchRig(dropRoute.Wrap(benchHandler(&data)), 1024).Serve() // fills the queue

	// A guard whose finished captures are released at once, as if checked
	// by an infinitely fast worker: the request path alone.
	pathOnly := benchGuard(tb, instant)
	pathOnly.deliver = func(c *Capture) {
		pathOnly.release(c)
	}
	pathRoute := mustRoute(tb, pathOnly, "path", WithSampleRate(1), WithTestTypes("toxicity"))

	// 10 000 escalated customers; the requests' customer is not among them.
	esc := benchGuard(tb, instant, WithDefaultEscalation(escalation.Config{}))
	escRoute := mustRoute(tb, esc, "unsampled_escalation", WithSampleRate(0), WithTestTypes("toxicity"),
		WithCustomerID(func(r *http.Request) string { return headerValue(r.Header, "X-Customer-Id") }))
	fillEscalations(esc, escRoute, 10_000)
	escRig := newBenchRig(escRoute.Wrap(benchHandler(&data)), 1024)
	escRig.R.Header.Set("X-Customer-Id", "cust_not_escalated")

	var data16 []byte
	s16 := newBenchRig(sampled.Wrap(benchHandler(&data16)), 16<<10)
	data16 = s16.Data

	return []struct {
		name string
		rig  *benchRig
	}{
		{"bare", bare},
		{"unsampled", newBenchRig(unsampled.Wrap(benchHandler(&data)), 1024)},
		{"unsampled_escalation", escRig},
		{"unsampled_coordinator", newBenchRig(fleet.Wrap(benchHandler(&data)), 1024)},
		{"sampled_1KiB", newBenchRig(sampled.Wrap(benchHandler(&data)), 1024)},
		{"sampled_16KiB", s16},
		{"sampled_1KiB_request_path", newBenchRig(pathRoute.Wrap(benchHandler(&data)), 1024)},
		{"sampled_16KiB_request_path", newBenchRig(pathRoute.Wrap(benchHandler(&data16)), 16<<10)},
		{"sampled_1KiB_request_path_server_writer", newBenchRig(withServerWriter(pathRoute.Wrap(benchHandler(&data))), 1024)},
		{"admission_drop", newBenchRig(dropRoute.Wrap(benchHandler(&data)), 1024)},
	}
}

// BenchmarkMiddleware compares the middleware's cost with the bare handler
// in one run. Allocations and cpu-ns/op (the process's CPU time) include
// the background workers' work.
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range middlewareCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.rig.Data)))
			defer reportCPU(b)()
			for b.Loop() {
				bc.rig.Serve()
			}
		})
	}
}

// reportCPU starts measuring the process's CPU time; the function it
// returns, called when b's loop has ended, reports it per operation as
// cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start, ok := cpuTime()
	return func() {
		if end, ok2 := cpuTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64((end-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// TestRequestPathAllocations pins the allocation counts the benchmarks show:
// a request that is not sampled, or sampled but dropped at admission, costs
// nothing on the heap.
func TestRequestPathAllocations(t *testing.T) {
	cases := middlewareCases(t)
	for _, bc := range cases {
		switch bc.name {
		case "bare", "unsampled", "unsampled_escalation", "unsampled_coordinator", "admission_drop":
		default:
			continue
		}
		bc.rig.Serve() // warm up
		if n := testing.AllocsPerRun(200, bc.rig.Serve); n != 0 {
			t.Errorf("%s: %v allocs per request, want 0", bc.name, n)
		}
	}
}

// fillEscalations escalates n customers on rt as flagged verdicts would.
func fillEscalations(g *Guard, rt *Route, n int) {
	for i := range n {
		g.escalate(rt, &Outcome{Route: rt.name, CustomerID: fmt.Sprintf("cust_%05d", i), TestType: "toxicity",
			Verdict: Verdict{Flagged: true, Score: 0.9, RiskLevel: "high"}})
	}
	e := &g.rx.esc
	e.mu.Lock()
	if e.pubTimer != nil {
		e.pubTimer.Stop()
		e.pubTimer = nil
	}
	e.publishNow()
	e.mu.Unlock()
	runtime.GC() // the setup's garbage is not the benchmark's
}
