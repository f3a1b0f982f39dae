// Package alert holds the alert rules a safecheck.Guard evaluates over its
// verdicts (safecheck.WithAlertRules), their State, and the Status a rule
// reports to safecheck.WithOnAlert hooks and in Stats.
//
// A rule watches a sliding window of one route's (or every route's)
// verdicts of one test type (or every test type): the share of flagged
// verdicts, or the 95th percentile of their scores. It fires once when the
// value reaches its threshold with at least MinChecks verdicts in the
// window, and clears once when the value falls below its clear threshold
// (half the threshold by default), or when the window holds no verdict at
// all. A rule with IncidentFor starts incident mode for its route when it
// fires, as an operator would, and does not fire again while that
// incident lasts.
package alert
