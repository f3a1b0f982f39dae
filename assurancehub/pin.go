package assurancehub

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ErrPinMismatch means the API's certificate chain had no certificate whose
// public key matches a pin given to WithPinnedSPKI. Test for it with
// errors.Is; the error itself is a *PinError.
var ErrPinMismatch = errors.New("assurancehub: certificate pin mismatch")

// PinError is the error of a TLS handshake refused by WithPinnedSPKI. No
// request, and so no API key, was sent on that connection. Evaluate returns
// it wrapped; use errors.As or errors.Is(err, ErrPinMismatch).
type PinError struct {
	// Host is the API host the connection was made to.
	Host string
	// Seen lists the SPKI hashes (base64 SHA-256, as SPKIHash returns them)
	// of the certificates that were checked against the pins.
	Seen []string
}

// Error names the host and the hashes that were seen, so that an operator
// can tell a rotated certificate from an interception proxy.
func (e *PinError) Error() string {
	return fmt.Sprintf("assurancehub: certificate pin mismatch for %s: no certificate in the chain has a pinned SPKI hash (chain has %s)",
		e.Host, strings.Join(e.Seen, ", "))
}

// Is makes errors.Is(err, ErrPinMismatch) true for a *PinError.
func (e *PinError) Is(target error) bool { return target == ErrPinMismatch }

// SPKIHash returns the pin of cert for WithPinnedSPKI: the standard base64
// encoding of the SHA-256 digest of its DER-encoded SubjectPublicKeyInfo.
// The same value comes out of
//
//	openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der |
//		openssl dgst -sha256 -binary | base64
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// WithPinnedSPKI pins the API's certificate chain: a TLS connection is
// accepted only if, after the usual certificate verification, the leaf or
// any certificate of a verified chain has a public key whose SPKIHash is one
// of pins (each the base64 SHA-256 of a SubjectPublicKeyInfo, optionally
// prefixed "sha256/"). Pin the key of an intermediate or root CA, or pin
// several keys, so that a routine certificate renewal does not stop the
// checks. A mismatch fails the call with a *PinError before any request is
// sent. If the transport skips verification (InsecureSkipVerify), only the
// leaf is compared.
//
// Pinning needs an https base URL. The Client gets a transport of its own:
// a clone of the shared transport or, with WithHTTPClient, of the given
// client's *http.Transport (an error otherwise), keeping its proxy,
// dialer and TLS settings (TLS 1.2 at least; an existing VerifyConnection
// runs first). The given client and transport are not modified.
func WithPinnedSPKI(pins ...string) Option {
	pins = slices.Clone(pins)
	return optionFunc(func(c *config) {
		c.pins = append(c.pins, pins...)
		c.pinsSet = true
	})
}

// parsePin decodes one pin.
func parsePin(p string) ([sha256.Size]byte, bool) {
	var out [sha256.Size]byte
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p, "sha256/"))
	if err != nil || len(b) != sha256.Size {
		return out, false
	}
	copy(out[:], b)
	return out, true
}

func validatePins(pins []string) error {
	if len(pins) == 0 {
		return errors.New("assurancehub: WithPinnedSPKI: no pins")
	}
	for i, p := range pins {
		if _, ok := parsePin(p); !ok {
			return fmt.Errorf("assurancehub: WithPinnedSPKI: pin %d is not the base64 encoding of a SHA-256 digest", i)
		}
	}
	return nil
}

// pinnedTransport returns a clone of base that enforces pins for host.
func pinnedTransport(base http.RoundTripper, pins []string, host string) (*http.Transport, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	bt, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("assurancehub: WithPinnedSPKI needs the HTTP client's Transport to be an *http.Transport, got %T; "+
			"pin in that transport's tls.Config.VerifyConnection instead", base)
	}
	set := make(map[[sha256.Size]byte]bool, len(pins))
	for _, p := range pins {
		h, _ := parsePin(p) // validated by validatePins
		set[h] = true
	}
	t := bt.Clone()
	tc := &tls.Config{}
	if t.TLSClientConfig != nil {
		tc = t.TLSClientConfig.Clone()
	} else {
		// Without a TLS config of its own the transport negotiated HTTP/2
		// by itself; setting one would turn that off.
		t.ForceAttemptHTTP2 = true
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	next := tc.VerifyConnection
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if next != nil {
			if err := next(cs); err != nil {
				return err
			}
		}
		return checkPins(cs, set, host)
	}
	t.TLSClientConfig = tc
	return t, nil
}

// checkPins accepts cs if a verified chain (or, without verification, the
// leaf) holds a pinned key.
func checkPins(cs tls.ConnectionState, pins map[[sha256.Size]byte]bool, host string) error {
	var certs []*x509.Certificate
	for _, chain := range cs.VerifiedChains {
		certs = append(certs, chain...)
	}
	if len(cs.VerifiedChains) == 0 && len(cs.PeerCertificates) > 0 {
		certs = cs.PeerCertificates[:1]
	}
	e := &PinError{Host: host}
	for _, cert := range certs {
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		if pins[sum] {
			return nil
		}
		if h := base64.StdEncoding.EncodeToString(sum[:]); !slices.Contains(e.Seen, h) {
			e.Seen = append(e.Seen, h)
		}
	}
	return e
}
