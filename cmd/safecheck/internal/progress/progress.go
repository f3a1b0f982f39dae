package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/words"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Mode selects how progress is shown.
type Mode string

// The modes. Auto shows a bar when the output is a terminal and plain
// lines otherwise.
const (
	Auto  Mode = "auto"
	Bar   Mode = "bar"
	Plain Mode = "plain"
	Off   Mode = "off"
)

// ParseMode returns the Mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Auto, Bar, Plain, Off:
		return m, nil
	}
	return "", fmt.Errorf("unknown progress mode %q (want auto, bar, plain or off)", s)
}

// DefaultInterval is how often plain lines are written unless
// WithInterval says otherwise.
const DefaultInterval = 10 * time.Second

// barThrottle limits how often the bar is redrawn.
const barThrottle = 100 * time.Millisecond

type config struct {
	mode     Mode
	interval time.Duration
	terminal *bool
	label    string
}

// Option configures a Reporter; a nil Option makes New fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMode sets the mode (default Auto).
func WithMode(m Mode) Option { return optionFunc(func(c *config) { c.mode = m }) }

// WithInterval sets how often plain lines are written (default
// DefaultInterval); 0 writes them only at every 10 %.
func WithInterval(d time.Duration) Option { return optionFunc(func(c *config) { c.interval = d }) }

// WithTerminal says whether the output is a terminal, for Auto. Without
// it, Auto asks the operating system when the writer is an *os.File.
func WithTerminal(isTerminal bool) Option {
	return optionFunc(func(c *config) { c.terminal = &isTerminal })
}

// WithLabel sets the prefix of plain lines (default "progress").
func WithLabel(s string) Option { return optionFunc(func(c *config) { c.label = s }) }

// Reporter counts finished pairs and shows progress. Its methods are safe
// for concurrent use.
type Reporter struct {
	w        io.Writer
	mode     Mode
	total    int
	label    string
	interval time.Duration

	mu       sync.Mutex
	start    time.Time
	done     int
	flagged  int
	errors   int
	decile   int // last 10 % step written
	lastLine int // done when the last plain line was written, -1 before the first
	finished bool
	cleared  bool // Finish cleared the bar's line to write a plain one instead
	bar      *progressbar.ProgressBar

	stop chan struct{}
	wg   sync.WaitGroup
}

// New returns a Reporter for total pairs that writes to w, and starts its
// clock (and, for plain lines with an interval, its ticker). Call Finish
// when the run ends.
func New(w io.Writer, total int, opts ...Option) (*Reporter, error) {
	c := config{mode: Auto, interval: DefaultInterval, label: "progress"}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("progress: option %d is nil", i+1)
		}
		o.apply(&c)
	}
	if _, err := ParseMode(string(c.mode)); err != nil {
		return nil, fmt.Errorf("progress: %w", err)
	}
	if c.interval < 0 {
		return nil, fmt.Errorf("progress: interval must not be negative, got %s", c.interval)
	}
	if total < 0 {
		return nil, fmt.Errorf("progress: total must not be negative, got %d", total)
	}
	mode := c.mode
	if mode == Auto {
		mode = Plain
		if isTerminal(w, c.terminal) {
			mode = Bar
		}
	}
	if total == 0 {
		mode = Off
	}
	r := &Reporter{w: w, mode: mode, total: total, label: c.label, interval: c.interval, start: time.Now(),
		lastLine: -1, stop: make(chan struct{})}
	switch mode {
	case Bar:
		// No blank first frame: before the first pair finishes there is no
		// rate to show ("0 pairs/hr") nor a time left to predict. The
		// bar's clock starts now all the same.
		r.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(r.describe()),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("pairs"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(barThrottle),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() {
				if !r.cleared { // r.mu is held by Add or Finish
					fmt.Fprintln(w)
				}
			}),
		)
		r.bar.StartWithoutRender()
	case Plain:
		if r.interval > 0 {
			r.wg.Add(1)
			go r.tick()
		}
	}
	return r, nil
}

func isTerminal(w io.Writer, override *bool) bool {
	if override != nil {
		return *override
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Mode returns the mode in use: Bar, Plain or Off.
func (r *Reporter) Mode() Mode { return r.mode }

// describe is the bar's label. The caller holds r.mu or is constructing r.
func (r *Reporter) describe() string {
	return fmt.Sprintf("flagged %d · errors %d", r.flagged, r.errors)
}

// Add counts one finished pair.
func (r *Reporter) Add(flagged, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	r.done++
	if flagged {
		r.flagged++
	}
	if failed {
		r.errors++
	}
	switch r.mode {
	case Bar:
		// Count first: Describe draws the bar, and before this Add it
		// would draw a frame without the pair (the very first one at 0).
		_ = r.bar.Add(1)
		if flagged || failed {
			r.bar.Describe(r.describe())
		}
	case Plain:
		if d := r.done * 10 / r.total; d > r.decile {
			r.decile = d
			r.line()
		}
	}
}

// Printf writes a message to the output without breaking the bar.
func (r *Reporter) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == Bar && !r.finished {
		// Leave the bar (and a ^C the terminal echoed after it) on its
		// line; the next update draws it again below the message.
		fmt.Fprintln(r.w)
	}
	fmt.Fprintf(r.w, format, args...)
}

// Finish stops the ticker and writes the final state once: a completed
// bar is left as it is, on its own line; a run that stopped early gets a
// plain line saying where, in place of the bar (whose last frame may lag
// behind) or after the plain lines unless the last of them already said
// it. It is safe to call more than once.
func (r *Reporter) Finish() {
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return
	}
	r.finished = true
	close(r.stop)
	switch r.mode {
	case Bar:
		if !r.bar.IsFinished() {
			// The bar may lag behind (its redraws are throttled): replace
			// it with a line that says in words where the run stopped.
			r.cleared = true
			_ = r.bar.Clear()
			_ = r.bar.Exit()
			r.line()
		}
	case Plain:
		if r.done < r.total && r.done != r.lastLine { // else the 100 % line, or this one, is written
			r.line()
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Reporter) tick() {
	defer r.wg.Done()
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.mu.Lock()
			if !r.finished {
				r.line()
			}
			r.mu.Unlock()
		case <-r.stop:
			return
		}
	}
}

// line writes one plain progress line. The caller holds r.mu.
func (r *Reporter) line() {
	r.lastLine = r.done
	elapsed := time.Since(r.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(r.done) / elapsed.Seconds()
	}
	eta := "-"
	switch {
	case r.done == r.total:
		eta = "0s"
	case rate > 0:
		eta = time.Duration(float64(r.total-r.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(r.w, "%s: %d/%d %s (%d%%), %.1f/s, elapsed %s, eta %s, flagged %d, errors %d\n",
		r.label, r.done, r.total, words.Plural(r.total, "pair", "pairs"), r.done*100/r.total, rate,
		elapsed.Round(time.Second), eta, r.flagged, r.errors)
}
