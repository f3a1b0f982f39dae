package safecheck

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/safecheck/safecheck/drop"
)

// Route is one configured route: its sample rate, test types and capture
// limits. Requests are sampled only on routes; the net/http middleware and
// the framework adapters are built on Begin and Capture.
type Route struct {
	g    *Guard
	name string
	cfg  routeConfig
	rate rate

	// Each request adds to exactly one counter: unsampled, admitted, or the
	// drop reason decided in Begin; Requests and Sampled are their sums.
	unsampled atomic.Uint64
	admitted  atomic.Uint64 // sampled and admitted; sampled = admitted + drops decided in Begin
	drops     [numDropReasons]atomic.Uint64

	warnedEmpty atomic.Bool // the empty prompt warning was written

	escalatedRequests atomic.Uint64 // requests of escalated customers (escalation.go)

	records routeRecords // the record sinks with the route's attributes bound (records.go)
}

// sampled returns how many requests the sampler chose: each was either
// admitted or dropped in Begin.
func (rt *Route) sampled() uint64 {
	n := rt.admitted.Load()
	for r := range rt.drops {
		if dropReason(r).inBegin() {
			n += rt.drops[r].Load()
		}
	}
	return n
}

// Name returns the route's name as used in logs, Stats and incidents.
func (rt *Route) Name() string { return rt.name }

// Route registers a route, or returns the registered one when name is known
// and no options are given. Options are validated here.
func (g *Guard) Route(name string, opts ...RouteOption) (*Route, error) {
	if name == "" {
		return nil, fmt.Errorf("safecheck: route name is empty")
	}
	if g.closed.Load() {
		return nil, ErrClosed
	}
	if rt := g.route(name); rt != nil && len(opts) == 0 {
		return rt, nil
	}
	cfg := routeConfig{
		rate:            defaultSampleRate,
		testTypes:       defaultTestTypes,
		maxCaptureBytes: defaultMaxCaptureBytes,
		requestID:       defaultRequestID,
		extractor:       g.cfg.extractor,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("safecheck: route %q: option %d is nil", name, i+1)
		}
		o.applyRoute(&cfg)
	}
	err := cfg.validate(g.supports)
	if err == nil {
		err = g.routeEscalation(&cfg)
	}
	if err == nil && int64(2*cfg.maxCaptureBytes) > g.cfg.queueBytes {
		err = fmt.Errorf("two captures of %d bytes (request and response) do not fit the queue's %d bytes",
			cfg.maxCaptureBytes, g.cfg.queueBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("safecheck: route %q: %w", name, err)
	}
	var rt *Route
	err = g.changing(func() error {
		g.routesMu.Lock()
		defer g.routesMu.Unlock()
		if _, ok := g.routes[name]; ok {
			return fmt.Errorf("safecheck: route %q is already registered", name)
		}
		rt = &Route{g: g, name: name, cfg: cfg, records: g.bindRecords(name, cfg.testTypes)}
		rt.rate.store(cfg.rate)
		g.routes[name] = rt
		return nil
	})
	if err == nil {
		g.fleet.routeAdded(rt) // a rate the fleet set before this route existed here
	}
	return rt, err
}

// warnEmptyPrompt says once per route that its samples carry no prompt.
func (rt *Route) warnEmptyPrompt() {
	if rt.warnedEmpty.Swap(true) {
		return
	}
	rt.g.log.LogAttrs(rt.g.baseCtx, slog.LevelWarn,
		"safecheck: samples of this route have no prompt and are dropped as empty_prompt: the request has no body, or the handler never reads r.Body (as on GET routes); set WithPrompt to take the prompt from the request",
		slog.String("route", rt.name))
}

// Middleware registers a route and returns its net/http middleware.
func (g *Guard) Middleware(route string, opts ...RouteOption) (func(http.Handler) http.Handler, error) {
	rt, err := g.Route(route, opts...)
	if err != nil {
		return nil, err
	}
	return rt.Wrap, nil
}

// Wrap returns next wrapped by the route's sampling and capture. The client
// sees exactly what next writes; sampled exchanges are checked in the
// background.
//
// The prompt is the request body as next reads it: on a route whose
// requests have no body (GET) or whose handler never reads r.Body, samples
// have no prompt and are not checked. They are dropped as drop.EmptyPrompt
// and the route warns once; WithPrompt supplies the prompt from the request
// instead (the query string, say). Writes through the wrapped writer after
// next returns are passed on but no longer copied.
func (rt *Route) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := rt.Begin(r)
		if c == nil {
			next.ServeHTTP(w, r)
			return
		}
		body := r.Body
		r.Body = c.WrapRequestBody(body)
		completed := false
		defer func() {
			r.Body = body
			if completed {
				c.Finish()
			} else {
				c.abort(dropHandlerPanic)
			}
		}()
		next.ServeHTTP(c.WrapResponseWriter(w), r)
		completed = true
	})
}

// Begin decides whether r is sampled and, when it is and the queue has room,
// returns the Capture to fill; otherwise nil. It never blocks and does no
// I/O. Every non-nil Capture must be ended with Finish or Abort.
func (rt *Route) Begin(r *http.Request) *Capture { return rt.start(r, false) }

// start is Begin for an inbound exchange or, from Route.Transport, an
// outbound one: the sampling decision, then admission.
func (rt *Route) start(r *http.Request, outbound bool) *Capture {
	if rt.cfg.escalation != nil {
		return rt.beginEscalating(r, outbound)
	}
	if !rt.sample() {
		rt.unsampled.Add(1)
		return nil
	}
	return rt.begin(r, outbound, "", false)
}

// begin is Begin after the sampler said yes, for an inbound exchange or an
// outbound one (r is the request Route.Transport sends), whose ids
// ContextWithIDs may carry. customer is the customer id found before the
// sampling decision, when have is set.
func (rt *Route) begin(r *http.Request, outbound bool, customer string, have bool) *Capture {
	g := rt.g
	reserve := int64(2 * rt.cfg.maxCaptureBytes)
	if reason := g.admit(reserve); reason != dropNone {
		g.drop(rt, reason)
		return nil
	}
	rt.admitted.Add(1)
	c := capturePool.Get().(*Capture)
	c.rt = rt
	c.reserved = reserve
	c.max = rt.cfg.maxCaptureBytes
	if cap(c.req) > c.max || cap(c.resp) > c.max {
		c.req, c.resp = nil, nil // held capacity must fit the reservation
	}
	c.outbound = outbound
	c.reqLen = r.ContentLength
	c.reqCT = headerValue(r.Header, "Content-Type")
	c.reqCE = headerValue(r.Header, "Content-Encoding")
	if !c.identify(r, customer, have) {
		g.appPanicked(panicIDFunc)
		c.abort(dropPanic)
		return nil
	}
	if rt.cfg.prompt != nil && !c.promptFrom(r) {
		g.appPanicked(panicPromptFunc)
		c.abort(dropPanic)
		return nil
	}
	if g.cfg.annotate != nil {
		c.annotation = g.annotate(r)
	}
	return c
}

// identify runs the route's request-id and customer-id functions, for an
// outbound exchange only for the ids its context does not carry (see
// ContextWithIDs). They are the application's code: a panic in them is
// contained, the sample is dropped and the request goes on unsampled. On
// an escalating route the customer id found before sampling is reused.
func (c *Capture) identify(r *http.Request, customer string, have bool) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var ids contextIDs
	if c.outbound {
		ids, _ = r.Context().Value(contextIDsKey{}).(contextIDs)
	}
	c.requestID = ids.request
	if c.requestID == "" {
		c.requestID = c.rt.cfg.requestID(r)
	}
	switch {
	case have:
		c.customerID = customer
	case ids.customer != "":
		c.customerID = ids.customer
	case c.rt.cfg.customerID != nil:
		c.customerID = c.rt.cfg.customerID(r)
	}
	return true
}

// promptFrom runs the route's WithPrompt function, containing its panic.
func (c *Capture) promptFrom(r *http.Request) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	p := c.rt.cfg.prompt(r)
	if len(p) > c.max {
		p = strings.ToValidUTF8(p[:c.max], "")
	}
	c.prompt = p
	return true
}

// Finish hands the capture to the background workers. It never blocks.
// From then on the writer and body it wrapped copy nothing more.
func (c *Capture) Finish() {
	if c.finished {
		return
	}
	c.finished = true
	c.cut()
	c.rt.g.enqueue(c)
}

// Abort discards the capture, counting it as dropped for reason
// (drop.Aborted when reason cannot end an admitted sample, such as
// drop.QueueFull).
func (c *Capture) Abort(reason drop.Reason) { c.abort(dropReasonOf(reason)) }

func (c *Capture) abort(reason dropReason) {
	if c.finished {
		return
	}
	c.finished = true
	c.cut()
	c.rt.g.finish(c, reason, 0, false)
}

// headerValue reads a header by its canonical name without Header.Get's
// validation of the name, which is measurable on the sampled path.
func headerValue(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// requestIDHeader is read for the request id when the route has no
// WithRequestID function. It is in canonical form, so reading it does not
// allocate.
const requestIDHeader = "X-Request-Id"

// defaultRequestID reads X-Request-ID. When it is absent the worker
// generates an id, off the request path, where every id is also cleaned
// (see cleanID).
func defaultRequestID(r *http.Request) string {
	return headerValue(r.Header, requestIDHeader)
}

// newRequestID returns a random id for an exchange that came without one.
func newRequestID() string {
	var b [8]byte
	u := rand.Uint64()
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}
