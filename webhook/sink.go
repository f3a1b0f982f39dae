package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/safecheck/safecheck/event"
)

// Sink delivers events to its endpoints: Send queues an event for each of
// them and returns at once; per endpoint, a fixed set of goroutines POSTs
// it, signed, retrying and tripping a circuit breaker as the options say.
// A Sink is safe for concurrent use. Close it to stop its goroutines.
type Sink struct {
	cfg       *config
	eps       []*endpoint
	kinds     uint64 // bit k set: deliver Kind k; all set without WithKinds
	log       *slog.Logger
	transport *http.Transport // the Sink's own transport, or nil with WithHTTPClient

	received, filtered, invalid atomic.Uint64

	// mu orders Send against Close: Send holds it for reading while it
	// offers an event; Close takes it once, to mark the Sink closed and
	// close the queues.
	mu     sync.RWMutex
	closed bool

	ctx       context.Context // ends when Close's context does: deliveries stop
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the delivery goroutines
	closeOnce sync.Once
	done      chan struct{} // closed when every delivery goroutine has returned
}

// New builds a Sink from opts (at least one WithEndpoint) and starts its
// delivery goroutines. It returns an error, naming each bad option, when
// any is; its errors never contain a secret or a URL's path or query.
func New(opts ...Option) (*Sink, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, log: cfg.logger, done: make(chan struct{})}
	if !cfg.kindsSet {
		s.kinds = math.MaxUint64
	}
	for _, k := range cfg.kinds {
		s.kinds |= 1 << k
	}
	client := cfg.httpClient
	if client == nil {
		t := &http.Transport{Proxy: http.ProxyFromEnvironment}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok { // an application may have replaced it
			t = dt.Clone()
		}
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		t.MaxIdleConnsPerHost = cfg.workers
		s.transport = t
		client = &http.Client{Transport: t}
	} else {
		c := *client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, ec := range cfg.endpoints {
		u, _ := parseEndpoint(ec.rawURL) // validated
		keys := make([][]byte, len(ec.secrets))
		for i, sec := range ec.secrets {
			keys[i], _ = decodeSecret(sec) // validated
		}
		s.eps = append(s.eps, newEndpoint(s, u, keys, client))
	}
	for _, ep := range s.eps {
		for range cfg.workers {
			s.wg.Add(1)
			go ep.run()
		}
	}
	return s, nil
}

// Send offers e to every endpoint and returns without waiting: it does no
// I/O, does not log, allocates nothing, and takes no lock that is held
// during I/O. An endpoint
// whose queue is full, whose circuit is open or that answered 410 Gone
// drops it, and so does every endpoint after Close has begun; each drop
// is counted in Stats. Give Send to safecheck.WithOnEvent.
func (s *Sink) Send(e event.Event) {
	s.received.Add(1)
	if !e.Kind.Valid() || !validID(e.ID) || !finite(e.Score, e.Value, e.Threshold) {
		s.invalid.Add(1)
		return
	}
	if s.kinds&(1<<e.Kind) == 0 {
		s.filtered.Add(1)
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ep := range s.eps {
		ep.offer(e, s.closed)
	}
}

// validID reports whether id can be sent as webhook-id and signed: 1 to
// 256 printable ASCII bytes, no space and no '.', which separates the
// signed parts.
func validID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '.' {
			return false
		}
	}
	return true
}

// finite reports whether every value can be written as a JSON number.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Close stops taking events and delivers the ones queued until ctx ends;
// then it stops the deliveries still running, counts every event not
// delivered as DroppedShutdown and, if there were any, returns an error
// wrapping ctx.Err() that says how many. It returns only when no
// goroutine of the Sink is left. Calling it again waits for the first
// call's work and returns nil.
func (s *Sink) Close(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closed = true
		for _, ep := range s.eps {
			close(ep.queue)
		}
		s.mu.Unlock()
		go func() {
			s.wg.Wait()
			close(s.done)
		}()
	})
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel()
		<-s.done // the goroutines count what is left as shutdown and return
	}
	s.cancel()
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	if !first || err == nil {
		return nil
	}
	n := s.Stats().Total.Dropped[DroppedShutdown]
	if n == 0 {
		return nil // nothing was left when ctx ended
	}
	if s.log != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "webhook events dropped at close",
			slog.Uint64("events", n))
	}
	return fmt.Errorf("webhook: Close: %d queued events were not delivered: %w", n, err)
}

// Stats returns the Sink's counters. Each endpoint's Counts is one
// consistent snapshot; see Counts for what they add up to.
func (s *Sink) Stats() Stats {
	st := Stats{
		Received:  s.received.Load(),
		Filtered:  s.filtered.Load(),
		Invalid:   s.invalid.Load(),
		Total:     Counts{Dropped: map[DropReason]uint64{}},
		Endpoints: make([]EndpointStats, 0, len(s.eps)),
	}
	for _, ep := range s.eps {
		es := ep.stats()
		st.Total.add(es.Counts)
		st.Endpoints = append(st.Endpoints, es)
	}
	return st
}
