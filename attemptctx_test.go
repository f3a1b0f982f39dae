package safecheck

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

type ctxKey struct{}

// TestAttemptCtxBehavesLikeWithTimeout drives the attempt context through
// each way a call's context ends, with and without a Done channel asked
// for: Err, Done and Value answer as context.WithTimeout's would.
func TestAttemptCtxBehavesLikeWithTimeout(t *testing.T) {
	tests := []struct {
		name    string
		askDone bool
		run     func(c *attemptCtx, cancelParent context.CancelFunc)
		want    error
	}{
		{"deadline passes", false, func(*attemptCtx, context.CancelFunc) { time.Sleep(time.Second) }, context.DeadlineExceeded},
		{"deadline passes, Done asked", true, func(*attemptCtx, context.CancelFunc) { time.Sleep(time.Second) }, context.DeadlineExceeded},
		{"ended", false, func(c *attemptCtx, _ context.CancelFunc) { c.end() }, context.Canceled},
		{"ended, Done asked", true, func(c *attemptCtx, _ context.CancelFunc) { c.end() }, context.Canceled},
		{"ended after the deadline", false, func(c *attemptCtx, _ context.CancelFunc) { time.Sleep(time.Second); c.end() }, context.DeadlineExceeded},
		{"parent canceled", false, func(_ *attemptCtx, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"parent canceled, Done asked", true, func(_ *attemptCtx, cancel context.CancelFunc) { cancel() }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
				defer cancel()
				c := newAttemptCtx(parent, time.Second)
				if d, ok := c.Deadline(); !ok || !d.Equal(time.Now().Add(time.Second)) {
					t.Errorf("deadline %v %v", d, ok)
				}
				if c.Err() != nil || c.Value(ctxKey{}) != "v" {
					t.Fatalf("fresh context: err %v, value %v", c.Err(), c.Value(ctxKey{}))
				}
				var done <-chan struct{}
				if tt.askDone {
					done = c.Done()
				}
				tt.run(c, cancel)
				synctest.Wait()
				if err := c.Err(); !errors.Is(err, tt.want) {
					t.Errorf("err %v, want %v", err, tt.want)
				}
				if done == nil {
					done = c.Done() // asked for only now: closed already
				}
				select {
				case <-done:
				default:
					t.Error("Done is not closed")
				}
				if c.Value(ctxKey{}) != "v" {
					t.Error("the parent's value is lost")
				}
				c.end()
				if err := c.Err(); !errors.Is(err, tt.want) {
					t.Errorf("after end: err %v, want %v", err, tt.want)
				}
			})
		})
	}
}

// TestAttemptCtxDoneGivesUpTheLaneOnlyDuringTheCall asks for Done during
// a call, then after it has ended: only the first gives the worker's lane
// up; the late one, from a goroutine the call left behind, leaves alone
// the lane the worker has taken again for its next sample.
func TestAttemptCtxDoneGivesUpTheLaneOnlyDuringTheCall(t *testing.T) {
	l := newLane(make(chan struct{}, 1))
	defer l.watchdog.Stop()
	l.take(nil)
	c := newAttemptCtx(context.Background(), time.Minute)
	c.lane = l
	if c.Done() == nil {
		t.Fatal("Done returned nil")
	}
	if l.holding() {
		t.Fatal("Done during the call kept the lane")
	}
	c.end()
	l.take(nil) // the worker's next sample
	<-c.Done()  // closed: the attempt has ended
	if !l.holding() {
		t.Error("a Done asked for after the attempt ended gave up the lane of the next sample")
	}

	// Never asked for during the call: the late Done is the first.
	c = newAttemptCtx(context.Background(), time.Minute)
	c.lane = l
	c.end()
	<-c.Done()
	if !l.holding() {
		t.Error("a first Done after the attempt ended gave up the lane")
	}
}
