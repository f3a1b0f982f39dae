package safecheck

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
)

// contextIDsKey is the context key of the ids ContextWithIDs sets.
type contextIDsKey struct{}

// contextIDs are the ids an outbound call's context carries.
type contextIDs struct{ customer, request string }

// ContextWithIDs returns a copy of ctx that carries the customer and the
// request an outbound LLM call is made for, for Route.Transport to read:
// pass it to the SDK call. An empty id is not set; the route's
// WithCustomerID and WithRequestID functions, run on the outbound
// request, supply it instead. The ids are cleaned and capped as
// WithCustomerID describes.
func ContextWithIDs(ctx context.Context, customerID, requestID string) context.Context {
	return context.WithValue(ctx, contextIDsKey{}, contextIDs{customer: customerID, request: requestID})
}

// Transport returns an http.RoundTripper that sends each request through
// base (http.DefaultTransport when nil) and samples the exchanges the app
// makes with its LLM, for clients such as the OpenAI and Anthropic SDKs
// (option.WithHTTPClient). Each call the base carries is one exchange: an
// SDK's retry is another. A call is sampled with the route's rate and
// incidents and admitted as Route.Begin admits a request; the prompt is the
// request body as the base sends it, the response the body as the caller
// reads it, and a sample is checked and recorded as an inbound one is, its
// records saying direction=outbound. The caller sees exactly what base
// returns: nothing is read ahead, and only what the caller has read is
// copied.
//
// Only calls that can be checked are samples: a request without a body
// (unless the route has WithPrompt), an error, an answer that is not 2xx or
// has no body, count as unsampled requests. A sample ends when the caller
// reads the body to its end or closes it; one closed or failed before its
// end is checked as partial, and a body never closed holds its sample
// until Close gives up on it.
func (rt *Route) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{rt: rt, base: base}
}

// outboundCustomer is customerFirst for an outbound call on an escalating
// route: the customer id ContextWithIDs put in its context, else the
// route's function's.
func (rt *Route) outboundCustomer(req *http.Request) (id string, have, ok bool) {
	if rt.g.rx.esc.snap.Load().bits == nil {
		return "", false, true
	}
	if ids, _ := req.Context().Value(contextIDsKey{}).(contextIDs); ids.customer != "" {
		return ids.customer, true, true
	}
	return rt.customerFirst(req)
}

// transport is what Route.Transport returns.
type transport struct {
	rt   *Route
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := t.rt
	// A call without a body has no prompt to check.
	if (req.Body == nil || req.Body == http.NoBody) && rt.cfg.prompt == nil {
		rt.unsampled.Add(1)
		return t.base.RoundTrip(req)
	}
	c := rt.start(req, true)
	if c == nil {
		return t.base.RoundTrip(req)
	}
	return t.sampled(req, c)
}

// sampled carries one admitted exchange.
func (t *transport) sampled(req *http.Request, c *Capture) (*http.Response, error) {
	x := &outExchange{c: c, reqLen: req.ContentLength}
	out := &x.out
	*out = *req // RoundTrip must not change req: the copy carries the tee
	if req.Body != nil && req.Body != http.NoBody {
		x.reqBody = reqTee{x: x, rc: req.Body}
		out.Body = &x.reqBody
		if get := req.GetBody; get != nil {
			out.GetBody = func() (io.ReadCloser, error) { return x.rewind(get) }
		}
	}
	returned := false
	defer func() {
		if !returned { // the base panicked: the sample must not stay pending
			x.unsample()
		}
	}()
	resp, err := t.base.RoundTrip(out)
	returned = true
	if err != nil || resp == nil {
		x.unsample()
		return resp, err
	}
	switch r := resp.Request; {
	case r == out:
		resp.Request = req
	case r != nil && r.Body == out.Body && r.Body != req.Body:
		// A copy the base made (HTTP/2 may): the caller's body in it.
		cp := new(http.Request)
		*cp = *r
		cp.Body, cp.GetBody = req.Body, req.GetBody
		resp.Request = cp
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Body == nil || resp.Body == http.NoBody ||
		req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent {
		x.unsample()
		return resp, nil
	}
	x.mu.Lock()
	c.NoteResponseHeader(resp.StatusCode, resp.Header)
	c.header = nil // the response's, not ours to keep
	x.stream = strings.HasPrefix(c.respCT, "text/event-stream")
	x.respLen = resp.ContentLength
	x.body = resp.Body
	x.mu.Unlock()
	resp.Body = x
	return resp, nil
}

// outExchange is one sampled outbound exchange: the response body the caller
// reads, and the request body tee. The base may read the request body on
// a goroutine of its own, and the caller may Close the response body
// while another goroutine reads it: mu orders them, and once done is set
// nothing touches c, which the workers own from then on.
type outExchange struct {
	mu      sync.Mutex
	c       *Capture
	done    bool
	out     http.Request // the copy of the caller's request the base sends, in the same allocation
	reqBody reqTee
	gen     int   // the request body's attempt within the base: GetBody starts another
	reqN    int64 // request bytes read in this attempt
	reqLen  int64 // the request's ContentLength
	reqEOF  bool
	body    io.ReadCloser // the response body
	respN   int64
	respLen int64
	stream  bool // an event stream: the extractor tells a cut one
}

// reqTee copies the request body as the base reads it.
type reqTee struct {
	x   *outExchange
	rc  io.ReadCloser
	gen int
}

func (b *reqTee) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	x := b.x
	x.mu.Lock()
	if !x.done && b.gen == x.gen {
		c := x.c
		c.req, c.reqTrunc = appendSized(c.req, p[:n], x.reqLen, c.max, c.reqTrunc)
		x.reqN += int64(n)
		x.reqEOF = x.reqEOF || err == io.EOF
	}
	x.mu.Unlock()
	return n, err
}

func (b *reqTee) Close() error { return b.rc.Close() }

// rewind is the request's GetBody for the base, which calls it to send
// the body again (on a connection lost before the answer, say): the copy
// starts again with the new body.
func (x *outExchange) rewind(get func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	rc, err := get()
	if err != nil || rc == nil || rc == http.NoBody {
		return rc, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.gen++
	if !x.done {
		x.c.req, x.c.reqTrunc = x.c.req[:0], false
		x.reqN, x.reqEOF = 0, false
	}
	return &reqTee{x: x, rc: rc, gen: x.gen}, nil
}

// Read reads the response body for the caller and copies what it read.
func (x *outExchange) Read(p []byte) (int, error) {
	n, err := x.body.Read(p)
	if n > 0 || err != nil {
		x.mu.Lock()
		if !x.done {
			c := x.c
			c.resp, c.respTrunc = appendSized(c.resp, p[:n], x.respLen, c.max, c.respTrunc)
			x.respN += int64(n)
			if err != nil {
				x.finishLocked(err == io.EOF)
			}
		}
		x.mu.Unlock()
	}
	return n, err
}

// Close closes the response body; closed before its end, the sample is
// checked as partial.
func (x *outExchange) Close() error {
	err := x.body.Close()
	x.mu.Lock()
	if !x.done {
		x.finishLocked(false)
	}
	x.mu.Unlock()
	return err
}

// finishLocked hands the sample to the workers. eof says the caller read
// the response to its end; otherwise it is marked cut unless its length
// says it is whole, or it is an event stream, which the extractor finds
// cut by its missing last event.
func (x *outExchange) finishLocked(eof bool) {
	x.done = true
	c := x.c
	if !x.reqEOF && (x.reqLen <= 0 || x.reqN < x.reqLen) && len(c.req) > 0 {
		c.reqTrunc = true // the base stopped sending: what was sent is a cut body
	}
	if !eof && !x.stream && (x.respLen < 0 || x.respN < x.respLen) {
		c.respTrunc = true
	}
	c.Finish()
}

// unsample gives the exchange's admission back: it is not a sample after
// all (an error, or an answer that is not 2xx or has no body).
func (x *outExchange) unsample() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.done = true
	x.c.rt.g.unsample(x.c)
}

// unsample ends an admitted capture that turned out not to be a sample: it
// counts as an unsampled request and frees its slot and bytes. After Close
// has given up waiting it is a shutdown drop, as Close's count said.
func (g *Guard) unsample(c *Capture) {
	c.finished = true
	c.cut()
	g.finishMu.RLock()
	defer g.finishMu.RUnlock()
	rt := c.rt
	if g.abandoned.Load() {
		g.drop(rt, dropShutdown)
	} else {
		rt.admitted.Add(^uint64(0))
		rt.unsampled.Add(1)
	}
	g.release(c)
}

// direction names the side of the app an exchange was sampled on, for its
// records.
func direction(outbound bool) string {
	if outbound {
		return "outbound"
	}
	return "inbound"
}
