package safecheckredis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/adapters/redis/redistest"
	"github.com/safecheck/safecheck/admin"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/escalation"
)

const adminToken = "fleet-admin-token-0123456789abcdef"

func inIncident(r *replica) bool {
	s := r.g.Stats()
	return s.Incident != nil && s.Routes[0].EffectiveRate == 1
}

// TestIncidentReachesEveryReplica: an incident started through replica 1's
// admin handler is in force on all three within 1 s; its early end and its
// expiry reach all three; each change is one audit record, written by the
// replica that made it.
func TestIncidentReachesEveryReplica(t *testing.T) {
	srv := redistest.ForTest(t)
	rs := newFleet(t, newFake(t), fleetOpts{n: 3, redis: srv})
	h, err := admin.New(rs[0].g, admin.WithToken("alice", adminToken))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, body string) {
		t.Helper()
		req := httptest.NewRequest(method, "/incident", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%s /incident: %d %s", method, w.Code, w.Body)
		}
	}
	all := func(want bool) func() bool {
		return func() bool {
			for _, r := range rs {
				if inIncident(r) != want {
					return false
				}
			}
			return true
		}
	}
	call(http.MethodPost, `{"reason":"bad deploy","duration":"1h"}`)
	d := eventually(t, time.Second, "the incident on every replica", all(true))
	t.Logf("started on all three in %s", d)
	call(http.MethodDelete, "")
	eventually(t, time.Second, "the early end on every replica", all(false))
	call(http.MethodPost, `{"reason":"short","duration":"1s","routes":["chat"]}`)
	eventually(t, time.Second, "the second incident on every replica", all(true))
	eventually(t, 2*time.Second, "the expiry on every replica", all(false))
	// The expiry clears the incident, then writes its record: wait for
	// the record rather than count the moment the state flips.
	eventually(t, time.Second, "replica 1's expiry record", func() bool { return rs[0].count("incident expired") > 0 })
	want := []map[string]int{
		{"incident started": 2, "incident ended": 1, "incident expired": 1},
		{"incident started": 0, "incident ended": 0, "incident expired": 0},
		{"incident started": 0, "incident ended": 0, "incident expired": 0},
	}
	for i, r := range rs {
		for msg, n := range want[i] {
			if got := r.count(msg); got != n {
				t.Errorf("replica %d: %q logged %d times, want %d", i+1, msg, got, n)
			}
		}
		if got := r.count("fleet: incident started by another replica"); got != 2*min(i, 1) {
			t.Errorf("replica %d: %d debug lines for remote starts, want %d", i+1, got, 2*min(i, 1))
		}
		if s := r.g.Stats(); s.Fleet.Mode != coord.Shared {
			t.Errorf("replica %d: fleet mode %v", i+1, s.Fleet.Mode)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/state", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if !strings.Contains(w.Body.String(), `"fleet":{"mode":"shared","since":`) {
		t.Errorf("GET /state does not show the fleet mode: %s", w.Body)
	}
	if !strings.Contains(rs[0].log.String(), `"actor":"alice"`) {
		t.Error("the audit record does not name the operator")
	}
}

// TestIncidentPropagationDelay measures, over 100 changes (50 starts and
// 50 ends, made on replica 1), how long each takes to be in force on
// replicas 2 and 3; each must within 1 s. It reports p50 and p99.
func TestIncidentPropagationDelay(t *testing.T) {
	srv := redistest.ForTest(t)
	rs := newFleet(t, newFake(t), fleetOpts{n: 3, redis: srv})
	ctx := context.Background()
	var ds []time.Duration
	for i := range 100 {
		start := i%2 == 0
		t0 := time.Now()
		var err error
		if start {
			err = rs[0].g.StartIncident(ctx, fmt.Sprintf("change %d", i), time.Hour)
		} else {
			err = rs[0].g.EndIncident(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs[1:] {
			for inIncident(r) != start {
				if time.Since(t0) > time.Second {
					t.Fatalf("change %d not in force within 1 s", i)
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
		ds = append(ds, time.Since(t0))
	}
	t.Logf("incident propagation over %d changes: p50 %s, p99 %s, max %s", len(ds), quantile(ds, 0.5), quantile(ds, 0.99), quantile(ds, 1))
}

// TestFleetBudget: plan limit 120/min, three replicas each offered far
// more work (distinct prompts, 100 % sampled) for 10 s. With the adapter
// the calls the fake receives stay within the fleet budget of 20 calls in
// 10 s (+5 %: 21), spread over the replicas; without it, run beside it in
// the same 10 s, the same fleet makes about three times as many.
func TestFleetBudget(t *testing.T) {
	srv := redistest.ForTest(t)
	fleetFake, baseFake := newFake(t), newFake(t)
	opts := []safecheck.Option{safecheck.WithRateLimit(120), safecheck.WithMaxRetryAfter(100 * time.Millisecond),
		safecheck.WithRetries(0, time.Second, time.Second, 0), safecheck.WithCache(0, 1)}
	shared := newFleet(t, fleetFake, fleetOpts{n: 3, redis: srv, rate: 1, guard: opts})
	alone := newFleet(t, baseFake, fleetOpts{n: 3, rate: 1, guard: opts})
	const window = 10 * time.Second
	start := time.Now()
	var wg sync.WaitGroup
	for i, r := range append(append([]*replica(nil), shared...), alone...) {
		wg.Go(func() {
			for n := 0; time.Since(start) < window; n++ {
				r.serve(fmt.Sprintf("question %d from replica %d", n, i))
				time.Sleep(20 * time.Millisecond) // 50 samples a second each: 25 times its share
			}
		})
	}
	wg.Wait()
	got, base := fleetFake.TotalRequests(), baseFake.TotalRequests()
	t.Logf("calls in %s on a plan of 120/min: %d with the adapter (budget 20, limit 21), %d without", time.Since(start).Round(time.Millisecond), got, base)
	if got > 21 || got < 15 {
		t.Errorf("with the adapter: %d calls in 10 s, want at most 21 (the fleet budget, +5 %%) and about 20", got)
	}
	if base < 50 {
		t.Errorf("without the adapter: %d calls in 10 s, want about 60 (three times the budget)", base)
	}
	for i, r := range shared {
		r.flush(t)
		s := r.g.Stats()
		checkAccounting(t, s)
		// A permit goes to whichever replica asks first once one is free:
		// about 7 each of the 20, but as few as 2 on a loaded machine.
		// Starving a replica is the failure.
		if s.APICalls == 0 {
			t.Errorf("replica %d made no call: the budget is not spread", i+1)
		}
		if s.Dropped[drop.RateLimited] == 0 {
			t.Errorf("replica %d dropped nothing as rate limited: it was not offered more than its share", i+1)
		}
	}
}

// TestRetryAfterPausesTheFleet: a 429 with Retry-After: 2 answered to
// replica 1 pauses replicas 2 and 3: they make no call until it passes,
// and their samples in the meantime are dropped as rate limited.
func TestRetryAfterPausesTheFleet(t *testing.T) {
	srv := redistest.ForTest(t)
	fake := newFake(t)
	rs := newFleet(t, fake, fleetOpts{n: 3, redis: srv, rate: 1,
		guard: []safecheck.Option{safecheck.WithRetries(0, time.Second, time.Second, 0)}})
	fake.FailNext(assurancehubtest.RateLimited("2"))
	rs[0].serve("the question that meets a 429")
	rs[0].flush(t)
	if n := fake.TotalRequests(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
	paused := time.Now()
	eventually(t, time.Second, "the pause on replicas 2 and 3", func() bool {
		return rs[1].g.Stats().Paused && rs[2].g.Stats().Paused
	})
	for i := range 5 {
		rs[1].serve(fmt.Sprintf("during the pause %d", i))
		rs[2].serve(fmt.Sprintf("during the pause %d", i))
	}
	for i, r := range rs[1:] {
		r.flush(t)
		if s := r.g.Stats(); s.Dropped[drop.RateLimited] != 5 || s.APICalls != 0 {
			t.Errorf("replica %d during the pause: dropped %v, calls %d, want 5 rate limited and 0 calls", i+2, s.Dropped, s.APICalls)
		}
	}
	if n := fake.TotalRequests(); n != 1 {
		t.Errorf("%d calls during the pause, want none after the 429", n-1)
	}
	eventually(t, 3*time.Second, "the pause's end", func() bool { return !rs[2].g.Stats().Paused })
	if waited := time.Since(paused); waited < 1500*time.Millisecond {
		t.Errorf("the pause ended after %s, want about 2 s", waited)
	}
	rs[2].serve("after the pause")
	rs[2].flush(t)
	if n := fake.TotalRequests(); n != 2 {
		t.Errorf("%d calls after the pause, want 2", n)
	}
	for _, r := range rs {
		checkAccounting(t, r.g.Stats())
	}
}

// TestVerdictIsSharedWithoutText: a verdict the API gave replica A is a
// cache hit on replica B; the one key stored is the HMAC of the texts with
// the deployment secret and holds no text, and its value is the verdict.
func TestVerdictIsSharedWithoutText(t *testing.T) {
	srv := redistest.ForTest(t)
	fake := newFake(t)
	rs := newFleet(t, fake, fleetOpts{n: 2, redis: srv, rate: 1})
	const prompt = "my card is 4111 1111 1111 1111, can you help"
	rs[0].serve(prompt)
	rs[0].flush(t)
	rs[1].serve(prompt)
	rs[1].flush(t)
	if n := fake.TotalRequests(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	a, b := rs[0].g.Stats(), rs[1].g.Stats()
	if a.Checked != 1 || b.CacheHits != 1 || b.APICalls != 0 {
		t.Errorf("A checked %d, B cache hits %d calls %d, want 1, 1, 0", a.Checked, b.CacheHits, b.APICalls)
	}
	checkAccounting(t, a)
	checkAccounting(t, b)

	rdb := rawClient(srv)
	defer rdb.Close()
	_, _, _, vp := rs[0].c.Keys()
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var verdicts []string
	for _, k := range keys {
		if !strings.Contains(k, "{"+strings.ReplaceAll(t.Name(), "/", "_")+"}") {
			t.Errorf("key %q is outside the deployment's hash tag", k)
		}
		if strings.Contains(k, "4111") || strings.Contains(k, "card") {
			t.Errorf("key %q holds text", k)
		}
		if strings.HasPrefix(k, vp) {
			verdicts = append(verdicts, k)
		}
	}
	want := vp + coord.Key(secret, assurancehub.Toxicity, prompt, "Happy to help.")
	if len(verdicts) != 1 || verdicts[0] != want {
		t.Fatalf("verdict keys %q, want [%q]", verdicts, want)
	}
	val, err := rdb.Get(context.Background(), want).Result()
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(val), &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields) != 4 || fields["risk_level"] == nil || strings.Contains(val, "4111") || strings.Contains(val, "Happy") {
		t.Errorf("stored value %s, want the verdict only", val)
	}
	if ttl := rdb.TTL(context.Background(), want).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL %s, want the cache's 1 h", ttl)
	}
}

// TestLateReplicaStartsFromTheFleetsState: a replica that starts after a
// rate change and an incident begins with both, before its first request.
func TestLateReplicaStartsFromTheFleetsState(t *testing.T) {
	srv := redistest.ForTest(t)
	fake := newFake(t)
	first := newFleet(t, fake, fleetOpts{n: 1, redis: srv})[0]
	ctx := context.Background()
	if err := first.g.SetSampleRate(ctx, "chat", 0.5); err != nil {
		t.Fatal(err)
	}
	if err := first.g.StartIncident(ctx, "before the late one", time.Hour); err != nil {
		t.Fatal(err)
	}
	state, _, _, _ := first.c.Keys()
	rdb := rawClient(srv)
	defer rdb.Close()
	eventually(t, time.Second, "both changes in Redis", func() bool { return rdb.HLen(ctx, state).Val() == 2 })
	late := newFleet(t, fake, fleetOpts{n: 1, redis: srv})[0]
	s := late.g.Stats()
	if s.Incident == nil || s.Incident.Reason != "before the late one" || s.Routes[0].SampleRate != 0.5 || s.Routes[0].EffectiveRate != 1 {
		t.Errorf("the late replica starts with incident %+v and rates %+v", s.Incident, s.Routes[0])
	}
}

// TestEscalationReachesEveryReplica: a customer flagged on replica 1 is
// escalated on all three within 1 s (their request paths see her); the
// escalation expires on all three; escalated again and ended through
// replica 2's admin handler, it ends on all three. Each change is one
// audit record, on the replica that made it; Redis holds the customer's
// id only with the escalation's TTL.
func TestEscalationReachesEveryReplica(t *testing.T) {
	srv := redistest.ForTest(t)
	rs := newFleet(t, newFake(t), fleetOpts{n: 3, redis: srv, rate: 1, route: []safecheck.RouteOption{
		safecheck.WithCustomerID(customerHeader), safecheck.WithEscalation(escalation.Config{Duration: 2 * time.Second})}})
	escalated := func(n int) func() bool {
		return func() bool {
			for _, r := range rs {
				if r.g.Stats().Escalated != n {
					return false
				}
			}
			return true
		}
	}
	rs[0].serveAs("alice", "I will kill you")
	rs[0].flush(t)
	d := eventually(t, time.Second, "alice escalated on every replica", escalated(1))
	t.Logf("escalated on all three in %s", d)
	time.Sleep(150 * time.Millisecond) // the request path's copy of the set is republished at most every 100 ms
	for i, r := range rs {
		r.serveAs("alice", "hello")
		r.flush(t)
		if n := r.g.Stats().Routes[0].EscalatedRequests; n != 1 {
			t.Errorf("replica %d: %d escalated requests of alice, want 1", i+1, n)
		}
	}
	rdb := rawClient(srv)
	defer rdb.Close()
	ctx := context.Background()
	index, prefix := rs[0].c.EscalationKeys()
	if ttl := rdb.PTTL(ctx, prefix+"alice").Val(); ttl <= 0 || ttl > 2*time.Second {
		t.Errorf("alice's key expires in %s, want within the escalation's 2 s", ttl)
	}
	if ttl := rdb.PTTL(ctx, index).Val(); ttl <= 0 || ttl > 2*time.Second {
		t.Errorf("the index expires in %s, want with its last escalation", ttl)
	}
	eventually(t, 3*time.Second, "the expiry on every replica", escalated(0))
	eventually(t, time.Second, "Redis letting alice go", func() bool {
		return rdb.Exists(ctx, prefix+"alice", index).Val() == 0
	})

	rs[0].serveAs("alice", "I will kill you again")
	rs[0].flush(t)
	eventually(t, time.Second, "alice escalated again on every replica", escalated(1))
	h, err := admin.New(rs[1].g, admin.WithToken("bob", adminToken))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodDelete, "/escalations/alice", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("DELETE /escalations/alice on replica 2: %d %s", w.Code, w.Body)
	}
	eventually(t, time.Second, "the end on every replica", escalated(0))

	want := []map[string]int{
		{"escalation started": 2, "escalation expired": 1, "escalation ended": 0},
		{"escalation started": 0, "escalation expired": 0, "escalation ended": 1},
		{"escalation started": 0, "escalation expired": 0, "escalation ended": 0},
	}
	for i, r := range rs {
		for msg, n := range want[i] {
			if got := r.count(msg); got != n {
				t.Errorf("replica %d: %q logged %d times, want %d", i+1, msg, got, n)
			}
		}
		checkAccounting(t, r.g.Stats())
	}
	if !strings.Contains(rs[1].log.String(), `"actor":"bob"`) {
		t.Error("the end record does not name the operator")
	}
}

// TestEscalationSurvivesAMissedMessage: an escalation that reached Redis
// while its announcement was lost (written here without PUBLISH) reaches
// every replica through the periodic resync, and so does its end.
func TestEscalationSurvivesAMissedMessage(t *testing.T) {
	srv := redistest.ForTest(t)
	rs := newFleet(t, newFake(t), fleetOpts{n: 2, redis: srv, route: []safecheck.RouteOption{
		safecheck.WithCustomerID(customerHeader), safecheck.WithEscalation(escalation.Config{})}})
	rdb := rawClient(srv)
	defer rdb.Close()
	ctx := context.Background()
	index, prefix := rs[0].c.EscalationKeys()
	write := func(ended bool) {
		t.Helper()
		now := time.Now()
		until := now.Add(time.Hour)
		ch := coord.Change{Kind: coord.KindEscalation, At: now, Origin: "a-replica-gone-quiet",
			Escalation: &coord.Escalation{Customer: "cust_7", Route: "chat", Since: now, Until: until, Ended: ended}}
		b, err := json.Marshal(ch)
		if err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprintf("%020d", now.UnixNano()) + string(b)
		if err := rdb.Set(ctx, prefix+"cust_7", v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.ZAdd(ctx, index, redis.Z{Score: float64(until.UnixMilli()), Member: "cust_7"}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	write(false)
	eventually(t, 2*time.Second, "the escalation through the resync", func() bool {
		return rs[0].g.Stats().Escalated == 1 && rs[1].g.Stats().Escalated == 1
	})
	write(true)
	eventually(t, 2*time.Second, "its end through the resync", func() bool {
		return rs[0].g.Stats().Escalated == 0 && rs[1].g.Stats().Escalated == 0
	})
	for i, r := range rs {
		if n := r.count("escalation started") + r.count("escalation ended"); n != 0 {
			t.Errorf("replica %d wrote %d audit records for another replica's changes", i+1, n)
		}
	}
}
