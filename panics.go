package safecheck

import (
	"log/slog"
	"sync/atomic"
)

// panicSource names the piece of application code that panicked.
type panicSource uint8

const (
	panicExtractor panicSource = iota
	panicIDFunc
	panicPromptFunc
	panicScrubber
	panicHook
	panicAnnotate
	numPanicSources
)

var panicSourceNames = [numPanicSources]string{
	"extractor", "customer or request id function", "prompt function", "scrubber", "verdict hook", "annotate function",
}

// panicLog remembers which sources have been reported.
type panicLog struct {
	seen [numPanicSources]atomic.Bool
}

// appPanicked counts a contained panic of application code in
// Stats.HookPanics and logs the first one of each source. The panic value
// is never logged: it may hold the content being checked.
func (g *Guard) appPanicked(src panicSource) {
	g.counters.hookPanics.Add(1)
	if g.panics.seen[src].Swap(true) {
		return
	}
	name := panicSourceNames[src]
	g.log.LogAttrs(g.baseCtx, slog.LevelWarn,
		"safecheck: the "+name+" panicked; the panic was contained and is counted in HookPanics (its value is not logged)",
		slog.String("source", name))
}
