package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/internal/audit"
)

// maxReason bounds the reason of a change.
const maxReason = 500

type incidentRequest struct {
	Reason   string   `json:"reason"`
	Duration string   `json:"duration"`
	Routes   []string `json:"routes"`
}

func (h *handler) startIncident(w http.ResponseWriter, r *http.Request) {
	var req incidentRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if msg := checkReason(req.Reason); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	if req.Duration == "" {
		writeError(w, http.StatusUnprocessableEntity, `duration is required, e.g. "30m"`)
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("duration %q is not a Go duration such as \"30m\" or \"2h\"", req.Duration))
		return
	}
	if d <= 0 || d > MaxIncidentDuration {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("duration must be within (0, %s], got %s", MaxIncidentDuration, d))
		return
	}
	routes := h.routeNames()
	seen := map[string]bool{}
	for _, name := range req.Routes {
		switch {
		case seen[name]:
			writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("route %q is listed twice", name))
			return
		case !slices.Contains(routes, name):
			writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("unknown route %q", name))
			return
		}
		seen[name] = true
	}
	if err := h.guard.StartIncident(r.Context(), req.Reason, d, req.Routes...); err != nil {
		changeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": toIncidentJSON(h.guard.Stats().Incident)})
}

func checkReason(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "reason is required"
	case len(s) > maxReason:
		return fmt.Sprintf("reason is longer than %d bytes", maxReason)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl):
		return "reason holds invalid UTF-8 or control characters"
	}
	return ""
}

func (h *handler) endIncident(w http.ResponseWriter, r *http.Request) {
	if err := h.guard.EndIncident(r.Context()); err != nil {
		changeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": nil})
}

type rateRequest struct {
	Route  *string  `json:"route"`
	Rate   *float64 `json:"rate"`
	Reason string   `json:"reason"`
}

// putRate is PUT /rate: the route is named in the body, which spares names
// like "POST /v1/chat" the percent-encoding.
func (h *handler) putRate(w http.ResponseWriter, r *http.Request) {
	h.setRate(w, r, "")
}

// putRouteRate is PUT /routes/{name}/rate. The name is everything between
// the two, so it may hold slashes; it may also be percent-encoded.
func (h *handler) putRouteRate(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("rest"), "/rate")
	if !ok || name == "" {
		h.notFound(w, r)
		return
	}
	h.setRate(w, r, name)
}

// setRate changes a route's rate: the route named in the path (name), or,
// when name is "", the one named in the body.
func (h *handler) setRate(w http.ResponseWriter, r *http.Request, name string) {
	if name != "" && !slices.Contains(h.routeNames(), name) {
		writeError(w, http.StatusNotFound, h.unknownRoute(name))
		return
	}
	var req rateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	switch {
	case name == "" && req.Route == nil:
		writeError(w, http.StatusUnprocessableEntity, `route is required, e.g. {"route": "chat", "rate": 0.5}`)
		return
	case name == "":
		name = *req.Route
		if !slices.Contains(h.routeNames(), name) {
			writeError(w, http.StatusUnprocessableEntity, h.unknownRoute(name))
			return
		}
	case req.Route != nil && *req.Route != name:
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("the body names route %q, the path route %q", *req.Route, name))
		return
	}
	if req.Rate == nil {
		writeError(w, http.StatusUnprocessableEntity, "rate is required")
		return
	}
	if rate := *req.Rate; !(rate >= 0 && rate <= 1) { // NaN fails both
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("rate must be within [0, 1], got %v", rate))
		return
	}
	ctx := r.Context()
	if req.Reason != "" {
		if msg := checkReason(req.Reason); msg != "" {
			writeError(w, http.StatusUnprocessableEntity, msg)
			return
		}
		ctx = audit.WithAttrs(ctx, append([]slog.Attr{slog.String("reason", req.Reason)}, audit.Attrs(ctx)...)...)
	}
	// The audit record holds the rate each change replaced, exactly; the
	// answer reads it from Stats just before, which only a concurrent change
	// made elsewhere (in code, through another handler) can come between.
	h.rateMu.Lock()
	before := h.sampleRate(name)
	err := h.guard.SetSampleRate(ctx, name, *req.Rate)
	h.rateMu.Unlock()
	if err != nil {
		changeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"route": name, "before": before, "after": *req.Rate})
}

// routeNames returns the names of the guard's routes, sorted.
func (h *handler) routeNames() []string {
	var names []string
	for _, rt := range h.guard.Stats().Routes {
		names = append(names, rt.Name)
	}
	return names
}

// sampleRate returns the configured sample rate of the route name.
func (h *handler) sampleRate(name string) float64 {
	for _, rt := range h.guard.Stats().Routes {
		if rt.Name == name {
			return rt.SampleRate
		}
	}
	return 0
}

// unknownRoute says that name is no route, and which routes there are.
func (h *handler) unknownRoute(name string) string {
	var names []string
	for _, n := range h.routeNames() {
		names = append(names, strconv.Quote(n))
	}
	if len(names) == 0 {
		return fmt.Sprintf("unknown route %q: the guard has no routes", name)
	}
	return fmt.Sprintf("unknown route %q; routes: %s", name, strings.Join(names, ", "))
}

// changeError answers an error returned by a Guard method.
func changeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, safecheck.ErrNoIncident):
		writeError(w, http.StatusConflict, "no incident is active")
	case errors.Is(err, safecheck.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "the guard is closed")
	default:
		writeError(w, http.StatusUnprocessableEntity, strings.TrimPrefix(err.Error(), "safecheck: "))
	}
}
