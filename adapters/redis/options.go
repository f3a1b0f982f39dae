package safecheckredis

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/safecheck/safecheck/coord"
)

// Defaults.
const (
	DefaultPrefix     = "safecheck"
	DefaultLocalShare = 1.0 / 3
	DefaultResync     = 2 * time.Second
	DefaultTimeout    = 250 * time.Millisecond
)

type config struct {
	prefix     string
	secret     []byte
	localShare float64
	resync     time.Duration
	timeout    time.Duration
	name       string
}

// Option configures New; the With* functions return them.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithPrefix names the deployment (default "safecheck"): every key is
// under the hash tag {prefix}. Replicas that share a prefix share state.
func WithPrefix(p string) Option { return optionFunc(func(c *config) { c.prefix = p }) }

// WithSecret sets the deployment secret that keys the verdict cache's
// hashes (required, at least 16 bytes). Every replica needs the same one;
// take it from the environment or a secret store, never from code.
func WithSecret(secret []byte) Option {
	return optionFunc(func(c *config) { c.secret = append([]byte(nil), secret...) })
}

// WithLocalShare sets the share of the plan's rate a replica spends on its
// own while Redis does not answer (default 1/3, for three replicas).
func WithLocalShare(share float64) Option {
	return optionFunc(func(c *config) { c.localShare = share })
}

// WithResync sets how often the shared state is read whole, to catch
// messages missed and to notice that Redis is back (default 2 s). Each
// resync reads the state hash and every escalation in force (one
// ZRANGEBYSCORE, and one MGET per 500 escalated customers).
func WithResync(d time.Duration) Option { return optionFunc(func(c *config) { c.resync = d }) }

// WithTimeout bounds each Redis command (default 250 ms); a command that
// takes longer puts the Coordinator in degraded mode. Give the client
// ContextTimeoutEnabled (or a ReadTimeout as short) so that it is honoured.
func WithTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.timeout = d }) }

// WithReplicaName names this replica in the changes it publishes (default
// a random name).
func WithReplicaName(name string) Option { return optionFunc(func(c *config) { c.name = name }) }

func (c *config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.prefix != "" && !strings.ContainsAny(c.prefix, "{}"), "prefix must be non-empty and hold no braces, got %q", c.prefix)
	check(len(c.secret) >= coord.MinSecretBytes, "the deployment secret (WithSecret) must hold at least %d bytes, got %d", coord.MinSecretBytes, len(c.secret))
	check(c.localShare > 0 && c.localShare <= 1, "local share must be within (0, 1], got %v", c.localShare)
	check(c.resync > 0, "resync interval must be positive, got %s", c.resync)
	check(c.timeout > 0, "timeout must be positive, got %s", c.timeout)
	check(c.name != "", "replica name is empty")
	return errors.Join(errs...)
}
