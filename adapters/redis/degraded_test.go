package safecheckredis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/adapters/redis/redistest"
	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/escalation"
)

const (
	fallbackMsg = "fleet: Redis does not answer; serving from local state (the last known incident until it expires, a local share of the plan)"
	recoveryMsg = "fleet: Redis answers again; shared state resynchronised"
)

// latencies serves n requests on r and returns how long each took on the
// request path.
func latencies(r *replica, n int, tag string) []time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = r.serve(fmt.Sprintf("%s %d", tag, i))
	}
	return ds
}

func mode(r *replica) coord.Mode { return r.g.Stats().Fleet.Mode }

// recovered reports whether every replica of rs shares state again and has
// said so: a replica changes its mode first and logs the change after.
func recovered(rs []*replica) bool {
	for _, r := range rs {
		if mode(r) != coord.Shared || r.count(recoveryMsg) == 0 {
			return false
		}
	}
	return true
}

// TestRedisKilledAndRestarted: Redis is killed mid-run (SIGKILL) and
// started again empty (no persistence: as if flushed). Requests see no
// added latency against a Guard without Redis in the same test; each
// replica logs the fallback once and the recovery once and reports the
// mode in Stats; an incident started during the outage reaches the other
// replica after the restart, and a change made after it travels back.
func TestRedisKilledAndRestarted(t *testing.T) {
	srv := redistest.ForTest(t)
	fake := newFake(t)
	rs := newFleet(t, fake, fleetOpts{n: 2, redis: srv, rate: 1})
	base := newFleet(t, fake, fleetOpts{n: 1, rate: 1})[0]

	baseline := latencies(base, 200, "baseline")
	latencies(rs[0], 50, "before")
	srv.Kill()
	var outage []time.Duration
	eventually(t, 3*time.Second, "degraded mode on both replicas", func() bool {
		outage = append(outage, rs[0].serve("during the outage"), rs[1].serve("during the outage"))
		return mode(rs[0]) == coord.Degraded && mode(rs[1]) == coord.Degraded
	})
	outage = append(outage, latencies(rs[0], 100, "outage")...)
	outage = append(outage, latencies(rs[1], 100, "outage")...)
	if err := rs[0].g.StartIncident(context.Background(), "during the outage", time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a resync period: replica 2 cannot know
	if inIncident(rs[1]) {
		t.Fatal("replica 2 learnt of the incident with Redis down")
	}
	if !inIncident(rs[0]) {
		t.Fatal("replica 1 lost its own incident in degraded mode")
	}
	t.Logf("request path p50/p99/max: without Redis %s/%s/%s, Redis killed %s/%s/%s",
		quantile(baseline, .5), quantile(baseline, .99), quantile(baseline, 1),
		quantile(outage, .5), quantile(outage, .99), quantile(outage, 1))
	// Not a timing benchmark: a request that waited on Redis would wait
	// for a dial or a command timeout (200-250 ms).
	if worst := quantile(outage, 1); worst > quantile(baseline, 1)+100*time.Millisecond {
		t.Errorf("a request took %s with Redis down (worst without Redis: %s)", worst, quantile(baseline, 1))
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "recovery on both replicas", func() bool { return recovered(rs) })
	eventually(t, 2*time.Second, "the outage's incident on replica 2", func() bool { return inIncident(rs[1]) })
	if err := rs[1].g.EndIncident(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "replica 2's end on replica 1", func() bool { return !inIncident(rs[0]) })
	for i, r := range rs {
		if n, m := r.count(fallbackMsg), r.count(recoveryMsg); n != 1 || m != 1 {
			t.Errorf("replica %d: fallback logged %d times, recovery %d, want once each", i+1, n, m)
		}
		r.flush(t)
		checkAccounting(t, r.g.Stats())
	}
}

// TestSlowRedis: Redis stops answering for 2 s (CLIENT PAUSE ALL). The
// request path is unaffected, the replicas fall back and recover once.
func TestSlowRedis(t *testing.T) {
	srv := redistest.ForTest(t)
	fake := newFake(t)
	rs := newFleet(t, fake, fleetOpts{n: 2, redis: srv, rate: 1})
	base := newFleet(t, fake, fleetOpts{n: 1, rate: 1})[0]
	baseline := latencies(base, 200, "baseline")

	rdb := rawClient(srv)
	defer rdb.Close()
	if err := rdb.Do(context.Background(), "CLIENT", "PAUSE", "2000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	var slow []time.Duration
	for time.Since(paused) < 1500*time.Millisecond {
		slow = append(slow, rs[0].serve(fmt.Sprintf("slow %d", len(slow))), rs[1].serve(fmt.Sprintf("slow %d", len(slow))))
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("request path p50/p99/max: without Redis %s/%s/%s, Redis paused %s/%s/%s (%d requests)",
		quantile(baseline, .5), quantile(baseline, .99), quantile(baseline, 1),
		quantile(slow, .5), quantile(slow, .99), quantile(slow, 1), len(slow))
	if worst := quantile(slow, 1); worst > quantile(baseline, 1)+100*time.Millisecond {
		t.Errorf("a request took %s with Redis paused (worst without Redis: %s)", worst, quantile(baseline, 1))
	}
	for i, r := range rs {
		if m := mode(r); m != coord.Degraded {
			t.Errorf("replica %d: mode %v while Redis is paused, want degraded", i+1, m)
		}
	}
	eventually(t, 5*time.Second, "recovery after the pause", func() bool { return recovered(rs) })
	for i, r := range rs {
		if n, m := r.count(fallbackMsg), r.count(recoveryMsg); n != 1 || m != 1 {
			t.Errorf("replica %d: fallback logged %d times, recovery %d, want once each", i+1, n, m)
		}
		r.flush(t)
		checkAccounting(t, r.g.Stats())
	}
}

// TestFlushedStateIsRewritten: FLUSHALL while the replicas run loses
// nothing: they keep the incident and write it back at the next resync.
func TestFlushedStateIsRewritten(t *testing.T) {
	srv := redistest.ForTest(t)
	rs := newFleet(t, newFake(t), fleetOpts{n: 2, redis: srv})
	if err := rs[0].g.StartIncident(context.Background(), "before the flush", time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "the incident on replica 2", func() bool { return inIncident(rs[1]) })
	rdb := rawClient(srv)
	defer rdb.Close()
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	state, _, _, _ := rs[0].c.Keys()
	eventually(t, 2*time.Second, "the incident written back", func() bool {
		return rdb.HExists(context.Background(), state, "incident").Val()
	})
	for i, r := range rs {
		if !inIncident(r) {
			t.Errorf("replica %d lost the incident to the flush", i+1)
		}
	}
}

// TestEscalationsInDegradedMode: with Redis killed, each replica keeps the
// escalations it has; one started during the outage stays on its replica
// until Redis is back empty, then reaches the other, and both are written
// back with their TTL.
func TestEscalationsInDegradedMode(t *testing.T) {
	srv := redistest.ForTest(t)
	rs := newFleet(t, newFake(t), fleetOpts{n: 2, redis: srv, rate: 1, route: []safecheck.RouteOption{
		safecheck.WithCustomerID(customerHeader), safecheck.WithEscalation(escalation.Config{Duration: time.Hour})}})
	escalated := func(r *replica) int { return r.g.Stats().Escalated }
	rs[0].serveAs("alice", "I will kill you")
	rs[0].flush(t)
	eventually(t, time.Second, "alice on replica 2", func() bool { return escalated(rs[1]) == 1 })
	srv.Kill()
	eventually(t, 3*time.Second, "degraded mode on both replicas", func() bool {
		rs[0].serve("during the outage")
		rs[1].serve("during the outage")
		return mode(rs[0]) == coord.Degraded && mode(rs[1]) == coord.Degraded
	})
	rs[0].serveAs("bob", "I will kill you too")
	rs[0].flush(t)
	time.Sleep(300 * time.Millisecond) // a resync period: replica 2 cannot know
	if a, b := escalated(rs[0]), escalated(rs[1]); a != 2 || b != 1 {
		t.Fatalf("during the outage: replica 1 has %d escalations, replica 2 %d; want 2 and 1 (alice kept)", a, b)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob on replica 2 after the restart", func() bool { return escalated(rs[1]) == 2 })
	rdb := rawClient(srv)
	defer rdb.Close()
	_, prefix := rs[0].c.EscalationKeys()
	for _, id := range []string{"alice", "bob"} {
		if ttl := rdb.PTTL(context.Background(), prefix+id).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("%s written back with TTL %s, want the rest of the hour", id, ttl)
		}
	}
	for i, r := range rs {
		if n := r.count("escalation started"); n != 2*(1-i) {
			t.Errorf("replica %d: %d start records, want %d", i+1, n, 2*(1-i))
		}
		r.flush(t)
		checkAccounting(t, r.g.Stats())
	}
}
