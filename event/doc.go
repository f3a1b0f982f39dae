// Package event describes what a safecheck.Guard reports as it happens: a
// flagged verdict, a customer's escalation starting or ending, an alert
// rule firing or clearing.
//
// A Guard given safecheck.WithOnEvent calls the function with each Event
// from a background goroutine; the webhook package delivers them to HTTP
// endpoints. An Event never carries prompt or response text, and its
// customer id has had the Guard's privacy rules applied, exactly as in the
// Guard's log records.
package event
