// Package summary aggregates the records of a safecheck CLI run into the
// summary printed at the end of the run and written by -summary-json: per
// test type the count, flagged share, score percentiles, risk-level
// histogram and errors by class, and the latency percentiles and slowest
// calls of the run.
//
// Percentiles use the nearest-rank method: pN is the smallest value such
// that at least N % of the values are less than or equal to it.
package summary
