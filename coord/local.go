package coord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Local is a deployment held in memory: the Guards of one process that
// are given replicas of one Local share incidents, rates, escalations,
// pauses, the budget and the verdict cache exactly as replicas on a shared store do,
// with no store that can fail (their mode is always Shared). It serves
// tests and demos of fleet behaviour without a server.
type Local struct {
	secret []byte

	mu       sync.Mutex
	state    map[string]Change // the latest change of each subject
	replicas map[*localReplica]bool
	tat      time.Time // the budget's theoretical arrival time (GCRA)
	cache    map[string]localEntry
	names    int
	pruned   time.Time // when escalations over were last dropped from state
}

type localEntry struct {
	v       Verdict
	expires time.Time
}

// NewLocal returns an empty deployment whose cache keys are keyed with
// secret, which must hold at least MinSecretBytes bytes.
func NewLocal(secret []byte) (*Local, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("coord: the deployment secret has %d bytes, want at least %d", len(secret), MinSecretBytes)
	}
	return &Local{
		secret:   append([]byte(nil), secret...),
		state:    map[string]Change{},
		replicas: map[*localReplica]bool{},
		cache:    map[string]localEntry{},
	}, nil
}

// Replica returns a Coordinator for one more Guard of the deployment.
func (l *Local) Replica() Coordinator {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names++
	return &localReplica{l: l, name: fmt.Sprintf("local-%d", l.names), wake: make(chan struct{}, 1)}
}

// Changes returns the latest change of each subject, as a store would
// hold them.
func (l *Local) Changes() map[string]Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]Change, len(l.state))
	for k, v := range l.state {
		m[k] = v
	}
	return m
}

// CacheKeys returns the keys the shared cache holds.
func (l *Local) CacheKeys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.cache))
	for k := range l.cache {
		keys = append(keys, k)
	}
	return keys
}

type localReplica struct {
	l    *Local
	name string

	mu      sync.Mutex
	member  Member
	queue   []Change
	started bool
	closed  bool
	since   time.Time
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func (r *localReplica) Start(m Member) error {
	if m.Apply == nil {
		return errors.New("coord: Member.Apply is nil")
	}
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("coord: the replica has started already; each Guard needs its own")
	}
	r.started, r.member, r.since = true, m, time.Now()
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	r.mu.Unlock()

	r.l.mu.Lock()
	r.l.replicas[r] = true
	for _, c := range r.l.state {
		r.enqueue(c)
	}
	r.l.mu.Unlock()
	go r.deliver()
	return nil
}

func (r *localReplica) enqueue(c Change) {
	r.mu.Lock()
	r.queue = append(r.queue, c)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// deliver hands queued changes to the member, in order, off the
// publisher's goroutine.
func (r *localReplica) deliver() {
	defer close(r.done)
	for {
		select {
		case <-r.wake:
		case <-r.stop:
			return
		}
		r.mu.Lock()
		q := r.queue
		r.queue = nil
		apply := r.member.Apply
		r.mu.Unlock()
		for _, c := range q {
			apply(c)
		}
	}
}

func (r *localReplica) Publish(c Change) {
	c.Origin = r.name
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.state[c.Subject()]; ok && !c.At.After(prev.At) {
		return
	}
	l.state[c.Subject()] = c
	l.prune()
	for o := range l.replicas {
		if o != r {
			o.enqueue(c)
		}
	}
}

// prune drops, at most once a second, the escalation changes whose
// escalation is over, as a store's TTL would; l.mu is held.
func (l *Local) prune() {
	now := time.Now()
	if now.Sub(l.pruned) < time.Second {
		return
	}
	l.pruned = now
	for k, c := range l.state {
		if c.Kind == KindEscalation && c.Escalation != nil && !c.Escalation.Until.After(now) {
			delete(l.state, k)
		}
	}
}

func (r *localReplica) Reserve(ctx context.Context) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	r.mu.Lock()
	rate := r.member.RatePerMinute
	r.mu.Unlock()
	if rate <= 0 {
		return Permit{Allowed: true}, nil
	}
	emission := time.Minute / time.Duration(rate)
	l := r.l
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tat.After(now) {
		return Permit{RetryAfter: l.tat.Sub(now)}, nil
	}
	l.tat = now.Add(emission)
	return Permit{Allowed: true}, nil
}

func (r *localReplica) VerdictKey(testType, prompt, response string) string {
	return Key(r.l.secret, testType, prompt, response)
}

func (r *localReplica) Lookup(_ context.Context, key string) (Verdict, bool) {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[key]
	if !ok || !time.Now().Before(e.expires) {
		delete(l.cache, key)
		return Verdict{}, false
	}
	return e.v, true
}

func (r *localReplica) Store(_ context.Context, key string, v Verdict, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cache[key] = localEntry{v: v, expires: time.Now().Add(ttl)}
}

func (r *localReplica) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.closed {
		return Status{}
	}
	return Status{Mode: Shared, Since: r.since}
}

func (r *localReplica) Close() error {
	r.mu.Lock()
	if !r.started || r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.l.mu.Lock()
	delete(r.l.replicas, r)
	r.l.mu.Unlock()
	close(r.stop)
	<-r.done
	return nil
}
