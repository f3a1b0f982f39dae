package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/summary"
	"github.com/safecheck/safecheck/failure"
)

// pair is one case × test type of the run.
type pair struct {
	c        *cases.Case
	testType string
	index    int // in the run's order
}

// finished is what evaluating a pair gave.
type finished struct {
	p        pair
	outcome  safecheck.Outcome
	attempts int
	dur      time.Duration
	canceled bool // cancelled, not evaluated: a resumed run does it again
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
		if ce.Class != failure.RateLimited {
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
	return &safecheck.CheckError{Class: failure.Network, Err: err}
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
		if k == failure.CircuitOpen.String() && len(byClass) > 1 {
			continue
		}
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best
}
