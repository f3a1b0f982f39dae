package safecheckredis

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck/coord"
)

// remember keeps ch as the latest of its subject when it is later than
// the one known, and says whether it was.
func (c *Coordinator) remember(ch coord.Change) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.known[ch.Subject()]; ok && !ch.At.After(prev.At) {
		return false
	}
	c.known[ch.Subject()] = ch
	return true
}

// setScript writes a change unless the hash holds a later one of its
// subject, and announces it. A value is its time (20 digits of unix nanos)
// and its JSON, so that the times compare as strings.
var setScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.sub(cur, 1, 20) >= string.sub(ARGV[2], 1, 20) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1
`)

func encode(ch coord.Change) (string, error) {
	b, err := json.Marshal(ch)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%020d", ch.At.UnixNano()) + string(b), nil
}

func decode(s string) (coord.Change, error) {
	var ch coord.Change
	if len(s) < 21 {
		return ch, fmt.Errorf("safecheckredis: a shared change of %d bytes", len(s))
	}
	if _, err := strconv.ParseUint(s[:20], 10, 64); err != nil {
		return ch, fmt.Errorf("safecheckredis: a shared change without its time")
	}
	if err := json.Unmarshal([]byte(s[20:]), &ch); err != nil {
		return ch, fmt.Errorf("safecheckredis: a shared change is not JSON: %w", err)
	}
	if ch.Kind < coord.KindIncident || ch.Kind > coord.KindEscalation {
		return ch, errors.New("safecheckredis: a shared change of no known kind")
	}
	if e := ch.Escalation; ch.Kind == coord.KindEscalation && (e == nil || e.Customer == "" || e.Until.UnixNano() <= 0) {
		return ch, errors.New("safecheckredis: a shared escalation without its customer or its end")
	}
	// The prefix is what the store compares: it must be the change's time.
	if n := ch.At.UnixNano(); n <= 0 || fmt.Sprintf("%020d", n) != s[:20] {
		return ch, errors.New("safecheckredis: a shared change whose time disagrees with its prefix")
	}
	return ch, nil
}

// escScript writes an escalation's change under its own key unless that
// holds a later one, with the escalation's end as the key's expiry; adds
// the customer to the index, which expires with its last escalation and
// loses those that are over; and announces the change.
var escScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, 20) >= string.sub(ARGV[1], 1, 20) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if tonumber(ARGV[2]) > now then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[2], last[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1
`)

// store writes one change; false when Redis did not take it.
func (c *Coordinator) store(ch coord.Change) bool {
	v, err := encode(ch)
	if err != nil {
		return true // cannot be written at all; never retried
	}
	ctx, cancel := c.op()
	defer cancel()
	if ch.Kind == coord.KindEscalation {
		e := ch.Escalation
		err = escScript.Run(ctx, c.rdb, []string{c.escPrefix + e.Customer, c.escIndex},
			v, e.Until.UnixMilli(), c.channel, e.Customer).Err()
	} else {
		err = setScript.Run(ctx, c.rdb, []string{c.stateKey}, ch.Subject(), v, c.channel).Err()
	}
	if err != nil {
		c.failed(err)
		return false
	}
	return true
}
