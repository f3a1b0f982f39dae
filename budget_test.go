package safecheck

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/extract"
)

// slowExtractor takes cost of (fake) time per sample, which the worker
// charges to the CPU budget as the time the sample cost.
func slowExtractor(cost time.Duration) extract.Extractor {
	return extract.ExtractorFunc(func(in extract.Input) (extract.Pair, error) {
		time.Sleep(cost)
		return extract.Pair{Prompt: string(in.RequestBody), Response: string(in.ResponseBody), Format: extract.FormatText}, nil
	})
}

// TestCPUBudgetShedsWhenSpentAndResumesWhenRefilled spends the budget one
// sample at a time under fake time: samples are checked while it holds,
// every sample after it is spent is dropped as overload (counted exactly),
// shedding stops at the moment the debt is repaid, and the route's
// effective rate shows the share shed.
func TestCPUBudgetShedsWhenSpentAndResumesWhenRefilled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const cost = time.Millisecond
		ctx := context.Background()
		// No GC share: the real collector's time would blur the exact counts.
		g := newGuard(t, instant, WithCPUBudget(0.1), withGCMeter(nil), WithWorkers(1), WithExtractor(slowExtractor(cost)))
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
		n := 0
		send := func() {
			t.Helper()
			n++
			if w := serve(h, fmt.Sprintf("question %d", n)); w.Body.String() != "fine" {
				t.Fatalf("request %d: body %q", n, w.Body)
			}
			if err := g.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(monitorInterval) // the monitor's first tick starts the effective rate's window
		synctest.Wait()
		// The burst must outlast a few samples for the test to mean much.
		if b := &g.budget; b.burst < 4*float64(cost) {
			t.Fatalf("burst %v of CPU time: too small for this test", time.Duration(b.burst))
		}

		// The bucket as the budget keeps it: full after the idle second,
		// then each sample charged cost, batchDelay+cost after the last.
		b := &g.budget
		// The workers get a third of the share: the rest is what their
		// work costs the rest of the process.
		if want := 0.1 * float64(runtime.GOMAXPROCS(0)) / 3; math.Abs(b.rate-want) > 1e-12 {
			t.Fatalf("the workers are granted %v CPUs, want %v: a third of the share", b.rate, want)
		}
		if s := g.Stats(); s.CPUBudget != 0.1 || s.Overloaded {
			t.Fatalf("CPUBudget %v, overloaded %v; want 0.1 and not overloaded", s.CPUBudget, s.Overloaded)
		}
		tokens, want := b.burst-float64(cost), 1
		for tokens >= 0 {
			tokens = min(b.burst, tokens+float64(batchDelay+cost)*b.rate) - float64(cost)
			want++
		}
		for range want {
			if g.Stats().Overloaded {
				t.Fatalf("shedding after %d samples, want it after %d", n, want)
			}
			send()
		}
		s := g.Stats()
		if !s.Overloaded || s.Checked != uint64(want) || s.Dropped[drop.Overload] != 0 {
			t.Fatalf("after %d samples: overloaded %v, checked %d, dropped %v; want overloaded with all checked",
				want, s.Overloaded, s.Checked, s.Dropped)
		}

		const shed = 5
		for range shed {
			send()
		}
		// Just before the debt is repaid it still sheds; from then on it
		// does not.
		time.Sleep(time.Until(time.Unix(0, b.overUntil.Load())) - time.Microsecond)
		send()
		if s := g.Stats(); s.Dropped[drop.Overload] != shed+1 || !s.Overloaded {
			t.Fatalf("1 µs before the refill: dropped %v, overloaded %v; want %d overload drops", s.Dropped, s.Overloaded, shed+1)
		}
		time.Sleep(time.Microsecond)
		if g.Stats().Overloaded {
			t.Fatal("still overloaded once the debt is repaid")
		}
		send()
		s = g.Stats()
		if s.Checked != uint64(want+1) || s.Dropped[drop.Overload] != shed+1 || len(s.Dropped) != 1 {
			t.Fatalf("checked %d, dropped %v; want %d checked and %d overload drops", s.Checked, s.Dropped, want+1, shed+1)
		}
		checkAccounting(t, s)

		time.Sleep(monitorInterval) // the next tick closes the window
		synctest.Wait()
		s = g.Stats()
		wantRate := 1 - float64(shed+1)/float64(n)
		t.Logf("%d samples checked before the budget was spent; effective rate %v", want, wantRate)
		if r := s.Routes[0].EffectiveRate; math.Abs(r-wantRate) > 1e-12 || s.Routes[0].SampleRate != 1 {
			t.Errorf("effective rate %v, want %v (%d of %d samples shed)", r, wantRate, shed+1, n)
		}
		checkAccounting(t, s)
	})
}

// TestCPUBudgetSavesAtMostTheBurst leaves the budget idle for an hour: it
// holds cpuBudgetBurst of its rate, no more.
func TestCPUBudgetSavesAtMostTheBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b cpuBudget
		b.init(0.5, nil)
		time.Sleep(time.Hour)
		b.charge(time.Nanosecond)
		if want := b.rate*float64(cpuBudgetBurst) - 1; b.tokens != want {
			t.Errorf("tokens after an idle hour %v, want the burst %v less the charge", b.tokens, want)
		}
		b.charge(time.Duration(b.tokens) + time.Millisecond)
		if !b.overloaded() {
			t.Error("not overloaded with the burst spent")
		}
	})
}

// withGCMeter replaces the budget's reading of the GC's CPU time.
func withGCMeter(m gcMeter) Option { return optionFunc(func(c *config) { c.gcMeter = m }) }

// TestCPUBudgetChargesItsShareOfGC feeds the budget GC and user CPU times:
// each tick charges the GC time since the last one times the share of the
// user time the workers charged, at most all of it, and nothing when the
// workers charged nothing.
func TestCPUBudgetChargesItsShareOfGC(t *testing.T) {
	tests := []struct {
		name              string
		charged, user, gc time.Duration
		wantCharge        time.Duration
	}{
		{"a quarter of the Go code's time", 25 * time.Millisecond, 100 * time.Millisecond, 8 * time.Millisecond, 2 * time.Millisecond},
		{"all of it", 100 * time.Millisecond, 100 * time.Millisecond, 8 * time.Millisecond, 8 * time.Millisecond},
		{"more than the meter saw", 200 * time.Millisecond, 100 * time.Millisecond, 8 * time.Millisecond, 8 * time.Millisecond},
		{"no work", 0, 100 * time.Millisecond, 8 * time.Millisecond, 0},
		{"no GC", 25 * time.Millisecond, 100 * time.Millisecond, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reading := gcReading{gc: time.Second, user: 10 * time.Second} // what the process had used before
				var b cpuBudget
				b.init(0.5, func() gcReading { return reading })
				b.charge(tt.charged)
				before := b.tokens
				reading.gc += tt.gc
				reading.user += tt.user
				b.chargeGC()
				if got := time.Duration(before - b.tokens); got != tt.wantCharge {
					t.Errorf("GC share charged %v, want %v", got, tt.wantCharge)
				}
				// The next tick charges only what is new.
				before = b.tokens
				b.chargeGC()
				if b.tokens != before {
					t.Errorf("a second tick with nothing new charged %v", time.Duration(before-b.tokens))
				}
			})
		})
	}
}

// TestCPUBudgetOffNeverSheds runs costly samples with the budget off: none
// is shed.
func TestCPUBudgetOffNeverSheds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGuard(t, instant, WithCPUBudget(0), WithWorkers(1), WithExtractor(slowExtractor(time.Second)))
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
		for i := range 5 {
			serve(h, fmt.Sprintf("question %d", i))
			if err := g.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		s := g.Stats()
		if s.CPUBudget != 0 || s.Overloaded || s.Checked != 5 || len(s.Dropped) != 0 || s.Routes[0].EffectiveRate != 1 {
			t.Errorf("budget %v, overloaded %v, checked %d, dropped %v, effective rate %v; want no budget and 5 checked",
				s.CPUBudget, s.Overloaded, s.Checked, s.Dropped, s.Routes[0].EffectiveRate)
		}
		checkAccounting(t, s)
	})
}

// TestCPUBudgetDefaultAndInvalidShares checks the default share and that
// New refuses shares outside [0, 1] with an error naming the budget.
func TestCPUBudgetDefaultAndInvalidShares(t *testing.T) {
	if s := newGuard(t, instant).Stats(); s.CPUBudget != defaultCPUShare {
		t.Errorf("default CPUBudget %v, want %v", s.CPUBudget, defaultCPUShare)
	}
	for _, share := range []float64{-0.1, 1.5, math.NaN(), math.Inf(1)} {
		g, err := New(instant, WithCPUBudget(share))
		if err == nil {
			g.Close(context.Background())
			t.Errorf("WithCPUBudget(%v) accepted", share)
			continue
		}
		if !strings.Contains(err.Error(), "CPU budget") {
			t.Errorf("WithCPUBudget(%v): error %q does not name the budget", share, err)
		}
	}
	for _, share := range []float64{0, 1} {
		g, err := New(instant, WithCPUBudget(share))
		if err != nil {
			t.Errorf("WithCPUBudget(%v): %v", share, err)
			continue
		}
		g.Close(context.Background())
	}
}

// TestOverloadDropAllocations pins the cost of a sample shed for the
// budget on the request path: nothing on the heap.
func TestOverloadDropAllocations(t *testing.T) {
	g := newGuard(t, instant)
	var data []byte
	rig := newBenchRig(mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(benchHandler(&data)), 1024)
	data = rig.Data
	g.budget.overUntil.Store(time.Now().Add(time.Hour).UnixNano()) // spent for the next hour
	rig.Serve()
	if n := testing.AllocsPerRun(200, rig.Serve); n != 0 {
		t.Errorf("%v allocs per shed request, want 0", n)
	}
	if s := g.Stats(); s.Dropped[drop.Overload] != 1+201 || !s.Overloaded {
		t.Errorf("dropped %v, overloaded %v; want every request shed", s.Dropped, s.Overloaded)
	}
}
