// Package demo holds what the example programs share: the API client they
// check with, the demo's "model", the demo traffic with its incident, and
// the summary they print. Each example keeps only its framework's wiring.
package demo
