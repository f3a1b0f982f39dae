package cases

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Case is one prompt/response pair to evaluate.
type Case struct {
	// ID names the case in results; it is the input's "id", or the line
	// number when the input has none.
	ID string
	// Line is the 1-based line of the input the case starts on.
	Line int
	// Prompt is the input given to the AI under test.
	Prompt string
	// Response is the AI's output to evaluate.
	Response string
	// CustomerID is optional and passed through to the API.
	CustomerID string
}

// Problem is an input line that was skipped, with the reason why. Reason
// never contains the line's content.
type Problem struct {
	Line   int
	Reason string
}

// Error returns "line N: reason".
func (p Problem) Error() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// Set is what Read found: the usable cases, in input order, and the lines
// that were skipped.
type Set struct {
	Format   Format
	Cases    []Case
	Problems []Problem
}

// Format is an input format.
type Format string

// The input formats. Auto looks at the first non-blank byte: '{' means
// JSON Lines, anything else CSV.
const (
	Auto  Format = "auto"
	JSONL Format = "jsonl"
	CSV   Format = "csv"
)

// ParseFormat returns the Format named s ("auto", "jsonl", "ndjson" or
// "csv").
func ParseFormat(s string) (Format, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "jsonl", "ndjson":
		return JSONL, nil
	case "csv":
		return CSV, nil
	}
	return "", fmt.Errorf("unknown input format %q (want auto, jsonl or csv)", s)
}

// DefaultMaxLineBytes is the longest input line (or CSV record) Read
// accepts unless WithMaxLineBytes says otherwise.
const DefaultMaxLineBytes = 8 << 20

// MaxIDBytes is the longest id accepted.
const MaxIDBytes = 256

type config struct {
	format  Format
	maxLine int
}

// Option configures Read; a nil Option makes it fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithFormat sets the input format (default Auto).
func WithFormat(f Format) Option { return optionFunc(func(c *config) { c.format = f }) }

// WithMaxLineBytes sets the longest line (JSON Lines) or record (CSV) that
// is accepted; longer ones are skipped as a Problem. n must be positive.
func WithMaxLineBytes(n int) Option { return optionFunc(func(c *config) { c.maxLine = n }) }

// Read reads every case from r. It returns an error only when r cannot be
// read, when an option is invalid, or when a CSV header lacks the prompt
// or response column; unusable lines are reported in Set.Problems.
func Read(r io.Reader, opts ...Option) (*Set, error) {
	c := config{format: Auto, maxLine: DefaultMaxLineBytes}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("cases: option %d is nil", i+1)
		}
		o.apply(&c)
	}
	switch c.format {
	case Auto, JSONL, CSV:
	default:
		return nil, fmt.Errorf("cases: unknown format %q", c.format)
	}
	if c.maxLine <= 0 {
		return nil, fmt.Errorf("cases: max line bytes must be positive, got %d", c.maxLine)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	skipBOM(br)
	format := c.format
	if format == Auto {
		var err error
		if format, err = sniff(br); err != nil {
			return nil, fmt.Errorf("cases: read: %w", err)
		}
	}
	s := &Set{Format: format}
	var err error
	if format == JSONL {
		err = readJSONL(br, c.maxLine, s)
	} else {
		err = readCSV(br, c.maxLine, s)
	}
	if err != nil {
		return nil, err
	}
	s.dedupe()
	return s, nil
}

// skipBOM drops a UTF-8 byte order mark at the start of the input.
func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
}

// sniff decides the format from the first non-blank byte.
func sniff(br *bufio.Reader) (Format, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == io.EOF || err == bufio.ErrBufferFull {
				return JSONL, nil // empty or all blank: either reader finds nothing
			}
			return "", err
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return JSONL, nil
		}
		return CSV, nil
	}
}

// dedupe turns every case whose id was already used into a Problem.
func (s *Set) dedupe() {
	first := make(map[string]int, len(s.Cases))
	kept := s.Cases[:0]
	for _, c := range s.Cases {
		if line, ok := first[c.ID]; ok {
			s.Problems = append(s.Problems, Problem{c.Line, fmt.Sprintf("duplicate id (first used on line %d)", line)})
			continue
		}
		first[c.ID] = c.Line
		kept = append(kept, c)
	}
	clear(s.Cases[len(kept):])
	s.Cases = kept
	sortProblems(s.Problems)
}

func sortProblems(p []Problem) {
	// Insertion sort keeps equal lines in order and the slice is short.
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Line < p[j-1].Line; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// newCase validates the fields of one input record. It returns the reason
// the record is unusable, or "".
func newCase(line int, id string, idSet bool, prompt, response, customerID string) (Case, string) {
	if !idSet {
		id = strconv.Itoa(line)
	}
	switch {
	case idSet && id == "":
		return Case{}, "id is empty"
	case len(id) > MaxIDBytes:
		return Case{}, fmt.Sprintf("id is longer than %d bytes", MaxIDBytes)
	case hasControl(id):
		return Case{}, "id contains control characters"
	case isBlank(prompt):
		return Case{}, "prompt is empty"
	case isBlank(response):
		return Case{}, "response is empty"
	}
	return Case{ID: id, Line: line, Prompt: prompt, Response: response, CustomerID: customerID}, ""
}

func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// invalidUTF8 returns the offset of the first invalid UTF-8 byte in b, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

var errTooLong = errors.New("line too long")
