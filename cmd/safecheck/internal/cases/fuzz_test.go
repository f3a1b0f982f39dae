package cases

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkSet holds for any input: every case is usable, ids are unique,
// lines increase, and problems are sorted and never empty.
func checkSet(t *testing.T, set *Set, in []byte) {
	t.Helper()
	seen := map[string]bool{}
	prevLine := 0
	for _, c := range set.Cases {
		if seen[c.ID] {
			t.Fatalf("duplicate id %q", c.ID)
		}
		seen[c.ID] = true
		if c.Line <= prevLine {
			t.Fatalf("case lines not increasing: %d after %d", c.Line, prevLine)
		}
		prevLine = c.Line
		if isBlank(c.Prompt) || isBlank(c.Response) || c.ID == "" || len(c.ID) > MaxIDBytes {
			t.Fatalf("unusable case accepted: %+v", c)
		}
		if !utf8.ValidString(c.Prompt) || !utf8.ValidString(c.Response) || !utf8.ValidString(c.CustomerID) {
			t.Fatalf("invalid UTF-8 accepted on line %d", c.Line)
		}
	}
	lines := bytes.Count(in, []byte("\n")) + 1
	for i, p := range set.Problems {
		if p.Reason == "" || p.Line < 1 || p.Line > lines {
			t.Fatalf("bad problem %+v (input has %d lines)", p, lines)
		}
		if i > 0 && p.Line < set.Problems[i-1].Line {
			t.Fatalf("problems not sorted: %v", set.Problems)
		}
	}
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"id":"a","prompt":"p","response":"r","customer_id":"c"}` + "\n" + `{"prompt":"p","response":"r"}`))
	f.Add([]byte(`{"id":1e3,"prompt":"p","response":"r"}` + "\n\n" + `not json` + "\r\n" + `{"prompt":null}`))
	f.Add([]byte("\xEF\xBB\xBF{\"prompt\":\"\xff\",\"response\":\"r\"}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		set, err := Read(bytes.NewReader(in), WithFormat(JSONL), WithMaxLineBytes(1<<10))
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		checkSet(t, set, in)
		for _, c := range set.Cases {
			if _, err := strconv.Atoi(c.ID); err == nil && c.ID != strconv.Itoa(c.Line) && !bytes.Contains(in, []byte(c.ID)) {
				t.Fatalf("numeric id %q neither the line number nor in the input", c.ID)
			}
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("id,prompt,response,customer_id\na,p,r,c\n,\"multi\nline\",r,\n"))
	f.Add([]byte("prompt,response\n\"p\"x,r\np,\"open\n"))
	f.Add([]byte("Response,PROMPT\r\nr,p\r\nr\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		set, err := Read(bytes.NewReader(in), WithFormat(CSV), WithMaxLineBytes(1<<10))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "cases: CSV header") {
				t.Fatalf("Read: unexpected error %v", err)
			}
			return
		}
		checkSet(t, set, in)
	})
}
