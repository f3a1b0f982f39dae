package results

import (
	"bytes"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"a","test_type":"pii","flagged":false,"score":0,"risk_level":"low","pass_fail":"pass","latency_ms":1,"attempts":1}` + "\n"))
	f.Add([]byte(`{"id":"b","test_type":"pii","latency_ms":1,"attempts":4,"error_class":"network"}` + "\n" + `{"id":"c","te`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if p.Valid < 0 || p.Valid > len(data) {
			t.Fatalf("Valid = %d outside [0, %d]", p.Valid, len(data))
		}
		if p.Partial && p.MissingNewline {
			t.Fatal("both Partial and MissingNewline")
		}
		if p.Partial && (p.Valid == len(data) || bytes.IndexByte(data[p.Valid:], '\n') >= 0) {
			t.Fatal("Partial, but the rest is not one unterminated line")
		}
		if !p.Partial && p.Valid != len(data) {
			t.Fatalf("Valid = %d, want all %d bytes", p.Valid, len(data))
		}
		// The valid prefix, rewritten, parses to the same records.
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, r := range p.Records {
			if r.ID == "" || r.TestType == "" || (r.Verdict == nil && r.ErrorClass == "") {
				t.Fatalf("invalid record accepted: %+v", r)
			}
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		again, err := Parse(buf.Bytes())
		if err != nil || len(again.Records) != len(p.Records) || again.Partial {
			t.Fatalf("rewritten records do not parse back: %v", err)
		}
	})
}
