package run

import (
	"context"
	"fmt"
	"sync"

	"github.com/safecheck/safecheck"
)

// AttemptLog is a safecheck.Checker that passes every attempt to another
// Checker and remembers the first error of each class. A Guard's outcome
// carries only the last error of a check, which after retries is often
// "circuit_open"; the attempts' own errors say what actually went wrong
// (connection refused, HTTP 500, ...), so Run quotes them when it stops.
type AttemptLog struct {
	inner safecheck.Checker

	mu    sync.Mutex
	first map[string]string
	count map[string]int
}

// NewAttemptLog returns an AttemptLog around inner.
func NewAttemptLog(inner safecheck.Checker) *AttemptLog {
	return &AttemptLog{inner: inner, first: map[string]string{}, count: map[string]int{}}
}

// Check calls the inner Checker and records its error, if any.
func (l *AttemptLog) Check(ctx context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
	v, err := l.inner.Check(ctx, req)
	if err != nil && ctx.Err() == nil {
		ce := classOf(err)
		class := ce.Class.String()
		l.mu.Lock()
		if _, ok := l.first[class]; !ok {
			l.first[class] = describeError(ce)
		}
		l.count[class]++
		l.mu.Unlock()
	}
	return v, err
}

// Supports reports whether the inner Checker supports testType; Checkers
// that do not say accept every non-empty test type.
func (l *AttemptLog) Supports(testType string) bool {
	if s, ok := l.inner.(interface{ Supports(string) bool }); ok {
		return s.Supports(testType)
	}
	return testType != ""
}

// Errors returns how many attempts failed, by class.
func (l *AttemptLog) Errors() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.count))
	for k, v := range l.count {
		out[k] = v
	}
	return out
}

// First returns the message of the first failed attempt of class, and
// whether there was one.
func (l *AttemptLog) First(class string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg, ok := l.first[class]
	return msg, ok
}

// describeError returns the class, status and underlying error of ce. The
// assurancehub client's errors carry neither the key nor the content.
func describeError(ce *safecheck.CheckError) string {
	msg := ce.Class.String()
	if ce.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", ce.Status)
	}
	if ce.Err != nil {
		msg += ": " + ce.Err.Error()
	}
	return msg
}
