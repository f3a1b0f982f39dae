package run

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/summary"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/words"
)

// Checker evaluates one pair; *safecheck.Guard implements it.
type Checker interface {
	Check(ctx context.Context, req safecheck.CheckRequest) safecheck.Outcome
}

// Progress receives one call per finished pair, and messages about the
// run. *progress.Reporter implements it.
type Progress interface {
	Add(flagged, failed bool)
	Printf(format string, args ...any)
}

// Errors that stop a run early.
var (
	// ErrUnauthorized means the API rejected the key.
	ErrUnauthorized = errors.New("the AssuranceHub API rejected the API key")
	// ErrTooManyErrors means more pairs failed than the error budget allows.
	ErrTooManyErrors = errors.New("too many failed calls")
	// ErrWrite means the results file could not be written.
	ErrWrite = errors.New("cannot write the results file")
)

// Defaults.
const (
	DefaultConcurrency = 10
	DefaultMaxErrors   = 10
	DefaultGrace       = 10 * time.Second
	// RateLimitRounds is how many times a pair that is still rate limited
	// after the Guard's own retries is tried again.
	RateLimitRounds = 10
)

// defaultRoundWait is the wait between rate-limit rounds when the API gave
// no Retry-After (with one, the Guard has already paused every call).
const defaultRoundWait = time.Second

type config struct {
	concurrency    int
	testTypes      []string
	done           map[results.Key]results.Record
	writer         *results.Writer
	progress       Progress
	gate           *gate.Gate
	maxErrors      int
	grace          time.Duration
	hardStop       <-chan struct{}
	includeContent bool
	attempts       *AttemptLog
	ordered        bool
	roundWait      time.Duration
}

// Option configures Run.
type Option func(*config)

// WithConcurrency sets how many pairs are evaluated at once (default
// DefaultConcurrency).
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// WithTestTypes sets the test types every case is evaluated for. At least
// one is required.
func WithTestTypes(types ...string) Option {
	return func(c *config) { c.testTypes = append([]string(nil), types...) }
}

// WithDone gives the records of an earlier run: pairs that have one are
// not evaluated again, and the records count in the summary.
func WithDone(done map[results.Key]results.Record) Option {
	return func(c *config) { c.done = done }
}

// WithResults writes one record per finished pair to w.
func WithResults(w *results.Writer) Option { return func(c *config) { c.writer = w } }

// WithProgress reports progress to p.
func WithProgress(p Progress) Option { return func(c *config) { c.progress = p } }

// WithGate sets the gate the verdicts are judged by (default: none).
func WithGate(g *gate.Gate) Option { return func(c *config) { c.gate = g } }

// WithMaxErrors stops the run when more than n pairs have failed (default
// DefaultMaxErrors); a negative n never stops it.
func WithMaxErrors(n int) Option { return func(c *config) { c.maxErrors = n } }

// WithGrace sets how long calls in flight may go on after ctx ends before
// they are cancelled (default DefaultGrace).
func WithGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithHardStop cancels the calls in flight as soon as ch is closed after
// ctx has ended, without waiting for the grace period (a second Ctrl-C).
func WithHardStop(ch <-chan struct{}) Option { return func(c *config) { c.hardStop = ch } }

// WithAttemptLog tells Run the AttemptLog inside its Checker, so that the
// error that stops a run quotes the attempts' errors.
func WithAttemptLog(l *AttemptLog) Option { return func(c *config) { c.attempts = l } }

// WithOrdered writes the records in input order (cases, then test types in
// the order given) rather than as the calls finish. A record that finishes
// early waits for those before it; no pair more than the concurrency
// window ahead of the oldest unwritten one is started, so at most that
// many records wait.
func WithOrdered(on bool) Option { return func(c *config) { c.ordered = on } }

// WithContent copies the prompt, response and customer id into the
// records.
func WithContent(on bool) Option { return func(c *config) { c.includeContent = on } }

func (c *config) validate() error {
	var errs []error
	if c.concurrency <= 0 {
		errs = append(errs, fmt.Errorf("concurrency must be positive, got %d", c.concurrency))
	}
	if len(c.testTypes) == 0 {
		errs = append(errs, errors.New("no test types"))
	}
	seen := map[string]bool{}
	for _, t := range c.testTypes {
		if seen[t] {
			errs = append(errs, fmt.Errorf("test type %q listed twice", t))
		}
		seen[t] = true
	}
	if c.grace < 0 {
		errs = append(errs, fmt.Errorf("grace must not be negative, got %s", c.grace))
	}
	return errors.Join(errs...)
}

// Report describes a finished run.
type Report struct {
	// Summary holds the counts of every record: this run's and the
	// resumed ones. Its run-level fields (Status, ExitCode, ...) are left
	// for the caller.
	Summary summary.Summary
	// Pairs is the number of case × test type pairs; Resumed of them were
	// already done, Ran finished in this run and NotRun were not evaluated.
	Pairs, Resumed, Ran, NotRun int
	// Interrupted reports that ctx ended before every pair was evaluated.
	Interrupted bool
}

type pair struct {
	c        *cases.Case
	testType string
	index    int // in the run's order
}

type finished struct {
	p        pair
	outcome  safecheck.Outcome
	attempts int
	dur      time.Duration
	canceled bool // cancelled, not evaluated: a resumed run does it again
}

// Run evaluates every case for every test type with checker. It returns a
// Report even when it returns an error; the error is a configuration
// problem or one of ErrUnauthorized, ErrTooManyErrors and ErrWrite
// (wrapped with details). An interrupted run (ctx ended) is not an error:
// Report.Interrupted says so.
func Run(ctx context.Context, checker Checker, set []cases.Case, opts ...Option) (*Report, error) {
	c := config{concurrency: DefaultConcurrency, maxErrors: DefaultMaxErrors, grace: DefaultGrace, roundWait: defaultRoundWait}
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if checker == nil {
		return nil, errors.New("run: checker is nil")
	}
	agg := summary.New(c.testTypes, c.gate)
	rep := &Report{Pairs: len(set) * len(c.testTypes)}

	var todo []pair
	for i := range set {
		for _, tt := range c.testTypes {
			if rec, ok := c.done[results.Key{ID: set[i].ID, TestType: tt}]; ok {
				rep.Resumed++
				agg.Add(rec, true)
				continue
			}
			todo = append(todo, pair{&set[i], tt, len(todo)})
		}
	}

	stopCtx, stopDispatch := context.WithCancel(ctx)
	defer stopDispatch()
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	var inFlight atomic.Int64
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		select {
		case <-callCtx.Done():
			return
		case <-ctx.Done():
		}
		if n := inFlight.Load(); n > 0 && c.progress != nil {
			c.progress.Printf("interrupted: letting %s in flight finish (up to %s; interrupt again to cancel them)\n",
				words.N(int(n), "call", "calls"), c.grace)
		}
		t := time.NewTimer(c.grace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.hardStop:
		case <-callCtx.Done():
		}
		cancelCalls()
	}()
	defer watch.Wait()

	jobs := make(chan pair)
	out := make(chan finished)
	// With ordered results, a pair takes a slot of the window before it
	// starts and gives it back when its record is written in order.
	var window chan struct{}
	if c.ordered {
		window = make(chan struct{}, c.concurrency)
	}
	var workers sync.WaitGroup
	workers.Add(1)
	go func() { // dispatcher
		defer workers.Done()
		defer close(jobs)
		for _, p := range todo {
			if window != nil {
				select {
				case window <- struct{}{}:
				case <-stopCtx.Done():
					return
				}
			}
			select {
			case jobs <- p:
			case <-stopCtx.Done():
				return
			}
		}
	}()
	for range min(c.concurrency, max(len(todo), 1)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for p := range jobs {
				inFlight.Add(1)
				out <- evaluate(callCtx, checker, p, c.roundWait)
				inFlight.Add(-1)
			}
		}()
	}
	go func() {
		workers.Wait()
		close(out)
	}()

	var (
		runErr   error
		failed   int
		byClass  = map[string]int{}
		firstErr = map[string]string{}
	)
	abort := func(err error) {
		if runErr == nil {
			runErr = err
			stopDispatch()
			cancelCalls()
		}
	}
	// handle writes and counts one finished pair; progress says whether
	// it also reports it (with ordered results it was reported on arrival).
	handle := func(f finished, progress bool) {
		if f.canceled {
			return
		}
		rec := c.record(f)
		if c.writer != nil && runErr == nil {
			if err := c.writer.Write(rec); err != nil {
				abort(fmt.Errorf("%w: %w", ErrWrite, err))
				return
			}
		}
		rep.Ran++
		agg.Add(rec, false)
		if progress && c.progress != nil {
			c.progress.Add(rec.OK() && rec.Flagged, !rec.OK())
		}
		if rec.OK() {
			return
		}
		failed++
		byClass[rec.ErrorClass]++
		if _, ok := firstErr[rec.ErrorClass]; !ok {
			firstErr[rec.ErrorClass] = describeError(classOf(f.outcome.Err))
		}
		switch {
		case rec.ErrorClass == safecheck.ClassUnauthorized.String():
			abort(fmt.Errorf("%w (HTTP %d): check %s or -key-file", ErrUnauthorized, rec.Status, "ASSURANCEHUB_API_KEY"))
		case c.maxErrors >= 0 && failed > c.maxErrors:
			abort(fmt.Errorf("%w: %s failed, more than -max-errors %d (%s); %s",
				ErrTooManyErrors, words.N(failed, "pair", "pairs"), c.maxErrors, summary.Counts(byClass), c.cause(byClass, firstErr)))
		}
	}
	held := map[int]finished{} // ordered: finished before an earlier pair
	next := 0                  // ordered: the index of the next record to write
	for f := range out {
		f.canceled = f.outcome.Err != nil && (callCtx.Err() != nil || classOf(f.outcome.Err).Class == safecheck.ClassCanceled)
		if !c.ordered {
			handle(f, true)
			continue
		}
		if !f.canceled && c.progress != nil {
			ok := f.outcome.Err == nil
			c.progress.Add(ok && f.outcome.Verdict.Flagged, !ok)
		}
		// The dispatcher starts pairs in order and every started pair
		// arrives here, so the ones held always come to their turn.
		held[f.p.index] = f
		for h, ok := held[next]; ok; h, ok = held[next] {
			delete(held, next)
			next++
			handle(h, false)
			<-window
		}
	}
	cancelCalls()
	rep.NotRun = len(todo) - rep.Ran
	rep.Interrupted = ctx.Err() != nil && rep.NotRun > 0
	rep.Summary = agg.Summary()
	rep.Summary.Pairs = rep.Pairs
	rep.Summary.NotRun = rep.NotRun
	return rep, runErr
}

// evaluate checks one pair, trying again while the outcome is rate
// limited.
func evaluate(ctx context.Context, checker Checker, p pair, roundWait time.Duration) finished {
	req := safecheck.CheckRequest{TestType: p.testType, Prompt: p.c.Prompt, Response: p.c.Response, CustomerID: p.c.CustomerID}
	f := finished{p: p}
	for round := 1; ; round++ {
		o := checker.Check(ctx, req)
		f.outcome = o
		f.attempts += o.Attempts
		f.dur += o.Duration
		if o.Err == nil || round >= RateLimitRounds || ctx.Err() != nil {
			return f
		}
		ce := classOf(o.Err)
		if ce.Class != safecheck.ClassRateLimited {
			return f
		}
		if ce.RetryAfter == 0 {
			t := time.NewTimer(roundWait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return f
			}
			f.dur += roundWait
		}
	}
}

func classOf(err error) *safecheck.CheckError {
	var ce *safecheck.CheckError
	if errors.As(err, &ce) {
		return ce
	}
	return &safecheck.CheckError{Class: safecheck.ClassNetwork, Err: err}
}

func (c *config) record(f finished) results.Record {
	rec := results.Record{
		ID:        f.p.c.ID,
		TestType:  f.p.testType,
		LatencyMS: results.Millis(f.dur),
		Attempts:  f.attempts,
		Cached:    f.outcome.Cached,
		Line:      f.p.c.Line,
	}
	if f.outcome.Err != nil {
		ce := classOf(f.outcome.Err)
		rec.ErrorClass, rec.Status = ce.Class.String(), ce.Status
	} else {
		v := f.outcome.Verdict
		rec.Verdict = &results.Verdict{Flagged: v.Flagged, Score: v.Score, RiskLevel: v.RiskLevel, PassFail: v.PassFail}
	}
	if c.includeContent {
		rec.Prompt, rec.Response, rec.CustomerID = f.p.c.Prompt, f.p.c.Response, f.p.c.CustomerID
	}
	return rec
}

// cause quotes the error that best explains why pairs failed: the first
// error of the most frequent class of failed attempts, or else of failed
// pairs, leaving out circuit_open, which only says that earlier calls
// failed.
func (c *config) cause(byClass map[string]int, first map[string]string) string {
	if c.attempts != nil {
		counts := c.attempts.Errors()
		if class := mostFrequent(counts); class != "" {
			if msg, ok := c.attempts.First(class); ok {
				return fmt.Sprintf("failed attempts: %s; first: %s", summary.Counts(counts), msg)
			}
		}
	}
	return "first error: " + first[mostFrequent(byClass)]
}

// mostFrequent returns the most frequent class other than circuit_open
// (unless it is the only one).
func mostFrequent(byClass map[string]int) string {
	best, n := "", -1
	for k, v := range byClass {
		if k == safecheck.ClassCircuitOpen.String() && len(byClass) > 1 {
			continue
		}
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best
}
