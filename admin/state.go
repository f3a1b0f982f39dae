package admin

import (
	"net/http"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"
)

func (h *handler) getState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.state())
}

// The JSON shapes of GET /state.
type (
	stateJSON struct {
		Routes      []routeJSON              `json:"routes"`
		Incident    *incidentJSON            `json:"incident"`
		Queue       queueJSON                `json:"queue"`
		Sampled     uint64                   `json:"sampled"`
		Checked     uint64                   `json:"checked"`
		CacheHits   uint64                   `json:"cache_hits"`
		InFlight    int64                    `json:"in_flight"`
		Dropped     map[drop.Reason]uint64   `json:"dropped"`
		Failed      map[failure.Class]uint64 `json:"failed"`
		CircuitOpen bool                     `json:"circuit_open"`
		Paused      bool                     `json:"paused"`
		APICalls    uint64                   `json:"api_calls"`
		APIRetries  uint64                   `json:"api_retries"`
		Fleet       fleetJSON                `json:"fleet"`
	}
	// fleetJSON is the fleet coordinator's mode: "off" without one,
	// "shared", or "degraded" since Since.
	fleetJSON struct {
		Mode  coord.Mode `json:"mode"`
		Since time.Time  `json:"since,omitzero"`
	}
	routeJSON struct {
		Name          string                 `json:"name"`
		Rate          float64                `json:"rate"`
		EffectiveRate float64                `json:"effective_rate"`
		Requests      uint64                 `json:"requests"`
		Sampled       uint64                 `json:"sampled"`
		Dropped       map[drop.Reason]uint64 `json:"dropped"`
	}
	incidentJSON struct {
		Reason    string    `json:"reason"`
		AllRoutes bool      `json:"all_routes"`
		Routes    []string  `json:"routes"`
		Start     time.Time `json:"start"`
		Until     time.Time `json:"until"`
	}
	queueJSON struct {
		Samples      int64 `json:"samples"`
		Bytes        int64 `json:"bytes"`
		CacheEntries int   `json:"cache_entries"`
	}
)

func (h *handler) state() stateJSON {
	s := h.guard.Stats()
	st := stateJSON{
		Routes:      []routeJSON{},
		Incident:    toIncidentJSON(s.Incident),
		Queue:       queueJSON{Samples: s.QueueSamples, Bytes: s.QueueBytes, CacheEntries: s.CacheEntries},
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
		Fleet:       fleetJSON{Mode: s.Fleet.Mode, Since: s.Fleet.Since},
	}
	for _, r := range s.Routes {
		st.Routes = append(st.Routes, routeJSON{Name: r.Name, Rate: r.SampleRate, EffectiveRate: r.EffectiveRate,
			Requests: r.Requests, Sampled: r.Sampled, Dropped: r.Dropped})
	}
	return st
}

func toIncidentJSON(inc *safecheck.Incident) *incidentJSON {
	if inc == nil {
		return nil
	}
	out := &incidentJSON{Reason: inc.Reason, AllRoutes: inc.Routes == nil, Routes: inc.Routes, Start: inc.Start, Until: inc.Until}
	if out.Routes == nil {
		out.Routes = []string{}
	}
	return out
}
