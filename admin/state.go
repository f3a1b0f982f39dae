package admin

import (
	"net/http"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/alert"
	"github.com/safecheck/safecheck/coord"
	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"
	"github.com/safecheck/safecheck/webhook"
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
		Overloaded  bool                     `json:"overloaded"` // the CPU budget is spent: samples are shed
		CPUBudget   float64                  `json:"cpu_budget"` // WithCPUBudget's share of GOMAXPROCS, 0 when off
		Paused      bool                     `json:"paused"`
		APICalls    uint64                   `json:"api_calls"`
		APIRetries  uint64                   `json:"api_retries"`
		Escalations escalationsJSON          `json:"escalations"`
		Alerts      []alertJSON              `json:"alerts"`
		Fleet       fleetJSON                `json:"fleet"`
		Webhooks    *webhooksJSON            `json:"webhooks,omitempty"` // with WithWebhooks
	}
	// webhooksJSON is a webhook.Sink's Stats.
	webhooksJSON struct {
		Received  uint64                `json:"received"`
		Filtered  uint64                `json:"filtered"`
		Invalid   uint64                `json:"invalid"`
		Total     webhookCountsJSON     `json:"total"`
		Endpoints []webhookEndpointJSON `json:"endpoints"`
	}
	webhookEndpointJSON struct {
		// Endpoint is the URL's scheme and host: its path and query may
		// hold a token.
		Endpoint    string `json:"endpoint"`
		CircuitOpen bool   `json:"circuit_open"`
		Gone        bool   `json:"gone"`
		webhookCountsJSON
	}
	// webhookCountsJSON is a webhook.Counts, with every drop reason.
	webhookCountsJSON struct {
		Offered   uint64                        `json:"offered"`
		Enqueued  uint64                        `json:"enqueued"`
		Delivered uint64                        `json:"delivered"`
		Failed    uint64                        `json:"failed"`
		Dropped   map[webhook.DropReason]uint64 `json:"dropped"`
		Retries   uint64                        `json:"retries"`
		Queued    int                           `json:"queued"`
	}
	escalationsJSON struct {
		Active  int    `json:"active"`
		Started uint64 `json:"started"`
		Ended   uint64 `json:"ended"`
		Evicted uint64 `json:"evicted"`
	}
	alertJSON struct {
		Rule          string      `json:"rule"`
		Route         string      `json:"route"`     // "" for every route
		TestType      string      `json:"test_type"` // "" for every test type
		Measure       string      `json:"measure"`
		State         alert.State `json:"state"`
		Since         time.Time   `json:"since"`
		Value         float64     `json:"value"`
		Threshold     float64     `json:"threshold"`
		Clear         float64     `json:"clear"`
		Checks        int         `json:"checks"`
		Window        string      `json:"window"`
		IncidentUntil *time.Time  `json:"incident_until"`
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
		Overloaded:  s.Overloaded,
		CPUBudget:   s.CPUBudget,
		Paused:      s.Paused,
		APICalls:    s.APICalls,
		APIRetries:  s.APIRetries,
		Escalations: escalationsJSON{Active: s.Escalated, Started: s.EscalationsStarted, Ended: s.EscalationsEnded, Evicted: s.EscalationsEvicted},
		Alerts:      []alertJSON{},
		Fleet:       fleetJSON{Mode: s.Fleet.Mode, Since: s.Fleet.Since},
	}
	for _, a := range s.Alerts {
		aj := alertJSON{Rule: a.Rule.Name, Route: a.Rule.Route, TestType: a.Rule.TestType, Measure: a.Rule.Measure(),
			State: a.State, Since: a.Since, Value: a.Value, Threshold: a.Rule.Threshold(), Clear: a.Rule.Clear,
			Checks: a.Checks, Window: a.Rule.Window.String()}
		if !a.IncidentUntil.IsZero() {
			aj.IncidentUntil = &a.IncidentUntil
		}
		st.Alerts = append(st.Alerts, aj)
	}
	if h.webhooks != nil {
		st.Webhooks = toWebhooksJSON(h.webhooks.Stats())
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

func toWebhooksJSON(s webhook.Stats) *webhooksJSON {
	out := &webhooksJSON{Received: s.Received, Filtered: s.Filtered, Invalid: s.Invalid,
		Total: toWebhookCounts(s.Total), Endpoints: []webhookEndpointJSON{}}
	for _, ep := range s.Endpoints {
		out.Endpoints = append(out.Endpoints, webhookEndpointJSON{Endpoint: ep.Endpoint, CircuitOpen: ep.CircuitOpen,
			Gone: ep.Gone, webhookCountsJSON: toWebhookCounts(ep.Counts)})
	}
	return out
}

func toWebhookCounts(c webhook.Counts) webhookCountsJSON {
	out := webhookCountsJSON{Offered: c.Offered, Enqueued: c.Enqueued, Delivered: c.Delivered, Failed: c.Failed,
		Dropped: map[webhook.DropReason]uint64{}, Retries: c.Retries, Queued: c.Queued}
	for _, r := range webhook.DropReasons() {
		out.Dropped[r] = c.Dropped[r]
	}
	return out
}
