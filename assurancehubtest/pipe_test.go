package assurancehubtest

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// pipeURL is the base URL of a server started by servePipe.
const pipeURL = "http://assurancehub.test"

// pipeNetwork is an in-memory network of net.Pipe connections: a
// net.Listener for an http.Server and a dial function for an
// http.Transport. Tests that run in a synctest bubble use it because
// goroutines blocked on loopback sockets are not durably blocked, so a
// bubble around them never advances its fake clock. The server and client
// on it are the real net/http ones speaking HTTP/1.1.
type pipeNetwork struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeNetwork() *pipeNetwork {
	return &pipeNetwork{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (n *pipeNetwork) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.closed:
		return nil, net.ErrClosed
	}
}

func (n *pipeNetwork) Close() error {
	n.once.Do(func() { close(n.closed) })
	return nil
}

func (n *pipeNetwork) Addr() net.Addr { return pipeAddr{} }

func (n *pipeNetwork) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case n.conns <- server:
		return client, nil
	case <-n.closed:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, net.ErrClosed
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "assurancehub.test:80" }

// servePipe serves h with an http.Server on an in-memory network and
// returns a client for pipeURL. Call it inside a synctest bubble; the
// server stops when the test ends.
func servePipe(t *testing.T, h http.Handler) *http.Client {
	t.Helper()
	n := newPipeNetwork()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(n)
	}()
	tr := &http.Transport{DialContext: n.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
		<-done
	})
	return &http.Client{Transport: tr}
}

// httptestServer serves h on loopback for the duration of the test.
func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func nan() float64 { return math.NaN() }
