package extract

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// addGoldenBodies adds every golden body with the given file extension as a
// seed, through add.
func addGoldenBodies(f *testing.F, ext string, add func(b []byte)) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "*"+ext))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// referenceSSE is a plain, independent reading of the SSE parsing rules,
// used to cross-check parseSSE.
func referenceSSE(body []byte) []Event {
	s := strings.TrimPrefix(string(body), "\uFEFF")
	var lines []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			lines = append(lines, cur.String())
			cur.Reset()
		case '\n':
			lines = append(lines, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	var (
		out     []Event
		typ, id string
		data    []string
		hasData bool
	)
	flush := func() {
		if hasData {
			t := typ
			if t == "" {
				t = "message"
			}
			out = append(out, Event{Type: t, Data: strings.Join(data, "\n"), ID: id})
		}
		typ, data, hasData = "", nil, false
	}
	for _, line := range lines {
		if line == "" {
			flush()
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch name {
		case "data":
			data, hasData = append(data, value), true
		case "event":
			typ = value
		case "id":
			if !strings.ContainsRune(value, 0) {
				id = value
			}
		}
	}
	flush()
	return out
}

// FuzzSSE cross-checks the event parser with the reference reading and runs
// the stream reassembly on any bytes.
func FuzzSSE(f *testing.F) {
	addGoldenBodies(f, ".sse", func(b []byte) { f.Add(b) })
	f.Add([]byte("data: a\r\ndata: b\r\r:c\nevent: e\nid: 1\ndata"))
	f.Add([]byte("\uFEFFdata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"x\"}}]}}]}\n\n"))
	f.Add([]byte("data: {\"type\":\"content_block_delta\",\"index\":-5,\"delta\":{\"type\":\"text_delta\",\"text\":\"\\ud800\"}}"))
	small := mustNew(f, WithMaxTextBytes(64))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := slices.Collect(SSEEvents(body))
		if want := referenceSSE(body); !slices.Equal(got, want) {
			t.Fatalf("events %q, reference %q", got, want)
		}
		a := assemble(body)
		_ = a.text()
		_ = a.partial()
		for _, x := range []Extractor{defaultExtractor, small} {
			p, err := x.Extract(Input{ResponseBody: body, ResponseContentType: "text/event-stream"})
			checkPair(t, x, p, err, body)
		}
	})
}

// checkPair checks the invariants of every extraction result.
func checkPair(t *testing.T, x Extractor, p Pair, err error, bodies ...[]byte) {
	t.Helper()
	max := x.(*extractor).cfg.maxText
	for _, s := range []string{p.Prompt, p.Response} {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8: %q", s)
		}
		if len(s) > max {
			t.Fatalf("text of %d bytes over the cap %d", len(s), max)
		}
	}
	if err != nil && !errors.Is(err, ErrBinary) && !errors.Is(err, ErrDecode) && !errors.Is(err, ErrEmptyResponse) {
		t.Fatalf("unexpected error kind: %v", err)
	}
	if err == nil && isBlank([]byte(p.Response)) {
		t.Fatalf("blank response without ErrEmptyResponse")
	}
	if err == nil && p.Format == "" {
		t.Fatalf("no format")
	}
	if p.PromptErr != nil && !errors.Is(p.PromptErr, ErrBinary) && !errors.Is(p.PromptErr, ErrDecode) {
		t.Fatalf("unexpected prompt error kind: %v", p.PromptErr)
	}
	for _, e := range []error{err, p.PromptErr} {
		if e == nil {
			continue
		}
		msg := e.Error()
		for _, b := range bodies {
			// Long enough not to occur in a fixed message by chance.
			if len(b) >= 24 && strings.Contains(msg, string(b)) {
				t.Fatalf("error carries body content: %v", e)
			}
		}
	}
}

// jsonDepth returns the nesting depth of a document, as far as
// encoding/json's tokenizer reads it.
func jsonDepth(doc []byte) int {
	dec := json.NewDecoder(bytes.NewReader(doc))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// FuzzExtractJSON checks the JSON parser against encoding/json, the
// closing of cut documents, and request and response extraction on any
// bytes.
func FuzzExtractJSON(f *testing.F) {
	addGoldenBodies(f, ".json", func(b []byte) {
		if !bytes.HasPrefix(b, []byte(`{`+"\n"+`  "status"`)) { // skip case.json files
			f.Add(b, uint16(len(b)/2))
		}
	})
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"a\u00e9\ud83d\ude00"}]}]}`), uint16(30))
	f.Add([]byte(`{"input":[{"type":"function_call_output","output":"x"}],"instructions":"y"}`), uint16(10))
	f.Add([]byte(`[1,-0.0e+5,true,false,null,"",{}]`), uint16(9))
	f.Add([]byte(`{"a":"\\\\\"\u0000"}`), uint16(7))
	small := mustNew(f, WithMaxTextBytes(64), WithPromptSelection(PromptAllTurns))
	f.Fuzz(func(t *testing.T, doc []byte, cut uint16) {
		var d jdoc
		err := d.parse(doc)
		valid := json.Valid(doc)
		deep := jsonDepth(doc) > maxJSONDepth
		switch {
		case valid && err != nil && !deep:
			t.Fatalf("rejected a document encoding/json accepts: %v", err)
		case !valid && err == nil && !bytes.ContainsFunc(doc, func(r rune) bool { return r < 0x20 }):
			t.Fatalf("accepted a document encoding/json rejects")
		}
		scanned, _ := appendStrings(nil, doc, "\x00", 0)
		if capped, over := appendStrings(nil, doc, "\x00", 16); len(capped) > 16 || !bytes.HasPrefix(scanned, capped) || over != (len(scanned) > 16) {
			t.Fatalf("capped scan %q over=%v, full %q", capped, over, scanned)
		}
		if valid && !deep && utf8.Valid(doc) {
			if want := referenceStrings(t, doc, "\x00"); string(scanned) != want {
				t.Fatalf("strings %q, reference %q", scanned, want)
			}
		}
		if valid && !deep {
			k := int(cut) % (len(doc) + 1)
			prefix := doc[:k]
			closed, ok := closeCut(prefix)
			if ok && !json.Valid(closed) {
				t.Fatalf("closeCut(%q) = %q, not valid", prefix, closed)
			}
			if !ok && !json.Valid(prefix) && bytes.ContainsAny(prefix, "{[") {
				if first := skipWS(doc, 0); doc[first] == '{' || doc[first] == '[' {
					t.Fatalf("closeCut(%q) failed on a cut document", prefix)
				}
			}
		}
		for _, x := range []Extractor{defaultExtractor, small} {
			for _, truncated := range []bool{false, true} {
				in := Input{
					RequestBody: doc, RequestContentType: "application/json", RequestTruncated: truncated,
					ResponseBody: doc, ResponseContentType: "application/json", ResponseTruncated: truncated,
				}
				p, err := x.Extract(in)
				checkPair(t, x, p, err, doc)
			}
		}
	})
}

// FuzzExtract runs whole inputs through the extractor.
func FuzzExtract(f *testing.F) {
	for _, dir := range goldenDirs(f) {
		in := loadGolden(f, dir)
		f.Add(in.RequestBody, in.RequestContentType, in.RequestContentEncoding, in.RequestTruncated,
			in.ResponseBody, in.ResponseContentType, in.ResponseContentEncoding, in.ResponseTruncated, in.ResponseStatus)
	}
	f.Add([]byte("x"), "", "gzip", false, gzipBytes(f, []byte(chatJSON)), "application/json", "gzip", false, 200)
	f.Add([]byte{}, "image/png", "", true, []byte("data: [DONE]"), "", "deflate", true, 204)
	small := mustNew(f, WithMaxTextBytes(16), WithMaxDecodedBytes(4096), WithPromptSelection(PromptLatestUser))
	f.Fuzz(func(t *testing.T, reqBody []byte, reqCT, reqEnc string, reqTrunc bool,
		respBody []byte, respCT, respEnc string, respTrunc bool, status int) {
		in := Input{
			RequestBody: reqBody, RequestContentType: reqCT, RequestContentEncoding: reqEnc, RequestTruncated: reqTrunc,
			ResponseBody: respBody, ResponseContentType: respCT, ResponseContentEncoding: respEnc, ResponseTruncated: respTrunc,
			ResponseStatus: status,
		}
		for _, x := range []Extractor{defaultExtractor, small} {
			p, err := x.Extract(in)
			checkPair(t, x, p, err, reqBody, respBody)
			if (reqTrunc || respTrunc) && !p.Partial {
				t.Fatalf("truncated capture not marked partial")
			}
		}
	})
}

// FuzzDecodeBody checks the decoder on any bytes and round-trips the input
// through each supported encoding.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte("hello"), "gzip", int64(100))
	f.Add(gzipBytes(f, []byte("hello hello hello")), "gzip", int64(10))
	f.Add(zlibBytes(f, []byte("deflated")), "deflate", int64(1<<20))
	f.Add(flateBytes(f, []byte("raw deflate")), "deflate", int64(1<<20))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"), "x-gzip, identity", int64(1))
	f.Add([]byte{}, "br", int64(0))
	f.Fuzz(func(t *testing.T, body []byte, enc string, limit int64) {
		out, err := DecodeBody(body, enc, limit)
		if err != nil && !errors.Is(err, ErrDecode) {
			t.Fatalf("error does not wrap ErrDecode: %v", err)
		}
		if limit <= 0 && err == nil {
			t.Fatalf("cap %d accepted", limit)
		}
		if err == nil && !identityOnly(enc) && int64(len(out)) > limit {
			t.Fatalf("decoded %d bytes over the cap %d", len(out), limit)
		}
		if err != nil && len(body) >= 24 && strings.Contains(err.Error(), string(body)) {
			t.Fatalf("error carries body content: %v", err)
		}
		encoders := []struct {
			name string
			w    func(io.Writer) io.WriteCloser
		}{
			{"gzip", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }},
			{"deflate", func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }},
			{"deflate", func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, flate.DefaultCompression); return fw }},
		}
		for _, e := range encoders {
			var buf bytes.Buffer
			w := e.w(&buf)
			if _, err := w.Write(body); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeBody(buf.Bytes(), e.name, int64(max(len(body), 1)))
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("%s round trip: %d bytes, %v", e.name, len(got), err)
			}
			if len(body) > 1 {
				if _, err := DecodeBody(buf.Bytes(), e.name, int64(len(body)-1)); !errors.Is(err, ErrDecode) {
					t.Fatalf("%s: one byte over the cap accepted: %v", e.name, err)
				}
			}
		}
	})
}

// identityOnly reports whether a Content-Encoding value names no coding
// but identity.
func identityOnly(enc string) bool {
	for _, c := range strings.Split(enc, ",") {
		if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
			return false
		}
	}
	return true
}
