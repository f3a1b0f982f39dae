package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/safecheck/safecheck"
)

// Page sizes of GET /escalations.
const (
	defaultEscalationPage = 100
	maxEscalationPage     = 1000
)

type escalationJSON struct {
	CustomerID  string    `json:"customer_id"`
	Routes      []string  `json:"routes"`
	Since       time.Time `json:"since"`
	LastFlagged time.Time `json:"last_flagged"`
	Until       time.Time `json:"until"`
}

// listEscalations is GET /escalations?cursor=&limit=: one page of the
// escalated customers, their ids with the guard's privacy rules applied.
func (h *handler) listEscalations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultEscalationPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxEscalationPage {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number within [1, %d], got %q", maxEscalationPage, s))
			return
		}
		limit = n
	}
	page, next, err := h.guard.Escalations(q.Get("cursor"), limit)
	if err != nil {
		writeError(w, http.StatusBadRequest, "cursor is not one a previous page returned")
		return
	}
	out := make([]escalationJSON, 0, len(page))
	for _, e := range page {
		out = append(out, escalationJSON{CustomerID: e.CustomerID, Routes: e.Routes, Since: e.Since, LastFlagged: e.LastFlagged, Until: e.Until})
	}
	writeJSON(w, http.StatusOK, map[string]any{"escalations": out, "next_cursor": next})
}

// endEscalation is DELETE /escalations/{customer}: the customer as
// GET /escalations lists it (or the raw id), percent-encoded.
func (h *handler) endEscalation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("customer")
	if id == "" {
		writeError(w, http.StatusNotFound, "name the customer: DELETE /escalations/{customer_id as listed}")
		return
	}
	err := h.guard.EndEscalation(r.Context(), id)
	switch {
	case errors.Is(err, safecheck.ErrNoEscalation):
		writeError(w, http.StatusNotFound, "the customer is not escalated")
	case errors.Is(err, safecheck.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "the guard is closed")
	case err != nil:
		writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "safecheck: "))
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ended": id})
	}
}
