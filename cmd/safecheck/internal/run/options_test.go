package run

import "time"

// withRoundWait shortens the wait between rate-limit rounds in tests.
func withRoundWait(d time.Duration) Option { return optionFunc(func(c *config) { c.roundWait = d }) }
