package assurancehub

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// RequestSigner adds a signature to an outgoing request. It is called once
// per request, after every header the Client sets, with the final body; it
// may set headers but must not change body or read req.Body. A signer's
// error fails the call. It must be safe for concurrent use.
type RequestSigner func(req *http.Request, body []byte) error

// WithRequestSigner calls sign on every request the Client sends, for
// gateways or future API versions that require signed requests. The
// AssuranceHub API documents no signing scheme; HMACSigner is one.
func WithRequestSigner(sign RequestSigner) Option {
	return optionFunc(func(c *config) {
		c.signer = sign
		c.signerSet = true
	})
}

// SignatureHeader is the header HMACSigner sets.
const SignatureHeader = "X-AssuranceHub-Signature"

// MinHMACSecretBytes is the shortest secret HMACSigner accepts.
const MinHMACSecretBytes = 16

// HMACSigner returns a RequestSigner for safecheck's own HMAC scheme (the
// AssuranceHub API documents none; use it with a gateway you control, or
// with assurancehubtest.WithHMACVerification). It sets
//
//	X-AssuranceHub-Signature: t=<unix seconds>,kid=<keyID>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// A verifier recomputes v1 for the secret named by kid, compares it in
// constant time and rejects timestamps too far from its clock, which bounds
// replays. keyID must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_'
// and '-'; secret must hold at least MinHMACSecretBytes bytes. secret is
// copied.
func HMACSigner(keyID string, secret []byte) (RequestSigner, error) {
	if !validKeyID(keyID) {
		return nil, errors.New("assurancehub: HMACSigner: key id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'")
	}
	if len(secret) < MinHMACSecretBytes {
		return nil, fmt.Errorf("assurancehub: HMACSigner: secret must hold at least %d bytes, got %d", MinHMACSecretBytes, len(secret))
	}
	sec := bytes.Clone(secret)
	return func(req *http.Request, body []byte) error {
		t := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(SignatureHeader, "t="+t+",kid="+keyID+",v1="+HMACSignature(sec, t, body))
		return nil
	}, nil
}

// HMACSignature returns the v1 value of HMACSigner's scheme: the hex
// HMAC-SHA256 of timestamp + "." + body under secret. Verifiers use it.
func HMACSignature(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}
