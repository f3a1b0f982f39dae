package safecheckredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck/coord"
)

// Coordinator is a coord.Coordinator on Redis for one Guard.
type Coordinator struct {
	cfg     config
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter

	stateKey, channel, budgetKey, verdictPrefix string
	escIndex, escPrefix                         string

	member  coord.Member
	started atomic.Bool
	closed  atomic.Bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	outbox  chan coord.Change
	kick    chan struct{} // asks for a resync now

	mode  atomic.Uint32
	since atomic.Int64 // unix nanos the mode began

	mu    sync.Mutex
	known map[string]coord.Change // the latest change of each subject, made here or seen
	local gcra                    // the budget while Redis does not answer
}

// New returns a Coordinator for one Guard on client, which may be a
// standalone, Sentinel or Cluster client. The options are validated here;
// WithSecret is required.
func New(client redis.UniversalClient, opts ...Option) (*Coordinator, error) {
	if client == nil {
		return nil, errors.New("safecheckredis: client is nil")
	}
	cfg := config{prefix: DefaultPrefix, localShare: DefaultLocalShare, resync: DefaultResync, timeout: DefaultTimeout}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.name = "replica-" + hex.EncodeToString(b[:])
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("safecheckredis: invalid configuration: option %d is nil", i+1)
		}
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("safecheckredis: invalid configuration: %w", err)
	}
	tag := "{" + cfg.prefix + "}"
	return &Coordinator{
		cfg:           cfg,
		rdb:           client,
		limiter:       redis_rate.NewLimiter(client),
		stateKey:      tag + ":state",
		channel:       tag + ":changes",
		budgetKey:     tag + ":budget",
		verdictPrefix: tag + ":verdict:",
		escIndex:      tag + ":escalations",
		escPrefix:     tag + ":escalation:",
		outbox:        make(chan coord.Change, 256),
		kick:          make(chan struct{}, 1),
		known:         map[string]coord.Change{},
	}, nil
}

// Keys returns the keys and the channel the Coordinator uses: the state
// hash, the Pub/Sub channel, the budget (as redis_rate names it) and the
// prefix of verdict keys. All share the hash tag {prefix}.
func (c *Coordinator) Keys() (state, channel, budget, verdictPrefix string) {
	return c.stateKey, c.channel, "rate:" + c.budgetKey, c.verdictPrefix
}

// EscalationKeys returns the keys of escalated customers: a sorted set of
// their ids by the end of their escalation (unix ms), and the prefix of
// the key of each, which holds the latest change of its escalation. Both
// expire with the escalations they hold, and share the hash tag {prefix}.
func (c *Coordinator) EscalationKeys() (index, prefix string) { return c.escIndex, c.escPrefix }

// Start joins the deployment: it subscribes to the changes, reads the
// shared state and starts the background goroutines. Redis not answering
// is no error: the Coordinator starts degraded and recovers by itself.
func (c *Coordinator) Start(m coord.Member) error {
	if m.Apply == nil {
		return errors.New("safecheckredis: Member.Apply is nil")
	}
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("safecheckredis: the Coordinator has started already; each Guard needs its own")
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	c.member = m
	c.local.rate = max(int(float64(m.RatePerMinute)*c.cfg.localShare), 1)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.mode.Store(uint32(coord.Shared))
	c.since.Store(time.Now().UnixNano())

	ps := c.rdb.Subscribe(c.ctx, c.channel)
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.timeout)
	_, err := ps.Receive(ctx) // the subscription's confirmation
	cancel()
	if err != nil {
		c.degrade(err)
	}
	c.resync() // before Start returns: a Guard starts with the fleet's state
	c.wg.Add(3)
	go c.listen(ps)
	go c.write()
	go c.loop()
	return nil
}

// Close stops the Coordinator's goroutines and waits for them. It leaves
// the client open.
func (c *Coordinator) Close() error {
	if !c.started.Load() || !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.cancel()
	c.wg.Wait()
	return nil
}

// Status says whether the Coordinator shares state through Redis or serves
// from local state, and since when.
func (c *Coordinator) Status() coord.Status {
	if !c.started.Load() || c.closed.Load() {
		return coord.Status{}
	}
	return coord.Status{Mode: coord.Mode(c.mode.Load()), Since: time.Unix(0, c.since.Load())}
}

func (c *Coordinator) degraded() bool { return coord.Mode(c.mode.Load()) == coord.Degraded }

// degrade enters degraded mode, saying so once.
func (c *Coordinator) degrade(err error) {
	if c.mode.Swap(uint32(coord.Degraded)) == uint32(coord.Degraded) {
		return
	}
	c.since.Store(time.Now().UnixNano())
	c.member.Logger.LogAttrs(context.Background(), slog.LevelWarn,
		"fleet: Redis does not answer; serving from local state (the last known incident until it expires, a local share of the plan)",
		slog.String("error", err.Error()), slog.Float64("local_share", c.cfg.localShare),
		slog.Int("local_rate_per_minute", c.local.rate))
}

// recover leaves degraded mode, saying so once.
func (c *Coordinator) recover() {
	if c.mode.Swap(uint32(coord.Shared)) != uint32(coord.Degraded) {
		return
	}
	since := time.Unix(0, c.since.Swap(time.Now().UnixNano()))
	c.member.Logger.LogAttrs(context.Background(), slog.LevelInfo,
		"fleet: Redis answers again; shared state resynchronised",
		slog.String("degraded_for", time.Since(since).Round(time.Millisecond).String()))
}

// failed notes a failed command: anything but a cancelled Coordinator
// means Redis is lost until the next resync finds it.
func (c *Coordinator) failed(err error) {
	if c.ctx.Err() == nil {
		c.degrade(err)
	}
}

func (c *Coordinator) op() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.cfg.timeout)
}

// Publish shares a change this replica made; it never blocks.
func (c *Coordinator) Publish(ch coord.Change) {
	ch.Origin = c.cfg.name
	if !c.remember(ch) {
		return
	}
	select {
	case c.outbox <- ch:
	default: // full: the next resync writes it, from known
	}
}

// write sends the changes this replica makes, in order.
func (c *Coordinator) write() {
	defer c.wg.Done()
	for {
		select {
		case ch := <-c.outbox:
			if c.degraded() {
				continue // kept in known: the resync that recovers writes it
			}
			c.store(ch)
		case <-c.ctx.Done():
			return
		}
	}
}

// listen applies the changes other replicas announce.
func (c *Coordinator) listen(ps *redis.PubSub) {
	defer c.wg.Done()
	defer ps.Close()
	msgs := ps.Channel()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return
			}
			c.receive(m.Payload)
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Coordinator) receive(payload string) {
	ch, err := decode(payload)
	if err != nil {
		c.member.Logger.LogAttrs(context.Background(), slog.LevelDebug, "fleet: a shared change was ignored", slog.String("error", err.Error()))
		return
	}
	if ch.Origin == c.cfg.name || !c.remember(ch) {
		return
	}
	c.member.Apply(ch)
}

// loop resyncs every interval, and at once when asked.
func (c *Coordinator) loop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.resync)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-c.kick:
		case <-c.ctx.Done():
			return
		}
		c.resync()
	}
}

// resync reads the shared state whole (the hash and the escalations in
// force): it applies what is later than
// what this replica knows and writes back what Redis lacks or holds
// older (its changes made while Redis was away, or all of them after a
// flush). A successful read ends degraded mode.
func (c *Coordinator) resync() {
	ctx, cancel := c.op()
	all, err := c.rdb.HGetAll(ctx, c.stateKey).Result()
	cancel()
	if err != nil {
		c.failed(err)
		return
	}
	escs, err := c.escalations()
	if err != nil {
		c.failed(err)
		return
	}
	var apply []coord.Change
	stored := map[string]coord.Change{}
	for _, v := range append(slices.Collect(maps.Values(all)), escs...) {
		ch, err := decode(v)
		if err != nil {
			continue
		}
		stored[ch.Subject()] = ch
		if ch.Origin != c.cfg.name && c.remember(ch) {
			apply = append(apply, ch)
		}
	}
	c.mu.Lock()
	var rewrite []coord.Change
	now := time.Now()
	for subj, ch := range c.known {
		if ch.Kind == coord.KindEscalation && !ch.Escalation.Until.After(now) {
			delete(c.known, subj) // over: Redis has let it go too
			continue
		}
		if s, ok := stored[subj]; !ok || ch.At.After(s.At) {
			rewrite = append(rewrite, ch)
		}
	}
	c.mu.Unlock()
	for _, ch := range rewrite {
		if !c.store(ch) {
			return
		}
	}
	c.recover()
	for _, ch := range apply {
		c.member.Apply(ch)
	}
}

// escalations reads the changes of the escalations in force: the index,
// then their keys, at most escBatch at a time.
func (c *Coordinator) escalations() ([]string, error) {
	ctx, cancel := c.op()
	ids, err := c.rdb.ZRangeByScore(ctx, c.escIndex, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf"}).Result()
	cancel()
	if err != nil {
		return nil, err
	}
	var out []string
	for batch := range slices.Chunk(ids, escBatch) {
		keys := make([]string, len(batch))
		for i, id := range batch {
			keys[i] = c.escPrefix + id
		}
		ctx, cancel := c.op()
		vals, err := c.rdb.MGet(ctx, keys...).Result()
		cancel()
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// escBatch is the most escalation keys one MGET of a resync reads.
const escBatch = 500
