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
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/summary"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/words"
	"github.com/safecheck/safecheck/failure"
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

// Report describes a finished run.
type Report struct {
	// Summary holds the counts of every record: this run's and the
	// resumed ones. Its run-level fields (Status, ExitCode, ...) are left
	// for the caller.
	Summary summary.Summary
	// Pairs is the number of case × test type pairs; Resumed of them were
	// already done, Ran were evaluated and recorded in this run and NotRun
	// were not (a pair that finished after the run stopped on an error
	// is not recorded, so it counts as not run).
	Pairs, Resumed, Ran, NotRun int
	// Interrupted reports that ctx ended before every pair was evaluated.
	Interrupted bool
}

// Run evaluates every case for every test type with checker. It returns a
// Report even when it returns an error; the error is a configuration
// problem or one of ErrUnauthorized, ErrTooManyErrors and ErrWrite
// (wrapped with details). An interrupted run (ctx ended) is not an error:
// Report.Interrupted says so.
func Run(ctx context.Context, checker Checker, set []cases.Case, opts ...Option) (*Report, error) {
	c := config{concurrency: DefaultConcurrency, maxErrors: DefaultMaxErrors, grace: DefaultGrace, roundWait: defaultRoundWait}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("run: option %d is nil", i+1)
		}
		o.apply(&c)
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
		if f.canceled || runErr != nil {
			// A pair that finished after the run stopped is neither
			// written nor counted: it was not run, and resuming runs it.
			return
		}
		rec := c.record(f)
		if c.writer != nil {
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
		case rec.ErrorClass == failure.Unauthorized.String():
			abort(fmt.Errorf("%w (HTTP %d): check %s or -key-file", ErrUnauthorized, rec.Status, "ASSURANCEHUB_API_KEY"))
		case c.maxErrors >= 0 && failed > c.maxErrors:
			abort(fmt.Errorf("%w: %s failed, more than -max-errors %d (%s); %s",
				ErrTooManyErrors, words.N(failed, "pair", "pairs"), c.maxErrors, summary.Counts(byClass), c.cause(byClass, firstErr)))
		}
	}
	held := map[int]finished{} // ordered: finished before an earlier pair
	next := 0                  // ordered: the index of the next record to write
	for f := range out {
		f.canceled = f.outcome.Err != nil && (callCtx.Err() != nil || classOf(f.outcome.Err).Class == failure.Canceled)
		if !c.ordered {
			handle(f, true)
			continue
		}
		if !f.canceled && runErr == nil && c.progress != nil {
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
