package safecheck

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
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
	reqLen     int64 // the request's ContentLength: -1 or 0 when unknown
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
	prompt     string // from the route's WithPrompt function, or ""
	annotation any    // from WithAnnotate, passed on to every Outcome
	finished   bool
	keys       string        // the cache keys of the route's test types for the extracted texts, once hashed (textsKeys)
	procStart  time.Duration // the budget's clock when a worker began the sample
	charging   bool          // procStart is set: finish charges the CPU budget
	waited     time.Duration // time since then spent waiting, not charged
	hooks      time.Duration // budget clock time the WithOnVerdict hooks took, never charged
	outbound   bool          // from Route.Transport: the app's call to its LLM
	cells      sampleCells   // the flights and verdict cells of the sample's checks (evaluate.go)

	tap   *tap     // what the wrapped writer and body write through
	qnext *Capture // the capture offered before this one, in the queue's batch
}

// tap connects the writer and the request body that WrapResponseWriter and
// WrapRequestBody hand out to their Capture, for one exchange only. Each
// wrapper keeps the tap's generation of the exchange it was made for;
// Finish and Abort cut the tap by moving to the next generation, so a
// writer or a body kept past the handler (by a goroutine that outlived
// it) copies nothing more, and never into another exchange's sample,
// which may be another customer's. The tap and its hooks live as long as
// their pooled Capture; only the wrappers are made per exchange.
type tap struct {
	c     *Capture
	gen   atomic.Uint64
	hooks httpsnoop.Hooks
}

var capturePool = sync.Pool{New: func() any { return newCapture() }}

func newCapture() *Capture {
	c := &Capture{}
	c.tap = newTap(c)
	return c
}

func newTap(c *Capture) *tap {
	t := &tap{c: c}
	t.hooks = httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			gen := t.gen.Load()
			return func(code int) {
				if t.gen.Load() == gen {
					t.c.noteStatus(code)
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			gen := t.gen.Load()
			return func(p []byte) (int, error) {
				n, err := next(p)
				if t.gen.Load() == gen {
					t.c.Write(p[:n])
				}
				return n, err
			}
		},
		WriteString: func(next httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			gen := t.gen.Load()
			return func(s string) (int, error) {
				n, err := next(s)
				if t.gen.Load() == gen {
					t.c.WriteString(s[:n])
				}
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			gen := t.gen.Load()
			return func(src io.Reader) (int64, error) {
				return next(io.TeeReader(src, tapWriter{t, gen}))
			}
		},
	}
	return t
}

// tapWriter lets io.TeeReader feed a Capture through its tap, for the
// exchange of generation gen.
type tapWriter struct {
	t   *tap
	gen uint64
}

func (w tapWriter) Write(p []byte) (int, error) {
	if w.t.gen.Load() == w.gen {
		w.t.c.Write(p)
	}
	return len(p), nil
}

// maxPooledBuffer is the largest buffer a pooled Capture keeps; larger ones
// are left to the garbage collector. A sample's held capacity counts
// against the queue's byte budget, so a small exchange must not hold a
// large pooled buffer.
const maxPooledBuffer = 16 << 10

// reset readies c for another exchange, off the request path: it keeps
// buffers up to maxPooledBuffer, and its tap, which Finish or Abort cut.
func (c *Capture) reset() {
	req, resp := c.req[:0], c.resp[:0]
	if cap(req) > maxPooledBuffer {
		req = nil
	}
	if cap(resp) > maxPooledBuffer {
		resp = nil
	}
	t := c.tap
	*c = Capture{req: req, resp: resp, tap: t}
	if t == nil {
		c.tap = newTap(c)
	}
}

// cut stops what was handed out for this exchange from copying anything
// more.
func (c *Capture) cut() {
	if c.tap != nil {
		c.tap.gen.Add(1)
	}
}

// WrapResponseWriter returns w wrapped so that what the handler writes is
// also copied into c. The result implements exactly the optional interfaces
// w implements (http.Flusher, http.Hijacker, io.ReaderFrom, ...), and
// http.ResponseController reaches w through its Unwrap method.
func (c *Capture) WrapResponseWriter(w http.ResponseWriter) http.ResponseWriter {
	c.header = w.Header()
	return httpsnoop.Wrap(w, c.tap.hooks)
}

// WrapRequestBody returns body wrapped so that what the handler reads is also
// copied into c. Closing the result closes body.
func (c *Capture) WrapRequestBody(body io.ReadCloser) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	return &teeBody{t: c.tap, gen: c.tap.gen.Load(), rc: body}
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
	c.resp = append(grow(c.resp, len(s), c.max), s...)
}

func appendCapped(dst, p []byte, limit int, trunc bool) ([]byte, bool) {
	room := limit - len(dst)
	if len(p) > room {
		p, trunc = p[:max(room, 0)], true
	}
	return append(grow(dst, len(p), limit), p...), trunc
}

// grow makes room for n more bytes in dst without letting its capacity pass
// limit, so that what a capture holds is what the byte budget reserved.
func grow(dst []byte, n, limit int) []byte {
	need := len(dst) + n
	if need <= cap(dst) {
		return dst
	}
	size := min(max(2*cap(dst), need), max(limit, need))
	out := make([]byte, len(dst), size)
	copy(out, dst)
	return out
}

// appendSized is appendCapped for a body of length bytes (0 or less:
// unknown): its first bytes go into a buffer with room for the whole body,
// as far as limit allows, so that a body read in small pieces fills one
// buffer instead of a chain of doublings.
func appendSized(dst, p []byte, length int64, limit int, trunc bool) ([]byte, bool) {
	if want := min(length, int64(limit)); len(dst) == 0 && len(p) > 0 && want > int64(cap(dst)) {
		dst = make([]byte, 0, want)
	}
	return appendCapped(dst, p, limit, trunc)
}

// teeBody copies the request body as the handler reads it, until its tap
// is cut.
type teeBody struct {
	t   *tap
	gen uint64 // the exchange's generation of t
	rc  io.ReadCloser
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 && b.t.gen.Load() == b.gen {
		c := b.t.c
		c.req, c.reqTrunc = appendSized(c.req, p[:n], c.reqLen, c.max, c.reqTrunc)
	}
	return n, err
}

func (b *teeBody) Close() error { return b.rc.Close() }

// SetCustomerID sets the customer the exchange belongs to, for adapters that
// learn it from their framework rather than from the *http.Request. The id is
// cleaned and capped as WithCustomerID describes.
func (c *Capture) SetCustomerID(id string) { c.customerID = id }

// SetRequestID sets the exchange's request id, replacing the one Begin found.
// The id is cleaned and capped as WithCustomerID describes.
func (c *Capture) SetRequestID(id string) { c.requestID = id }
