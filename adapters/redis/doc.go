// Package safecheckredis shares a safecheck Guard's fleet state on Redis:
// pass New's Coordinator to safecheck.WithCoordinator on every replica of
// one deployment, each with the same client settings, prefix and secret.
//
// What is shared, under one Redis Cluster hash tag {prefix}: incident mode
// and sample-rate changes (a hash of the latest change of each subject,
// plus a Pub/Sub channel that announces them and a periodic resync for
// messages missed), escalated customers (each customer's latest change
// under its own key, with the escalation's end as its TTL, and an index of
// them that expires with its last one; the same channel and resync), the
// plan's API budget (GCRA, github.com/go-redis/redis_rate),
// the Retry-After pause of a 429, and a second level of the verdict cache
// (keys are HMAC-SHA256 of the texts with the deployment secret; values are
// verdicts only; the Guard's cache TTL).
//
// The request path never touches Redis. When Redis does not answer within
// the timeout, fails, or has been flushed, the Coordinator serves from local
// state: the last known incident until it expires, and a local budget of a
// configured share of the plan; it logs the fallback once and the recovery
// once, reports the mode in Guard.Stats().Fleet, and rewrites what the store
// lost when it returns; each replica keeps its escalations until they end.
// Close stops every goroutine it started; it never closes the client,
// which is the caller's.
//
// Escalated customer ids are stored and published in clear, as the
// application's customer-id function returns them: every replica's request
// path matches on the raw id, without hashing. They live in Redis only as
// long as the escalation (its TTL). Use opaque ids, not e-mail addresses,
// where that matters, and restrict access to the deployment's keys.
package safecheckredis
