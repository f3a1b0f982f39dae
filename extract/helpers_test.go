package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// jsonValid reports whether encoding/json accepts doc.
func jsonValid(doc []byte) bool { return json.Valid(doc) }

// referenceStrings lists the non-empty string values (not member names) of
// a valid document in order, using encoding/json's tokenizer, joined by sep.
func referenceStrings(t testing.TB, doc []byte, sep string) string {
	t.Helper()
	type frame struct{ obj, wantKey bool }
	var (
		stack []frame
		out   []string
	)
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reference tokenizer: %v", err)
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				stack = append(stack, frame{obj: v == '{', wantKey: v == '{'})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				stack[n-1].wantKey = false
				continue
			}
			if v != "" {
				out = append(out, v)
			}
			valueDone()
		default:
			valueDone()
		}
	}
	return strings.Join(out, sep)
}
