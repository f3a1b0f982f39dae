package assurancehubtest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"time"
)

// Server is a Handler listening on a real TCP address, like
// httptest.Server. The embedded Handler's methods (FailNext, Requests, …)
// act on the running server.
type Server struct {
	*Handler

	// URL is the base URL of the server, e.g. "http://127.0.0.1:40123"
	// ("https://..." with WithTLS), without a trailing slash. Endpoints are
	// URL + "/v1/evaluate/<type>".
	URL string

	ts *httptest.Server
}

// NewServer starts a server configured by opts on a free loopback port (or
// the WithAddr address) and returns it, or an error if an option is
// invalid or the address cannot be listened on. Call Close when done.
func NewServer(opts ...Option) (*Server, error) {
	h, err := NewHandler(opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return nil, fmt.Errorf("assurancehubtest: listen on %s: %w", h.addr, err)
	}
	ts := &httptest.Server{
		Listener: ln,
		Config:   &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second},
	}
	if h.tls {
		// Refused handshakes are what TLS tests provoke; other errors are
		// still logged.
		ts.Config.ErrorLog = log.New(dropHandshakeErrors{os.Stderr}, "", log.LstdFlags)
		ts.StartTLS()
	} else {
		ts.Start()
	}
	return &Server{Handler: h, URL: ts.URL, ts: ts}, nil
}

// dropHandshakeErrors writes every log line but those about failed TLS
// handshakes.
type dropHandshakeErrors struct{ w io.Writer }

func (d dropHandshakeErrors) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) {
		return len(p), nil
	}
	return d.w.Write(p)
}

// Client returns an HTTP client for talking to the server; Close closes its
// idle connections. With WithTLS it trusts the server's certificate.
func (s *Server) Client() *http.Client {
	return s.ts.Client()
}

// Certificate returns the server's TLS certificate (with WithTLS), for
// example to compute a pin with assurancehub.SPKIHash, or nil without TLS.
func (s *Server) Certificate() *x509.Certificate {
	if !s.tls {
		return nil
	}
	return s.ts.Certificate()
}

// Close aborts requests that are waiting for latency or a fault delay
// (their connections are closed without an answer), stops the server and
// blocks until every request has finished. Calling it again has no effect.
func (s *Server) Close() {
	s.shutdown()
	s.ts.Close()
}
