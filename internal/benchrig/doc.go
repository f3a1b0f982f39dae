// Package benchrig serves one request over and over without allocating, so
// that middleware benchmarks measure the middleware and not the harness.
package benchrig
