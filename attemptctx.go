package safecheck

import (
	"context"
	"sync"
	"time"
)

// attemptCtx is the context of one call to the checker: its parent's
// values and cancellation, and the attempt timeout's deadline. A checker
// that answers without asking for Done (one that answers from memory)
// costs it one allocation, no timer and no entry in the parent's list of
// children: Err reads the clock. The first Done (an HTTP client asks for
// it) makes the context.WithDeadline the call would have had, and every
// method defers to it from then on. end releases it as a cancel function
// would.
type attemptCtx struct {
	parent   context.Context
	deadline time.Time

	lane *lane // the worker's CPU lane, given up by the first Done

	mu     sync.Mutex
	ctx    context.Context // made by the first Done
	cancel context.CancelFunc
	err    error // set by end while ctx is nil
}

func newAttemptCtx(parent context.Context, timeout time.Duration) *attemptCtx {
	c := &attemptCtx{}
	c.init(parent, time.Now(), timeout)
	return c
}

// init makes the zero c the context of an attempt that starts at now: the
// caller that has just read the clock passes its reading, and a context
// embedded in a struct the caller allocates anyway costs no allocation of
// its own.
func (c *attemptCtx) init(parent context.Context, now time.Time, timeout time.Duration) {
	c.parent, c.deadline = parent, now.Add(timeout)
	if d, ok := parent.Deadline(); ok && d.Before(c.deadline) {
		c.deadline = d
	}
}

func (c *attemptCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *attemptCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lane.release()
	c.lane = nil
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.err != nil {
			c.cancel() // ended already
		}
	}
	return c.ctx.Done()
}

func (c *attemptCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ctx != nil:
		return c.ctx.Err()
	case c.err != nil:
		return c.err
	}
	return c.expired()
}

// expired returns why the context is over now, or nil.
func (c *attemptCtx) expired() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *attemptCtx) Value(key any) any {
	c.mu.Lock()
	ctx := c.ctx
	c.mu.Unlock()
	if ctx != nil {
		return ctx.Value(key)
	}
	return c.parent.Value(key)
}

// end releases the context once the call has returned, as the cancel
// function of context.WithTimeout does: from then on Err is not nil.
//
// A Done asked for after end, from a goroutine the call left behind, gives
// up no lane: by then the worker's lane is held for its next sample.
func (c *attemptCtx) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lane = nil
	if c.ctx != nil {
		c.cancel()
		return
	}
	if c.err = c.expired(); c.err == nil {
		c.err = context.Canceled
	}
}

func (c *attemptCtx) String() string { return "safecheck.attemptCtx" }
