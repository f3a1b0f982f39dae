package safecheckgin

import (
	"errors"
	"fmt"
	"github.com/safecheck/safecheck/drop"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
)

// middleware is one Middleware's table and identity functions. It is
// immutable once built, so requests read it without locks.
type middleware struct {
	table      []methodRoutes   // by method, in the order of the first WithRoute of each
	fallback   *safecheck.Route // WithDefaultRoute, or nil
	customerID func(*gin.Context) string
	requestID  func(*gin.Context) string
}

// methodRoutes holds the table's routes for one method, by gin route
// template. The table is nested, method → template → route, so that a lookup
// needs neither a key built per request nor an allocation. An app has a
// handful of methods and usually a few guarded routes per method: comparing
// short strings is then several times cheaper than hashing them, so the
// methods are a slice and a method's routes are one too up to scanLimit, a
// map beyond.
type methodRoutes struct {
	method string
	few    []pathRoute                 // when there are at most scanLimit routes
	paths  map[string]*safecheck.Route // otherwise
}

type pathRoute struct {
	path string
	rt   *safecheck.Route
}

const scanLimit = 8

// lookup returns the table's route for method and template, or nil.
func (m *middleware) lookup(method, path string) *safecheck.Route {
	for i := range m.table {
		t := &m.table[i]
		if t.method != method {
			continue
		}
		if t.paths != nil {
			return t.paths[path]
		}
		for j := range t.few {
			if t.few[j].path == path {
				return t.few[j].rt
			}
		}
		return nil
	}
	return nil
}

// Middleware returns gin middleware that samples the requests of the routes
// in its table (WithRoute, WithDefaultRoute) and hands them to guard. Mount
// it with Engine.Use, on a group or on one route, after gin.Recovery and
// before compression middleware (see the package documentation). Every
// option is validated here and the table's routes are registered with guard;
// the error says what is wrong.
func Middleware(guard *safecheck.Guard, opts ...Option) (gin.HandlerFunc, error) {
	m, err := newMiddleware(guard, opts)
	if err != nil {
		return nil, err
	}
	return m.handle, nil
}

// Route returns gin middleware that samples every request passing through
// it, on the safecheck route name configured by routeOpts. Mount it on one
// route or on a group; for customer ids or several routes, use Middleware.
func Route(guard *safecheck.Guard, name string, routeOpts ...safecheck.RouteOption) (gin.HandlerFunc, error) {
	return Middleware(guard, WithDefaultRoute(name, routeOpts...))
}

func newMiddleware(guard *safecheck.Guard, opts []Option) (*middleware, error) {
	if guard == nil {
		return nil, errors.New("safecheckgin: guard is nil")
	}
	var cfg config
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("safecheckgin: option %d is nil", i+1)
		}
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("safecheckgin: invalid configuration: %w", err)
	}
	m := &middleware{customerID: cfg.customerID, requestID: cfg.requestID}
	for _, spec := range cfg.routes {
		rt, err := guard.Route(spec.name, spec.opts...)
		if err != nil {
			return nil, fmt.Errorf("safecheckgin: %w", err)
		}
		m.add(spec.method, spec.path, rt)
	}
	for _, spec := range cfg.defaults {
		rt, err := guard.Route(spec.name, spec.opts...)
		if err != nil {
			return nil, fmt.Errorf("safecheckgin: %w", err)
		}
		m.fallback = rt
	}
	return m, nil
}

// handle is the gin.HandlerFunc. When the request is not sampled it returns
// at once and gin runs the next handler itself.
func (m *middleware) handle(c *gin.Context) {
	rt := m.lookup(c.Request.Method, c.FullPath())
	if rt == nil {
		if m.fallback == nil || c.FullPath() == "" {
			return
		}
		rt = m.fallback
	}
	if cp := rt.Begin(c.Request); cp != nil {
		m.capture(c, cp)
	}
}

// add puts rt in the table; validate has rejected duplicates.
func (m *middleware) add(method, path string, rt *safecheck.Route) {
	i := 0
	for i < len(m.table) && m.table[i].method != method {
		i++
	}
	if i == len(m.table) {
		m.table = append(m.table, methodRoutes{method: method})
	}
	t := &m.table[i]
	if t.paths == nil && len(t.few) < scanLimit {
		t.few = append(t.few, pathRoute{path, rt})
		return
	}
	if t.paths == nil {
		t.paths = make(map[string]*safecheck.Route, 2*scanLimit)
		for _, pr := range t.few {
			t.paths[pr.path] = pr.rt
		}
		t.few = nil
	}
	t.paths[path] = rt
}

// capture runs the rest of the chain with the request body and c.Writer
// teed into cp, then finishes cp. A panic is not recovered: cp is aborted
// and the panic goes on to the handlers above.
func (m *middleware) capture(c *gin.Context, cp *safecheck.Capture) {
	req := c.Request
	body := req.Body
	req.Body = cp.WrapRequestBody(body)
	orig := c.Writer
	w := &writer{ResponseWriter: orig, cp: cp}
	c.Writer = w
	completed := false
	defer func() {
		c.Writer = orig
		req.Body = body
		w.cp = nil // writes from a handler that kept c.Writer are no longer copied
		if completed {
			cp.Finish()
		} else {
			cp.Abort(drop.HandlerPanic)
		}
	}()
	c.Next()
	if !w.noted {
		// Nothing was written: gin writes the header after the chain returns,
		// with the status set now.
		cp.NoteResponseHeader(orig.Status(), orig.Header())
	}
	if m.customerID != nil {
		if id := m.customerID(c); id != "" {
			cp.SetCustomerID(id)
		}
	}
	if m.requestID != nil {
		if id := m.requestID(c); id != "" {
			cp.SetRequestID(id)
		}
	}
	completed = true
}

// writer is c.Writer during a sampled request: the original writer, with
// Write and WriteString also copying into the capture. Every other method,
// Status, Size, Written, Flush, Hijack, CloseNotify, Pusher and
// WriteHeaderNow included, is the embedded writer's.
type writer struct {
	gin.ResponseWriter
	cp    *safecheck.Capture
	noted bool
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if w.cp != nil {
		w.note()
		w.cp.Write(p[:n])
	}
	return n, err
}

func (w *writer) WriteString(s string) (int, error) {
	n, err := w.ResponseWriter.WriteString(s)
	if w.cp != nil {
		w.note()
		w.cp.WriteString(s[:n])
	}
	return n, err
}

// note records the header once the embedded writer has written it, which
// gin does lazily at the first write.
func (w *writer) note() {
	if !w.noted {
		w.noted = true
		w.cp.NoteResponseHeader(w.ResponseWriter.Status(), w.ResponseWriter.Header())
	}
}

// Unwrap returns the original writer, so that http.ResponseController finds
// the connection's deadlines and full-duplex support through it.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
