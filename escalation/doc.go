// Package escalation holds the configuration of customer escalation and
// the shape in which a safecheck.Guard lists its escalated customers.
//
// A route given safecheck.WithEscalation (or every route, with
// safecheck.WithDefaultEscalation) escalates a customer when one of the
// customer's verdicts on it is flagged: for Config.Duration the customer's
// requests on every escalating route are sampled at that route's
// Config.Rate, then at the route's rate again. The start and the end of
// each escalation are audit records.
package escalation
