package assurancehubtest

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
)

// SignatureTolerance is how far the timestamp of a signature may be from
// the server's clock, either way, under WithHMACVerification.
const SignatureTolerance = 5 * time.Minute

// WithHMACVerification makes the server require requests signed by
// assurancehub.HMACSigner(keyID, secret): a request whose
// X-AssuranceHub-Signature header is missing, repeated, malformed, names
// another key id, is older or newer than SignatureTolerance, or does not
// match the body is answered 401 {"error":"Invalid request signature"}.
// Signatures are compared in constant time. keyID and secret follow
// HMACSigner's rules; secret is copied.
func WithHMACVerification(keyID string, secret []byte) Option {
	v := &hmacVerifier{keyID: keyID, secret: bytes.Clone(secret)}
	return optionFunc(func(c *config) {
		c.hmac = v
		c.hmacSet = true
	})
}

// WithTLS makes NewServer serve HTTPS with a self-signed certificate for
// 127.0.0.1, ::1 and example.com, like httptest.NewTLSServer. Server.Client
// trusts it and Server.Certificate returns it. Failed handshakes, which pin
// and trust tests cause on purpose, are not logged. NewHandler ignores it.
func WithTLS() Option {
	return optionFunc(func(c *config) { c.tls = true })
}

// hmacVerifier checks the signatures of assurancehub.HMACSigner.
type hmacVerifier struct {
	keyID  string
	secret []byte
}

func (v *hmacVerifier) validate() error {
	if _, err := assurancehub.HMACSigner(v.keyID, v.secret); err != nil {
		return fmt.Errorf("assurancehubtest: WithHMACVerification: %w", err)
	}
	return nil
}

// errBadSignature is the reason of every rejected signature; the server
// answers them all alike.
var errBadSignature = errors.New("invalid request signature")

// verify checks the signature header values of one request against body.
func (v *hmacVerifier) verify(values []string, body []byte, now time.Time) error {
	if len(values) != 1 {
		return fmt.Errorf("%w: %d signature headers", errBadSignature, len(values))
	}
	sig, err := parseSignature(values[0])
	if err != nil {
		return err
	}
	if sig.kid != v.keyID {
		return fmt.Errorf("%w: unknown key id", errBadSignature)
	}
	ts, err := strconv.ParseInt(sig.t, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", errBadSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return fmt.Errorf("%w: timestamp outside the tolerance", errBadSignature)
	}
	want := assurancehub.HMACSignature(v.secret, sig.t, body)
	if !hmac.Equal([]byte(want), []byte(sig.v1)) {
		return fmt.Errorf("%w: mismatch", errBadSignature)
	}
	return nil
}

// signature is a parsed X-AssuranceHub-Signature value.
type signature struct {
	t, kid, v1 string
}

// parseSignature parses "t=<digits>,kid=<id>,v1=<64 lower-case hex>".
// Parts may come in any order; unknown parts are ignored, repeated or
// missing known parts are errors.
func parseSignature(h string) (signature, error) {
	var s signature
	seen := map[string]bool{}
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return signature{}, fmt.Errorf("%w: malformed part", errBadSignature)
		}
		var dst *string
		switch k {
		case "t":
			dst = &s.t
		case "kid":
			dst = &s.kid
		case "v1":
			dst = &s.v1
		default:
			continue
		}
		if seen[k] {
			return signature{}, fmt.Errorf("%w: repeated %s", errBadSignature, k)
		}
		seen[k] = true
		*dst = v
	}
	switch {
	case !isDigits(s.t) || len(s.t) > 18:
		return signature{}, fmt.Errorf("%w: bad timestamp", errBadSignature)
	case s.kid == "":
		return signature{}, fmt.Errorf("%w: no key id", errBadSignature)
	case len(s.v1) != 64 || !isLowerHex(s.v1):
		return signature{}, fmt.Errorf("%w: bad v1", errBadSignature)
	}
	return s, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
