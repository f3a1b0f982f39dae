package safecheck

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
)

// policies is the one place resilience lives: every Checker call goes
// through retry (backoff, jitter, Retry-After), a circuit breaker, an
// optional rate limiter and a per-attempt timeout.
type policies struct {
	cfg      *config
	exec     failsafe.Executor[Verdict]
	breaker  circuitbreaker.CircuitBreaker[Verdict]
	openTill atomic.Int64 // unix nanos until which the breaker is open, 0 when closed
	paused   atomic.Int64 // unix nanos until which a 429 asked every call to wait
	calls    atomic.Uint64
	retries  atomic.Uint64
	onBreak  func(open bool)
	jitterFn func() float64
}

func newPolicies(cfg *config, onBreak func(open bool)) *policies {
	p := &policies{cfg: cfg, onBreak: onBreak, jitterFn: rand.Float64}
	retry := retrypolicy.NewBuilder[Verdict]().
		HandleIf(func(_ Verdict, err error) bool {
			return err != nil && classify(policyError(err)).Retryable()
		}).
		WithMaxRetries(cfg.maxRetries).
		WithDelayFunc(func(exec failsafe.ExecutionAttempt[Verdict]) time.Duration {
			return p.delay(exec.Attempts()-1, exec.LastError())
		}).
		ReturnLastFailure().
		Build()
	p.breaker = circuitbreaker.NewBuilder[Verdict]().
		HandleIf(func(_ Verdict, err error) bool {
			if err == nil {
				return false
			}
			switch classify(err).Class {
			case ClassServer, ClassNetwork, ClassTimeout:
				return true
			}
			return false
		}).
		WithFailureThreshold(uint(cfg.breakerFailures)).
		WithDelay(cfg.breakerDelay).
		OnOpen(func(circuitbreaker.StateChangedEvent) { p.setOpen(true) }).
		OnHalfOpen(func(circuitbreaker.StateChangedEvent) { p.setOpen(false) }).
		OnClose(func(circuitbreaker.StateChangedEvent) { p.setOpen(false) }).
		Build()
	list := []failsafe.Policy[Verdict]{retry, p.breaker}
	if cfg.ratePerMinute > 0 {
		list = append(list, ratelimiter.NewSmoothBuilder[Verdict](uint(cfg.ratePerMinute), time.Minute).
			WithMaxWaitTime(cfg.maxRetryAfter).Build())
	}
	list = append(list, timeout.New[Verdict](cfg.attemptTimeout))
	p.exec = failsafe.With(list...)
	return p
}

// setOpen mirrors the breaker's state for the request path. The breaker
// moves to half-open lazily, on the next call after its delay, so admission
// lets samples through again once the delay has passed.
func (p *policies) setOpen(open bool) {
	till := int64(0)
	if open {
		till = time.Now().Add(p.cfg.breakerDelay).UnixNano()
	}
	if (p.openTill.Swap(till) != 0) != open && p.onBreak != nil {
		p.onBreak(open)
	}
}

// isOpen reports whether the breaker refuses calls now. It reads the clock
// only while the breaker is open.
func (p *policies) isOpen() bool {
	till := p.openTill.Load()
	return till != 0 && time.Now().UnixNano() < till
}

// delay returns the wait before retry number n (0-based) after err.
func (p *policies) delay(n int, err error) time.Duration {
	if ce := classify(err); ce.Class == ClassRateLimited && ce.RetryAfter > 0 {
		return min(ce.RetryAfter, p.cfg.maxRetryAfter)
	}
	d := p.cfg.backoffBase << min(n, 30)
	if d <= 0 || d > p.cfg.maxBackoff {
		d = p.cfg.maxBackoff
	}
	return d + time.Duration(p.jitterFn()*float64(p.cfg.maxJitter))
}

// pause makes every call wait until d has passed, as a 429's Retry-After asks.
func (p *policies) pause(d time.Duration) {
	until := time.Now().Add(min(d, p.cfg.maxRetryAfter)).UnixNano()
	for {
		cur := p.paused.Load()
		if cur >= until || p.paused.CompareAndSwap(cur, until) {
			return
		}
	}
}

// isPaused reports whether calls are paused by a Retry-After. It reads the
// clock only while a pause has been set.
func (p *policies) isPaused() bool {
	until := p.paused.Load()
	if until == 0 {
		return false
	}
	if time.Now().UnixNano() < until {
		return true
	}
	p.paused.CompareAndSwap(until, 0)
	return false
}

// waitPause blocks until a pause has passed or ctx ends.
func (p *policies) waitPause(ctx context.Context) error {
	until := p.paused.Load()
	if until == 0 {
		return nil
	}
	d := time.Until(time.Unix(0, until))
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

// run makes one check through every policy and reports how many attempts
// it took.
func (p *policies) run(ctx context.Context, checker Checker, req CheckRequest) (Verdict, int, error) {
	attempts := 0
	v, err := p.exec.WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[Verdict]) (Verdict, error) {
		actx := exec.Context()
		if err := p.waitPause(actx); err != nil {
			return Verdict{}, err
		}
		attempts++
		if attempts > 1 {
			p.retries.Add(1)
		}
		p.calls.Add(1)
		v, err := callChecker(actx, checker, req)
		if err != nil {
			if ce := classify(err); ce.Class == ClassRateLimited && ce.RetryAfter > 0 {
				p.pause(ce.RetryAfter)
			}
		}
		return v, err
	})
	if err != nil {
		err = policyError(err)
	}
	return v, attempts, err
}

// callChecker turns a panic in a Checker into an error.
func callChecker(ctx context.Context, checker Checker, req CheckRequest) (v Verdict, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &CheckError{Class: ClassPanic, Err: errors.New("checker panicked")}
		}
	}()
	return checker.Check(ctx, req)
}

// policyError maps the policies' own errors onto error classes.
func policyError(err error) error {
	switch {
	case errors.Is(err, circuitbreaker.ErrOpen):
		return &CheckError{Class: ClassCircuitOpen, Err: err}
	case errors.Is(err, timeout.ErrExceeded):
		return &CheckError{Class: ClassTimeout, Err: err}
	case errors.Is(err, ratelimiter.ErrExceeded):
		return &CheckError{Class: ClassRateLimited, Err: err}
	}
	return err
}
