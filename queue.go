package safecheck

import (
	"sync/atomic"
	"time"
)

// batchDelay is how long a finished capture may wait before the workers
// are woken. Waking a parked goroutine costs a system call; doing it once
// per batch, from a timer, keeps that cost off the request path.
const batchDelay = time.Millisecond

// queue holds finished captures between the request path and the workers.
// Its capacity is enforced at admission (Guard.pending), so offering a
// capture never blocks and never fails. The current batch is a list of
// captures linked through Capture.qnext, newest first: offering one is a
// single compare-and-swap, with no lock and no slice to grow on the
// request path.
type queue struct {
	head  atomic.Pointer[Capture]
	armed atomic.Bool
	timer *time.Timer
	work  chan *Capture
}

func (q *queue) init(size int) {
	q.work = make(chan *Capture, size)
	q.timer = time.NewTimer(time.Hour)
	q.timer.Stop()
}

// offer adds c to the current batch and arms the timer that delivers it.
func (q *queue) offer(c *Capture) {
	for {
		old := q.head.Load()
		c.qnext = old
		if q.head.CompareAndSwap(old, c) {
			break
		}
	}
	if !q.armed.Load() && !q.armed.Swap(true) {
		q.timer.Reset(batchDelay)
	}
}

// take removes and returns the current batch, oldest first.
func (q *queue) take() []*Capture {
	q.armed.Store(false) // before taking: a later offer arms the timer again
	head := q.head.Swap(nil)
	n := 0
	for c := head; c != nil; c = c.qnext {
		n++
	}
	if n == 0 {
		return nil
	}
	b := make([]*Capture, n)
	for c := head; c != nil; {
		next := c.qnext
		c.qnext = nil
		n--
		b[n] = c
		c = next
	}
	return b
}

// drain returns everything not yet handed to a worker.
func (q *queue) drain() []*Capture {
	b := q.take()
	for {
		select {
		case c := <-q.work:
			b = append(b, c)
		default:
			return b
		}
	}
}

// admit decides, before anything is copied, whether a sample of up to
// reserve bytes fits. It returns the drop reason, or dropNone.
func (g *Guard) admit(reserve int64) dropReason {
	switch {
	case g.closed.Load():
		return dropClosed
	case g.policy.isOpen():
		return dropCircuitOpen
	case g.policy.isPaused():
		return dropRateLimited
	case g.auth.stopped():
		return dropAuthFailed
	case g.budget.overloaded():
		return dropOverload
	case g.pending.Load() >= int64(g.cfg.queueSize):
		return dropQueueFull
	}
	if g.pending.Add(1) > int64(g.cfg.queueSize) {
		g.unpend()
		return dropQueueFull
	}
	// Close sets closed before it reads pending: either it sees this
	// sample pending, or this sees closed.
	if g.closed.Load() {
		g.unpend()
		return dropClosed
	}
	if g.bytes.Add(reserve) > g.cfg.queueBytes {
		g.bytes.Add(-reserve)
		g.unpend()
		return dropQueueBytes
	}
	return dropNone
}

// drop counts a sample of rt that will not be checked. Loss warnings are
// the monitor's: it reads these counters in the background.
func (g *Guard) drop(rt *Route, reason dropReason) {
	rt.drops[reason].Add(1)
}

// enqueue passes a finished capture to the workers without blocking.
func (g *Guard) enqueue(c *Capture) {
	held := int64(cap(c.req) + cap(c.resp))
	g.bytes.Add(held - c.reserved)
	c.reserved = held
	g.stopMu.RLock()
	defer g.stopMu.RUnlock()
	if g.stopped {
		g.finish(c, dropShutdown, 0, false)
		return
	}
	g.deliver(c)
}

// release returns a finished sample's slot, bytes and buffers.
func (g *Guard) release(c *Capture) {
	g.bytes.Add(-c.reserved)
	c.reset()
	capturePool.Put(c)
	g.unpend()
}

// unpend ends one pending sample and wakes Close or Flush when it was the
// last.
func (g *Guard) unpend() {
	if g.pending.Add(-1) == 0 && g.idleWaiters.Load() > 0 {
		g.signalIdle()
	}
}

// dispatch moves each batch to the workers when its timer fires.
func (g *Guard) dispatch() {
	defer g.workers.Done()
	for {
		select {
		case <-g.queue.timer.C:
			for _, c := range g.queue.take() {
				g.queue.work <- c // never blocks: admission bounds the count
			}
		case <-g.quit:
			return
		}
	}
}
