package safecheck

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	slogmulti "github.com/samber/slog-multi"

	"github.com/safecheck/safecheck/internal/pii"
)

// contentKeys are attribute keys that carry prompt or response text, or
// credentials, in any of the shapes callers tend to use. An attribute with
// one of these keys never reaches a sink, at any nesting depth.
var contentKeys = map[string]bool{
	"prompt": true, "response": true, "content": true, "text": true, "body": true,
	"messages": true, "message_content": true, "input": true, "output": true,
	"completion": true, "request_body": true, "response_body": true,
	"api_key": true, "apikey": true, "key": true, "authorization": true,
	"x-api-key": true, "token": true, "secret": true, "password": true,
}

// ownKey reports whether k is a key of the Guard's own records: lower
// case and not a content key, so the redactor needs no lookup to keep it.
// Its value is still masked.
func ownKey(k string) bool {
	switch k {
	case "request_id", "route", "test_type", "response_time_ms", "customer_id", "flagged", "score",
		"risk_level", "cached", "partial", "truncated", "error_class", "status", "attempts", "service":
		return true
	}
	return false
}

// redacted replaces a secret found inside a string.
const redacted = "[REDACTED]"

// redactor rewrites records so that no content and no key reaches a sink.
type redactor struct {
	customerKey    []byte
	rawCustomerIDs bool
}

// privacyConfig is what WithRawCustomerIDs and WithCustomerIDHashKey set.
type privacyConfig struct {
	rawCustomerIDs   bool
	customerIDKey    []byte
	customerIDKeySet bool
}

// minCustomerIDHashKeyBytes is the shortest key WithCustomerIDHashKey accepts.
const minCustomerIDHashKeyBytes = 16

// WithRawCustomerIDs writes customer ids to the log records as the
// application gave them, even when they are e-mail addresses or phone
// numbers. By default such ids are replaced by "hmac:" and a keyed hash of
// the id (see WithCustomerIDHashKey), so that records can still be grouped
// by customer without holding personal data. An id is hashed when, as a
// whole, it is an e-mail address or a phone number of a shape that Scrub
// masks; other ids, such as numeric ids, dates and other digit runs, are
// never changed. Secrets inside ids are masked either way.
func WithRawCustomerIDs() Option {
	return optionFunc(func(c *config) { c.privacy.rawCustomerIDs = true })
}

// WithCustomerIDHashKey sets the HMAC-SHA256 key that PII-shaped customer
// ids are hashed with before they reach a log sink; it must hold at least
// minCustomerIDHashKeyBytes bytes and is copied. Without it each Guard uses
// a random key, so the same customer gets a different hash after every
// restart and in every replica: set a key shared by all instances (and kept
// secret, like any key: whoever has it can test guesses against the hashes)
// to correlate records across them. It cannot be combined with
// WithRawCustomerIDs.
func WithCustomerIDHashKey(key []byte) Option {
	key = bytes.Clone(key)
	return optionFunc(func(c *config) {
		c.privacy.customerIDKey = key
		c.privacy.customerIDKeySet = true
	})
}

// newRedactor builds the redactor the privacy options ask for.
func newRedactor(p privacyConfig) (*redactor, error) {
	switch {
	case p.customerIDKeySet && p.rawCustomerIDs:
		return nil, errors.New("WithRawCustomerIDs and WithCustomerIDHashKey cannot be combined")
	case p.customerIDKeySet && len(p.customerIDKey) < minCustomerIDHashKeyBytes:
		return nil, fmt.Errorf("customer id hash key must hold at least %d bytes, got %d", minCustomerIDHashKeyBytes, len(p.customerIDKey))
	case p.customerIDKeySet:
		return &redactor{customerKey: p.customerIDKey}, nil
	case p.rawCustomerIDs:
		return &redactor{rawCustomerIDs: true}, nil
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &redactor{customerKey: key}, nil
}

// middleware returns the slog-multi middleware that applies r to records and
// to attributes bound with WithAttrs.
func (r *redactor) middleware() slogmulti.Middleware {
	return func(next slog.Handler) slog.Handler { return &redactHandler{r: r, next: next} }
}

// redactHandler applies its redactor to every record before next sees it.
// A record that needs no change is passed on as it is; the others are
// rebuilt with their safe attributes.
type redactHandler struct {
	r    *redactor
	next slog.Handler
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	msg := maskSecrets(rec.Message)
	first := -1 // the first attribute that changes, when one does
	if msg == rec.Message {
		i := 0
		rec.Attrs(func(a slog.Attr) bool {
			if _, keep, changed := h.r.attrChange(a); !keep || changed {
				first = i
				return false
			}
			i++
			return true
		})
		if first < 0 {
			return h.next.Handle(ctx, rec)
		}
	}
	out := slog.NewRecord(rec.Time, rec.Level, msg, rec.PC)
	i := 0
	rec.Attrs(func(a slog.Attr) bool {
		if first >= 0 && i < first {
			out.AddAttrs(a) // known to be unchanged
		} else if a, keep, _ := h.r.attrChange(a); keep {
			out.AddAttrs(a)
		}
		i++
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &redactHandler{r: h.r, next: h.next.WithAttrs(h.r.attrs(attrs))}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &redactHandler{r: h.r, next: h.next.WithGroup(name)}
}

func (r *redactor) attrs(in []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, 0, len(in))
	for _, a := range in {
		if a, ok := r.attr(a); ok {
			out = append(out, a)
		}
	}
	return out
}

// attr returns the safe form of a, or false when a must be dropped.
func (r *redactor) attr(a slog.Attr) (slog.Attr, bool) {
	a, keep, _ := r.attrChange(a)
	return a, keep
}

// attrChange returns the safe form of a, or keep false when a must be
// dropped; changed is set when the safe form may differ from a.
func (r *redactor) attrChange(a slog.Attr) (out slog.Attr, keep, changed bool) {
	key := a.Key
	if !ownKey(key) {
		key = strings.ToLower(key)
		if contentKeys[key] {
			return a, false, true
		}
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(r.attrs(v.Group())...)}, true, true
	case slog.KindString:
		s := v.String()
		if key == "customer_id" {
			s = r.publicCustomerID(s)
		} else {
			s = maskSecrets(s)
		}
		return slog.String(a.Key, s), true, a.Value.Kind() != slog.KindString || s != a.Value.String()
	case slog.KindAny:
		// Errors, stringers and arbitrary values are rendered now so that the
		// scrubber sees the text a sink would print.
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, maskSecrets(err.Error())), true, true
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, maskSecrets(s.String())), true, true
		}
		if _, ok := v.Any().([]byte); ok {
			return a, false, true
		}
		if list, ok := v.Any().([]string); ok {
			// Lists of names (routes, test types) stay lists.
			out := make([]string, len(list))
			for i, s := range list {
				out[i] = maskSecrets(s)
			}
			return slog.Any(a.Key, out), true, true
		}
		return slog.String(a.Key, maskSecrets(v.String())), true, true
	}
	return slog.Attr{Key: a.Key, Value: v}, true, a.Value.Kind() == slog.KindLogValuer
}

// customerID replaces a customer id that is an e-mail address or a phone
// number with a keyed hash, so records can still be grouped by customer.
func (r *redactor) customerID(id string) string {
	if r.rawCustomerIDs || !(pii.IsEmail(id) || pii.IsPhone(id)) {
		return id
	}
	m := hmac.New(sha256.New, r.customerKey)
	m.Write([]byte(id))
	return "hmac:" + hex.EncodeToString(m.Sum(nil)[:12])
}

// publicCustomerID is a customer id as every record, event and listing
// shows it: hashed when it is PII-shaped, with secrets inside masked.
func (r *redactor) publicCustomerID(id string) string { return maskSecrets(r.customerID(id)) }

// maskSecrets masks secrets inside the free text of a log record.
func maskSecrets(s string) string { return pii.MaskSecrets(s, redacted) }

// sinkFailed is told of a sink's error or contained panic. It does
// nothing: the record was that sink's alone, and telling anyone would mean
// a record to the sinks again.
func sinkFailed(context.Context, slog.Record, error) {}

// pastRedactor returns the handler the redactor h hands records to, for
// records made of attributes redacted already, or h when it is not the
// redactor.
func pastRedactor(h slog.Handler) slog.Handler {
	if rh, ok := h.(*redactHandler); ok {
		return rh.next
	}
	return h
}

// newLogger builds the record pipeline: redaction first, then fan-out to every
// sink with failures contained per sink. A sink that panics loses its own
// record, never another sink's, and never stops the Guard or the
// application, also when it is the only one (where slog-multi's fan-out
// hands records to it directly).
func newLogger(c *config, r *redactor) *slog.Logger {
	var sinks []slog.Handler
	if c.logger != nil {
		sinks = append(sinks, c.logger.Handler())
	}
	sinks = append(sinks, c.handlers...)
	if len(sinks) == 0 {
		sinks = append(sinks, slog.Default().Handler())
	}
	for i, s := range sinks {
		sinks[i] = slogmulti.RecoverHandlerError(sinkFailed)(s)
	}
	h := slogmulti.Fanout(sinks...)
	return slog.New(slogmulti.Pipe(r.middleware()).Handler(h))
}
