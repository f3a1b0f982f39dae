// Package admin is the operator's handler for a safecheck Guard: an
// http.Handler with which operators read the Guard's state and change it at
// run time, behind named bearer tokens and an optional address allowlist.
// Mount it behind http.StripPrefix wherever the app wants, on a listener
// operators can reach:
//
//	h, err := admin.New(guard, admin.WithToken("oncall", os.Getenv("SAFECHECK_ADMIN_TOKEN")))
//	mux.Handle("/internal/safecheck/", http.StripPrefix("/internal/safecheck", h))
//
// # Endpoints
//
// All answers are JSON:
//
//	GET    /state                routes (configured and effective rate, requests, sampled, drops),
//	                             incident, queue, drops and failures, circuit, escalation
//	                             counts, and each alert rule's state and value; with WithWebhooks,
//	                             "webhooks": the webhook.Sink's delivery counts, in total and per
//	                             endpoint (scheme and host only)
//	POST   /incident             {"reason": "bad deploy", "duration": "30m", "routes": ["chat"]}
//	                             (no routes: every route); replaces an active incident
//	DELETE /incident             ends the active incident (409 when there is none)
//	PUT    /rate                 {"route": "POST /v1/chat", "rate": 0.5, "reason": "noisy after the fix"}
//	PUT    /routes/{name}/rate   {"rate": 0.5, "reason": "..."}: the same, with the route in the path
//	                             (percent-encoded where it holds spaces; slashes may stay)
//	GET    /escalations          ?cursor=&limit= (1 to 1000, default 100): escalated customers,
//	                             ids with the Guard's privacy rules applied, with routes, since,
//	                             last_flagged and until; "next_cursor" is "" after the last page
//	DELETE /escalations/{customer}  ends one escalation (404 when the customer is not escalated);
//	                             {customer} is the id as listed ("hmac:..." for an e-mail
//	                             address) or the raw id, percent-encoded
//
// HEAD /state answers as GET does, without the body. Reasons are optional
// for rate changes and required for incidents. Bodies are JSON. A body
// without a Content-Type is read as JSON, and so is a JSON body labelled
// application/x-www-form-urlencoded, which is what curl -d sends; other
// types are refused (415) with the header to send.
//
// # Errors
//
// Every request needs a token given with WithToken (at least one is
// required): a missing or wrong token gets 401, an address outside the
// WithAllowlist gets 403. Invalid requests get a 4xx answer with
// {"error": "..."} that names the field and what it takes: malformed JSON,
// a value of the wrong kind or an unknown field 400, an unknown route in
// the path 404, values out of range 422 (a rate outside [0, 1], a duration
// that is not positive or longer than MaxIncidentDuration, an unknown route
// in the body). Nothing is clamped. A method an endpoint does not take gets
// 405 with an Allow header. A path the handler does not serve gets 404 with
// "mounted_at" (the prefix http.StripPrefix took off) and "endpoints" (the
// paths it serves there); a path that still carries the mount prefix says
// which StripPrefix call is missing. Once the Guard is closed, state is
// still served and every change gets 503.
//
// # Audit
//
// Every change writes one audit record to the Guard's logger, the same
// record the Guard writes for a change made in code (Guard.StartIncident,
// Guard.EndIncident, Guard.SetSampleRate, Guard.EndEscalation), with the actor (the token's name,
// never the token), the client address, "via": "admin", before and after
// values, the reason, and the record's time. Replacing an incident also
// writes the "incident replaced" record of the incident it ends. Refused
// requests are not logged; put an access log in front if you need them.
package admin
