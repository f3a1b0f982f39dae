package cases

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The CSV columns Read knows; other columns are ignored.
const (
	colID         = "id"
	colPrompt     = "prompt"
	colResponse   = "response"
	colCustomerID = "customer_id"
)

// readCSV reads a CSV file whose first record names the columns.
func readCSV(br *bufio.Reader, maxLine int, s *Set) error {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("cases: CSV header on line %d: %s", pe.StartLine, csvReason(pe))
	}
	if err != nil {
		return fmt.Errorf("cases: read CSV header: %w", err)
	}
	header = append([]string(nil), header...) // ReuseRecord: keep our copy
	cols, err := csvColumns(header)
	if err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if errors.As(err, &pe) {
			s.Problems = append(s.Problems, Problem{pe.StartLine, csvReason(pe)})
			continue
		}
		if err != nil {
			return fmt.Errorf("cases: read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if n := recordBytes(rec); n > maxLine {
			s.Problems = append(s.Problems, Problem{line, fmt.Sprintf("record is longer than %d bytes", maxLine)})
			continue
		}
		if len(rec) != len(header) {
			s.Problems = append(s.Problems, Problem{line, fmt.Sprintf("has %d fields, the header has %d", len(rec), len(header))})
			continue
		}
		if c, reason := csvCase(line, rec, cols); reason != "" {
			s.Problems = append(s.Problems, Problem{line, reason})
		} else {
			s.Cases = append(s.Cases, c)
		}
	}
}

// csvReason describes a CSV syntax error without quoting the input.
func csvReason(pe *csv.ParseError) string {
	what := "malformed CSV"
	switch {
	case errors.Is(pe.Err, csv.ErrQuote):
		what = "malformed CSV: extraneous or missing \" in a quoted field"
	case errors.Is(pe.Err, csv.ErrBareQuote):
		what = "malformed CSV: bare \" in a non-quoted field"
	}
	if pe.Line != pe.StartLine {
		return fmt.Sprintf("%s (the record runs to line %d)", what, pe.Line)
	}
	return what
}

// columns maps the known column names to their index, -1 when absent.
type columns struct{ id, prompt, response, customer int }

func csvColumns(header []string) (columns, error) {
	c := columns{-1, -1, -1, -1}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		var dst *int
		switch name {
		case colID:
			dst = &c.id
		case colPrompt:
			dst = &c.prompt
		case colResponse:
			dst = &c.response
		case colCustomerID:
			dst = &c.customer
		default:
			continue
		}
		if *dst >= 0 {
			return c, fmt.Errorf("cases: CSV header names column %q twice", name)
		}
		*dst = i
	}
	var missing []string
	if c.prompt < 0 {
		missing = append(missing, colPrompt)
	}
	if c.response < 0 {
		missing = append(missing, colResponse)
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("cases: CSV header has no %s column (the first row must name the columns: id, prompt, response, customer_id)",
			strings.Join(missing, " or "))
	}
	return c, nil
}

func csvCase(line int, rec []string, cols columns) (Case, string) {
	for i, f := range rec {
		if j := invalidUTF8([]byte(f)); j >= 0 {
			return Case{}, fmt.Sprintf("invalid UTF-8 in field %d", i+1)
		}
	}
	field := func(i int) string {
		if i < 0 {
			return ""
		}
		return rec[i]
	}
	id := strings.TrimSpace(field(cols.id))
	return newCase(line, id, id != "", field(cols.prompt), field(cols.response), field(cols.customer))
}

func recordBytes(rec []string) int {
	n := 0
	for _, f := range rec {
		n += len(f) + 1
	}
	return n
}
