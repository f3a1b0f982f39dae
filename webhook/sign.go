package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed delivery, as the Standard Webhooks specification
// names them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret: "whsec_" and then the key in standard
// base64.
const SecretPrefix = "whsec_"

// The bounds of a secret's key, in bytes after base64 decoding: the
// specification asks for at least 24 bytes and at most 512 bits.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// DefaultTolerance is how far a delivery's webhook-timestamp may be from
// the receiver's clock when Verify is given a tolerance of 0 or less.
const DefaultTolerance = 5 * time.Minute

// The errors Verify and the secret checks return, wrapped with detail that
// never includes a secret; test for them with errors.Is.
var (
	// ErrInvalidSecret: the secret is not "whsec_" and standard base64 of
	// MinSecretBytes to MaxSecretBytes bytes.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrMissingHeader: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeader = errors.New("webhook: missing header")
	// ErrMalformedTimestamp: webhook-timestamp is not unix seconds in
	// decimal digits.
	ErrMalformedTimestamp = errors.New("webhook: malformed webhook-timestamp")
	// ErrTimestamp: webhook-timestamp is further from now than the
	// tolerance, in the past or the future: a replay or a wrong clock.
	ErrTimestamp = errors.New("webhook: webhook-timestamp outside the tolerance")
	// ErrInvalidSignature: no v1 signature in webhook-signature matches.
	ErrInvalidSignature = errors.New("webhook: no valid signature")
)

// decodeSecret returns the HMAC key of a "whsec_" secret. Its errors never
// contain the secret.
func decodeSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it must start with %q", ErrInvalidSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		// Some generators leave out the padding.
		key, err = base64.RawStdEncoding.DecodeString(rest)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q is not standard base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: its key has %d bytes, want %d to %d", ErrInvalidSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// mac returns the HMAC-SHA256 of id.timestamp.body under key.
func mac(key []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// signature returns the webhook-signature value for keys: one "v1,<base64>"
// entry per key, space separated.
func signature(keys [][]byte, id, timestamp string, body []byte) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac(k, id, timestamp, body)))
	}
	return b.String()
}

// Sign returns the webhook-signature value a Sink sends for body with id
// at t under secret, such as "v1,K5oZ...=": for a receiver's tests.
func Sign(secret, id string, t time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return signature([][]byte{key}, id, strconv.FormatInt(t.Unix(), 10), body), nil
}

// Verify checks a delivery as a receiver gets it: headers holds
// webhook-id, webhook-timestamp and webhook-signature, body is the raw
// request body, unparsed. It returns nil when webhook-timestamp is within
// tolerance of now, in whole seconds (DefaultTolerance when tolerance is
// 0 or negative), and one of the
// "v1," signatures is the HMAC-SHA256 of id.timestamp.body under secret,
// compared in constant time. Otherwise its error wraps one of
// ErrInvalidSecret, ErrMissingHeader, ErrMalformedTimestamp, ErrTimestamp
// or ErrInvalidSignature; answer such a request with 401 and do not act
// on it. During a rotation, call Verify with each secret in force.
//
// A receiver should also drop a webhook-id it has already processed: a
// Sink retries a delivery it could not confirm, with the same id.
func Verify(secret string, headers http.Header, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, headers, body, tolerance, time.Now())
}

func verifyAt(secret string, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, ts, sigs := headers.Get(HeaderID), headers.Get(HeaderTimestamp), headers.Get(HeaderSignature)
	for _, h := range [...]struct{ name, v string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if h.v == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, h.name)
		}
	}
	sent, ok := parseUnix(ts)
	if !ok {
		return ErrMalformedTimestamp
	}
	// Compare in seconds, so that no duration arithmetic can overflow.
	nowSec, tolSec := now.Unix(), int64(tolerance/time.Second)
	if sent < nowSec-tolSec || sent > nowSec+tolSec {
		return ErrTimestamp
	}
	want := mac(key, id, ts, body)
	match := false
	for entry := range strings.FieldsSeq(sigs) {
		b64, ok := strings.CutPrefix(entry, "v1,")
		if !ok || len(b64) > 64 {
			continue // another scheme (v1a), or not a signature
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		// Check every entry, so the time taken does not say which matched.
		if hmac.Equal(got, want) {
			match = true
		}
	}
	if !match {
		return ErrInvalidSignature
	}
	return nil
}

// parseUnix parses decimal unix seconds: ASCII digits only, no sign.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 15 { // 15 digits are ~31 million years
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
