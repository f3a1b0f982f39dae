package main

import "time"

// The retry settings eval starts from: the library's own defaults (see
// safecheck.WithRetries, WithAttemptTimeout and WithMaxRetryAfter), which
// the library keeps unexported.
const (
	defaultRetries       = 3
	defaultTimeout       = 60 * time.Second
	defaultMaxRetryAfter = 2 * time.Minute
	backoffBase          = time.Second
	maxBackoff           = 30 * time.Second
	maxJitter            = time.Second
)
