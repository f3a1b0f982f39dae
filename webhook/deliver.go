package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/safecheck/safecheck/event"
	"github.com/safecheck/safecheck/failure"
	"github.com/safecheck/safecheck/internal/httprule"
)

// userAgent is sent with every delivery.
const userAgent = "safecheck-webhook"

// maxDrain is how much of an answer's body is read, so that the
// connection can be reused; the rest is discarded with the connection.
const maxDrain = 64 << 10

// endpoint is one URL with its queue, workers, policies and counters.
type endpoint struct {
	s       *Sink
	url     string
	display string // scheme://host, for Stats and records
	keys    [][]byte
	client  *http.Client
	queue   chan event.Event

	retry    failsafe.Executor[int] // retry with backoff and Retry-After, outside
	call     failsafe.Executor[int] // the circuit breaker, around one attempt
	openTill atomic.Int64           // unix nanos until which the breaker is open, 0 when closed
	paused   atomic.Int64           // unix nanos until which a Retry-After holds every attempt
	gone     atomic.Bool
	jitter   func() float64

	mu sync.Mutex // guards c and dropped, so that Stats reads one consistent snapshot
	c  struct {
		offered, enqueued, delivered, failed, retries uint64
		queued                                        int
	}
	dropped [numReasons]uint64
}

// attemptError is one attempt's failure, classified.
type attemptError struct {
	class      failure.Class
	status     int           // the HTTP status, 0 when no answer came
	retryAfter time.Duration // what the answer's Retry-After asked for
}

func (e *attemptError) Error() string {
	if e.status != 0 {
		return "webhook: " + e.class.String() + " (HTTP " + strconv.Itoa(e.status) + ")"
	}
	return "webhook: " + e.class.String()
}

// errGone stops deliveries to an endpoint that answered 410 Gone.
var errGone = errors.New("webhook: the endpoint answered 410 Gone")

func newEndpoint(s *Sink, u *url.URL, keys [][]byte, client *http.Client) *endpoint {
	cfg := s.cfg
	ep := &endpoint{
		s: s, url: u.String(), display: u.Scheme + "://" + u.Host, keys: keys, client: client,
		queue: make(chan event.Event, cfg.queueSize), jitter: rand.Float64,
	}
	retry := retrypolicy.NewBuilder[int]().
		HandleIf(func(_ int, err error) bool {
			var ae *attemptError
			if !errors.As(err, &ae) {
				return false // the breaker's refusal, Gone, or the Sink's shutdown
			}
			switch ae.class {
			case failure.Server, failure.Network, failure.Timeout, failure.RateLimited:
				return true
			}
			return false
		}).
		WithMaxRetries(cfg.maxRetries).
		WithDelayFunc(func(exec failsafe.ExecutionAttempt[int]) time.Duration {
			return ep.delay(exec.Attempts()-1, exec.LastError())
		}).
		ReturnLastFailure().
		Build()
	breaker := circuitbreaker.NewBuilder[int]().
		HandleIf(func(_ int, err error) bool {
			var ae *attemptError
			if !errors.As(err, &ae) {
				return false
			}
			switch ae.class {
			case failure.Server, failure.Network, failure.Timeout:
				return true
			}
			return false
		}).
		WithFailureThreshold(uint(cfg.breakerFailures)).
		WithDelay(cfg.breakerDelay).
		OnOpen(func(circuitbreaker.StateChangedEvent) { ep.setOpen(true) }).
		OnHalfOpen(func(circuitbreaker.StateChangedEvent) { ep.openTill.Store(0) }).
		OnClose(func(circuitbreaker.StateChangedEvent) { ep.setOpen(false) }).
		Build()
	ep.retry = failsafe.With[int](retry)
	ep.call = failsafe.With[int](breaker)
	return ep
}

// offer counts e for this endpoint and queues it, or counts why not.
func (ep *endpoint) offer(e event.Event, closed bool) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.c.offered++
	switch {
	case closed:
		ep.dropped[DroppedClosed]++
	case ep.gone.Load():
		ep.dropped[DroppedGone]++
	case ep.isOpen():
		ep.dropped[DroppedCircuitOpen]++
	default:
		select {
		case ep.queue <- e:
			ep.c.enqueued++
			ep.c.queued++
		default:
			ep.dropped[DroppedQueueFull]++
		}
	}
}

// outcome is where a queued event ends.
type outcome struct {
	delivered, failed bool
	dropped           DropReason
}

// finish moves one queued event to its outcome.
func (ep *endpoint) finish(o outcome, retries int) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.c.queued--
	ep.c.retries += uint64(retries)
	switch {
	case o.delivered:
		ep.c.delivered++
	case o.failed:
		ep.c.failed++
	default:
		ep.dropped[o.dropped]++
	}
}

func (ep *endpoint) stats() EndpointStats {
	ep.mu.Lock()
	c := Counts{
		Offered: ep.c.offered, Enqueued: ep.c.enqueued, Delivered: ep.c.delivered,
		Failed: ep.c.failed, Retries: ep.c.retries, Queued: ep.c.queued,
		Dropped: map[DropReason]uint64{},
	}
	for r, n := range ep.dropped {
		if n > 0 {
			c.Dropped[DropReason(r)] = n
		}
	}
	ep.mu.Unlock()
	return EndpointStats{Endpoint: ep.display, CircuitOpen: ep.isOpen(), Gone: ep.gone.Load(), Counts: c}
}

// run is one delivery goroutine: it ends when Close has closed the queue
// and the queue is empty.
func (ep *endpoint) run() {
	defer ep.s.wg.Done()
	for e := range ep.queue {
		ep.finish(ep.deliver(e))
	}
}

// deliver sends e until it is delivered, given up or stopped, and returns
// where it ended and how many retries it took.
func (ep *endpoint) deliver(e event.Event) (outcome, int) {
	ctx := ep.s.ctx
	if ctx.Err() != nil {
		return outcome{dropped: DroppedShutdown}, 0
	}
	if ep.gone.Load() {
		return outcome{dropped: DroppedGone}, 0
	}
	body, err := json.Marshal(e)
	if err != nil { // Send refuses what cannot be encoded; this is a bug
		ep.logFailure(e, &attemptError{class: failure.Config}, 0)
		return outcome{failed: true}, 0
	}
	attempts := 0
	_, err = ep.retry.WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[int]) (int, error) {
		actx := exec.Context()
		// A Retry-After pause is waited out here, outside the breaker.
		if err := ep.waitPause(actx); err != nil {
			return 0, err
		}
		if ep.gone.Load() {
			return 0, errGone
		}
		attempts++
		return ep.call.WithContext(actx).GetWithExecution(func(call failsafe.Execution[int]) (int, error) {
			return ep.attempt(call.Context(), e.ID, body)
		})
	})
	retries := max(attempts-1, 0)
	var ae *attemptError
	switch {
	case err == nil:
		return outcome{delivered: true}, retries
	case ctx.Err() != nil:
		return outcome{dropped: DroppedShutdown}, retries
	case errors.Is(err, circuitbreaker.ErrOpen):
		return outcome{dropped: DroppedCircuitOpen}, retries
	case errors.Is(err, errGone):
		return outcome{dropped: DroppedGone}, retries
	case errors.As(err, &ae):
		ep.logFailure(e, ae, attempts)
	default:
		ep.logFailure(e, &attemptError{class: failure.Canceled}, attempts)
	}
	return outcome{failed: true}, retries
}

// attempt makes one signed POST and classifies its answer.
func (ep *endpoint) attempt(ctx context.Context, id string, body []byte) (int, error) {
	actx, cancel := context.WithTimeout(ctx, ep.s.cfg.attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return 0, &attemptError{class: failure.Config}
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, signature(ep.keys, id, ts, body))
	resp, err := ep.client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return 0, ctx.Err() // the Sink is shutting down: neither retried nor counted by the breaker
		case errors.Is(actx.Err(), context.DeadlineExceeded):
			return 0, &attemptError{class: failure.Timeout}
		}
		return 0, &attemptError{class: failure.Network}
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
	st := resp.StatusCode
	switch {
	case st >= 200 && st < 300:
		return st, nil
	case st == http.StatusGone:
		if !ep.gone.Swap(true) && ep.s.log != nil {
			ep.s.log.LogAttrs(context.Background(), slog.LevelWarn,
				"webhook endpoint answered 410 Gone; no more deliveries go to it",
				slog.String("endpoint", ep.display))
		}
		return st, &attemptError{class: failure.BadRequest, status: st}
	case st == http.StatusTooManyRequests:
		return st, ep.withRetryAfter(&attemptError{class: failure.RateLimited, status: st}, resp)
	case st == http.StatusRequestTimeout:
		return st, ep.withRetryAfter(&attemptError{class: failure.Timeout, status: st}, resp)
	case st >= 500:
		return st, ep.withRetryAfter(&attemptError{class: failure.Server, status: st}, resp)
	}
	return st, &attemptError{class: failure.BadRequest, status: st} // 1xx, 3xx, other 4xx: not retried
}

// withRetryAfter notes the answer's Retry-After in ae and pauses every
// attempt to the endpoint for it.
func (ep *endpoint) withRetryAfter(ae *attemptError, resp *http.Response) *attemptError {
	if d, ok := httprule.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && d > 0 {
		ae.retryAfter = min(d, ep.s.cfg.maxRetryAfter)
		until := time.Now().Add(ae.retryAfter).UnixNano()
		for {
			cur := ep.paused.Load()
			if cur >= until || ep.paused.CompareAndSwap(cur, until) {
				break
			}
		}
	}
	return ae
}

// delay returns the wait before retry n (from 0) after err.
func (ep *endpoint) delay(n int, err error) time.Duration {
	cfg := ep.s.cfg
	var ae *attemptError
	if errors.As(err, &ae) && ae.retryAfter > 0 {
		return ae.retryAfter
	}
	d := cfg.backoffBase << min(n, 30)
	if d <= 0 || d > cfg.maxBackoff {
		d = cfg.maxBackoff
	}
	return d + time.Duration(ep.jitter()*float64(cfg.maxJitter))
}

// waitPause blocks until a Retry-After pause has passed or ctx ends.
func (ep *endpoint) waitPause(ctx context.Context) error {
	d := time.Until(time.Unix(0, ep.paused.Load()))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setOpen mirrors the breaker's state for Send, which drops events while
// it is open. The breaker half-opens lazily, on the next call after its
// delay, so Send lets events through again once the delay has passed.
func (ep *endpoint) setOpen(open bool) {
	till := int64(0)
	if open {
		till = time.Now().Add(ep.s.cfg.breakerDelay).UnixNano()
	}
	ep.openTill.Store(till)
	log := ep.s.log
	switch {
	case log == nil:
	case open:
		log.LogAttrs(context.Background(), slog.LevelWarn, "webhook circuit opened; events to the endpoint are dropped",
			slog.String("endpoint", ep.display), slog.Duration("for", ep.s.cfg.breakerDelay))
	default:
		log.LogAttrs(context.Background(), slog.LevelInfo, "webhook circuit closed", slog.String("endpoint", ep.display))
	}
}

// isOpen reports whether the breaker refuses deliveries now.
func (ep *endpoint) isOpen() bool {
	till := ep.openTill.Load()
	return till != 0 && time.Now().UnixNano() < till
}

// logFailure writes one record for an event given up: no payload, no
// secret, no URL path.
func (ep *endpoint) logFailure(e event.Event, ae *attemptError, attempts int) {
	log := ep.s.log
	if log == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("endpoint", ep.display),
		slog.String("event_id", e.ID),
		slog.String("type", e.Kind.String()),
		slog.String("class", ae.class.String()),
		slog.Int("attempts", attempts),
	}
	if ae.status != 0 {
		attrs = append(attrs, slog.Int("status", ae.status))
	}
	log.LogAttrs(context.Background(), slog.LevelWarn, "webhook delivery failed", attrs...)
}
