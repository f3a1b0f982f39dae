package safecheck

import (
	"sync"
	"testing"
)

// TestQueueTakeKeepsEveryOfferInOrder offers captures from several
// goroutines while another takes batches: every capture comes out exactly
// once, each goroutine's in the order it offered them, unlinked.
func TestQueueTakeKeepsEveryOfferInOrder(t *testing.T) {
	const producers, each = 4, 500
	var q queue
	q.init(producers * each)
	defer q.timer.Stop()
	made := make([][]*Capture, producers)
	for p := range made {
		for i := range each {
			made[p] = append(made[p], &Capture{reserved: int64(p*each + i)})
		}
	}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for _, c := range made[p] {
				q.offer(c)
			}
		})
	}
	var got []*Capture
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		got = append(got, q.take()...)
	}
	got = append(got, q.take()...)
	if len(got) != producers*each {
		t.Fatalf("took %d captures, want %d", len(got), producers*each)
	}
	next := make([]int, producers) // the index each producer's next capture must have
	for _, c := range got {
		if c.qnext != nil {
			t.Fatal("a taken capture is still linked")
		}
		p, i := int(c.reserved)/each, int(c.reserved)%each
		if i != next[p] {
			t.Fatalf("producer %d: took capture %d, want %d", p, i, next[p])
		}
		next[p]++
	}
	if b := q.take(); b != nil {
		t.Errorf("an empty queue took %d captures", len(b))
	}
}
