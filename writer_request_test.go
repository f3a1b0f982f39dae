package safecheck

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/safecheck/safecheck/internal/benchrig"
)

// serverWriter is a reusable ResponseWriter with the optional interfaces
// net/http's HTTP/1 writer has (http.Flusher and FlushError,
// http.CloseNotifier, http.Hijacker, io.ReaderFrom, io.StringWriter and
// the deadlines and full duplex of http.ResponseController), so that a
// benchmark wraps what a server hands the middleware.
type serverWriter struct{ benchrig.Writer }

func (w *serverWriter) FlushError() error                   { return nil }
func (w *serverWriter) CloseNotify() <-chan bool            { return nil }
func (w *serverWriter) SetReadDeadline(time.Time) error     { return nil }
func (w *serverWriter) SetWriteDeadline(time.Time) error    { return nil }
func (w *serverWriter) EnableFullDuplex() error             { return nil }
func (w *serverWriter) WriteString(s string) (int, error)   { w.N += len(s); return len(s), nil }
func (w *serverWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }
func (w *serverWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("serverWriter: not hijackable")
}

// withServerWriter serves h with one serverWriter, whatever writer the rig
// passes.
func withServerWriter(h http.Handler) http.Handler {
	w := &serverWriter{benchrig.Writer{H: http.Header{"Content-Type": {"text/plain"}}}}
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })
}
