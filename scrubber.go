package safecheck

// WithScrubber makes the Guard pass the prompt and the response of every
// sample, and of every Guard.Check request, through f before they are
// checked: before the verdict cache key is computed and before anything is
// sent to the checker. f runs once per text,
// for samples on a worker goroutine, never on the request path, and must be
// safe for concurrent use. A panic in f is contained: nothing unscrubbed
// is sent, the sample is dropped as drop.Panic (a Guard.Check fails as a
// bad request), the panic is counted in Stats.HookPanics and logged once,
// without its value. A nil f turns scrubbing off, which is the default.
//
// The scrub package's scrub.Text masks e-mail addresses, phone numbers,
// card numbers and key-like strings:
//
//	safecheck.WithScrubber(scrub.Text)
//
// Scrubbing changes what the API evaluates and can change its verdicts: a
// pii or hipaa check of scrubbed text no longer sees the personal data it
// is meant to find. Turn it on where sending such data to the API is not
// acceptable, and prefer other test types on those routes.
func WithScrubber(f func(string) string) Option {
	return optionFunc(func(c *config) { c.scrub = f })
}

// scrubPair runs the scrubber over both texts; ok is false when it
// panicked, and then both texts are "".
func (g *Guard) scrubPair(prompt, response string) (p, r string, ok bool) {
	defer func() {
		if recover() != nil {
			g.appPanicked(panicScrubber)
			p, r, ok = "", "", false
		}
	}()
	return g.cfg.scrub(prompt), g.cfg.scrub(response), true
}
