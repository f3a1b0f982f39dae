package safecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/extract"
)

// ErrClosed is returned by operations on a Guard that has been closed.
var ErrClosed = errors.New("safecheck: guard is closed")

// Guard samples requests on its routes and checks them in the background.
// Create one with New, mount its routes, and Close it on shutdown.
type Guard struct {
	cfg      config
	checker  Checker
	log      *slog.Logger
	policy   *policies
	auth     *authGate
	cache    *verdictCache
	random   func() float64
	redact   *redactor
	records  slog.Handler  // the sinks past the redactor, for verdict records (writeRecord)
	lanes    chan struct{} // the CPU lanes the workers take (lanes.go)
	appHooks bool          // WithOnVerdict, WithOnEvent or WithOnAlert functions are set
	rx       reactions     // escalations, alert rules, event hooks (events.go)
	fleet    *fleet        // nil without WithCoordinator (coordinator.go)

	routesMu sync.RWMutex
	routes   map[string]*Route

	incidentMu sync.Mutex
	incident   atomic.Pointer[incident]

	queue   queue
	pending atomic.Int64 // samples admitted and not yet finished
	bytes   atomic.Int64 // bytes held or reserved by those samples

	closed      atomic.Bool
	lifeMu      sync.Mutex // orders Close with the changes it refuses
	stopMu      sync.RWMutex
	stopped     bool
	idleMu      sync.Mutex
	idleCh      chan struct{} // closed when pending reaches 0 while someone waits
	idleWaiters atomic.Int32
	finishMu    sync.RWMutex // orders finishing samples with Close giving up on them
	abandoned   atomic.Bool  // Close returned: samples still running end as shutdown drops
	baseCtx     context.Context
	workCtx     context.Context
	cancel      context.CancelFunc
	quit        chan struct{}
	workers     sync.WaitGroup
	counters    counters
	panics      panicLog
	budget      cpuBudget // WithCPUBudget's; admission reads one atomic of it

	// deliver passes a finished capture to the workers: the queue's offer.
	deliver func(*Capture)
}

// New returns a Guard that checks samples with checker. Every option is
// validated here; the Guard starts its workers before it returns.
func New(checker Checker, opts ...Option) (*Guard, error) {
	if err := validChecker(checker); err != nil {
		return nil, err
	}
	cfg := config{
		service:         defaultService,
		workers:         defaultWorkers,
		queueSize:       defaultQueueSize,
		queueBytes:      defaultQueueBytes,
		cacheTTL:        defaultCacheTTL,
		cacheEntries:    defaultCacheEntries,
		maxRetries:      defaultMaxRetries,
		backoffBase:     defaultBackoffBase,
		maxBackoff:      defaultMaxBackoff,
		maxJitter:       defaultMaxJitter,
		maxRetryAfter:   defaultMaxRetryAfter,
		attemptTimeout:  defaultAttemptTimeout,
		breakerFailures: defaultBreakerFailures,
		breakerDelay:    defaultBreakerDelay,
		cpuShare:        defaultCPUShare,
		gcMeter:         runtimeGCMeter,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("safecheck: invalid configuration: option %d is nil", i+1)
		}
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("safecheck: invalid configuration: %w", err)
	}
	if cfg.extractor == nil {
		ex, err := extract.New()
		if err != nil {
			return nil, fmt.Errorf("safecheck: extractor: %w", err)
		}
		cfg.extractor = ex
	}
	red, err := newRedactor(cfg.privacy)
	if err != nil {
		return nil, fmt.Errorf("safecheck: invalid configuration: %w", err)
	}
	g := &Guard{
		cfg:     cfg,
		checker: checker,
		log:     newLogger(&cfg, red).With(slog.String("service", cfg.service)),
		random:  cfg.random,
		routes:  map[string]*Route{},
		idleCh:  make(chan struct{}),
		quit:    make(chan struct{}),
		redact:  red,
	}
	g.records = pastRedactor(g.log.Handler())
	lanes := cfg.lanes
	if lanes <= 0 {
		lanes = lanesFor(cfg.cpuShare, runtime.GOMAXPROCS(0))
	}
	g.lanes = make(chan struct{}, lanes)
	g.appHooks = len(cfg.onVerdict)+len(cfg.reactions.onEvent)+len(cfg.reactions.onAlert) > 0
	if err := g.initReactions(&cfg.reactions); err != nil {
		return nil, fmt.Errorf("safecheck: invalid configuration: %w", err)
	}
	g.cache = newVerdictCache(cfg.cacheTTL, cfg.cacheEntries) // starts its janitor: after every check of the options
	if g.random == nil {
		g.random = defaultRandom
	}
	g.counters.init()
	g.budget.init(cfg.cpuShare, cfg.gcMeter)
	g.queue.init(cfg.queueSize)
	g.deliver = g.queue.offer
	g.baseCtx = context.Background()
	g.workCtx, g.cancel = context.WithCancel(g.baseCtx)
	g.auth = newAuthGate(g.workCtx, g.log, checker)
	g.policy = newPolicies(&g.cfg, g.auth, g.breakerChanged)
	if err := g.startFleet(); err != nil {
		g.cancel()
		g.cache.close()
		return nil, fmt.Errorf("safecheck: coordinator: %w", err)
	}
	g.workers.Add(cfg.workers + 2)
	for range cfg.workers {
		go g.work()
	}
	go g.dispatch()
	go g.monitor()
	return g, nil
}

// validChecker refuses checkers that would fail at the first sample.
func validChecker(c Checker) error {
	switch c := c.(type) {
	case nil:
		return errors.New("safecheck: checker is nil")
	case CheckerFunc:
		if c == nil {
			return errors.New("safecheck: checker is a nil CheckerFunc")
		}
	case hubChecker:
		if c.c == nil {
			return errors.New("safecheck: AssuranceHub was given a nil *assurancehub.Client")
		}
	}
	return nil
}

func (g *Guard) supports(testType string) bool {
	if s, ok := g.checker.(testTypeSupporter); ok {
		return s.Supports(testType)
	}
	return testType != ""
}

func (g *Guard) route(name string) *Route {
	g.routesMu.RLock()
	defer g.routesMu.RUnlock()
	return g.routes[name]
}

// Close stops admitting samples and waits, while ctx lives, for every
// admitted sample to be checked. It returns by ctx's deadline even when a
// checker, a log sink or a hook ignores cancellation, with an error that
// says exactly how many samples were not checked; samples still running
// then finish in the background and are counted as drop.Shutdown. When
// every sample was checked, no goroutine of the Guard outlives Close. The
// routes keep serving requests untouched, unsampled (drop.Closed). Every
// later change to the Guard returns ErrClosed.
func (g *Guard) Close(ctx context.Context) error {
	g.lifeMu.Lock()
	if g.closed.Load() {
		g.lifeMu.Unlock()
		return ErrClosed
	}
	g.closed.Store(true)
	g.lifeMu.Unlock()

	g.incidentMu.Lock()
	if inc := g.incident.Load(); inc != nil {
		inc.timer.Stop()
		g.incident.Store(nil)
		if !inc.remote { // another replica's incident goes on there: not a change of the fleet
			g.auditIncidentEnd(inc, "ended", slog.String("by", "close"))
		}
	}
	g.incidentMu.Unlock()
	g.closeEscalations()

	waitErr := g.waitIdle(ctx)
	before := g.dropped(dropShutdown)
	g.cancel()
	g.stopMu.Lock()
	g.stopped = true
	g.stopMu.Unlock()
	close(g.quit)
	for _, c := range g.queue.drain() {
		g.finish(c, dropShutdown, 0, false)
	}
	done := make(chan struct{})
	go func() {
		g.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if waitErr == nil {
			waitErr = ctx.Err()
		}
	}
	// From here on a sample that finishes is a shutdown drop, so the count
	// below stays exact.
	g.finishMu.Lock()
	g.abandoned.Store(true)
	left := g.pending.Load()
	unchecked := g.dropped(dropShutdown) - before + uint64(max(left, 0))
	g.finishMu.Unlock()
	g.cache.close()
	g.stopFleet()
	if unchecked > 0 {
		return uncheckedError("closed", unchecked, waitErr)
	}
	return nil
}

// Flush waits, while ctx lives, until every sample admitted so far has been
// checked, without closing the Guard. It returns ErrClosed after Close, and
// an error saying how many samples are still unchecked when ctx ends first.
// It is meant for tests and batch tools; under steady traffic new samples
// keep arriving and Flush waits for them too.
func (g *Guard) Flush(ctx context.Context) error {
	if g.closed.Load() {
		return ErrClosed
	}
	if err := g.waitIdle(ctx); err != nil {
		return uncheckedError("flush ended", uint64(max(g.pending.Load(), 0)), err)
	}
	return nil
}

// uncheckedError says how many samples what left unchecked, wrapping err
// when there is one.
func uncheckedError(what string, n uint64, err error) error {
	noun := "samples"
	if n == 1 {
		noun = "sample"
	}
	if err == nil {
		return fmt.Errorf("safecheck: %s with %d %s not checked", what, n, noun)
	}
	return fmt.Errorf("safecheck: %s with %d %s not checked: %w", what, n, noun, err)
}

// waitIdle blocks until no sample is pending or ctx ends.
func (g *Guard) waitIdle(ctx context.Context) error {
	g.idleWaiters.Add(1)
	defer g.idleWaiters.Add(-1)
	for {
		g.idleMu.Lock()
		ch := g.idleCh
		g.idleMu.Unlock()
		if g.pending.Load() <= 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// signalIdle wakes the waiters of waitIdle.
func (g *Guard) signalIdle() {
	g.idleMu.Lock()
	close(g.idleCh)
	g.idleCh = make(chan struct{})
	g.idleMu.Unlock()
}

// changing runs f, a change of the Guard's configuration, unless the Guard
// is closed; Close waits for a change in progress.
func (g *Guard) changing(f func() error) error {
	g.lifeMu.Lock()
	defer g.lifeMu.Unlock()
	if g.closed.Load() {
		return ErrClosed
	}
	return f()
}

func (g *Guard) breakerChanged(open bool, why *tripReason) {
	if open {
		attrs := []slog.Attr{slog.String("for", g.cfg.breakerDelay.String())}
		if why != nil {
			attrs = append(attrs, slog.String("error_class", why.class.String()), slog.Int("status", why.status))
		}
		g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "circuit opened: AssuranceHub checks paused, new samples dropped", attrs...)
		return
	}
	g.log.LogAttrs(g.baseCtx, slog.LevelInfo, "circuit no longer open: trying checks again")
}

// lossQuietPeriod is how long no sample may be dropped at admission before
// a loss episode is reported as over.
const lossQuietPeriod = 10 * time.Second

// monitorInterval is how often the monitor looks at the drop counters and
// the key.
const monitorInterval = time.Second

// monitor runs in the background: it writes a warning when samples start
// being dropped at admission and a notice once none has been dropped for
// lossQuietPeriod, and it watches for a new key after a rejection. It
// takes every snapshot itself, so the request path only counts.
func (g *Guard) monitor() {
	defer g.workers.Done()
	t := time.NewTicker(monitorInterval)
	defer t.Stop()
	var (
		losing   bool
		seen     = g.admissionDrops()
		start    uint64 // admission drops when the episode began
		since    time.Time
		lastDrop time.Time
	)
	for {
		select {
		case <-t.C:
		case <-g.quit:
			return
		}
		now := time.Now()
		g.auth.poll(now)
		g.tickAlerts(now)
		g.observeBudget()
		n := g.admissionDrops()
		if n != seen {
			if !losing {
				losing, start, since = true, seen, now
				g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "samples are being dropped before they are checked",
					slog.Any("dropped_by_reason", g.admissionSnapshot()))
			}
			seen, lastDrop = n, now
			continue
		}
		if losing && now.Sub(lastDrop) >= lossQuietPeriod {
			losing = false
			g.log.LogAttrs(g.baseCtx, slog.LevelInfo, "samples are no longer being dropped",
				slog.Uint64("dropped", n-start), slog.String("lasted", lastDrop.Sub(since).String()))
		}
	}
}
