package safecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	cfg     config
	checker Checker
	log     *slog.Logger
	policy  *policies
	cache   *verdictCache
	random  func() float64

	routesMu sync.RWMutex
	routes   map[string]*Route

	incidentMu sync.Mutex
	incident   atomic.Pointer[incident]

	queue   queue
	pending atomic.Int64 // samples admitted and not yet finished
	bytes   atomic.Int64 // bytes reserved by those samples

	closed    atomic.Bool
	stopMu    sync.RWMutex
	stopped   bool
	idle      chan struct{}
	idleOnce  sync.Once
	baseCtx   context.Context
	workCtx   context.Context
	cancel    context.CancelFunc
	quit      chan struct{}
	workers   sync.WaitGroup
	lossCh    chan struct{}
	loss      atomic.Bool
	authFail  atomic.Bool
	counters  counters
	lossSince atomic.Uint64

	// sink, set only by benchmarks, receives finished captures instead of
	// the queue, to measure the request path alone.
	sink func(*Capture)
}

// New returns a Guard that checks samples with checker. Every option is
// validated here; the Guard starts its workers before it returns.
func New(checker Checker, opts ...Option) (*Guard, error) {
	if checker == nil {
		return nil, errors.New("safecheck: checker is nil")
	}
	cfg := config{
		service:         DefaultService,
		workers:         DefaultWorkers,
		queueSize:       DefaultQueueSize,
		queueBytes:      DefaultQueueBytes,
		cacheTTL:        DefaultCacheTTL,
		cacheEntries:    DefaultCacheEntries,
		maxRetries:      DefaultMaxRetries,
		backoffBase:     DefaultBackoffBase,
		maxBackoff:      DefaultMaxBackoff,
		maxJitter:       DefaultMaxJitter,
		maxRetryAfter:   DefaultMaxRetryAfter,
		attemptTimeout:  DefaultAttemptTimeout,
		breakerFailures: DefaultBreakerFailures,
		breakerDelay:    DefaultBreakerDelay,
	}
	for _, o := range opts {
		o(&cfg)
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
		cache:   newVerdictCache(cfg.cacheTTL, cfg.cacheEntries),
		random:  cfg.random,
		routes:  map[string]*Route{},
		idle:    make(chan struct{}),
		quit:    make(chan struct{}),
		lossCh:  make(chan struct{}, 1),
	}
	if g.random == nil {
		g.random = defaultRandom
	}
	g.counters.init()
	g.queue.init(cfg.queueSize)
	g.baseCtx = context.Background()
	g.workCtx, g.cancel = context.WithCancel(g.baseCtx)
	g.policy = newPolicies(&g.cfg, g.breakerChanged)
	g.workers.Add(cfg.workers + 2)
	for range cfg.workers {
		go g.work()
	}
	go g.dispatch()
	go g.monitorLoss()
	return g, nil
}

func (g *Guard) supports(testType string) bool {
	if s, ok := g.checker.(TestTypeSupporter); ok {
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
// admitted sample to be checked. It then cancels what is left and returns an
// error that says how many samples were not checked. No goroutine of the
// Guard outlives Close.
func (g *Guard) Close(ctx context.Context) error {
	if !g.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	g.incidentMu.Lock()
	if inc := g.incident.Load(); inc != nil {
		inc.timer.Stop()
		g.incident.Store(nil)
		g.auditIncidentEnd(inc, "ended", slog.String("by", "close"))
	}
	g.incidentMu.Unlock()
	if g.pending.Load() == 0 {
		g.idleOnce.Do(func() { close(g.idle) })
	}
	var waitErr error
	select {
	case <-g.idle:
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	before := g.dropped(dropShutdown)
	g.cancel()
	g.stopMu.Lock()
	g.stopped = true
	g.stopMu.Unlock()
	close(g.quit)
	g.workers.Wait()
	for _, c := range g.queue.drain() {
		g.drop(c.rt, dropShutdown)
		g.release(c)
	}
	g.cache.close()
	// Samples whose handlers are still running will be dropped as they finish.
	unchecked := g.dropped(dropShutdown) - before + uint64(max(g.pending.Load(), 0))
	if unchecked > 0 {
		return fmt.Errorf("safecheck: closed with %d samples not checked: %w", unchecked, waitErr)
	}
	return nil
}

func (g *Guard) breakerChanged(open bool) {
	if open {
		g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "circuit opened: AssuranceHub checks paused, new samples dropped",
			slog.Duration("for", g.cfg.breakerDelay))
		return
	}
	g.log.LogAttrs(g.baseCtx, slog.LevelInfo, "circuit no longer open: trying checks again")
}

// lossLogInterval limits how often the loss warnings are written.
const lossLogInterval = 5 * time.Second

// monitorLoss writes a warning when samples start being dropped at
// admission and a notice when that stops, at most once per interval.
func (g *Guard) monitorLoss() {
	defer g.workers.Done()
	logged := false
	for {
		select {
		case <-g.lossCh:
		case <-g.quit:
			return
		}
		now := g.loss.Load()
		if now != logged {
			logged = now
			if now {
				g.log.LogAttrs(g.baseCtx, slog.LevelWarn, "samples are being dropped before they are checked",
					slog.Any("dropped_by_reason", g.admissionSnapshot()))
			} else {
				g.log.LogAttrs(g.baseCtx, slog.LevelInfo, "samples are no longer being dropped",
					slog.Uint64("dropped", g.admissionDrops()-g.lossSince.Load()))
			}
		}
		t := time.NewTimer(lossLogInterval)
		select {
		case <-t.C:
		case <-g.quit:
			t.Stop()
			return
		}
	}
}
