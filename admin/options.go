package admin

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/safecheck/safecheck/webhook"
)

// MinTokenBytes is the shortest token WithToken accepts.
const MinTokenBytes = 16

// MaxIncidentDuration is the longest incident the handler starts; longer
// durations are refused, not shortened.
const MaxIncidentDuration = 24 * time.Hour

// An Option configures the handler New returns.
type Option interface {
	apply(*config)
}

// optionFunc turns a function into an Option.
type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tokens     []token
	allow      []string
	allowSet   bool
	trusted    []string
	trustedSet bool
	webhooks   *webhook.Sink
	errs       []error
}

// token is one holder's token, kept only as its hash.
type token struct {
	name string
	hash [sha256.Size]byte
}

// WithToken accepts requests that carry "Authorization: Bearer <token>".
// name identifies the holder in audit records (the token itself is never
// logged); it must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'
// and '@'. tok must be at least MinTokenBytes long and printable ASCII
// without spaces; generate it randomly, e.g. 32 bytes from crypto/rand in
// hex. The option may be given several times, one per operator or system,
// with distinct names and tokens. Tokens are compared in constant time.
func WithToken(name, tok string) Option {
	return optionFunc(func(c *config) {
		switch {
		case !validActorName(name):
			c.errs = append(c.errs, fmt.Errorf("token name %q must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-', '@'", truncateName(name)))
			return
		case len(tok) < MinTokenBytes:
			c.errs = append(c.errs, fmt.Errorf("token %q is shorter than %d bytes", name, MinTokenBytes))
			return
		case !printableToken(tok):
			c.errs = append(c.errs, fmt.Errorf("token %q holds a space, control or non-ASCII character", name))
			return
		}
		c.tokens = append(c.tokens, token{name: name, hash: sha256.Sum256([]byte(tok))})
	})
}

// WithAllowlist accepts requests only from client addresses inside one of
// cidrs ("10.0.0.0/8", "2001:db8::/32", or a single address such as
// "192.0.2.7"); others get 403 before their token is looked at. The client
// address is the connection's peer, or with WithTrustedProxies the address
// those proxies report. Without this option any address may try a token.
func WithAllowlist(cidrs ...string) Option {
	cidrs = slices.Clone(cidrs)
	return optionFunc(func(c *config) {
		c.allow = append(c.allow, cidrs...)
		c.allowSet = true
	})
}

// WithTrustedProxies names the reverse proxies in front of the app. Only
// when a request's peer is inside one of cidrs is its X-Forwarded-For header
// consulted: the client address is then the right-most address in it that
// is not a trusted proxy (so a client cannot choose its address by sending
// the header itself), or the left-most if all are trusted. An entry that is
// not an IP address makes the client address unknown, which no allowlist
// contains. Without this option X-Forwarded-For is ignored.
func WithTrustedProxies(cidrs ...string) Option {
	cidrs = slices.Clone(cidrs)
	return optionFunc(func(c *config) {
		c.trusted = append(c.trusted, cidrs...)
		c.trustedSet = true
	})
}

// WithWebhooks adds sink's delivery counts to GET /state, as "webhooks":
// the Send calls received, filtered and invalid, the totals (offered,
// enqueued, delivered, failed, dropped by reason, retries, queued) and the
// same per endpoint, named by scheme and host with its circuit and gone
// state. Give the Sink whose Send the Guard's safecheck.WithOnEvent
// calls. A nil sink, or the option given twice, is an error.
func WithWebhooks(sink *webhook.Sink) Option {
	return optionFunc(func(c *config) {
		switch {
		case sink == nil:
			c.errs = append(c.errs, errors.New("WithWebhooks: nil *webhook.Sink"))
		case c.webhooks != nil:
			c.errs = append(c.errs, errors.New("WithWebhooks given twice"))
		default:
			c.webhooks = sink
		}
	})
}
