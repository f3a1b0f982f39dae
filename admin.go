package safecheck

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/safecheck/safecheck/internal/audit"
)

// MinAdminTokenBytes is the shortest token WithAdminToken accepts.
const MinAdminTokenBytes = 16

// AdminMaxIncidentDuration is the longest incident the admin handler
// starts; longer durations are refused, not shortened.
const AdminMaxIncidentDuration = 24 * time.Hour

// adminMaxBody bounds the JSON body of an admin request.
const adminMaxBody = 64 << 10

// adminMaxReason bounds an incident reason given to the admin handler.
const adminMaxReason = 500

// AdminOption configures the handler AdminHandler returns.
type AdminOption func(*adminConfig)

type adminConfig struct {
	tokens     []adminToken
	allow      []string
	allowSet   bool
	trusted    []string
	trustedSet bool
	errs       []error
}

type adminToken struct {
	name string
	hash [sha256.Size]byte
}

// WithAdminToken accepts requests that carry "Authorization: Bearer <token>".
// name identifies the holder in audit records (the token itself is never
// logged); it must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'
// and '@'. token must be at least MinAdminTokenBytes long and printable
// ASCII without spaces; generate it randomly, e.g. 32 bytes from
// crypto/rand in hex. The option may be given several times, one per
// operator or system, with distinct names and tokens. Tokens are compared in
// constant time.
func WithAdminToken(name, token string) AdminOption {
	return func(c *adminConfig) {
		switch {
		case !validActorName(name):
			c.errs = append(c.errs, fmt.Errorf("token name %q must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-', '@'", truncateName(name)))
			return
		case len(token) < MinAdminTokenBytes:
			c.errs = append(c.errs, fmt.Errorf("token %q is shorter than %d bytes", name, MinAdminTokenBytes))
			return
		case !printableToken(token):
			c.errs = append(c.errs, fmt.Errorf("token %q holds a space, control or non-ASCII character", name))
			return
		}
		c.tokens = append(c.tokens, adminToken{name: name, hash: sha256.Sum256([]byte(token))})
	}
}

// WithAdminAllowlist accepts requests only from client addresses inside
// one of cidrs ("10.0.0.0/8", "2001:db8::/32", or a single address such as
// "192.0.2.7"); others get 403 before their token is looked at. The client
// address is the connection's peer, or with WithTrustedProxies the address
// those proxies report. Without this option any address may try a token.
func WithAdminAllowlist(cidrs ...string) AdminOption {
	cidrs = slices.Clone(cidrs)
	return func(c *adminConfig) {
		c.allow = append(c.allow, cidrs...)
		c.allowSet = true
	}
}

// WithTrustedProxies names the reverse proxies in front of the app. Only
// when a request's peer is inside one of cidrs is its X-Forwarded-For header
// consulted: the client address is then the right-most address in it that
// is not a trusted proxy (so a client cannot choose its address by sending
// the header itself), or the left-most if all are trusted. An entry that is
// not an IP address makes the client address unknown, which no allowlist
// contains. Without this option X-Forwarded-For is ignored.
func WithTrustedProxies(cidrs ...string) AdminOption {
	cidrs = slices.Clone(cidrs)
	return func(c *adminConfig) {
		c.trusted = append(c.trusted, cidrs...)
		c.trustedSet = true
	}
}

// AdminHandler returns an http.Handler with which operators read the
// Guard's state and change it at run time. Mount it behind
// http.StripPrefix wherever the app wants, on a listener operators can
// reach:
//
//	admin, err := guard.AdminHandler(safecheck.WithAdminToken("oncall", os.Getenv("SAFECHECK_ADMIN_TOKEN")))
//	mux.Handle("/internal/safecheck/", http.StripPrefix("/internal/safecheck", admin))
//
// Endpoints, all JSON:
//
//	GET    /state                routes (configured and effective rate, requests, sampled, drops),
//	                             incident, queue, drops and failures, circuit
//	POST   /incident             {"reason": "bad deploy", "duration": "30m", "routes": ["chat"]}
//	                             (no routes: every route); replaces an active incident
//	DELETE /incident             ends the active incident (409 when there is none)
//	PUT    /rate                 {"route": "POST /v1/chat", "rate": 0.5, "reason": "noisy after the fix"}
//	PUT    /routes/{name}/rate   {"rate": 0.5, "reason": "..."}: the same, with the route in the path
//	                             (percent-encoded where it holds spaces; slashes may stay)
//
// Reasons are optional for rate changes and required for incidents.
// Bodies are JSON. A body without a Content-Type is read as JSON, and so
// is a JSON body labelled application/x-www-form-urlencoded, which is what
// curl -d sends; other types are refused (415) with the header to send.
//
// Every request needs a token given with WithAdminToken (at least one is
// required): a missing or wrong token gets 401, an address outside the
// WithAdminAllowlist gets 403. Invalid requests get a 4xx answer with
// {"error": "..."} that names the field and what it takes: malformed JSON,
// a value of the wrong kind or an unknown field 400, an unknown route in
// the path 404, values out of range 422 (a rate outside [0, 1], a duration
// that is not positive or longer than AdminMaxIncidentDuration, an unknown
// route in the body). Nothing is clamped. A path the handler does not
// serve gets 404 with "mounted_at" (the prefix http.StripPrefix took off)
// and "endpoints" (the paths it serves there); a path that still carries
// the mount prefix says which StripPrefix call is missing.
//
// Every change writes one audit record to the Guard's logger, the same
// record the Guard writes for a change made in code, with the actor (the
// token's name, never the token), the client address, before and after
// values, the reason, and the record's time. Replacing an incident also
// writes the "incident replaced" record of the incident it ends. Refused
// requests are not logged; put an access log in front if you need them.
func (g *Guard) AdminHandler(opts ...AdminOption) (http.Handler, error) {
	if g.closed.Load() {
		return nil, ErrClosed
	}
	var c adminConfig
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("nil AdminOption"))
			continue
		}
		o(&c)
	}
	if len(c.tokens) == 0 && len(c.errs) == 0 {
		c.errs = append(c.errs, errors.New("no token: use WithAdminToken"))
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
	allow, err := parsePrefixes("WithAdminAllowlist", c.allow, c.allowSet)
	if err != nil {
		c.errs = append(c.errs, err)
	}
	trusted, err := parsePrefixes("WithTrustedProxies", c.trusted, c.trustedSet)
	if err != nil {
		c.errs = append(c.errs, err)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, fmt.Errorf("safecheck: admin handler: %w", err)
	}
	return &adminHandler{g: g, tokens: c.tokens, allow: allow, trusted: trusted}, nil
}

func validActorName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !isAlnumByte(b) && b != '.' && b != '-' && b != '@' {
			return false
		}
	}
	return true
}

func truncateName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

func printableToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// parsePrefixes parses CIDRs or single addresses.
func parsePrefixes(option string, in []string, set bool) ([]netip.Prefix, error) {
	if set && len(in) == 0 {
		return nil, fmt.Errorf("%s: no CIDRs", option)
	}
	var out []netip.Prefix
	for _, s := range in {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is neither a CIDR nor an IP address", option, s)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

type adminHandler struct {
	g       *Guard
	tokens  []adminToken
	allow   []netip.Prefix // empty: every address
	trusted []netip.Prefix
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr parses "ip", "ip:port" or "[ip]:port" into a plain address.
func parseHostAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// clientIP returns the address a request comes from: its peer, or, when
// the peer is a trusted proxy, the right-most untrusted X-Forwarded-For
// hop. It returns the zero Addr when that address is not an IP address.
func clientIP(remoteAddr string, forwarded []string, trusted []netip.Prefix) netip.Addr {
	peer, ok := parseHostAddr(remoteAddr)
	if !ok || !inPrefixes(trusted, peer) {
		return peer
	}
	var hops []string
	for _, v := range forwarded {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHostAddr(strings.TrimSpace(hops[i]))
		if !ok {
			return netip.Addr{}
		}
		client = a
		if !inPrefixes(trusted, a) {
			break
		}
	}
	return client
}

// authenticate returns the name of the token the request carries.
func (h *adminHandler) authenticate(header http.Header) (string, bool) {
	vals := header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	found, index := 0, 0
	for i := range h.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], h.tokens[i].hash[:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		found |= eq
	}
	if found != 1 {
		return "", false
	}
	return h.tokens[index].name, true
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	ip := clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), h.trusted)
	if len(h.allow) > 0 && (!ip.IsValid() || !inPrefixes(h.allow, ip)) {
		adminError(w, http.StatusForbidden, "client address is not allowed")
		return
	}
	actor, ok := h.authenticate(r.Header)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="safecheck-admin"`)
		adminError(w, http.StatusUnauthorized, "missing or invalid bearer token")
		return
	}
	who := []slog.Attr{slog.String("actor", actor), slog.String("client_ip", addrString(ip)), slog.String("via", "admin")}

	path := r.URL.EscapedPath()
	switch {
	case path == "/state":
		if !allowMethod(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		writeAdminJSON(w, http.StatusOK, h.state())
	case path == "/incident":
		if !allowMethod(w, r, http.MethodPost, http.MethodDelete) {
			return
		}
		if r.Method == http.MethodPost {
			h.startIncident(w, r, who)
		} else {
			h.endIncident(w, r, who)
		}
	case path == "/rate":
		if !allowMethod(w, r, http.MethodPut) {
			return
		}
		h.setRate(w, r, "", who)
	case strings.HasPrefix(path, "/routes/") && strings.HasSuffix(path, "/rate") && len(path) > len("/routes//rate"):
		// The name is everything between the two, so it may hold
		// slashes; it may also be percent-encoded.
		name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(path, "/routes/"), "/rate"))
		if err != nil || name == "" {
			h.notFound(w, r)
			return
		}
		if !allowMethod(w, r, http.MethodPut) {
			return
		}
		h.setRate(w, r, name, who)
	default:
		h.notFound(w, r)
	}
}

// adminEndpoints are the handler's endpoints, relative to where it is
// mounted, as a 404 lists them.
var adminEndpoints = []string{
	"GET /state",
	"POST /incident",
	"DELETE /incident",
	"PUT /rate",
	"PUT /routes/{name}/rate",
}

// notFound answers a path the handler does not serve with the endpoints it
// does serve, under the prefix it is mounted at (what http.StripPrefix took
// off the request's path), and, when the path ends in an endpoint, with the
// StripPrefix call the mount probably lacks.
func (h *adminHandler) notFound(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	mount := mountPrefix(r)
	endpoints := make([]string, len(adminEndpoints))
	for i, e := range adminEndpoints {
		method, p, _ := strings.Cut(e, " ")
		endpoints[i] = method + " " + mount + p
	}
	msg := fmt.Sprintf("no endpoint %s here; the admin handler serves %s", mount+path, strings.Join(endpoints, ", "))
	if stray := strayPrefix(path); stray != "" {
		msg = fmt.Sprintf("no endpoint %s: the admin handler got the path with %s still on it; mount it with "+
			"http.StripPrefix(%q, handler), or send %s", path, stray, mount+stray, mount+strings.TrimPrefix(path, stray))
	}
	mounted := mount
	if mounted == "" {
		mounted = "/"
	}
	writeAdminJSON(w, http.StatusNotFound, map[string]any{"error": msg, "mounted_at": mounted, "endpoints": endpoints})
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
	for _, e := range []string{"/state", "/incident", "/rate"} {
		if prefix, ok := strings.CutSuffix(path, e); ok && prefix != "" && !strings.Contains(prefix, "/routes/") {
			return prefix
		}
	}
	if i := strings.Index(path, "/routes/"); i > 0 && strings.HasSuffix(path, "/rate") {
		return path[:i]
	}
	return ""
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}

func allowMethod(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	adminError(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

type incidentRequest struct {
	Reason   string   `json:"reason"`
	Duration string   `json:"duration"`
	Routes   []string `json:"routes"`
}

func (h *adminHandler) startIncident(w http.ResponseWriter, r *http.Request, who []slog.Attr) {
	var req incidentRequest
	if !decodeAdminJSON(w, r, &req) {
		return
	}
	if msg := checkReason(req.Reason); msg != "" {
		adminError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	if req.Duration == "" {
		adminError(w, http.StatusUnprocessableEntity, `duration is required, e.g. "30m"`)
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil {
		adminError(w, http.StatusUnprocessableEntity, fmt.Sprintf("duration %q is not a Go duration such as \"30m\" or \"2h\"", req.Duration))
		return
	}
	if d <= 0 || d > AdminMaxIncidentDuration {
		adminError(w, http.StatusUnprocessableEntity, fmt.Sprintf("duration must be within (0, %s], got %s", AdminMaxIncidentDuration, d))
		return
	}
	seen := map[string]bool{}
	for _, name := range req.Routes {
		switch {
		case seen[name]:
			adminError(w, http.StatusUnprocessableEntity, fmt.Sprintf("route %q is listed twice", name))
			return
		case h.g.route(name) == nil:
			adminError(w, http.StatusUnprocessableEntity, fmt.Sprintf("unknown route %q", name))
			return
		}
		seen[name] = true
	}
	if err := h.g.StartIncident(audit.WithAttrs(r.Context(), who...), req.Reason, d, req.Routes...); err != nil {
		changeError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"incident": incidentJSON(h.g.Stats().Incident)})
}

func checkReason(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "reason is required"
	case len(s) > adminMaxReason:
		return fmt.Sprintf("reason is longer than %d bytes", adminMaxReason)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl):
		return "reason holds invalid UTF-8 or control characters"
	}
	return ""
}

func (h *adminHandler) endIncident(w http.ResponseWriter, r *http.Request, who []slog.Attr) {
	if err := h.g.EndIncident(audit.WithAttrs(r.Context(), who...)); err != nil {
		changeError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"incident": nil})
}

type rateRequest struct {
	Route  *string  `json:"route"`
	Rate   *float64 `json:"rate"`
	Reason string   `json:"reason"`
}

// setRate changes a route's rate: the route named in the path (name), or,
// for PUT /rate (name ""), the one named in the body, which spares names
// like "POST /v1/chat" the percent-encoding.
func (h *adminHandler) setRate(w http.ResponseWriter, r *http.Request, name string, who []slog.Attr) {
	if name != "" && h.g.route(name) == nil {
		adminError(w, http.StatusNotFound, h.unknownRoute(name))
		return
	}
	var req rateRequest
	if !decodeAdminJSON(w, r, &req) {
		return
	}
	switch {
	case name == "" && req.Route == nil:
		adminError(w, http.StatusUnprocessableEntity, `route is required, e.g. {"route": "chat", "rate": 0.5}`)
		return
	case name == "":
		name = *req.Route
		if h.g.route(name) == nil {
			adminError(w, http.StatusUnprocessableEntity, h.unknownRoute(name))
			return
		}
	case req.Route != nil && *req.Route != name:
		adminError(w, http.StatusUnprocessableEntity, fmt.Sprintf("the body names route %q, the path route %q", *req.Route, name))
		return
	}
	if req.Rate == nil {
		adminError(w, http.StatusUnprocessableEntity, "rate is required")
		return
	}
	if !validRate(*req.Rate) {
		adminError(w, http.StatusUnprocessableEntity, fmt.Sprintf("rate must be within [0, 1], got %v", *req.Rate))
		return
	}
	if req.Reason != "" {
		if msg := checkReason(req.Reason); msg != "" {
			adminError(w, http.StatusUnprocessableEntity, msg)
			return
		}
		who = append([]slog.Attr{slog.String("reason", req.Reason)}, who...)
	}
	before, err := h.g.setSampleRate(audit.WithAttrs(r.Context(), who...), name, *req.Rate)
	if err != nil {
		changeError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"route": name, "before": before, "after": *req.Rate})
}

// unknownRoute says that name is no route, and which routes there are.
func (h *adminHandler) unknownRoute(name string) string {
	var names []string
	for _, rt := range h.g.Stats().Routes {
		names = append(names, strconv.Quote(rt.Name))
	}
	if len(names) == 0 {
		return fmt.Sprintf("unknown route %q: the guard has no routes", name)
	}
	return fmt.Sprintf("unknown route %q; routes: %s", name, strings.Join(names, ", "))
}

// changeError answers an error returned by a Guard method.
func changeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoIncident):
		adminError(w, http.StatusConflict, "no incident is active")
	case errors.Is(err, ErrClosed):
		adminError(w, http.StatusServiceUnavailable, "the guard is closed")
	default:
		adminError(w, http.StatusUnprocessableEntity, strings.TrimPrefix(err.Error(), "safecheck: "))
	}
}

// decodeAdminJSON decodes one JSON object into v, answering the request
// itself when that fails. A body without a Content-Type is taken for JSON,
// and so is one labelled application/x-www-form-urlencoded that is JSON
// (what curl -d sends); other types are refused with the header to send.
func decodeAdminJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	const sendJSON = `send the header "Content-Type: application/json"`
	formEncoded := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == "application/json":
		case err == nil && mt == "application/x-www-form-urlencoded":
			formEncoded = true
		default:
			adminError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not JSON: %s", ct, sendJSON))
			return false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, adminMaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		adminError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", adminMaxBody))
		return false
	case err != nil:
		adminError(w, http.StatusBadRequest, "the body could not be read")
		return false
	case formEncoded && !json.Valid(body):
		adminError(w, http.StatusUnsupportedMediaType, `the body is form-encoded, not JSON: send a JSON object such as {"rate": 0.5} and `+sendJSON)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		adminError(w, http.StatusBadRequest, "body holds more than one JSON value; send one object")
		return false
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, io.EOF):
		adminError(w, http.StatusBadRequest, "body is empty; send a JSON object")
	default:
		adminError(w, http.StatusBadRequest, decodeErrorMessage(err, v))
	}
	return false
}

// decodeErrorMessage says what is wrong with a body that encoding/json
// refused, in the request's terms: which field holds what instead of what,
// never a Go type.
func decodeErrorMessage(err error, v any) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "body is not valid JSON: it ends before the object does"
	case errors.As(err, &syntax):
		return fmt.Sprintf("body is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syntax.Error(), "json: "), syntax.Offset)
	case errors.As(err, &typ):
		got := typ.Value
		if n, ok := strings.CutPrefix(got, "number "); ok {
			got = n + ", which is out of range"
		} else if got != "null" {
			got = "a JSON " + got
		}
		if typ.Field == "" {
			return "body must be a JSON object, got " + got
		}
		return fmt.Sprintf("%s must be %s, got %s", typ.Field, fieldKind(typ.Field), got)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Sprintf("unknown field %s; the fields are %s", field, strings.Join(fieldNames(v), ", "))
	}
	return "body is not a valid request; send a JSON object"
}

// adminFieldKinds says what each field of an admin request body takes.
var adminFieldKinds = map[string]string{
	"rate":     "a number from 0 to 1",
	"reason":   "a string",
	"route":    "a string",
	"routes":   "a list of route names (strings)",
	"duration": `a string such as "30m"`,
}

func fieldKind(path string) string {
	name, _, _ := strings.Cut(path, ".")
	if k, ok := adminFieldKinds[name]; ok {
		return k
	}
	return "another kind of value"
}

// fieldNames lists the JSON fields of the request struct *v, quoted.
func fieldNames(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var out []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag != "" {
			out = append(out, strconv.Quote(tag))
		}
	}
	return out
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeAdminJSON(w, status, map[string]string{"error": msg})
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// The JSON shapes of GET /state.
type (
	adminState struct {
		Routes      []adminRoute      `json:"routes"`
		Incident    *adminIncident    `json:"incident"`
		Queue       adminQueue        `json:"queue"`
		Sampled     uint64            `json:"sampled"`
		Checked     uint64            `json:"checked"`
		CacheHits   uint64            `json:"cache_hits"`
		InFlight    int64             `json:"in_flight"`
		Dropped     map[string]uint64 `json:"dropped"`
		Failed      map[string]uint64 `json:"failed"`
		CircuitOpen bool              `json:"circuit_open"`
		Paused      bool              `json:"paused"`
		APICalls    uint64            `json:"api_calls"`
		APIRetries  uint64            `json:"api_retries"`
	}
	adminRoute struct {
		Name          string            `json:"name"`
		Rate          float64           `json:"rate"`
		EffectiveRate float64           `json:"effective_rate"`
		Requests      uint64            `json:"requests"`
		Sampled       uint64            `json:"sampled"`
		Dropped       map[string]uint64 `json:"dropped"`
	}
	adminIncident struct {
		Reason    string    `json:"reason"`
		AllRoutes bool      `json:"all_routes"`
		Routes    []string  `json:"routes"`
		Start     time.Time `json:"start"`
		Until     time.Time `json:"until"`
	}
	adminQueue struct {
		Samples      int64 `json:"samples"`
		Bytes        int64 `json:"bytes"`
		CacheEntries int   `json:"cache_entries"`
	}
)

func (h *adminHandler) state() adminState {
	s := h.g.Stats()
	st := adminState{
		Routes:      []adminRoute{},
		Incident:    incidentJSON(s.Incident),
		Queue:       adminQueue{Samples: s.QueueSamples, Bytes: s.QueueBytes, CacheEntries: s.CacheEntries},
		Sampled:     s.Sampled,
		Checked:     s.Checked,
		CacheHits:   s.CacheHits,
		InFlight:    s.InFlight,
		Dropped:     s.Dropped,
		Failed:      s.Failed,
		CircuitOpen: s.CircuitOpen,
		Paused:      s.Paused,
		APICalls:    s.APICalls,
		APIRetries:  s.APIRetries,
	}
	for _, r := range s.Routes {
		st.Routes = append(st.Routes, adminRoute{Name: r.Name, Rate: r.SampleRate, EffectiveRate: r.EffectiveRate,
			Requests: r.Requests, Sampled: r.Sampled, Dropped: r.Dropped})
	}
	return st
}

func incidentJSON(inc *Incident) *adminIncident {
	if inc == nil {
		return nil
	}
	out := &adminIncident{Reason: inc.Reason, AllRoutes: inc.Routes == nil, Routes: inc.Routes, Start: inc.Start, Until: inc.Until}
	if out.Routes == nil {
		out.Routes = []string{}
	}
	return out
}
