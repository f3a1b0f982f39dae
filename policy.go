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
	"github.com/safecheck/safecheck/failure"
)

// policies is the one place resilience lives. Every Checker call goes
// through retry (backoff, jitter, Retry-After); each attempt first waits out
// a Retry-After pause and takes a permit from the optional plan rate
// limiter, and only then goes through the circuit breaker and the
// per-attempt timeout. So the breaker and the timeout see nothing but calls
// that were really made: our own waiting is never an outage.
type policies struct {
	cfg      *config
	retry    failsafe.Executor[Verdict] // the outer policy, after a first attempt failed
	limiter  ratelimiter.RateLimiter[Verdict]
	breaker  circuitbreaker.CircuitBreaker[Verdict]
	auth     *authGate
	openTill atomic.Int64 // unix nanos until which the breaker is open, 0 when closed
	paused   atomic.Int64 // unix nanos until which a 429 asked every call to wait
	calls    atomic.Uint64
	retries  atomic.Uint64
	classes  [numAPIClasses]atomic.Uint64 // calls by answer class
	window   callWindow                   // calls in the last minute
	lastFail atomic.Pointer[tripReason]   // the last failure the breaker counted
	trip     atomic.Pointer[tripReason]   // the failure that last opened it
	onBreak  func(open bool, why *tripReason)
	jitterFn func() float64
	fleet    *fleet // the fleet's budget and pause, or nil (coordinator.go)
}

// tripReason is a failure the circuit breaker counted.
type tripReason struct {
	class  failure.Class
	status int
	at     time.Time
}

// errLocalRateLimit is returned when no permit of the plan rate limit is
// free within WithMaxRetryAfter: the sample is dropped as rate limited,
// and neither retried nor counted by the breaker.
var errLocalRateLimit = &CheckError{Class: failure.RateLimited, Err: ratelimiter.ErrExceeded}

func newPolicies(cfg *config, auth *authGate, onBreak func(open bool, why *tripReason)) *policies {
	p := &policies{cfg: cfg, auth: auth, onBreak: onBreak, jitterFn: rand.Float64}
	retry := retrypolicy.NewBuilder[Verdict]().
		HandleIf(func(_ Verdict, err error) bool { return p.retryable(err) }).
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
			ce := classify(policyError(err))
			switch ce.Class {
			case failure.Server, failure.Network, failure.Timeout:
				p.lastFail.Store(&tripReason{class: ce.Class, status: ce.Status, at: time.Now()})
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
	if cfg.ratePerMinute > 0 {
		p.limiter = ratelimiter.NewSmoothBuilder[Verdict](uint(cfg.ratePerMinute), time.Minute).Build()
	}
	p.retry = failsafe.With[Verdict](retry)
	return p
}

// setOpen mirrors the breaker's state for the request path. The breaker
// moves to half-open lazily, on the next call after its delay, so admission
// lets samples through again once the delay has passed.
func (p *policies) setOpen(open bool) {
	till := int64(0)
	var why *tripReason
	if open {
		till = time.Now().Add(p.cfg.breakerDelay).UnixNano()
		why = p.lastFail.Load()
		p.trip.Store(why)
	}
	if (p.openTill.Swap(till) != 0) != open && p.onBreak != nil {
		p.onBreak(open, why)
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
	if ce := classify(err); ce.Class == failure.RateLimited && ce.RetryAfter > 0 {
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
	p.pauseUntil(until)
	p.fleet.publishPause(until)
}

// pauseUntil makes every call wait until the unix nanos until.
func (p *policies) pauseUntil(until int64) {
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

// waitPause blocks until a pause has passed or ctx ends; waited is false
// when there was no pause to wait for.
func (p *policies) waitPause(ctx context.Context) (waited bool, err error) {
	until := p.paused.Load()
	if until == 0 {
		return false, nil
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return false, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// firstAttempt is what the caller of run may hand the first attempt: the
// clock it has just read (zero: none), and a zero attemptCtx it allocated
// with its own state for the attempt's context (nil: none).
type firstAttempt struct {
	now  time.Time
	ctx  *attemptCtx
	lane *lane // the worker's CPU lane, given up before the attempt waits
}

// run makes one check through every policy and reports how many calls it
// made. The first attempt runs without the retry executor: most checks
// succeed at once, and the retry policy is only needed after a retryable
// failure. It then takes over from that failure as if it had made the
// first attempt itself (it is handed the same result), so backoff, limits
// and results are the retry policy's, as before. It adds the time it
// waited (for the checker, a pause, a permit, or the whole of a retried
// check) to *waited, when waited is not nil: the rest is the CPU time the
// policies cost.
func (p *policies) run(ctx context.Context, checker Checker, req CheckRequest, waited *time.Duration, first firstAttempt) (Verdict, int, error) {
	attempts := 0
	v, err := p.attempt(ctx, checker, req, &attempts, waited, first)
	if ctx.Err() != nil {
		// The retry executor reports an execution canceled while it ran
		// as canceled, whatever the attempt returned.
		return Verdict{}, attempts, ctx.Err()
	}
	if err == nil || p.cfg.maxRetries == 0 || !p.retryable(err) {
		return v, attempts, policyError(err)
	}
	first.lane.release() // the retries wait out their backoff
	if waited != nil {
		defer stopwatch(waited, time.Now())
	}
	return p.retryAfter(ctx, checker, req, v, err, attempts)
}

// retryAfter hands a check whose first attempt failed with err, retryably,
// to the retry executor.
func (p *policies) retryAfter(ctx context.Context, checker Checker, req CheckRequest, v Verdict, err error, attempts int) (Verdict, int, error) {
	first := true
	v, err = p.retry.WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[Verdict]) (Verdict, error) {
		if first {
			first = false
			return v, err // the attempt already made
		}
		return p.attempt(exec.Context(), checker, req, &attempts, nil, firstAttempt{})
	})
	if err != nil {
		err = policyError(err)
	}
	return v, attempts, err
}

// retryable reports whether the retry policy retries after err.
func (p *policies) retryable(err error) bool {
	return err != nil && !isLocalStop(err) && classify(policyError(err)).Retryable()
}

// waitTurn waits out a Retry-After pause and takes a permit of the plan
// rate limit, if there is one. mayHaveWaited is false when it returned
// without anything that could block.
func (p *policies) waitTurn(ctx context.Context) (mayHaveWaited bool, err error) {
	paused, err := p.waitPause(ctx)
	if err != nil {
		return true, err
	}
	if p.fleet.hasBudget() { // the fleet's budget replaces the local limiter
		return true, p.fleet.permit(ctx, p.cfg.maxRetryAfter)
	}
	if p.limiter != nil {
		if err := p.limiter.AcquirePermitWithMaxWait(ctx, p.cfg.maxRetryAfter); err != nil {
			if errors.Is(err, ratelimiter.ErrExceeded) {
				return true, errLocalRateLimit
			}
			return true, err
		}
		return true, nil
	}
	return paused, nil
}

// attempt makes one attempt: it waits for a pause or a permit outside the
// breaker and the attempt timeout, then makes the call through the breaker,
// used as a standalone failsafe policy (permit, then the result recorded).
//
// first.now, when set, is the clock read just before: the attempt's
// timeout and its count in the last minute's window start from it, unless
// the attempt waited for its turn.
func (p *policies) attempt(ctx context.Context, checker Checker, req CheckRequest, attempts *int, waited *time.Duration, first firstAttempt) (Verdict, error) {
	var turn time.Time
	if waited != nil && (p.limiter != nil || p.paused.Load() != 0 || p.fleet.hasBudget()) {
		turn = time.Now()
	}
	now := first.now
	if p.limiter != nil || p.paused.Load() != 0 || p.fleet.hasBudget() {
		first.lane.release() // the turn may wait
	}
	mayHaveWaited, err := p.waitTurn(ctx)
	if mayHaveWaited {
		now = time.Time{}
	}
	if !turn.IsZero() {
		now = time.Now()
		*waited += now.Sub(turn)
	}
	if err != nil {
		return Verdict{}, err
	}
	if p.auth.stopped() {
		return Verdict{}, errAuthStopped
	}
	*attempts++
	if *attempts > 1 {
		p.retries.Add(1)
	}
	if !p.breaker.TryAcquirePermit() {
		return Verdict{}, circuitbreaker.ErrOpen
	}
	p.calls.Add(1)
	// The attempt timeout is a deadline on the call's context, where
	// failsafe's timeout policy costs an execution of its own; the
	// context makes a timer only if the checker waits on it.
	if now.IsZero() {
		now = time.Now()
	}
	cctx := first.ctx
	if cctx == nil {
		cctx = &attemptCtx{}
	}
	cctx.init(ctx, now, p.cfg.attemptTimeout)
	cctx.lane = first.lane // a checker that asks for Done is about to wait
	called := now
	if waited != nil {
		called = time.Now() // the waits count from the call itself
	}
	v, err := callChecker(cctx, checker, req)
	if waited != nil {
		*waited += time.Since(called)
	}
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = &CheckError{Class: failure.Timeout, Err: timeout.ErrExceeded}
	}
	cctx.end()
	p.recordCall(err, now)
	switch ce := classifyOrNil(err); {
	case ce == nil:
		p.auth.accepted()
	case ce.Class == failure.RateLimited && ce.RetryAfter > 0:
		p.pause(ce.RetryAfter)
	case ce.Class == failure.Unauthorized:
		p.auth.rejected()
	}
	if err != nil {
		p.breaker.RecordError(err)
	} else {
		p.breaker.RecordSuccess() // what RecordResult decides for any verdict: the breaker handles errors only
	}
	return v, err
}

// isLocalStop reports whether err means the Guard itself declined to call
// the API (a spent plan rate limit, a rejected key): such a sample is
// dropped, not failed.
func isLocalStop(err error) bool {
	return errors.Is(err, ratelimiter.ErrExceeded) || errors.Is(err, errAuthStopped)
}

func classifyOrNil(err error) *CheckError {
	if err == nil {
		return nil
	}
	return classify(err)
}

// callChecker turns a panic in a Checker into an error.
func callChecker(ctx context.Context, checker Checker, req CheckRequest) (v Verdict, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &CheckError{Class: failure.Panic, Err: errors.New("checker panicked")}
		}
	}()
	return checker.Check(ctx, req)
}

// policyError maps the breaker's refusal onto its error class; the
// attempt timeout and the plan rate limit return classified errors
// themselves.
func policyError(err error) error {
	if errors.Is(err, circuitbreaker.ErrOpen) {
		return &CheckError{Class: failure.CircuitOpen, Err: err}
	}
	return err
}
