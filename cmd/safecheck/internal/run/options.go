package run

import (
	"errors"
	"fmt"
	"time"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
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

// Option configures Run; a nil Option makes it fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithConcurrency sets how many pairs are evaluated at once (default
// DefaultConcurrency).
func WithConcurrency(n int) Option { return optionFunc(func(c *config) { c.concurrency = n }) }

// WithTestTypes sets the test types every case is evaluated for. At least
// one is required.
func WithTestTypes(types ...string) Option {
	return optionFunc(func(c *config) { c.testTypes = append([]string(nil), types...) })
}

// WithDone gives the records of an earlier run: pairs that have one are
// not evaluated again, and the records count in the summary.
func WithDone(done map[results.Key]results.Record) Option {
	return optionFunc(func(c *config) { c.done = done })
}

// WithResults writes one record per finished pair to w.
func WithResults(w *results.Writer) Option { return optionFunc(func(c *config) { c.writer = w }) }

// WithProgress reports progress to p.
func WithProgress(p Progress) Option { return optionFunc(func(c *config) { c.progress = p }) }

// WithGate sets the gate the verdicts are judged by (default: none).
func WithGate(g *gate.Gate) Option { return optionFunc(func(c *config) { c.gate = g }) }

// WithMaxErrors stops the run when more than n pairs have failed (default
// DefaultMaxErrors); a negative n never stops it.
func WithMaxErrors(n int) Option { return optionFunc(func(c *config) { c.maxErrors = n }) }

// WithGrace sets how long calls in flight may go on after ctx ends before
// they are cancelled (default DefaultGrace).
func WithGrace(d time.Duration) Option { return optionFunc(func(c *config) { c.grace = d }) }

// WithHardStop cancels the calls in flight as soon as ch is closed after
// ctx has ended, without waiting for the grace period (a second Ctrl-C).
func WithHardStop(ch <-chan struct{}) Option { return optionFunc(func(c *config) { c.hardStop = ch }) }

// WithAttemptLog tells Run the AttemptLog inside its Checker, so that the
// error that stops a run quotes the attempts' errors.
func WithAttemptLog(l *AttemptLog) Option { return optionFunc(func(c *config) { c.attempts = l }) }

// WithOrdered writes the records in input order (cases, then test types in
// the order given) rather than as the calls finish. A record that finishes
// early waits for those before it; no pair more than the concurrency
// window ahead of the oldest unwritten one is started, so at most that
// many records wait.
func WithOrdered(on bool) Option { return optionFunc(func(c *config) { c.ordered = on }) }

// WithContent copies the prompt, response and customer id into the
// records.
func WithContent(on bool) Option { return optionFunc(func(c *config) { c.includeContent = on }) }

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
