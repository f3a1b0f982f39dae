package safecheck

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"
)

var testSecret = []byte("fleet-test-secret-0123456789")

// localFleet returns n Guards that share one coord.Local, each logging to
// its own buffer, each with the route "chat" at rate 0.
func localFleet(t *testing.T, n int, c Checker, opts ...Option) (*coord.Local, []*Guard, []*syncBuffer) {
	t.Helper()
	l, err := coord.NewLocal(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	var gs []*Guard
	var bufs []*syncBuffer
	for range n {
		buf := &syncBuffer{}
		g := newGuard(t, c, append([]Option{WithLogger(jsonLogger(buf)), WithCoordinator(l.Replica())}, opts...)...)
		mustRoute(t, g, "chat", WithSampleRate(0), WithTestTypes("toxicity"))
		gs = append(gs, g)
		bufs = append(bufs, buf)
	}
	return l, gs, bufs
}

func auditCount(buf *syncBuffer, msg string) int {
	return strings.Count(buf.String(), `"msg":"`+msg+`"`)
}

// TestFleetIncidentReachesEveryReplica: an incident started on one
// replica, its early end and its expiry are in force on all three, and
// each change is one audit record, on the replica that made it.
func TestFleetIncidentReachesEveryReplica(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, gs, bufs := localFleet(t, 3, &recorder{})
		ctx := context.Background()
		check := func(when string, want bool) {
			t.Helper()
			synctest.Wait()
			for i, g := range gs {
				s := g.Stats()
				if got := s.Incident != nil && s.Routes[0].EffectiveRate == 1; got != want {
					t.Errorf("%s: replica %d incident %+v effective rate %v, want incident %v", when, i, s.Incident, s.Routes[0].EffectiveRate, want)
				}
				if s.Fleet.Mode != coord.Shared {
					t.Errorf("%s: replica %d fleet mode %v", when, i, s.Fleet.Mode)
				}
			}
		}
		if err := gs[0].StartIncident(ctx, "bad deploy", time.Hour); err != nil {
			t.Fatal(err)
		}
		check("started", true)
		if err := gs[0].EndIncident(ctx); err != nil {
			t.Fatal(err)
		}
		check("ended", false)
		if err := gs[1].StartIncident(ctx, "second", time.Minute, "chat"); err != nil {
			t.Fatal(err)
		}
		check("second started", true)
		if s := gs[2].Stats(); s.Incident == nil || s.Incident.Reason != "second" || len(s.Incident.Routes) != 1 {
			t.Errorf("replica 2 incident %+v", s.Incident)
		}
		time.Sleep(time.Minute + time.Second)
		check("expired", false)
		want := [3]map[string]int{
			{"incident started": 1, "incident ended": 1, "incident expired": 0},
			{"incident started": 1, "incident ended": 0, "incident expired": 1},
			{"incident started": 0, "incident ended": 0, "incident expired": 0},
		}
		for i, buf := range bufs {
			for msg, n := range want[i] {
				if got := auditCount(buf, msg); got != n {
					t.Errorf("replica %d: %q logged %d times, want %d", i, msg, got, n)
				}
			}
		}
	})
}

// TestFleetRateAndLateJoiner: a rate change reaches every replica, and a
// replica that joins later starts from the deployment's state.
func TestFleetRateAndLateJoiner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, gs, bufs := localFleet(t, 2, &recorder{})
		ctx := context.Background()
		if err := gs[1].SetSampleRate(ctx, "chat", 0.5); err != nil {
			t.Fatal(err)
		}
		if err := gs[0].StartIncident(ctx, "drill", time.Hour); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r := gs[0].Stats().Routes[0].SampleRate; r != 0.5 {
			t.Errorf("replica 0 rate %v, want 0.5", r)
		}
		late := newGuard(t, &recorder{}, WithLogger(discardLogger()), WithCoordinator(l.Replica()))
		mustRoute(t, late, "chat", WithSampleRate(0), WithTestTypes("toxicity"))
		// The route, registered after Start, takes the fleet's rate.
		synctest.Wait()
		if s := late.Stats(); s.Incident == nil || s.Incident.Reason != "drill" || s.Routes[0].SampleRate != 0.5 {
			t.Errorf("late joiner: incident %+v, rate %v, want the drill and 0.5", s.Incident, s.Routes[0].SampleRate)
		}
		if n := auditCount(bufs[0], "sample rate changed") + auditCount(bufs[1], "sample rate changed"); n != 1 {
			t.Errorf("rate change audit records %d, want 1", n)
		}
	})
}

// TestFleetBudgetIsSharedAndPausesSpread: with a plan of 60 calls a
// minute, three replicas offered 10 distinct samples each at once make 10
// calls together in the first 10 s (one at once, then one a second), not
// 30; a 429's Retry-After on one replica pauses the others.
func TestFleetBudgetIsSharedAndPausesSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		var fail429 atomic.Bool
		c := CheckerFunc(func(context.Context, CheckRequest) (Verdict, error) {
			calls.Add(1)
			if fail429.Swap(false) {
				return Verdict{}, &CheckError{Class: failure.RateLimited, Status: 429, RetryAfter: 30 * time.Second}
			}
			return Verdict{RiskLevel: "low", PassFail: "pass"}, nil
		})
		_, gs, _ := localFleet(t, 3, c, WithRateLimit(60), WithMaxRetryAfter(time.Minute), WithRetries(0, time.Second, time.Second, 0))
		for _, g := range gs {
			if err := g.SetSampleRate(context.Background(), "chat", 1); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		for i := range 10 {
			for j, g := range gs {
				serve(g.route("chat").Wrap(answer("ok")), fmt.Sprintf("q%d-%d", i, j))
			}
		}
		time.Sleep(10*time.Second - time.Since(start) - time.Millisecond)
		synctest.Wait()
		if n := calls.Load(); n != 10 {
			t.Errorf("calls in 10 s on a plan of 60/min over three replicas: %d, want 10", n)
		}
		for _, g := range gs {
			if err := g.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		var total uint64
		for i, g := range gs {
			s := g.Stats()
			checkAccounting(t, s)
			total += s.APICalls
			if s.APICalls == 0 {
				t.Errorf("replica %d made no call: the budget is not spread", i)
			}
		}
		if total != 30 || calls.Load() != 30 {
			t.Errorf("calls %d (stats %d), want 30: every sample waits for the fleet budget", calls.Load(), total)
		}

		// A 429 with Retry-After 30 s on replica 0 pauses replicas 1 and 2.
		fail429.Store(true)
		serve(gs[0].route("chat").Wrap(answer("ok")), "will be limited")
		if err := gs[0].Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		before := calls.Load()
		for _, g := range gs[1:] {
			if n := g.Stats().Dropped[drop.RateLimited]; n != 0 {
				t.Errorf("%d dropped as rate limited before the pause", n)
			}
			if !g.Stats().Paused {
				t.Error("a replica is not paused by another's 429")
			}
			serve(g.route("chat").Wrap(answer("ok")), "during the pause")
		}
		if n := calls.Load(); n != before {
			t.Errorf("%d calls during another replica's pause", n-before)
		}
		for i, g := range gs[1:] {
			if n := g.Stats().Dropped[drop.RateLimited]; n != 1 {
				t.Errorf("replica %d: %d dropped as rate limited during the pause, want 1", i+1, n)
			}
		}
		time.Sleep(31 * time.Second)
		serve(gs[2].route("chat").Wrap(answer("ok")), "after the pause")
		if err := gs[2].Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := calls.Load(); n != before+1 {
			t.Errorf("after the pause: %d calls, want 1", n-before)
		}
	})
}

// TestFleetVerdictCacheIsShared: a verdict the checker gave replica A is
// a cache hit on replica B, under a keyed hash that holds no text.
func TestFleetVerdictCacheIsShared(t *testing.T) {
	rec := &recorder{}
	l, gs, _ := localFleet(t, 2, rec)
	req := CheckRequest{TestType: "toxicity", Prompt: "a secret prompt", Response: "a secret answer"}
	if o := gs[0].Check(context.Background(), req); o.Err != nil || o.Cached {
		t.Fatalf("replica A: %+v", o)
	}
	o := gs[1].Check(context.Background(), req)
	if o.Err != nil || !o.Cached || len(rec.requests()) != 1 {
		t.Errorf("replica B: cached %v err %v, checker calls %d, want a cache hit and 1 call", o.Cached, o.Err, len(rec.requests()))
	}
	keys := l.CacheKeys()
	if len(keys) != 1 {
		t.Fatalf("shared keys %q", keys)
	}
	if want := coord.Key(testSecret, req.TestType, req.Prompt, req.Response); keys[0] != want || strings.Contains(keys[0], "secret") {
		t.Errorf("shared key %q, want the HMAC %q", keys[0], want)
	}
}

func TestWithCoordinatorNilIsAnError(t *testing.T) {
	_, err := New(&recorder{}, WithCoordinator(nil))
	if err == nil || !strings.Contains(err.Error(), "coordinator is nil") {
		t.Errorf("New(WithCoordinator(nil)) = %v", err)
	}
	l, _ := coord.NewLocal(testSecret)
	r := l.Replica()
	g := newGuard(t, &recorder{}, WithCoordinator(r))
	_, err = New(&recorder{}, WithCoordinator(r))
	if err == nil || !strings.Contains(err.Error(), "each Guard needs its own") {
		t.Errorf("a second Guard on one replica: %v", err)
	}
	closeGuard(t, g)
	if m := g.Stats().Fleet.Mode; m != coord.Off {
		t.Errorf("mode after Close %v, want off", m)
	}
}

// benchCoordinator is a replica of a coord.Local, for the benchmarks.
func benchCoordinator(tb testing.TB) coord.Coordinator {
	l, err := coord.NewLocal(testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return l.Replica()
}

// TestClosingAReplicaLeavesTheFleetsIncident: a replica that closes ends
// the incident only for itself, without an audit record for another
// replica's incident; the others keep it.
func TestClosingAReplicaLeavesTheFleetsIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, gs, bufs := localFleet(t, 2, &recorder{})
		if err := gs[0].StartIncident(context.Background(), "drill", time.Hour); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		closeGuard(t, gs[1])
		synctest.Wait()
		if gs[0].Stats().Incident == nil {
			t.Error("closing replica 2 ended replica 1's incident")
		}
		if n := auditCount(bufs[1], "incident ended"); n != 0 {
			t.Errorf("replica 2 wrote %d audit records for another's incident", n)
		}
	})
}

// counting is a Coordinator that counts the calls made to it.
type counting struct {
	coord.Coordinator
	calls atomic.Int64
}

func (c *counting) Publish(ch coord.Change) { c.calls.Add(1); c.Coordinator.Publish(ch) }
func (c *counting) Reserve(ctx context.Context) (coord.Permit, error) {
	c.calls.Add(1)
	return c.Coordinator.Reserve(ctx)
}
func (c *counting) Lookup(ctx context.Context, key string) (coord.Verdict, bool) {
	c.calls.Add(1)
	return c.Coordinator.Lookup(ctx, key)
}
func (c *counting) Store(ctx context.Context, key string, v coord.Verdict, ttl time.Duration) {
	c.calls.Add(1)
	c.Coordinator.Store(ctx, key, v, ttl)
}
func (c *counting) VerdictKey(tt, p, r string) string {
	c.calls.Add(1)
	return c.Coordinator.VerdictKey(tt, p, r)
}
func (c *counting) Status() coord.Status { c.calls.Add(1); return c.Coordinator.Status() }

// TestRequestPathNeverCallsTheCoordinator: unsampled requests, during an
// incident's remote application and after, make no call to the
// coordinator; remote pauses are capped by WithMaxRetryAfter and an
// incident that is over when it arrives is not applied.
func TestRequestPathNeverCallsTheCoordinator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := coord.NewLocal(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		c := &counting{Coordinator: l.Replica()}
		g := newGuard(t, &recorder{}, WithCoordinator(c), WithMaxRetryAfter(time.Minute))
		h := mustRoute(t, g, "chat", WithSampleRate(0), WithTestTypes("toxicity")).Wrap(answer("ok"))
		other := l.Replica()
		if err := other.Start(coord.Member{Apply: func(coord.Change) {}}); err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		before := c.calls.Load()
		for range 1000 {
			serve(h, "q")
		}
		now := time.Now()
		other.Publish(coord.Change{Kind: coord.KindPause, At: now, Until: now.Add(time.Hour)})
		other.Publish(coord.Change{Kind: coord.KindIncident, At: now, Incident: &coord.Incident{Reason: "over", Start: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)}})
		synctest.Wait()
		for range 1000 {
			serve(h, "q")
		}
		if n := c.calls.Load() - before; n != 0 {
			t.Errorf("2000 unsampled requests made %d calls to the coordinator", n)
		}
		s := g.Stats()
		if !s.Paused || s.Incident != nil {
			t.Errorf("paused %v incident %+v, want a pause and no incident", s.Paused, s.Incident)
		}
		time.Sleep(time.Minute + time.Second)
		if g.Stats().Paused {
			t.Error("a remote pause of an hour outlived WithMaxRetryAfter (1 min)")
		}
		checkAccounting(t, g.Stats())
	})
}
