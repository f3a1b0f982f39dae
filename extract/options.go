package extract

import (
	"fmt"
)

// PromptSelection chooses which request text becomes the prompt.
type PromptSelection int

const (
	// PromptLatestUser takes the latest user turn: the last user message
	// that has text of its own, with the tool results sent after it.
	PromptLatestUser PromptSelection = iota + 1
	// PromptLatestUserWithSystem takes the system text (system and
	// developer messages, Anthropic "system", Responses "instructions")
	// followed by the latest user turn. It is the default.
	PromptLatestUserWithSystem
	// PromptAllTurns takes the text of every turn in order, assistant turns
	// and tool calls included.
	PromptAllTurns
)

// String returns the selection's name.
func (s PromptSelection) String() string {
	switch s {
	case PromptLatestUser:
		return "latest_user"
	case PromptLatestUserWithSystem:
		return "latest_user_with_system"
	case PromptAllTurns:
		return "all_turns"
	}
	return fmt.Sprintf("PromptSelection(%d)", int(s))
}

const (
	// DefaultMaxTextBytes is the default cap on each side's text.
	DefaultMaxTextBytes = 32 << 10
	// DefaultMaxDecodedBytes is the default cap on decompressed body size.
	DefaultMaxDecodedBytes = 1 << 20
)

type config struct {
	maxText    int
	maxDecoded int64
	selection  PromptSelection
}

// Option configures the extractor built by New; New fails on a nil one.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxTextBytes sets the cap on each side's text, in bytes (default
// DefaultMaxTextBytes). Longer text is cut at a rune boundary and the pair
// marked Truncated. It must be positive.
func WithMaxTextBytes(n int) Option {
	return optionFunc(func(c *config) { c.maxText = n })
}

// WithMaxDecodedBytes sets the most bytes that decompressing a body may
// produce (default DefaultMaxDecodedBytes); past it the side fails with
// ErrDecode. It guards against decompression bombs and must be positive.
func WithMaxDecodedBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxDecoded = n })
}

// WithPromptSelection sets which request text becomes the prompt (default
// PromptLatestUserWithSystem).
func WithPromptSelection(s PromptSelection) Option {
	return optionFunc(func(c *config) { c.selection = s })
}
