package cases

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadJSONL(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		cases    []Case
		problems []Problem
	}{
		{
			name: "ids, numbers, line numbers and customer ids",
			in: `{"id":"a","prompt":"p1","response":"r1","customer_id":"acme"}` + "\n" +
				`{"prompt":"p2","response":"r2"}` + "\n" +
				`{"id":7,"prompt":"p3","response":"r3","customer_id":null,"extra":[1,2]}` + "\n",
			cases: []Case{
				{ID: "a", Line: 1, Prompt: "p1", Response: "r1", CustomerID: "acme"},
				{ID: "2", Line: 2, Prompt: "p2", Response: "r2"},
				{ID: "7", Line: 3, Prompt: "p3", Response: "r3"},
			},
		},
		{
			name:  "blank lines, CRLF, BOM and no final newline",
			in:    "\xEF\xBB\xBF\r\n  \n" + `{"prompt":"p","response":"r"}` + "\r\n\n" + `{"prompt":"q","response":"s"}`,
			cases: []Case{{ID: "3", Line: 3, Prompt: "p", Response: "r"}, {ID: "5", Line: 5, Prompt: "q", Response: "s"}},
		},
		{
			name: "escapes are decoded",
			in:   `{"id":"\u00e9","prompt":"a\nb","response":"\"quoted\""}`,
			cases: []Case{
				{ID: "é", Line: 1, Prompt: "a\nb", Response: `"quoted"`},
			},
		},
		{name: "syntax error", in: `{"prompt":"p","response":}`, problems: []Problem{{1, "not valid JSON (syntax error at byte 26)"}}},
		{name: "truncated object", in: `{"prompt":"p","resp`, problems: []Problem{{1, "not valid JSON (syntax error at byte 19)"}}},
		{name: "not an object", in: `["p","r"]`, problems: []Problem{{1, "not a JSON object"}}},
		{name: "plain text", in: "hello world", problems: []Problem{{1, "not valid JSON"}}},
		{name: "two values on a line", in: `{"prompt":"p","response":"r"} {}`, problems: []Problem{{1, "not valid JSON (syntax error at byte 31)"}}},
		{name: "missing prompt", in: `{"response":"r"}`, problems: []Problem{{1, "missing prompt"}}},
		{name: "null response", in: `{"prompt":"p","response":null}`, problems: []Problem{{1, "missing response"}}},
		{name: "response not a string", in: `{"prompt":"p","response":42}`, problems: []Problem{{1, "response must be a string"}}},
		{name: "customer id not a string", in: `{"prompt":"p","response":"r","customer_id":{}}`, problems: []Problem{{1, "customer_id must be a string"}}},
		{name: "empty response", in: `{"prompt":"p","response":""}`, problems: []Problem{{1, "response is empty"}}},
		{name: "blank response", in: `{"prompt":"p","response":" \n\t"}`, problems: []Problem{{1, "response is empty"}}},
		{name: "empty prompt", in: `{"prompt":"","response":"r"}`, problems: []Problem{{1, "prompt is empty"}}},
		{name: "id of the wrong type", in: `{"id":true,"prompt":"p","response":"r"}`, problems: []Problem{{1, "id must be a string or a number"}}},
		{name: "empty id", in: `{"id":"","prompt":"p","response":"r"}`, problems: []Problem{{1, "id is empty"}}},
		{name: "id with a newline", in: `{"id":"a\nb","prompt":"p","response":"r"}`, problems: []Problem{{1, "id contains control characters"}}},
		{name: "long id", in: `{"id":"` + strings.Repeat("x", MaxIDBytes+1) + `","prompt":"p","response":"r"}`, problems: []Problem{{1, "id is longer than 256 bytes"}}},
		{name: "invalid UTF-8", in: "{\"prompt\":\"p\",\"response\":\"caf\xe9\"}", problems: []Problem{{1, "invalid UTF-8 at byte 30"}}},
		{
			name: "duplicate ids, explicit and by line number",
			in: `{"id":"x","prompt":"p","response":"r"}` + "\n" +
				`{"id":"x","prompt":"p","response":"r"}` + "\n" +
				`{"id":"2","prompt":"p","response":"r"}` + "\n" +
				`{"id":"2","prompt":"p","response":"r"}`,
			cases: []Case{{ID: "x", Line: 1, Prompt: "p", Response: "r"}, {ID: "2", Line: 3, Prompt: "p", Response: "r"}},
			problems: []Problem{
				{2, "duplicate id (first used on line 1)"},
				{4, "duplicate id (first used on line 3)"},
			},
		},
		{
			name:     "a bad line between good ones",
			in:       `{"prompt":"p","response":"r"}` + "\n" + `{oops}` + "\n" + `{"prompt":"p","response":"r2"}` + "\n",
			cases:    []Case{{ID: "1", Line: 1, Prompt: "p", Response: "r"}, {ID: "3", Line: 3, Prompt: "p", Response: "r2"}},
			problems: []Problem{{2, "not valid JSON (syntax error at byte 2)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Read(strings.NewReader(tt.in), WithFormat(JSONL))
			if err != nil {
				t.Fatal(err)
			}
			check(t, set, tt.cases, tt.problems)
		})
	}
}

func TestReadJSONLLineLimit(t *testing.T) {
	long := `{"prompt":"p","response":"` + strings.Repeat("x", 100) + `"}`
	in := `{"prompt":"a","response":"b"}` + "\n" + long + "\n" + `{"prompt":"c","response":"d"}` + "\n" + long
	// A tiny buffer makes the long lines span several reads.
	set, err := Read(iotest.OneByteReader(strings.NewReader(in)), WithFormat(JSONL), WithMaxLineBytes(60))
	if err != nil {
		t.Fatal(err)
	}
	check(t, set,
		[]Case{{ID: "1", Line: 1, Prompt: "a", Response: "b"}, {ID: "3", Line: 3, Prompt: "c", Response: "d"}},
		[]Problem{{2, "line is longer than 60 bytes"}, {4, "line is longer than 60 bytes"}})
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		cases    []Case
		problems []Problem
	}{
		{
			name: "all columns, any order and case, extra columns ignored",
			in:   "Response,notes,ID,prompt,customer_id\nr1,n,a,p1,acme\n\"multi\nline\",n,,p2,\n",
			cases: []Case{
				{ID: "a", Line: 2, Prompt: "p1", Response: "r1", CustomerID: "acme"},
				{ID: "3", Line: 3, Prompt: "p2", Response: "multi\nline"},
			},
		},
		{
			name:  "BOM and CRLF",
			in:    "\xEF\xBB\xBFprompt,response\r\np,r\r\n",
			cases: []Case{{ID: "2", Line: 2, Prompt: "p", Response: "r"}},
		},
		{
			name:     "wrong number of fields",
			in:       "id,prompt,response\na,p,r\nb,p\nc,p,r,extra\n",
			cases:    []Case{{ID: "a", Line: 2, Prompt: "p", Response: "r"}},
			problems: []Problem{{3, "has 2 fields, the header has 3"}, {4, "has 4 fields, the header has 3"}},
		},
		{
			name:     "bare quote",
			in:       "prompt,response\np,r\"x\np,r\n",
			cases:    []Case{{ID: "3", Line: 3, Prompt: "p", Response: "r"}},
			problems: []Problem{{2, "malformed CSV: bare \" in a non-quoted field"}},
		},
		{
			name:     "extraneous quote",
			in:       "prompt,response\n\"p\"x,r\np,r\n",
			cases:    []Case{{ID: "3", Line: 3, Prompt: "p", Response: "r"}},
			problems: []Problem{{2, "malformed CSV: extraneous or missing \" in a quoted field"}},
		},
		{
			name:     "unterminated quote runs to the end",
			in:       "prompt,response\np,r\np,\"open\nmore\n",
			cases:    []Case{{ID: "2", Line: 2, Prompt: "p", Response: "r"}},
			problems: []Problem{{3, "malformed CSV: extraneous or missing \" in a quoted field (the record runs to line 4)"}},
		},
		{
			name:     "empty and blank fields",
			in:       "prompt,response\np,\n,r\np,\"  \"\n",
			problems: []Problem{{2, "response is empty"}, {3, "prompt is empty"}, {4, "response is empty"}},
		},
		{
			name:     "invalid UTF-8",
			in:       "prompt,response\np,caf\xe9\n",
			problems: []Problem{{2, "invalid UTF-8 in field 2"}},
		},
		{
			name:     "duplicate id",
			in:       "id,prompt,response\nx,p,r\nx,p,r\n",
			cases:    []Case{{ID: "x", Line: 2, Prompt: "p", Response: "r"}},
			problems: []Problem{{3, "duplicate id (first used on line 2)"}},
		},
		{name: "header only", in: "prompt,response\n"},
		{name: "empty input", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Read(strings.NewReader(tt.in), WithFormat(CSV))
			if err != nil {
				t.Fatal(err)
			}
			check(t, set, tt.cases, tt.problems)
		})
	}
}

func TestReadCSVRecordLimit(t *testing.T) {
	in := "prompt,response\np," + strings.Repeat("x", 50) + "\np,r\n"
	set, err := Read(strings.NewReader(in), WithFormat(CSV), WithMaxLineBytes(20))
	if err != nil {
		t.Fatal(err)
	}
	check(t, set, []Case{{ID: "3", Line: 3, Prompt: "p", Response: "r"}}, []Problem{{2, "record is longer than 20 bytes"}})
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		in   io.Reader
		opts []Option
		want string
	}{
		{"no prompt column", strings.NewReader("id,response\n1,r\n"), []Option{WithFormat(CSV)}, "cases: CSV header has no prompt column"},
		{"no columns", strings.NewReader("a,b\n"), []Option{WithFormat(CSV)}, "cases: CSV header has no prompt or response column"},
		{"column twice", strings.NewReader("prompt,response,Prompt\n"), []Option{WithFormat(CSV)}, `cases: CSV header names column "prompt" twice`},
		{"malformed header", strings.NewReader("\"prompt,response\n"), []Option{WithFormat(CSV)}, "cases: CSV header on line 1: malformed CSV"},
		{"read error", iotest.ErrReader(errors.New("disk on fire")), []Option{WithFormat(JSONL)}, "disk on fire"},
		{"read error while sniffing", iotest.ErrReader(errors.New("disk on fire")), nil, "disk on fire"},
		{"bad format", strings.NewReader(""), []Option{WithFormat("xml")}, `cases: unknown format "xml"`},
		{"bad limit", strings.NewReader(""), []Option{WithMaxLineBytes(0)}, "cases: max line bytes must be positive"},
		{"nil option", strings.NewReader(""), []Option{WithFormat(CSV), nil}, "cases: option 2 is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Read(tt.in, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read = %v, %v; want an error containing %q", set, err, tt.want)
			}
		})
	}
}

func TestReadAuto(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{"\n  {\"prompt\":\"p\",\"response\":\"r\"}\n", JSONL},
		{"\xEF\xBB\xBF{\"prompt\":\"p\",\"response\":\"r\"}", JSONL},
		{"prompt,response\np,r\n", CSV},
		{"", JSONL},
	}
	for _, tt := range tests {
		set, err := Read(strings.NewReader(tt.in))
		if err != nil {
			t.Fatalf("Read(%q): %v", tt.in, err)
		}
		if set.Format != tt.want {
			t.Errorf("Read(%q) format = %s, want %s", tt.in, set.Format, tt.want)
		}
		if tt.in != "" && len(set.Cases) != 1 {
			t.Errorf("Read(%q) = %d cases, want 1 (problems %v)", tt.in, len(set.Cases), set.Problems)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": Auto, "auto": Auto, "jsonl": JSONL, "ndjson": JSONL, "csv": CSV} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFormat("tsv"); err == nil {
		t.Error("ParseFormat(tsv) succeeded")
	}
}

func TestProblemsNeverQuoteContent(t *testing.T) {
	const canary = "CANARY-8c1f"
	lines := []string{
		`{"prompt":"` + canary + `","response":` + canary + `}`,
		`{"prompt":"` + canary + `","response":"` + canary,
		canary,
		`{"id":"` + canary + "\x01" + `","prompt":"p","response":"r"}`,
		`["` + canary + `"]`,
		`{"prompt":"` + canary + "\xff" + `","response":"r"}`,
	}
	set, err := Read(strings.NewReader(strings.Join(lines, "\n")), WithFormat(JSONL))
	if err != nil {
		t.Fatal(err)
	}
	csvSet, err := Read(strings.NewReader("prompt,response\n\""+canary+"\"x,r\n"+canary+",\n"), WithFormat(CSV))
	if err != nil {
		t.Fatal(err)
	}
	all := append(set.Problems, csvSet.Problems...)
	if len(all) != len(lines)+2 {
		t.Fatalf("got %d problems, want %d: %v", len(all), len(lines)+2, all)
	}
	for _, p := range all {
		if strings.Contains(p.Error(), "CANARY") {
			t.Errorf("problem quotes content: %v", p)
		}
	}
}

func check(t *testing.T, set *Set, cases []Case, problems []Problem) {
	t.Helper()
	if len(set.Cases) == 0 {
		set.Cases = nil
	}
	if !reflect.DeepEqual(set.Cases, cases) {
		t.Errorf("cases:\n got %+v\nwant %+v", set.Cases, cases)
	}
	if !reflect.DeepEqual(set.Problems, problems) {
		t.Errorf("problems:\n got %v\nwant %v", fmt.Sprint(set.Problems), fmt.Sprint(problems))
	}
}
