package safecheck

import "net/http"

// WithAnnotate calls f for each request that is sampled and admitted, on the
// request's goroutine in Route.Begin, and delivers its result, untouched, as
// the Annotation of every Outcome of that sample. It lets tracing adapters
// tie a verdict to the request's span without the core knowing the tracing
// library: f typically returns the span context found in r.Context().
//
// f runs on the request path, though only for sampled requests, and must be
// fast and must not keep r. Its result must not carry prompt or response
// text. A panic in f is recovered and counted in Stats.HookPanics, and the
// sample then has no annotation.
func WithAnnotate(f func(r *http.Request) any) Option {
	return optionFunc(func(c *config) { c.annotate = f })
}

// annotate runs the WithAnnotate function for a sampled request.
func (g *Guard) annotate(r *http.Request) (v any) {
	defer func() {
		if recover() != nil {
			g.appPanicked(panicAnnotate)
			v = nil
		}
	}()
	return g.cfg.annotate(r)
}
