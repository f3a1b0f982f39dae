package safecheckredis

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck/coord"
)

// Reserve takes one call of the fleet's budget (GCRA in Redis, burst 1),
// or of the local share while Redis does not answer.
func (c *Coordinator) Reserve(ctx context.Context) (coord.Permit, error) {
	if err := ctx.Err(); err != nil {
		return coord.Permit{}, err
	}
	rate := c.member.RatePerMinute
	if rate <= 0 {
		return coord.Permit{Allowed: true}, nil
	}
	if !c.degraded() {
		octx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		res, err := c.limiter.Allow(octx, c.budgetKey, redis_rate.Limit{Rate: rate, Burst: 1, Period: time.Minute})
		cancel()
		if err == nil {
			if res.Allowed > 0 {
				return coord.Permit{Allowed: true}, nil
			}
			return coord.Permit{RetryAfter: res.RetryAfter}, nil
		}
		if ctx.Err() != nil {
			return coord.Permit{}, ctx.Err()
		}
		c.failed(err)
	}
	return c.local.take(time.Now()), nil
}

// VerdictKey returns the HMAC-SHA256 of the texts with the deployment
// secret (coord.Key).
func (c *Coordinator) VerdictKey(testType, prompt, response string) string {
	return coord.Key(c.cfg.secret, testType, prompt, response)
}

// Lookup reads a shared verdict; a miss while Redis does not answer.
func (c *Coordinator) Lookup(ctx context.Context, key string) (coord.Verdict, bool) {
	if c.degraded() {
		return coord.Verdict{}, false
	}
	octx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	b, err := c.rdb.Get(octx, c.verdictPrefix+key).Bytes()
	cancel()
	if err != nil {
		if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			c.failed(err)
		}
		return coord.Verdict{}, false
	}
	var v coord.Verdict
	if json.Unmarshal(b, &v) != nil {
		return coord.Verdict{}, false
	}
	return v, true
}

// Store shares a verdict for ttl.
func (c *Coordinator) Store(ctx context.Context, key string, v coord.Verdict, ttl time.Duration) {
	if c.degraded() || ttl <= 0 {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	octx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	err = c.rdb.Set(octx, c.verdictPrefix+key, b, ttl).Err()
	cancel()
	if err != nil && ctx.Err() == nil {
		c.failed(err)
	}
}

// gcra is the local budget: one call every minute/rate, burst 1.
type gcra struct {
	rate int
	mu   sync.Mutex
	tat  time.Time
}

func (g *gcra) take(now time.Time) coord.Permit {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tat.After(now) {
		return coord.Permit{RetryAfter: g.tat.Sub(now)}
	}
	g.tat = now.Add(time.Minute / time.Duration(g.rate))
	return coord.Permit{Allowed: true}
}
