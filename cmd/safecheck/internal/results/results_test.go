package results

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ok(id, tt string, flagged bool, score float64) Record {
	risk, pf := "low", "pass"
	if flagged {
		risk, pf = "reject", "fail"
	}
	return Record{ID: id, TestType: tt, Verdict: &Verdict{Flagged: flagged, Score: score, RiskLevel: risk, PassFail: pf}, LatencyMS: 1.5, Attempts: 1}
}

func failed(id, tt, class string) Record {
	return Record{ID: id, TestType: tt, ErrorClass: class, Status: 503, Attempts: 4}
}

func TestWriterLines(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	recs := []Record{ok("a", "pii", false, 0), ok("b<&>", "toxicity", true, 0.9), failed("c", "pii", "server_error")}
	recs[1].Cached = true
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"id":"a","test_type":"pii","flagged":false,"score":0,"risk_level":"low","pass_fail":"pass","latency_ms":1.5,"attempts":1}
{"id":"b<&>","test_type":"toxicity","flagged":true,"score":0.9,"risk_level":"reject","pass_fail":"fail","latency_ms":1.5,"attempts":1,"cached":true}
{"id":"c","test_type":"pii","latency_ms":0,"attempts":4,"error_class":"server_error","status":503}
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if w.Count() != 3 {
		t.Errorf("Count = %d, want 3", w.Count())
	}
	p, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Records, recs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", p.Records, recs)
	}
}

// shortWriter accepts a few bytes of each write, as a full disk does.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return 3, errors.New("no space left on device") }

func TestWriterError(t *testing.T) {
	err := NewWriter(shortWriter{}).Write(ok("a", "pii", false, 0))
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Write = %v, want the device error", err)
	}
}

func TestParse(t *testing.T) {
	a := `{"id":"a","test_type":"pii","flagged":false,"score":0,"risk_level":"low","pass_fail":"pass","latency_ms":1,"attempts":1}`
	b := `{"id":"b","test_type":"pii","latency_ms":1,"attempts":4,"error_class":"network"}`
	tests := []struct {
		name     string
		in       string
		records  int
		valid    int
		partial  bool
		noNL     bool
		errLine  int
		errMatch string
	}{
		{name: "empty", in: ""},
		{name: "complete", in: a + "\n" + b + "\n", records: 2, valid: len(a) + len(b) + 2},
		{name: "blank lines", in: "\n" + a + "\n\n", records: 1, valid: len(a) + 3},
		{name: "partial last line", in: a + "\n" + b[:20], records: 1, valid: len(a) + 1, partial: true},
		{name: "partial last line, one byte", in: a + "\n{", records: 1, valid: len(a) + 1, partial: true},
		{name: "complete record without newline", in: a + "\n" + b, records: 2, valid: len(a) + len(b) + 1, noNL: true},
		{name: "garbage in the middle", in: a + "\n{\"id\":\n" + b + "\n", errLine: 2, errMatch: "not a valid record"},
		{name: "no id", in: `{"test_type":"pii","flagged":true}` + "\n", errLine: 1, errMatch: "no id"},
		{name: "no test type", in: `{"id":"x","flagged":true}` + "\n", errLine: 1, errMatch: "no test_type"},
		{name: "neither verdict nor error", in: `{"id":"x","test_type":"pii","attempts":1}` + "\n", errLine: 1, errMatch: "neither a verdict nor an error_class"},
		{name: "two values", in: a + a + "\n", errLine: 1, errMatch: "more than one value"},
		{name: "not an object", in: "[1]\n", errLine: 1, errMatch: "not a valid record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in))
			if tt.errLine > 0 {
				var le *LineError
				if !errors.As(err, &le) || le.Line != tt.errLine || !strings.Contains(le.Reason, tt.errMatch) {
					t.Fatalf("Parse = %v, want a LineError on line %d about %q", err, tt.errLine, tt.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != tt.records || p.Valid != tt.valid || p.Partial != tt.partial || p.MissingNewline != tt.noNL {
				t.Errorf("Parse = %d records, valid %d, partial %v, missing newline %v; want %d, %d, %v, %v",
					len(p.Records), p.Valid, p.Partial, p.MissingNewline, tt.records, tt.valid, tt.partial, tt.noNL)
			}
		})
	}
}

func TestOpenResume(t *testing.T) {
	a, b, c := ok("a", "pii", false, 0), failed("b", "pii", "network"), ok("b", "pii", true, 0.85)
	tests := []struct {
		name      string
		content   string
		done      []Key
		records   int
		truncated int
		after     string // the file after appending "X\n"
	}{
		{name: "missing file", done: nil, after: "X\n"},
		{name: "complete file", content: line(a) + line(b), done: []Key{{"a", "pii"}}, records: 2,
			after: line(a) + line(b) + "X\n"},
		{name: "an error, then a verdict for the same pair", content: line(b) + line(c), done: []Key{{"b", "pii"}}, records: 2,
			after: line(b) + line(c) + "X\n"},
		{name: "partial last line is cut off", content: line(a) + `{"id":"b","test_ty`, done: []Key{{"a", "pii"}}, records: 1,
			truncated: len(`{"id":"b","test_ty`), after: line(a) + "X\n"},
		{name: "complete last record without newline", content: line(a) + strings.TrimSuffix(line(c), "\n"),
			done: []Key{{"a", "pii"}, {"b", "pii"}}, records: 2, after: line(a) + line(c) + "X\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.jsonl")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, res, err := Open(path, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("X\n")); err != nil {
				t.Fatal(err)
			}
			f.Close()
			var done []Key
			for k := range res.Done {
				done = append(done, k)
			}
			if !sameKeys(done, tt.done) || res.Records != tt.records || res.Truncated != tt.truncated {
				t.Errorf("Open = done %v, %d records, truncated %d; want %v, %d, %d", done, res.Records, res.Truncated,
					tt.done, tt.records, tt.truncated)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.after {
				t.Errorf("file after append:\n got %q\nwant %q", got, tt.after)
			}
		})
	}
}

func TestOpenTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(path, []byte("old contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, res, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, _ := os.ReadFile(path); len(got) != 0 || len(res.Done) != 0 {
		t.Errorf("Open without resume left %q and %d done", got, len(res.Done))
	}
}

func TestOpenRefusesCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	content := line(ok("a", "pii", false, 0)) + "this is not a record\n" + line(ok("b", "pii", false, 0))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(path, true)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "without -resume") {
		t.Fatalf("Open = %v, want an error naming line 2", err)
	}
	if got, _ := os.ReadFile(path); string(got) != content {
		t.Error("Open changed a file it refused")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, resume := range []bool{false, true} {
		if _, _, err := Open(filepath.Join(dir, "no", "such", "dir"), resume); err == nil {
			t.Errorf("Open(missing dir, resume %v) succeeded", resume)
		}
	}
}

func TestLatency(t *testing.T) {
	if got := Millis(1234567 * time.Nanosecond); got != 1.235 {
		t.Errorf("Millis = %v, want 1.235", got)
	}
	r := Record{LatencyMS: 200.5}
	if got := r.Latency(); got != 200500*time.Microsecond {
		t.Errorf("Latency = %v", got)
	}
}

func line(r Record) string {
	var buf bytes.Buffer
	if err := NewWriter(&buf).Write(r); err != nil {
		panic(err)
	}
	return buf.String()
}

func sameKeys(a, b []Key) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[Key]int{}
	for _, k := range a {
		m[k]++
	}
	for _, k := range b {
		m[k]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}
