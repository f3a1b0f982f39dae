package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/internal/audit"
	"github.com/safecheck/safecheck/webhook"
)

// New returns the handler with which operators read guard's state and
// change it at run time; the package documentation lists its endpoints.
// At least one WithToken is required. Invalid options make New return an
// error that names each, and a closed guard makes it return
// safecheck.ErrClosed.
func New(guard *safecheck.Guard, opts ...Option) (http.Handler, error) {
	if guard == nil {
		return nil, errors.New("admin: nil *safecheck.Guard")
	}
	if closed(guard) {
		return nil, safecheck.ErrClosed
	}
	var c config
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, fmt.Errorf("option %d is a nil admin.Option", i+1))
			continue
		}
		o.apply(&c)
	}
	if len(c.tokens) == 0 && len(c.errs) == 0 {
		c.errs = append(c.errs, errors.New("no token: use WithToken"))
	}
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]bool{}
	for _, t := range c.tokens {
		if names[t.name] {
			c.errs = append(c.errs, fmt.Errorf("token name %q given twice", t.name))
		}
		if hashes[t.hash] {
			c.errs = append(c.errs, fmt.Errorf("token of %q is also given under another name", t.name))
		}
		names[t.name], hashes[t.hash] = true, true
	}
	allow, err := parsePrefixes("WithAllowlist", c.allow, c.allowSet)
	if err != nil {
		c.errs = append(c.errs, err)
	}
	trusted, err := parsePrefixes("WithTrustedProxies", c.trusted, c.trustedSet)
	if err != nil {
		c.errs = append(c.errs, err)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	h := &handler{guard: guard, tokens: c.tokens, allow: allow, trusted: trusted, webhooks: c.webhooks, mux: http.NewServeMux()}
	h.handle("GET /state", h.getState) // and HEAD
	h.handle("POST /incident", h.startIncident)
	h.handle("DELETE /incident", h.endIncident)
	h.handle("PUT /rate", h.putRate)
	// A route name may hold slashes, and {name...} can only end a
	// pattern: putRouteRate cuts "/rate" off the rest itself.
	h.handle("PUT /routes/{rest...}", h.putRouteRate)
	h.handle("GET /escalations", h.listEscalations)
	h.handle("DELETE /escalations/{customer}", h.endEscalation)
	return h, nil
}

// closed reports whether guard is closed: Flush answers ErrClosed then, and
// with a context that is already done it never waits.
func closed(guard *safecheck.Guard) bool {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	return errors.Is(guard.Flush(done), safecheck.ErrClosed)
}

// endpoints are the handler's endpoints, relative to where it is mounted,
// as a 404 lists them.
var endpoints = []string{
	"GET /state",
	"POST /incident",
	"DELETE /incident",
	"PUT /rate",
	"PUT /routes/{name}/rate",
	"GET /escalations",
	"DELETE /escalations/{customer}",
}

type handler struct {
	guard   *safecheck.Guard
	tokens  []token
	allow   []netip.Prefix // empty: every address
	trusted []netip.Prefix
	mux     *http.ServeMux
	// webhooks is WithWebhooks' sink, or nil.
	webhooks *webhook.Sink

	// rateMu makes a rate change and the read of the rate it replaces one
	// step for the changes made through this handler.
	rateMu sync.Mutex
}

// handle registers f for pattern. f gets the response writer unwrapped, so
// only what the mux answers itself reaches unmatched.
func (h *handler) handle(pattern string, f http.HandlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if u, ok := w.(*unmatched); ok {
			w = u.ResponseWriter
		}
		f(w, r)
	})
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	ip := clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), h.trusted)
	if len(h.allow) > 0 && (!ip.IsValid() || !inPrefixes(h.allow, ip)) {
		writeError(w, http.StatusForbidden, "client address is not allowed")
		return
	}
	actor, ok := h.authenticate(r.Header)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="safecheck-admin"`)
		writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
		return
	}
	ctx := audit.WithAttrs(r.Context(),
		slog.String("actor", actor), slog.String("client_ip", addrString(ip)), slog.String("via", "admin"))
	h.mux.ServeHTTP(&unmatched{ResponseWriter: w, h: h, r: r}, routable(r.WithContext(ctx)))
}

// routable returns r, or, when r's path is one of /routes/{name}/rate that
// the mux would not match because it is not clean (the mux redirects those,
// and a route name may hold "//" or end in "/", as "GET /static/" does), a
// copy whose path holds everything after /routes/ as one escaped segment.
func routable(r *http.Request) *http.Request {
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, "/routes/")
	if !ok || !strings.HasSuffix(rest, "/rate") || cleanPath(p) == p {
		return r
	}
	mount := mountPrefix(r)
	u := *r.URL
	u.RawPath = "/routes/" + strings.ReplaceAll(rest, "/", "%2F")
	if u.EscapedPath() != u.RawPath {
		return r
	}
	r = r.Clone(r.Context())
	r.URL = &u
	r.RequestURI = mount + u.RequestURI() // so that mountPrefix still finds the mount
	return r
}

// cleanPath is p as the mux cleans it (net/http's cleanPath): rooted,
// without empty, "." or ".." segments, a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// unmatched is the writer the mux gets: it passes the registered handlers
// the real writer (see handle) and turns the mux's own answers (404, 405
// with its Allow header, and redirects to a cleaned path, which would lose
// the mount prefix) into JSON.
type unmatched struct {
	http.ResponseWriter
	h     *handler
	r     *http.Request // before routable
	wrote bool
}

func (u *unmatched) WriteHeader(code int) {
	if u.wrote {
		return
	}
	u.wrote = true
	u.Header().Del("Location")
	if code == http.StatusMethodNotAllowed && !u.unknownPath() {
		writeError(u.ResponseWriter, code, "method not allowed")
		return
	}
	u.Header().Del("Allow")
	u.h.notFound(u.ResponseWriter, u.r)
}

// unknownPath reports a path under /routes/ that is not /routes/{name}/rate:
// PUT /routes/{rest...} matches it, but only for its method.
func (u *unmatched) unknownPath() bool {
	p := u.r.URL.EscapedPath()
	return strings.HasPrefix(p+"/", "/routes/") && !strings.HasSuffix(p, "/rate")
}

// Write drops the mux's plain-text body: WriteHeader wrote JSON instead.
func (u *unmatched) Write(p []byte) (int, error) {
	u.WriteHeader(http.StatusOK)
	return len(p), nil
}

// notFound answers a path the handler does not serve with the endpoints it
// does serve, under the prefix it is mounted at (what http.StripPrefix took
// off the request's path), and, when the path ends in an endpoint, with the
// StripPrefix call the mount probably lacks.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	mount := mountPrefix(r)
	list := make([]string, len(endpoints))
	for i, e := range endpoints {
		method, p, _ := strings.Cut(e, " ")
		list[i] = method + " " + mount + p
	}
	msg := fmt.Sprintf("no endpoint %s here; the admin handler serves %s", mount+path, strings.Join(list, ", "))
	if stray := strayPrefix(path); stray != "" {
		msg = fmt.Sprintf("no endpoint %s: the admin handler got the path with %s still on it; mount it with "+
			"http.StripPrefix(%q, handler), or send %s", path, stray, mount+stray, mount+strings.TrimPrefix(path, stray))
	}
	mounted := mount
	if mounted == "" {
		mounted = "/"
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": msg, "mounted_at": mounted, "endpoints": list})
}

// mountPrefix returns what was stripped off the request's path before it
// reached the handler ("/internal/safecheck" behind
// http.StripPrefix("/internal/safecheck", ...)), or "" when nothing was or
// the request does not say.
func mountPrefix(r *http.Request) string {
	if r.RequestURI == "" {
		return ""
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return ""
	}
	orig, path := u.EscapedPath(), r.URL.EscapedPath()
	if orig == path || !strings.HasSuffix(orig, path) {
		return ""
	}
	return strings.TrimSuffix(orig, path)
}

// strayPrefix returns the part of path before one of the handler's
// endpoints ("/internal/safecheck" of "/internal/safecheck/state"), or "".
func strayPrefix(path string) string {
	for _, e := range []string{"/state", "/incident", "/rate", "/escalations"} {
		if prefix, ok := strings.CutSuffix(path, e); ok && prefix != "" && !strings.Contains(prefix, "/routes/") {
			return prefix
		}
	}
	if i := strings.Index(path, "/routes/"); i > 0 && strings.HasSuffix(path, "/rate") {
		return path[:i]
	}
	return ""
}
