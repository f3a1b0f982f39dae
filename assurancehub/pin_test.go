package assurancehub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chain is a CA and a leaf certificate for 127.0.0.1 that it signed.
type chain struct {
	ca, leaf *x509.Certificate
	tlsCert  tls.Certificate // the leaf with its key, sent with the CA
	pool     *x509.CertPool  // trusts the CA
}

func newChain(t *testing.T) chain {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "safecheck test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "api.test"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return chain{
		ca: ca, leaf: leaf, pool: pool,
		tlsCert: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey, Leaf: leaf},
	}
}

// tlsAPI is a loopback HTTPS server presenting ch that answers like the
// API and counts the requests that reach it.
type tlsAPI struct {
	srv  *httptest.Server
	reqs atomic.Int32
}

func newTLSAPI(t *testing.T, ch chain) *tlsAPI {
	t.Helper()
	api := &tlsAPI{}
	ok := fixture(t, "response-bias-reject.json")
	api.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.reqs.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ok)
	}))
	api.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ch.tlsCert}}
	api.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	api.srv.StartTLS()
	t.Cleanup(api.srv.Close)
	return api
}

// trusting returns an HTTP client whose transport trusts pool.
func trusting(t *testing.T, pool *x509.CertPool, insecure bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, InsecureSkipVerify: insecure}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func randomPin() string {
	b := make([]byte, sha256.Size)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func TestPinnedSPKI(t *testing.T) {
	ch := newChain(t)
	api := newTLSAPI(t, ch)
	other := randomPin()
	tests := []struct {
		name     string
		pins     []string
		insecure bool // the transport skips verification
		match    bool
	}{
		{"leaf", []string{SPKIHash(ch.leaf)}, false, true},
		{"CA of the verified chain", []string{SPKIHash(ch.ca)}, false, true},
		{"one of several", []string{other, SPKIHash(ch.ca)}, false, true},
		{"sha256/ prefix", []string{"sha256/" + SPKIHash(ch.leaf)}, false, true},
		{"no pinned key", []string{other}, false, false},
		{"unverified chain: leaf still counts", []string{SPKIHash(ch.leaf)}, true, true},
		{"unverified chain: CA does not count", []string{SPKIHash(ch.ca)}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := api.reqs.Load()
			hc := trusting(t, ch.pool, tt.insecure)
			c, err := New(WithAPIKey(canaryKey), WithBaseURL(api.srv.URL), WithHTTPClient(hc), WithPinnedSPKI(tt.pins...))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.CloseIdleConnections)
			_, err = c.Evaluate(context.Background(), Bias, biasRequest)
			sent := api.reqs.Load() - before
			if tt.match {
				if err != nil || sent != 1 {
					t.Fatalf("Evaluate = %v with %d requests; want success", err, sent)
				}
				return
			}
			if sent != 0 {
				t.Errorf("%d requests reached the server through a mismatched pin", sent)
			}
			if !errors.Is(err, ErrPinMismatch) {
				t.Fatalf("err = %v, want ErrPinMismatch", err)
			}
			var pe *PinError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *PinError", err)
			}
			if pe.Host != "127.0.0.1" || !slices.Contains(pe.Seen, SPKIHash(ch.leaf)) {
				t.Errorf("PinError = %+v, want host 127.0.0.1 and the leaf's hash", pe)
			}
			if !strings.Contains(err.Error(), "pin mismatch") || !strings.Contains(err.Error(), SPKIHash(ch.leaf)) {
				t.Errorf("error %q does not name the mismatch", err)
			}
			checkNoLeak(t, "pin error", err.Error(), biasRequest.Prompt, biasRequest.Response)
		})
	}
}

func TestPinningWithTheHTTPTestServer(t *testing.T) {
	var reqs atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		_, _ = w.Write(fixture(t, "response-hallucination-pass.json"))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	for _, tt := range []struct {
		pin   string
		match bool
	}{{SPKIHash(srv.Certificate()), true}, {randomPin(), false}} {
		c, err := New(WithAPIKey(canaryKey), WithBaseURL(srv.URL), WithHTTPClient(srv.Client()), WithPinnedSPKI(tt.pin))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Evaluate(context.Background(), Hallucination, biasRequest)
		c.CloseIdleConnections()
		if tt.match != (err == nil) || (!tt.match && !errors.Is(err, ErrPinMismatch)) {
			t.Errorf("pin match %v: err = %v", tt.match, err)
		}
	}
	if reqs.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", reqs.Load())
	}
}

func TestPinningKeepsTheCallersTransport(t *testing.T) {
	ch := newChain(t)
	api := newTLSAPI(t, ch)
	var theirs atomic.Int32
	own := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ch.pool,
		VerifyConnection: func(tls.ConnectionState) error { theirs.Add(1); return nil }}}
	t.Cleanup(own.CloseIdleConnections)
	hc := &http.Client{Transport: own}
	for _, pin := range []string{randomPin(), SPKIHash(ch.ca)} {
		c, err := New(WithAPIKey(testKey), WithBaseURL(api.srv.URL), WithHTTPClient(hc), WithPinnedSPKI(pin))
		if err != nil {
			t.Fatal(err)
		}
		tr := c.hc.Transport.(*http.Transport)
		if tr == own || tr.TLSClientConfig == own.TLSClientConfig {
			t.Fatal("the caller's transport was not cloned")
		}
		if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.TLSClientConfig.RootCAs != ch.pool {
			t.Errorf("cloned TLS config: min version %x, roots kept %v", tr.TLSClientConfig.MinVersion, tr.TLSClientConfig.RootCAs == ch.pool)
		}
		_, err = c.Evaluate(context.Background(), Bias, biasRequest)
		if pin == SPKIHash(ch.ca) && err != nil {
			t.Errorf("matching pin: %v", err)
		}
		if pin != SPKIHash(ch.ca) && !errors.Is(err, ErrPinMismatch) {
			t.Errorf("their VerifyConnection accepting must not bypass the pin: err = %v", err)
		}
		c.CloseIdleConnections()
	}
	if theirs.Load() != 2 {
		t.Errorf("the caller's VerifyConnection ran %d times, want once per handshake (2)", theirs.Load())
	}
	if own.TLSClientConfig.MinVersion != 0 || hc.CheckRedirect != nil {
		t.Error("the caller's client or transport was modified")
	}
	if api.reqs.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", api.reqs.Load())
	}
}

type otherRoundTripper struct{}

func (otherRoundTripper) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("unused")
}

func TestNetworkOptionValidation(t *testing.T) {
	pin := randomPin()
	tls11 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS11}}}
	tests := []struct {
		name string
		opts []Option
		want error // errAny: any error
		in   string
	}{
		{"plain http to a remote host", []Option{WithBaseURL("http://api.assurancehub.ai")}, ErrInvalidBaseURL, "loopback"},
		{"plain http to a private address", []Option{WithBaseURL("http://10.1.2.3:8080")}, ErrInvalidBaseURL, "loopback"},
		{"pinning over plain http", []Option{WithBaseURL("http://127.0.0.1:8080"), WithPinnedSPKI(pin)}, ErrInvalidBaseURL, "https"},
		{"no pins", []Option{WithPinnedSPKI()}, errAny, "no pins"},
		{"pin not base64", []Option{WithPinnedSPKI("not a pin!")}, errAny, "pin 0"},
		{"pin of the wrong length", []Option{WithPinnedSPKI(pin, base64.StdEncoding.EncodeToString([]byte("short")))}, errAny, "pin 1"},
		{"pinning a transport that is not *http.Transport", []Option{WithHTTPClient(&http.Client{Transport: otherRoundTripper{}}),
			WithPinnedSPKI(pin)}, errAny, "otherRoundTripper"},
		{"transport allowing TLS 1.1", []Option{WithHTTPClient(tls11)}, errAny, "below 1.2"},
		{"nil signer", []Option{WithRequestSigner(nil)}, errAny, "nil signer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(append([]Option{WithAPIKey(canaryKey)}, tt.opts...)...)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if tt.want != errAny && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.in) {
				t.Errorf("err = %q, want it to mention %q", err, tt.in)
			}
			if leaks(err.Error()) {
				t.Errorf("err = %q leaks the key", err)
			}
		})
	}
	// Pinning the shared transport gives the client a clone of it.
	c, err := New(WithAPIKey(testKey), WithPinnedSPKI(pin))
	if err != nil {
		t.Fatal(err)
	}
	if c.hc.Transport == sharedTransport() {
		t.Error("pinning changed the transport shared by all clients")
	}
	if sharedTransport().TLSClientConfig.VerifyConnection != nil {
		t.Error("the shared transport verifies pins")
	}
}
