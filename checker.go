package safecheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/safecheck/safecheck/failure"
)

// Checker evaluates one prompt/response pair for one test type. The core
// calls it only from background workers, through the resilience policies;
// an implementation makes exactly one attempt per call.
//
// A Checker may also have a method Supports(testType string) bool: Route
// then refuses test types it does not support. One with a method
// KeyFingerprint(ctx context.Context) (string, error), naming the
// credential its next call would send, lets the Guard resume checks as
// soon as a key the API rejected has been replaced.
type Checker interface {
	Check(ctx context.Context, req CheckRequest) (Verdict, error)
}

// CheckerFunc adapts a function to the Checker interface.
type CheckerFunc func(ctx context.Context, req CheckRequest) (Verdict, error)

// Check calls f(ctx, req).
func (f CheckerFunc) Check(ctx context.Context, req CheckRequest) (Verdict, error) {
	return f(ctx, req)
}

// testTypeSupporter is implemented by Checkers that know which test types
// they accept (see Checker); Route uses it to reject unknown ones up front.
type testTypeSupporter interface {
	Supports(testType string) bool
}

// CheckRequest is one pair of texts to check for one test type. Its
// CustomerID is cleaned and capped as WithCustomerID describes before a
// Checker sees it, also when it is given to Guard.Check.
type CheckRequest struct {
	TestType   string
	Prompt     string
	Response   string
	CustomerID string
}

// Verdict is a checker's answer for one CheckRequest.
type Verdict struct {
	Flagged   bool
	Score     float64
	RiskLevel string
	PassFail  string
}

// CheckError classifies a failed check so the policies know whether to retry
// it and for how long to wait. Checkers return it (or wrap it); an error of
// any other type is treated as a transient network error.
//
// Its Error text names only the class and the HTTP status: the wrapped
// error may quote the API's answer, which can echo the checked content, so
// it is reachable through errors.As and Unwrap but never printed by us.
type CheckError struct {
	// Class says why the check failed; an invalid class counts as
	// failure.Network.
	Class failure.Class
	// Status is the HTTP status of the answer, or 0 when there was none.
	Status int
	// RetryAfter is the wait the server asked for, or 0.
	RetryAfter time.Duration
	// Err is the underlying error. Its text must not contain content or keys.
	Err error
}

func (e *CheckError) Error() string {
	msg := "safecheck: check failed: " + e.Class.String()
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *CheckError) Unwrap() error { return e.Err }

// Retryable reports whether another attempt may succeed.
func (e *CheckError) Retryable() bool { return e.Class.Retryable() }

// classify returns the CheckError describing err, building one for errors
// that carry no class.
func classify(err error) *CheckError {
	var ce *CheckError
	if errors.As(err, &ce) {
		return ce
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &CheckError{Class: failure.Canceled, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &CheckError{Class: failure.Timeout, Err: err}
	}
	return &CheckError{Class: failure.Network, Err: err}
}
