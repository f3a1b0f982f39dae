package webhook

import (
	"context"
	"net/http"
	"testing"

	"github.com/safecheck/safecheck/event"
)

// heldSink returns a Sink whose one worker is held in a delivery until
// the returned function is called, so that Send's own cost can be
// measured apart from the deliveries'.
func heldSink(tb testing.TB, queue int, opts ...Option) (*Sink, func()) {
	tb.Helper()
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s, err := New(append([]Option{WithEndpoint("https://hooks.example.com/in", testSecret),
		WithHTTPClient(&http.Client{Transport: handlerTransport{h}}), WithWorkers(1), WithQueue(queue)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	hold := testEvent(0)
	hold.Kind = event.AlertFired // which every test's WithKinds lets through
	s.Send(hold)
	<-arrived
	return s, func() {
		close(release)
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // whatever is queued is dropped as shutdown
		_ = s.Close(ctx)
	}
}

func BenchmarkSend(b *testing.B) {
	e := testEvent(1)
	b.Run("filtered", func(b *testing.B) { // the baseline: a counter and a return
		s, done := heldSink(b, 1, WithKinds(event.AlertFired))
		defer done()
		b.ReportAllocs()
		for b.Loop() {
			s.Send(e)
		}
	})
	b.Run("queue_full", func(b *testing.B) {
		s, done := heldSink(b, 1)
		defer done()
		s.Send(e)
		b.ReportAllocs()
		for b.Loop() {
			s.Send(e)
		}
	})
	b.Run("enqueued", func(b *testing.B) {
		s, done := heldSink(b, max(b.N, 1)+1)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			s.Send(e)
		}
		b.StopTimer()
		done()
	})
}

// TestSendAllocations: Send allocates nothing, whether it queues, drops
// or filters the event.
func TestSendAllocations(t *testing.T) {
	e := testEvent(1)
	for _, tc := range []struct {
		name  string
		queue int
		opts  []Option
	}{
		{"enqueued", 1000, nil},
		{"queue_full", 1, nil},
		{"filtered", 1, []Option{WithKinds(event.AlertFired)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, done := heldSink(t, tc.queue, tc.opts...)
			defer done()
			if n := testing.AllocsPerRun(500, func() { s.Send(e) }); n != 0 {
				t.Errorf("%v allocations per Send, want 0", n)
			}
		})
	}
}
