//go:build race

package safecheckgin

// raceEnabled is true when tests run with -race, which makes sync.Pool drop
// items at random and so adds allocations that a normal build does not have.
const raceEnabled = true
