package cases

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// readJSONL reads one JSON object per line. Blank lines are skipped.
func readJSONL(br *bufio.Reader, maxLine int, s *Set) error {
	for line := 1; ; line++ {
		b, err := readLine(br, maxLine)
		if errors.Is(err, errTooLong) {
			s.Problems = append(s.Problems, Problem{line, fmt.Sprintf("line is longer than %d bytes", maxLine)})
		} else if len(bytes.TrimSpace(b)) > 0 {
			if c, reason := parseJSONLine(line, b); reason != "" {
				s.Problems = append(s.Problems, Problem{line, reason})
			} else {
				s.Cases = append(s.Cases, c)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && !errors.Is(err, errTooLong) {
			return fmt.Errorf("cases: read line %d: %w", line, err)
		}
	}
}

// readLine returns the next line without its line ending. At the end of
// the input it returns the last (possibly empty) line with io.EOF. A line
// longer than max is consumed and reported with errTooLong.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max+2 { // room for "\r\n"
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil || err == io.EOF {
			buf = bytes.TrimSuffix(buf, []byte("\n"))
			buf = bytes.TrimSuffix(buf, []byte("\r"))
			if !tooLong && len(buf) > max {
				tooLong = true
			}
			if tooLong {
				if err == io.EOF {
					return nil, fmt.Errorf("%w: %w", errTooLong, io.EOF)
				}
				return nil, errTooLong
			}
		}
		return buf, err
	}
}

// parseJSONLine turns one JSON Lines record into a Case, or returns the
// reason it cannot.
func parseJSONLine(line int, b []byte) (Case, string) {
	if i := invalidUTF8(b); i >= 0 {
		return Case{}, fmt.Sprintf("invalid UTF-8 at byte %d", i+1)
	}
	trimmed := bytes.TrimSpace(b)
	if trimmed[0] != '{' {
		if json.Valid(trimmed) {
			return Case{}, "not a JSON object"
		}
		return Case{}, "not valid JSON"
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Case{}, fmt.Sprintf("not valid JSON (syntax error at byte %d)", se.Offset+int64(len(b)-len(bytes.TrimLeft(b, " \t\r\n"))))
		}
		return Case{}, "not valid JSON"
	}
	id, idSet, reason := jsonID(m["id"])
	if reason != "" {
		return Case{}, reason
	}
	prompt, reason := jsonString(m, "prompt", true)
	if reason != "" {
		return Case{}, reason
	}
	response, reason := jsonString(m, "response", true)
	if reason != "" {
		return Case{}, reason
	}
	customer, reason := jsonString(m, "customer_id", false)
	if reason != "" {
		return Case{}, reason
	}
	return newCase(line, id, idSet, prompt, response, customer)
}

// jsonID reads an id that may be a string or a number; null or absent
// means no id.
func jsonID(raw json.RawMessage) (string, bool, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, ""
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, "id is not a valid string"
		}
		return s, true, ""
	}
	var n json.Number
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		if err := json.Unmarshal(raw, &n); err == nil {
			return n.String(), true, ""
		}
	}
	return "", false, "id must be a string or a number"
}

// jsonString reads a string member; null counts as absent.
func jsonString(m map[string]json.RawMessage, name string, required bool) (string, string) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		if required {
			return "", "missing " + name
		}
		return "", ""
	}
	if raw[0] != '"' {
		return "", name + " must be a string"
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", name + " is not a valid string"
	}
	return s, ""
}
