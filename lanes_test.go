package safecheck

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/extract"
)

// withLanes replaces the CPU lanes lanesFor gives.
func withLanes(n int) Option { return optionFunc(func(c *config) { c.lanes = n }) }

func TestLanesFor(t *testing.T) {
	tests := []struct {
		share float64
		procs int
		want  int
	}{
		{0.1, 2, 1}, {0.1, 10, 1}, {0.1, 11, 2}, {0.1, 32, 4},
		{0, 2, 1}, {0, 64, 7}, // budget off: the default share's
		{0.5, 3, 2}, {1, 8, 8}, {0.01, 1, 1},
	}
	for _, tt := range tests {
		if got := lanesFor(tt.share, tt.procs); got != tt.want {
			t.Errorf("lanesFor(%v, %d) = %d, want %d", tt.share, tt.procs, got, tt.want)
		}
	}
}

// concurrency counts how many callers are inside at once, and the most.
type concurrency struct {
	mu       sync.Mutex
	now, max int
}

func (c *concurrency) enter() {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
}

func (c *concurrency) leave() {
	c.mu.Lock()
	c.now--
	c.mu.Unlock()
}

func (c *concurrency) most() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

// TestCPULanesBoundTheCPUWork queues more samples than there are workers,
// with an extractor that takes a millisecond of (fake) time: no more
// workers than there are lanes are ever extracting at once, and every
// sample is checked.
func TestCPULanesBoundTheCPUWork(t *testing.T) {
	for _, lanes := range []int{1, 2} {
		t.Run(fmt.Sprint(lanes, " lanes"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var inside concurrency
				ex := extract.ExtractorFunc(func(in extract.Input) (extract.Pair, error) {
					inside.enter()
					defer inside.leave()
					time.Sleep(time.Millisecond)
					return extract.Pair{Prompt: string(in.RequestBody), Response: string(in.ResponseBody), Format: extract.FormatText}, nil
				})
				g := newGuard(t, instant, WithWorkers(4), withLanes(lanes), WithCPUBudget(0), WithExtractor(ex))
				h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
				const samples = 12
				for i := range samples {
					serve(h, fmt.Sprintf("question %d", i))
				}
				if err := g.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := inside.most(); got != lanes {
					t.Errorf("at most %d workers extracted at once, want %d (the lanes)", got, lanes)
				}
				s := g.Stats()
				if s.Checked != samples {
					t.Errorf("checked %d of %d samples", s.Checked, samples)
				}
				checkAccounting(t, s)
			})
		})
	}
}

// TestCPULaneIsGivenUpWhileTheCheckerWaits has four workers and one lane
// check four samples against a checker that takes a second: every call is
// in flight at once, whether the checker asks for its context's Done (as
// an HTTP client does) or blocks without it (the watchdog gives the lane
// up after laneHoldMax).
func TestCPULaneIsGivenUpWhileTheCheckerWaits(t *testing.T) {
	for _, asksDone := range []bool{true, false} {
		t.Run(fmt.Sprint("asks for Done: ", asksDone), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls concurrency
				slow := CheckerFunc(func(ctx context.Context, _ CheckRequest) (Verdict, error) {
					calls.enter()
					defer calls.leave()
					if asksDone {
						select {
						case <-time.After(time.Second):
						case <-ctx.Done():
							return Verdict{}, ctx.Err()
						}
					} else {
						time.Sleep(time.Second)
					}
					return Verdict{RiskLevel: "low"}, nil
				})
				g := newGuard(t, slow, WithWorkers(4), withLanes(1), WithCPUBudget(0))
				h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
				start := time.Now()
				for i := range 4 {
					serve(h, fmt.Sprintf("question %d", i))
				}
				if err := g.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := calls.most(); got != 4 {
					t.Errorf("at most %d calls in flight at once, want all 4", got)
				}
				// One second for the calls and the batch delay; without Done,
				// also the watchdog's laneHoldMax for each worker that waited
				// for the lane. With Done, the lane is given up at once.
				limit := time.Second + batchDelay
				if !asksDone {
					limit += 4 * laneHoldMax
				}
				if took := time.Since(start); took > limit {
					t.Errorf("four one-second checks took %v, want at most %v: the lane was not given up", took, limit)
				}
				s := g.Stats()
				if s.Checked != 4 {
					t.Errorf("checked %d of 4 samples", s.Checked)
				}
				checkAccounting(t, s)
			})
		})
	}
}

// TestRealClientGivesTheLaneUp runs one check of the real AssuranceHub
// client against the fake API on loopback, with a held lane on its
// context: the client asks for the context's Done before it waits for the
// answer, so the lane is given up by the time the check returns, without
// the watchdog (which only the workers arm).
func TestRealClientGivesTheLaneUp(t *testing.T) {
	srv, err := assurancehubtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseIdleConnections()
	l := newLane(make(chan struct{}, 1))
	if !l.take(nil) {
		t.Fatal("no lane")
	}
	ctx := &attemptCtx{}
	ctx.init(context.Background(), time.Now(), 10*time.Second)
	ctx.lane = l
	_, err = AssuranceHub(client).Check(ctx, CheckRequest{TestType: assurancehub.Toxicity, Prompt: "a question", Response: "an answer"})
	ctx.end()
	if err != nil {
		t.Fatal(err)
	}
	if l.holding() {
		t.Error("the lane is still held after the real client's call: it never asked for its context's Done")
	}
}

// TestLateDoneNeverLosesASample has a checker that answers at once and
// leaves a goroutine behind that asks for the context's Done a moment
// later, as a transport's goroutines may once the call has returned: the
// late Done must not give up the lane the worker holds for a later sample,
// and no sample the worker has taken may be left unchecked, so Flush
// returns and every sample is counted. Before the fix, a lane given up
// between a worker taking its next sample and starting it lost that
// sample, and Flush waited for ever.
func TestLateDoneNeverLosesASample(t *testing.T) {
	for _, lanes := range []int{1, 2} {
		t.Run(fmt.Sprint(lanes, " lanes"), func(t *testing.T) {
			var late sync.WaitGroup
			defer late.Wait()
			var n atomic.Int64
			lingering := CheckerFunc(func(ctx context.Context, _ CheckRequest) (Verdict, error) {
				spins := int(n.Add(1) % 64)
				late.Go(func() {
					for range spins {
						runtime.Gosched()
					}
					<-ctx.Done() // the attempt has ended: closed already
				})
				return Verdict{RiskLevel: "low"}, nil
			})
			g := newGuard(t, lingering, WithWorkers(4), withLanes(lanes), WithCPUBudget(0), WithQueue(1<<14, 1<<30))
			h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
			const samples = 4000
			for i := range samples {
				serve(h, fmt.Sprintf("question %d", i))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v, with %d samples pending: a sample was lost", err, g.pending.Load())
			}
			s := g.Stats()
			if s.Checked != samples {
				t.Errorf("checked %d of %d samples", s.Checked, samples)
			}
			checkAccounting(t, s)
		})
	}
}

// goroutineID returns the id of the calling goroutine, from its stack
// header: a test's way to tell the workers apart.
func goroutineID() string {
	var buf [64]byte
	s := string(buf[:runtime.Stack(buf[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	return s
}

// TestABatchWakesOneWorkerPerLane queues one batch of eight samples for
// four workers and one lane: the lane holder checks the whole batch, and
// the other workers, waiting for a lane rather than for samples, are not
// woken only to wait again. Before, each parked worker was handed a sample
// and then queued for the lane: four goroutines woke for one lane's work.
func TestABatchWakesOneWorkerPerLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		workers := map[string]int{}
		ex := extract.ExtractorFunc(func(in extract.Input) (extract.Pair, error) {
			mu.Lock()
			workers[goroutineID()]++
			mu.Unlock()
			return extract.Pair{Prompt: string(in.RequestBody), Response: string(in.ResponseBody), Format: extract.FormatText}, nil
		})
		g := newGuard(t, instant, WithWorkers(4), withLanes(1), WithCPUBudget(0), WithExtractor(ex))
		h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("fine"))
		synctest.Wait() // every worker is waiting: one for samples, the others for the lane
		for i := range 8 {
			serve(h, fmt.Sprintf("question %d", i))
		}
		if err := g.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(workers) != 1 {
			t.Errorf("the batch was checked by %d workers %v, want 1: only the lane holder waits for samples", len(workers), workers)
		}
		s := g.Stats()
		if s.Checked != 8 {
			t.Errorf("checked %d of 8 samples", s.Checked)
		}
		checkAccounting(t, s)
	})
}
