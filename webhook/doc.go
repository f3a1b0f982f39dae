// Package webhook delivers a safecheck.Guard's events (flagged verdicts,
// escalations, alerts; see package event) to HTTP endpoints, signed as the
// Standard Webhooks specification describes, and verifies them on the
// receiving side.
//
// # Sending
//
// New builds a Sink for one or more endpoints; give its Send method to the
// Guard:
//
//	sink, err := webhook.New(webhook.WithEndpoint(url, os.Getenv("WEBHOOK_SECRET")))
//	...
//	defer sink.Close(ctx) // runs after guard.Close, which sends the last events
//	guard, err := safecheck.New(checker, safecheck.WithOnEvent(sink.Send))
//	...
//	defer guard.Close(ctx)
//
// Send never waits: it offers the event to each endpoint's bounded queue
// and returns. A fixed set of goroutines per endpoint POSTs the event's
// JSON with the headers webhook-id (the event's ID), webhook-timestamp
// (unix seconds of the attempt) and webhook-signature ("v1," and the
// base64 HMAC-SHA256 of id.timestamp.body, once per secret of the
// endpoint). A 5xx, 408, 429, network error or timeout is retried with
// exponential backoff and jitter, or after the answer's Retry-After
// (capped); every other answer ends the delivery; a 410 Gone stops
// deliveries to that endpoint. Each endpoint has a circuit breaker: while
// it is open, the endpoint's events are dropped. Stats counts every event:
// offered, delivered, failed, dropped by DropReason or still queued.
//
// Delivery is at least once while the queue has room, the circuit is
// closed and the endpoint answers 2xx within the retries: an answer lost
// on the way back makes the Sink send the same webhook-id again. Nothing
// is written to disk; events still queued when Close's context ends are
// counted as DroppedShutdown.
//
// Stats is what the metrics adapters export (NewWebhookCollector in
// adapters/prometheus, ObserveWebhook in adapters/otel) and what the
// admin handler shows in GET /state with admin.WithWebhooks: per
// endpoint, named by scheme and host.
//
// Endpoints must be https, except loopback hosts, by the same rule as the
// AssuranceHub API client. No payload, secret or URL path appears in a
// log record or an error.
//
// # Receiving
//
// Verify checks a delivery's signature and timestamp against the raw
// body, before anything parses it:
//
//	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//	if err := webhook.Verify(secret, r.Header, body, 0); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//	var e event.Event
//	_ = json.Unmarshal(body, &e)
package webhook
