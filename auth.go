package safecheck

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/failure"
)

// authRetryInterval is how long a Guard whose checker cannot tell key
// changes waits before it lets one call try the key again.
const authRetryInterval = 5 * time.Minute

// errAuthStopped is returned instead of a call while the API rejects the
// key in force.
var errAuthStopped = &CheckError{Class: failure.Unauthorized, Err: errors.New("the API rejected the key in force; no call made")}

// keyWatcher is implemented by checkers whose credential can change while
// they run (the AssuranceHub checker with a key source). KeyFingerprint
// reads the credential as the next call would, without calling the API.
type keyWatcher interface {
	KeyFingerprint(ctx context.Context) (string, error)
}

// authGate stops calls to the API after it has rejected the key, until the
// key changes. The request path and the workers read one atomic bool.
type authGate struct {
	closed atomic.Bool // no call may be made
	shown  atomic.Bool // the rejection was logged and has not been resolved

	log     *slog.Logger
	ctx     context.Context
	watcher keyWatcher // nil when the checker cannot tell key changes

	mu          sync.Mutex
	fingerprint string    // of the rejected key, when the watcher knows it
	retryAt     time.Time // for checkers without a watcher: when to try again
}

func newAuthGate(ctx context.Context, log *slog.Logger, checker Checker) *authGate {
	a := &authGate{ctx: ctx, log: log}
	a.watcher, _ = checker.(keyWatcher)
	return a
}

func (a *authGate) stopped() bool { return a.closed.Load() }

// rejected closes the gate after a 401 or 403, and says so once.
func (a *authGate) rejected() {
	var fp string
	if a.watcher != nil {
		fp, _ = a.watcher.KeyFingerprint(a.ctx)
	}
	a.mu.Lock()
	a.fingerprint, a.retryAt = fp, time.Now().Add(authRetryInterval)
	a.mu.Unlock()
	a.closed.Store(true)
	if a.shown.CompareAndSwap(false, true) {
		attrs := []slog.Attr{}
		if fp != "" {
			attrs = append(attrs, slog.String("fingerprint", fp))
		}
		a.log.LogAttrs(a.ctx, slog.LevelError,
			"AssuranceHub rejected the API key: checks stopped, new samples are dropped as auth_failed until the key changes; set ASSURANCEHUB_API_KEY or the key source to a valid key",
			attrs...)
	}
}

// accepted notes a call that the API answered with the key in force.
func (a *authGate) accepted() {
	if a.shown.Load() && a.shown.CompareAndSwap(true, false) {
		a.log.LogAttrs(a.ctx, slog.LevelInfo, "AssuranceHub accepts the API key again: checks resumed")
	}
}

// poll opens the gate when the key source yields another key, or, for a
// checker that cannot tell, once the retry interval has passed (one call
// then tries the key; a new rejection closes the gate again).
func (a *authGate) poll(now time.Time) {
	if !a.closed.Load() {
		return
	}
	a.mu.Lock()
	fp, retryAt := a.fingerprint, a.retryAt
	a.mu.Unlock()
	if a.watcher == nil {
		if !now.Before(retryAt) {
			a.closed.Store(false)
		}
		return
	}
	cur, err := a.watcher.KeyFingerprint(a.ctx)
	if err != nil || cur == fp {
		return
	}
	a.log.LogAttrs(a.ctx, slog.LevelInfo, "the API key changed: trying checks again", slog.String("fingerprint", cur))
	a.closed.Store(false)
}
