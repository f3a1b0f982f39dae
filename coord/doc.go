// Package coord is the contract between a Guard and the store that shares
// its state with the other replicas of one deployment: incident mode and
// sample rates, escalated customers, the plan's API budget, the
// Retry-After pause and a second level of the verdict cache. A Guard is given a Coordinator with
// safecheck.WithCoordinator; adapters/redis implements it on Redis, and
// Local implements it in memory for Guards of one process (tests, demos).
//
// The request path never calls a Coordinator: a Guard publishes its own
// changes through Publish, which must not block, and the Coordinator
// delivers the changes made elsewhere to Member.Apply from its own
// goroutines; the Guard applies them to the same atomic state the request
// path reads. Budget reservations and cache lookups run on the Guard's
// worker goroutines.
//
// Conflicts are settled by Change.At: a change applies only when it is
// later than the last change of the same thing (the incident, one route's
// rate, one customer's escalation) that the replica made or applied. A Coordinator that loses its
// store keeps serving from local state (Mode Degraded) and says so in
// Status; no method of the interface may fail a request.
package coord
