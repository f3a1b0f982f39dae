package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Record is the result of evaluating one case for one test type. Verdict
// is nil when the evaluation failed, and ErrorClass then says why. Prompt,
// Response and CustomerID are filled only when the user asked for content
// in the results.
type Record struct {
	ID       string `json:"id"`
	TestType string `json:"test_type"`
	*Verdict
	LatencyMS  float64 `json:"latency_ms"`
	Attempts   int     `json:"attempts"`
	Cached     bool    `json:"cached,omitempty"`
	ErrorClass string  `json:"error_class,omitempty"`
	Status     int     `json:"status,omitempty"`
	Line       int     `json:"line,omitempty"`

	CustomerID string `json:"customer_id,omitempty"`
	Prompt     string `json:"prompt,omitempty"`
	Response   string `json:"response,omitempty"`
}

// Verdict is the API's answer for one record.
type Verdict struct {
	Flagged   bool    `json:"flagged"`
	Score     float64 `json:"score"`
	RiskLevel string  `json:"risk_level"`
	PassFail  string  `json:"pass_fail"`
}

// Key identifies a record: a case id and a test type.
type Key struct {
	ID       string
	TestType string
}

// Key returns the record's key.
func (r *Record) Key() Key { return Key{r.ID, r.TestType} }

// OK reports whether the record holds a verdict.
func (r *Record) OK() bool { return r.Verdict != nil && r.ErrorClass == "" }

// Latency returns LatencyMS as a duration.
func (r *Record) Latency() time.Duration {
	return time.Duration(r.LatencyMS * float64(time.Millisecond))
}

// Millis converts d to the milliseconds stored in LatencyMS, rounded to
// a microsecond.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// Writer writes records as JSON Lines. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf bytes.Buffer
	n   int
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes r as one line, in a single call to the underlying writer.
func (w *Writer) Write(r Record) error {
	w.buf.Reset()
	enc := json.NewEncoder(&w.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil { // Encode appends the newline
		return fmt.Errorf("results: encode record: %w", err)
	}
	if _, err := w.w.Write(w.buf.Bytes()); err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	w.n++
	return nil
}

// Count returns how many records were written.
func (w *Writer) Count() int { return w.n }

// Parsed is what Parse found in a results file.
type Parsed struct {
	// Records holds every record, in file order.
	Records []Record
	// Valid is the length of the prefix of the data that holds complete
	// records; a partial last line starts there.
	Valid int
	// Partial reports that the data ends in a line without a newline that
	// is not a complete record.
	Partial bool
	// MissingNewline reports that the last record is complete but not
	// followed by a newline.
	MissingNewline bool
}

// LineError reports a results line that is not a record.
type LineError struct {
	Line   int
	Reason string
}

// Error returns "results file line N: reason".
func (e *LineError) Error() string {
	return fmt.Sprintf("results file line %d: %s", e.Line, e.Reason)
}

// Parse reads the records of a results file. A last line without a
// newline that does not hold a complete record is tolerated (it is what an
// interrupted write leaves) and reported in Partial; any other line that
// is not a record is a *LineError. Blank lines are skipped.
func Parse(data []byte) (*Parsed, error) {
	p := &Parsed{}
	for line, off := 1, 0; off < len(data); line++ {
		end := bytes.IndexByte(data[off:], '\n')
		last := end < 0
		if last {
			end = len(data)
		} else {
			end += off
		}
		b := data[off:end]
		if len(bytes.TrimSpace(b)) > 0 {
			rec, reason := parseRecord(b)
			switch {
			case reason != "" && last:
				p.Partial = true
				p.Valid = off
				return p, nil
			case reason != "":
				return nil, &LineError{line, reason}
			}
			p.Records = append(p.Records, rec)
			p.MissingNewline = last
		}
		if last {
			off = end
		} else {
			off = end + 1
		}
		p.Valid = off
	}
	return p, nil
}

func parseRecord(b []byte) (Record, string) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return Record{}, "not a valid record"
	}
	if dec.More() {
		return Record{}, "more than one value on the line"
	}
	switch {
	case r.ID == "":
		return Record{}, "no id"
	case r.TestType == "":
		return Record{}, "no test_type"
	case r.Verdict == nil && r.ErrorClass == "":
		return Record{}, "neither a verdict nor an error_class"
	}
	return r, ""
}

// Resumed describes what Open found in an existing results file.
type Resumed struct {
	// Done holds, per key, the last record that has a verdict.
	Done map[Key]Record
	// Records is the number of records in the file.
	Records int
	// Truncated is the number of bytes of a partial last line that were
	// cut off.
	Truncated int
}

// Open opens the results file at path for writing. Without resume it is
// created or truncated. With resume an existing file is read first: its
// partial last line, if any, is truncated, and the file is positioned at
// its end so that new records are appended; a file that does not exist is
// created.
func Open(path string, resume bool) (*os.File, *Resumed, error) {
	res := &Resumed{Done: map[Key]Record{}}
	if !resume {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("results: %w", err)
		}
		return f, res, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("results: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("results: read %s: %w", path, err)
	}
	p, err := Parse(data)
	if err != nil {
		f.Close()
		var le *LineError
		if errors.As(err, &le) {
			return nil, nil, fmt.Errorf("results: %s: %w (not written by an interrupted run; fix or remove the line, or run without -resume)", path, err)
		}
		return nil, nil, err
	}
	end := int64(p.Valid)
	if p.Partial {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("results: repair %s: %w", path, err)
		}
		res.Truncated = len(data) - p.Valid
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("results: %w", err)
	}
	if p.MissingNewline {
		if _, err := f.Write([]byte("\n")); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("results: repair %s: %w", path, err)
		}
	}
	res.Records = len(p.Records)
	for _, r := range p.Records {
		if r.OK() {
			res.Done[r.Key()] = r
		}
	}
	return f, res, nil
}
