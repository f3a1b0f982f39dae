package safecheck

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/felixge/httpsnoop"
)

// Capture is the bounded copy of one sampled exchange. Route.Begin hands one
// out; the adapter tees the request body and the response bytes into it and
// calls Finish exactly once. A Capture is used by the request's goroutine
// only, until Finish passes it to the workers.
type Capture struct {
	rt         *Route
	reserved   int64
	max        int
	req, resp  []byte
	reqTrunc   bool
	respTrunc  bool
	status     int
	reqCT      string
	reqCE      string
	respCT     string
	respCE     string
	headerSeen bool
	header     http.Header
	requestID  string
	customerID string
	annotation any // from WithAnnotate, passed on to every Outcome
	start      time.Time
	finished   bool

	body  teeBody
	hooks httpsnoop.Hooks
}

var capturePool = sync.Pool{New: func() any { return newCapture() }}

func newCapture() *Capture {
	c := &Capture{}
	c.body.c = c
	c.hooks = httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				c.noteStatus(code)
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(p []byte) (int, error) {
				n, err := next(p)
				c.Write(p[:n])
				return n, err
			}
		},
		WriteString: func(next httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			return func(s string) (int, error) {
				n, err := next(s)
				c.WriteString(s[:n])
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				return next(io.TeeReader(src, captureWriter{c}))
			}
		},
	}
	return c
}

// captureWriter lets io.TeeReader feed a Capture.
type captureWriter struct{ c *Capture }

func (w captureWriter) Write(p []byte) (int, error) { w.c.Write(p); return len(p), nil }

func (c *Capture) reset() {
	*c = Capture{req: c.req[:0], resp: c.resp[:0], body: teeBody{c: c}, hooks: c.hooks}
}

// WrapResponseWriter returns w wrapped so that what the handler writes is
// also copied into c. The result implements exactly the optional interfaces
// w implements (http.Flusher, http.Hijacker, io.ReaderFrom, ...), and
// http.ResponseController reaches w through its Unwrap method.
func (c *Capture) WrapResponseWriter(w http.ResponseWriter) http.ResponseWriter {
	c.header = w.Header()
	return httpsnoop.Wrap(w, c.hooks)
}

// WrapRequestBody returns body wrapped so that what the handler reads is also
// copied into c. Closing the result closes body.
func (c *Capture) WrapRequestBody(body io.ReadCloser) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	c.body.rc = body
	return &c.body
}

// noteStatus records the status and the response headers that describe the
// body, at the moment they are final.
func (c *Capture) noteStatus(code int) {
	if c.headerSeen {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return // informational: the real header comes later
	}
	c.headerSeen = true
	c.status = code
	if c.header != nil {
		c.respCT = headerValue(c.header, "Content-Type")
		c.respCE = headerValue(c.header, "Content-Encoding")
	}
}

// NoteResponseHeader records status and the response's content headers; an
// adapter calls it when it writes the header itself.
func (c *Capture) NoteResponseHeader(code int, h http.Header) {
	c.header = h
	c.noteStatus(code)
}

// Write copies response bytes, up to the capture cap; bytes past it are
// counted as truncation. It never fails and never blocks.
func (c *Capture) Write(p []byte) {
	if !c.headerSeen {
		c.noteStatus(http.StatusOK)
	}
	c.resp, c.respTrunc = appendCapped(c.resp, p, c.max, c.respTrunc)
}

// WriteString is Write for a string.
func (c *Capture) WriteString(s string) {
	if !c.headerSeen {
		c.noteStatus(http.StatusOK)
	}
	room := c.max - len(c.resp)
	if len(s) > room {
		s, c.respTrunc = s[:max(room, 0)], true
	}
	c.resp = append(c.resp, s...)
}

func appendCapped(dst, p []byte, limit int, trunc bool) ([]byte, bool) {
	room := limit - len(dst)
	if len(p) > room {
		p, trunc = p[:max(room, 0)], true
	}
	return append(dst, p...), trunc
}

// teeBody copies the request body as the handler reads it.
type teeBody struct {
	c  *Capture
	rc io.ReadCloser
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		c := t.c
		c.req, c.reqTrunc = appendCapped(c.req, p[:n], c.max, c.reqTrunc)
	}
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// SetCustomerID sets the customer the exchange belongs to, for adapters that
// learn it from their framework rather than from the *http.Request. The id is
// cleaned and capped as WithCustomerID describes.
func (c *Capture) SetCustomerID(id string) { c.customerID = id }

// SetRequestID sets the exchange's request id, replacing the one Begin found.
// The id is cleaned and capped as WithCustomerID describes.
func (c *Capture) SetRequestID(id string) { c.requestID = id }
