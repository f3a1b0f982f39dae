package safecheck

import (
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// defaultCPUShare is the share of GOMAXPROCS the checking pipeline may use
// by default.
const defaultCPUShare = 0.10

// hostCostFactor is what a CPU-second of the workers' own work is taken to
// cost the host in all: the work itself, and what it makes the rest of the
// process spend or wait (the GC cycles its allocations and cached verdicts
// bring, the request path's copies, the wakeups, the requests' goroutines
// waiting longer for a CPU and finding colder caches). The budget grants
// the workers share ÷ hostCostFactor of GOMAXPROCS, so that the host loses
// no more than share of its throughput. On two CPUs shared with a load
// generator, BenchmarkLoopback measured the host losing 1.6 to 2.4 times
// the workers' own share, more the larger the share.
const hostCostFactor = 3

// cpuBudgetBurst is how much unused budget is saved up, in wall time: a
// pipeline that was idle may spend that much of its rate at once, so a
// short burst of samples is not shed while the average holds.
const cpuBudgetBurst = time.Second

// effectiveWindow is the period, in monitor ticks, over which
// RouteStats.EffectiveRate counts the samples shed for the budget.
const effectiveWindow = 10

// WithCPUBudget bounds what the background checking pipeline costs the
// process to share of its CPUs (GOMAXPROCS, read when New runs); the
// default is 0.10. That cost is the workers' own time and what their work
// makes the rest of the process spend, taken to be twice as much again, so
// the workers get a third of share. They charge the time they spend on
// each sample: extraction, scrubbing, the verdict cache, the policies and
// the verdict records, but not the time spent waiting for the checker's
// answer, a Retry-After pause, a permit of the plan rate limit or an
// identical check in flight, nor in WithOnVerdict hooks. The time is
// measured on the wall clock, so on a host whose CPUs are contended a
// sample costs more than its CPU time and the pipeline sheds earlier: the
// bound errs on the host's side. The budget refills at share ÷ 3 ×
// GOMAXPROCS CPU-seconds of the workers' time per second and saves up at
// most one second of that. Once it is spent, new samples are dropped at
// admission as drop.Overload, before anything is copied, until it has
// refilled; Stats reports the state and each route's effective sample
// rate. The share also bounds the pipeline's CPU work at any instant: at
// most ⌈share × GOMAXPROCS⌉ workers (at least one) do it at once, while
// the others wait for the checker or for their turn. WithCPUBudget(0)
// turns the budget off (nothing is shed); the workers then keep to the
// default share's number. A share outside [0, 1] is an error.
func WithCPUBudget(share float64) Option {
	return optionFunc(func(c *config) { c.cpuShare = share })
}

// validCPUShare returns the error New reports for share, or nil.
func validCPUShare(share float64) error {
	if !(share >= 0 && share <= 1) { // NaN fails both
		return fmt.Errorf("CPU budget must be a share within [0, 1] (0 turns it off), got %v", share)
	}
	return nil
}

// cpuBudget is a token bucket of CPU nanoseconds. Workers charge what
// each sample cost; admission reads one atomic value, overUntil, which is
// 0 while the bucket holds budget.
type cpuBudget struct {
	share     float64
	rate      float64 // CPU nanoseconds granted per wall nanosecond; 0 when off
	burst     float64 // the most CPU nanoseconds saved up
	overUntil atomic.Int64
	shed      atomic.Bool // overUntil was set at least once: Stats reads windows only then

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	charged time.Duration // charged by the workers since metered was read

	meter   gcMeter // nil: no GC share is charged
	metered gcReading

	winMu   sync.Mutex
	windows map[*Route]*shareWindow // kept by the monitor
}

// shareWindow holds a route's sampled and overload counts at the last
// effectiveWindow monitor ticks, and the share of samples admitted over
// them.
type shareWindow struct {
	sampled, shed [effectiveWindow]uint64
	n             int     // ticks recorded
	share         float64 // 1 - shed/sampled over the window
}

// gcMeter reads the CPU time the process has spent on garbage collection
// and running Go code so far.
type gcMeter func() gcReading

type gcReading struct{ gc, user time.Duration }

// runtimeGCMeter reads the runtime's estimates of both (runtime/metrics).
func runtimeGCMeter() gcReading {
	s := [2]metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/user:cpu-seconds"}}
	metrics.Read(s[:])
	var r gcReading
	if s[0].Value.Kind() == metrics.KindFloat64 && s[1].Value.Kind() == metrics.KindFloat64 {
		r.gc = time.Duration(s[0].Value.Float64() * float64(time.Second))
		r.user = time.Duration(s[1].Value.Float64() * float64(time.Second))
	}
	return r
}

func (b *cpuBudget) init(share float64, meter gcMeter) {
	b.share = share
	if share <= 0 {
		return
	}
	b.rate = share * float64(runtime.GOMAXPROCS(0)) / hostCostFactor
	b.burst = b.rate * float64(cpuBudgetBurst)
	b.tokens = b.burst
	b.last = time.Now()
	b.windows = map[*Route]*shareWindow{}
	if meter != nil {
		b.meter, b.metered = meter, meter()
	}
}

func (b *cpuBudget) on() bool { return b.rate > 0 }

// budgetEpoch anchors the readings of clock.
var budgetEpoch = time.Now()

// clock reads the meter a worker charges from: the monotonic wall clock.
func (b *cpuBudget) clock() time.Duration { return time.Since(budgetEpoch) }

// charge takes d of CPU time from the budget; when that spends it,
// admission sheds until the debt is repaid at the refill rate.
func (b *cpuBudget) charge(d time.Duration) {
	if d <= 0 || b.rate == 0 {
		return
	}
	b.mu.Lock()
	b.charged += d
	b.spend(d)
	b.mu.Unlock()
}

// spend refills the bucket for the time since it was last used and takes
// d from it; b.mu is held.
func (b *cpuBudget) spend(d time.Duration) {
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))*b.rate) - float64(d)
	b.last = now
	if b.tokens < 0 {
		b.overUntil.Store(now.Add(time.Duration(-b.tokens / b.rate)).UnixNano())
		b.shed.Store(true)
	}
}

// chargeGC charges the pipeline's share of the garbage collector's CPU
// time since the last call: the GC time times the share of the Go code's
// CPU time the workers charged meanwhile. The monitor calls it once a tick.
func (b *cpuBudget) chargeGC() {
	if b.meter == nil || b.rate == 0 {
		return
	}
	r := b.meter()
	b.mu.Lock()
	defer b.mu.Unlock()
	gc, user, charged := r.gc-b.metered.gc, r.user-b.metered.user, b.charged
	b.metered, b.charged = r, 0
	if gc <= 0 || user <= 0 || charged <= 0 {
		return
	}
	b.spend(time.Duration(float64(gc) * min(1, float64(charged)/float64(user))))
}

// overloaded reports whether admission sheds now. While the budget holds,
// it is one atomic load; it reads the clock only while spent.
func (b *cpuBudget) overloaded() bool {
	until := b.overUntil.Load()
	if until == 0 {
		return false
	}
	if time.Now().UnixNano() < until {
		return true
	}
	b.overUntil.CompareAndSwap(until, 0)
	return false
}

// observe records each route's counts for the effective rates; the
// monitor calls it once a tick.
func (b *cpuBudget) observe(routes []*Route) {
	if !b.on() {
		return
	}
	b.winMu.Lock()
	defer b.winMu.Unlock()
	for _, rt := range routes {
		w := b.windows[rt]
		if w == nil {
			w = &shareWindow{share: 1}
			b.windows[rt] = w
		}
		i := w.n % effectiveWindow
		w.sampled[i], w.shed[i] = rt.sampled(), rt.drops[dropOverload].Load()
		w.n++
		oldest := i + 1
		if w.n <= effectiveWindow {
			oldest = 0
		}
		oldest %= effectiveWindow
		sampled, shed := w.sampled[i]-w.sampled[oldest], w.shed[i]-w.shed[oldest]
		switch {
		case sampled > 0:
			w.share = 1 - float64(shed)/float64(sampled)
		case b.overloaded():
			w.share = 0
		default:
			w.share = 1
		}
	}
}

// admittedShare returns the share of rt's samples not shed for the budget
// over the last effectiveWindow ticks: 1 when none were.
func (b *cpuBudget) admittedShare(rt *Route) float64 {
	if !b.shed.Load() {
		return 1
	}
	b.winMu.Lock()
	defer b.winMu.Unlock()
	if w := b.windows[rt]; w != nil && !math.IsNaN(w.share) {
		return w.share
	}
	return 1
}

// observeBudget records the routes' counts for their effective rates.
func (g *Guard) observeBudget() {
	if !g.budget.on() {
		return
	}
	g.budget.chargeGC()
	g.routesMu.RLock()
	routes := make([]*Route, 0, len(g.routes))
	for _, rt := range g.routes {
		routes = append(routes, rt)
	}
	g.routesMu.RUnlock()
	g.budget.observe(routes)
}

// chargeSample charges the budget for the work done on c since process
// began, less the hooks and, on the wall clock, the waits it recorded.
func (g *Guard) chargeSample(c *Capture) {
	if !c.charging {
		return
	}
	c.charging = false
	g.budget.charge(g.budget.clock() - c.procStart - c.hooks - c.waited)
}

// stopwatch adds the time from start to now to *w, when w is not nil.
func stopwatch(w *time.Duration, start time.Time) {
	if w != nil {
		*w += time.Since(start)
	}
}
