// Package run evaluates a set of cases for a set of test types: the core
// of the safecheck CLI's eval command.
//
// Run feeds every case × test type pair that is not already done to a
// bounded pool of workers, each calling a Checker (a *safecheck.Guard, so
// that the calls go through the same verdict cache, in-flight dedupe and
// resilience policies as the middleware), and collects the outcomes in one
// goroutine that writes the results file, counts the summary and the gate,
// and shows progress.
//
// A 429 never fails a pair while the run goes on: the Guard retries it and
// pauses every call for the Retry-After the API asked for, and an outcome
// that is still rate limited after the Guard's retries is tried again, up
// to RateLimitRounds times.
//
// When ctx ends (Ctrl-C), no new pair is started and the calls in flight
// are given a grace period to finish before they are cancelled; every
// finished pair is written, cancelled pairs are not, so the results file
// stays valid and a later run with resume picks up exactly the pairs that
// are missing. A rejected API key, or more failed pairs than the error
// budget allows, stops the run at once with an error.
package run
