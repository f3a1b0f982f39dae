package webhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safecheck/safecheck/event"
)

// TestQueueFullDropsAndNeverBlocks: with the worker held by a receiver
// that does not answer, Send returns at once; the queue takes what it
// has room for and the rest are counted as queue_full. Once the receiver
// answers, every queued event is delivered.
func TestQueueFullDropsAndNeverBlocks(t *testing.T) {
	rv := newReceiver(t, testSecret)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	rv.arrived = make(chan string, 100)
	rv.fault = func(http.ResponseWriter, *http.Request, string, int) bool {
		<-release
		return false
	}
	s, _ := newSink(t, append(fast(), WithEndpoint(rv.url(), testSecret), WithWorkers(1), WithQueue(3))...)
	s.Send(testEvent(0))
	<-rv.arrived // the worker is in its delivery
	for i := 1; i <= 9; i++ {
		s.Send(testEvent(i))
	}
	st := s.Stats()
	checkAccounting(t, st)
	if c := st.Total; c.Enqueued != 4 || c.Queued != 4 || c.Dropped[DroppedQueueFull] != 6 {
		t.Fatalf("while held: %+v, want 4 enqueued and queued, 6 dropped", c)
	}
	once.Do(func() { close(release) })
	closeAll(t, s)
	st = s.Stats()
	checkAccounting(t, st)
	if c := st.Total; c.Delivered != 4 || c.Dropped[DroppedQueueFull] != 6 || c.Queued != 0 {
		t.Fatalf("after Close: %+v", c)
	}
	if got, dup, _ := rv.delivered(); got != 4 || dup != 0 {
		t.Fatalf("receiver got %d (%d twice), want 4", got, dup)
	}
}

// TestNothingLostWhileTheQueueHasRoom: a burst that fits the queue, to a
// receiver that is slow at first, is delivered whole.
func TestNothingLostWhileTheQueueHasRoom(t *testing.T) {
	const events = 200
	rv := newReceiver(t, testSecret)
	rv.fault = func(_ http.ResponseWriter, _ *http.Request, id string, n int) bool {
		if id < "evt_0010" {
			time.Sleep(20 * time.Millisecond) // the queue fills behind them
		}
		return false
	}
	s, _ := newSink(t, append(fast(), WithEndpoint(rv.url(), testSecret), WithQueue(events))...)
	for i := range events {
		s.Send(testEvent(i))
	}
	closeAll(t, s)
	st := s.Stats()
	checkAccounting(t, st)
	if c := st.Total; c.Delivered != events || len(c.Dropped) != 0 {
		t.Fatalf("counts %+v", c)
	}
	if got, dup, bad := rv.delivered(); got != events || dup != 0 || bad != 0 {
		t.Fatalf("receiver: %d, %d twice, %d unverified", got, dup, bad)
	}
}

// TestCloseDropsWhatItCannotDeliver: Close's context ends while the
// receiver holds the one delivery: it stops it, counts it and the queued
// events as shutdown, reports them, and leaves no goroutine (goleak).
func TestCloseDropsWhatItCannotDeliver(t *testing.T) {
	rv := newReceiver(t, testSecret)
	rv.arrived = make(chan string, 10)
	rv.fault = func(_ http.ResponseWriter, r *http.Request, _ string, _ int) bool {
		<-r.Context().Done()
		return true
	}
	s, logs := newSink(t, append(fast(), WithEndpoint(rv.url(), testSecret), WithWorkers(1), WithQueue(10))...)
	s.Send(testEvent(0))
	<-rv.arrived
	for i := 1; i <= 3; i++ {
		s.Send(testEvent(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "4 queued events") {
		t.Fatalf("Close = %v, want 4 events and DeadlineExceeded", err)
	}
	s.Send(testEvent(9))
	st := s.Stats()
	checkAccounting(t, st)
	if c := st.Total; c.Dropped[DroppedShutdown] != 4 || c.Dropped[DroppedClosed] != 1 || c.Queued != 0 {
		t.Fatalf("counts %+v", c)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := len(records(t, logs.String(), "webhook events dropped at close")); n != 1 {
		t.Fatalf("%d shutdown records, want 1", n)
	}
}

// TestEndpointsAreIndependent: a dead endpoint neither delays nor loses
// the events of a healthy one; during a rotation both secrets sign.
func TestEndpointsAreIndependent(t *testing.T) {
	good := newReceiver(t, otherSecret) // verifies with the new secret
	dead := newReceiver(t, testSecret)
	dead.fault = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	s, _ := newSink(t, WithRetries(1, time.Millisecond, time.Millisecond, 0), WithCircuitBreaker(1000, time.Hour),
		WithEndpoint(good.url(), testSecret, otherSecret), WithEndpoint(dead.url(), testSecret))
	for i := range 10 {
		s.Send(testEvent(i))
	}
	closeAll(t, s)
	st := s.Stats()
	checkAccounting(t, st)
	if g, d := st.Endpoints[0], st.Endpoints[1]; g.Delivered != 10 || d.Failed != 10 || d.Retries != 10 {
		t.Fatalf("good %+v, dead %+v", g, d)
	}
	if st.Total.Offered != 20 || st.Total.Delivered != 10 || st.Total.Failed != 10 {
		t.Fatalf("total %+v", st.Total)
	}
}

// TestSendRefusesBadEvents names each case of an event the Sink cannot
// send and the kinds WithKinds leaves out: counted, never offered.
func TestSendRefusesBadEvents(t *testing.T) {
	rv := newReceiver(t, testSecret)
	s, _ := newSink(t, append(fast(), WithEndpoint(rv.url(), testSecret), WithKinds(event.Flagged, event.AlertFired))...)
	nan := testEvent(5)
	nan.Score = nan.Score / 0 * 0
	for _, e := range []event.Event{
		{Kind: event.Flagged},                     // no id
		{ID: "evt.1", Kind: event.Flagged},        // a '.' would split the signed string
		{ID: "evt 1", Kind: event.Flagged},        // a header cannot carry it
		{ID: strings.Repeat("x", 257), Kind: 1},   // too long
		{ID: "evt_kindless"},                      // no kind
		{ID: "evt_badkind", Kind: event.Kind(99)}, // not a kind
		nan, // NaN cannot be JSON
	} {
		s.Send(e)
	}
	s.Send(event.Event{ID: "evt_esc", Kind: event.EscalationStarted})
	s.Send(event.Event{ID: "evt_alert", Kind: event.AlertFired, Rule: "flag-rate", Value: 0.07, Threshold: 0.05})
	closeAll(t, s)
	st := s.Stats()
	checkAccounting(t, st)
	if st.Received != 9 || st.Invalid != 7 || st.Filtered != 1 || st.Total.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if len(rv.events) != 1 || rv.events[0].Rule != "flag-rate" || rv.events[0].Kind != event.AlertFired {
		t.Fatalf("received %+v", rv.events)
	}
}

// TestCloseWithAnEndedContextAndNothingQueued: nothing is lost, so Close
// reports nothing, and stops every goroutine all the same (goleak).
func TestCloseWithAnEndedContextAndNothingQueued(t *testing.T) {
	s, err := New(WithEndpoint("http://127.0.0.1:9/", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.Send(testEvent(1))
	if c := s.Stats().Total; c.Offered != 1 || c.Dropped[DroppedClosed] != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestStatsSnapshotsAreConsistent: read while events are sent, queued,
// delivered and dropped, every endpoint's snapshot adds up.
func TestStatsSnapshotsAreConsistent(t *testing.T) {
	rv := newReceiver(t, testSecret)
	s, _ := newSink(t, append(fast(), WithEndpoint(rv.url(), testSecret), WithQueue(50))...)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				s.Send(testEvent(g*1000 + i))
			}
		}()
	}
	stop := make(chan struct{})
	checked := make(chan int)
	go func() {
		n := 0
		defer func() { checked <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c := s.Stats().Endpoints[0].Counts
			var dropped uint64
			for _, d := range c.Dropped {
				dropped += d
			}
			if c.Offered != c.Delivered+c.Failed+dropped+uint64(c.Queued) {
				t.Errorf("snapshot %+v does not add up", c)
				return
			}
			n++
		}
	}()
	wg.Wait()
	closeAll(t, s)
	close(stop)
	if n := <-checked; n == 0 {
		t.Fatal("no snapshot was checked")
	}
	st := s.Stats()
	checkAccounting(t, st)
	if c := st.Total; c.Offered != 1000 || c.Delivered+c.Dropped[DroppedQueueFull] != 1000 {
		t.Fatalf("counts %+v", c)
	}
	if got, dup, bad := rv.delivered(); uint64(got) != st.Total.Delivered || dup != 0 || bad != 0 {
		t.Fatalf("receiver %d (%d twice, %d unverified), Stats says %d", got, dup, bad, st.Total.Delivered)
	}
}
