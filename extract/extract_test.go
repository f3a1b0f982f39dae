package extract

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func flateBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		wantErr string // substring; "" for success
	}{
		{"defaults", nil, ""},
		{"all valid", []Option{WithMaxTextBytes(10), WithMaxDecodedBytes(100), WithPromptSelection(PromptAllTurns)}, ""},
		{"nil option", []Option{WithMaxTextBytes(10), nil}, "extract: option 2 is nil"},
		{"zero text cap", []Option{WithMaxTextBytes(0)}, "WithMaxTextBytes(0)"},
		{"negative text cap", []Option{WithMaxTextBytes(-1)}, "WithMaxTextBytes(-1)"},
		{"zero decode cap", []Option{WithMaxDecodedBytes(0)}, "WithMaxDecodedBytes(0)"},
		{"unknown selection", []Option{WithPromptSelection(PromptSelection(9))}, "WithPromptSelection(9)"},
		{"zero selection", []Option{WithPromptSelection(0)}, "WithPromptSelection(0)"},
		{"all errors reported", []Option{WithMaxTextBytes(0), WithMaxDecodedBytes(-5)}, "WithMaxDecodedBytes(-5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := New(tt.opts...)
			if tt.wantErr == "" {
				if err != nil || x == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || x != nil {
				t.Fatalf("New: %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	for s, want := range map[PromptSelection]string{PromptLatestUser: "latest_user", PromptLatestUserWithSystem: "latest_user_with_system", PromptAllTurns: "all_turns", 7: "PromptSelection(7)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", int(s), s.String())
		}
	}
}

func TestExtractorFunc(t *testing.T) {
	var x Extractor = ExtractorFunc(func(in Input) (Pair, error) {
		return Pair{Prompt: "p", Response: string(in.ResponseBody), Format: "custom"}, nil
	})
	p, err := x.Extract(Input{ResponseBody: []byte("r")})
	if err != nil || p != (Pair{Prompt: "p", Response: "r", Format: "custom"}) {
		t.Fatalf("got %+v, %v", p, err)
	}
}

const chatJSON = `{"choices":[{"index":0,"message":{"role":"assistant","content":"Gz\u00e9 ok"}}]}`

// TestContentEncoding covers decoding of compressed bodies and its failures.
func TestContentEncoding(t *testing.T) {
	plain := []byte(chatJSON)
	bomb := gzipBytes(t, bytes.Repeat([]byte{'a'}, 4<<20))
	gz := gzipBytes(t, plain)
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-8] ^= 0xff
	stream := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"streamed text\"}}]}\n\ndata: [DONE]\n\n")
	tests := []struct {
		name        string
		body        []byte
		encoding    string
		ctype       string
		truncated   bool
		want        string
		wantErr     error
		wantPartial bool
	}{
		{name: "gzip", body: gz, encoding: "gzip", want: "Gz\u00e9 ok"},
		{name: "x-gzip upper case", body: gz, encoding: " X-GZIP ", want: "Gz\u00e9 ok"},
		{name: "deflate zlib", body: zlibBytes(t, plain), encoding: "deflate", want: "Gz\u00e9 ok"},
		{name: "deflate raw", body: flateBytes(t, plain), encoding: "deflate", want: "Gz\u00e9 ok"},
		{name: "identity", body: plain, encoding: "identity", want: "Gz\u00e9 ok"},
		{name: "list with identity", body: gz, encoding: "identity, gzip", want: "Gz\u00e9 ok"},
		{name: "gzip twice", body: gzipBytes(t, gz), encoding: "gzip, gzip", want: "Gz\u00e9 ok"},
		{name: "deflate then gzip", body: gzipBytes(t, zlibBytes(t, plain)), encoding: "deflate, gzip", want: "Gz\u00e9 ok"},
		{name: "gzip event stream", body: gzipBytes(t, stream), encoding: "gzip", ctype: "text/event-stream", want: "streamed text"},
		{name: "gzip unlabelled JSON is sniffed after decoding", body: gz, encoding: "gzip", ctype: "-", want: "Gz\u00e9 ok"},
		{name: "zip bomb", body: bomb, encoding: "gzip", wantErr: ErrDecode},
		{name: "zip bomb deflate", body: zlibBytes(t, bytes.Repeat([]byte{'a'}, 4<<20)), encoding: "deflate", wantErr: ErrDecode},
		{name: "corrupt gzip", body: []byte("\x1f\x8b\x08\x00garbage-garbage-garbage"), encoding: "gzip", wantErr: ErrDecode},
		{name: "plain text labelled gzip (capture inside a compressor)", body: plain, encoding: "gzip", want: "Gz\u00e9 ok"},
		{name: "plain text labelled deflate", body: plain, encoding: "deflate", want: "Gz\u00e9 ok"},
		{name: "binary labelled gzip without the magic", body: bytes.Repeat([]byte{0x00, 0x01, 0x02, 0xff}, 8), encoding: "gzip", wantErr: ErrDecode},
		{name: "bad checksum", body: badCRC, encoding: "gzip", wantErr: ErrDecode},
		{name: "corrupt deflate", body: []byte{0xff, 0xff, 0xff, 0xff, 0xff}, encoding: "deflate", wantErr: ErrDecode},
		{name: "brotli unsupported", body: plain, encoding: "br", wantErr: ErrDecode},
		{name: "zstd unsupported", body: plain, encoding: "zstd", wantErr: ErrDecode},
		{name: "gzip cut by the capture cap", body: gz[:len(gz)-12], encoding: "gzip", truncated: true, want: "Gz\u00e9 ok", wantPartial: true},
		{name: "gzip stream cut without the flag", body: gzipBytes(t, stream)[:30], encoding: "gzip", ctype: "text/event-stream", wantErr: ErrEmptyResponse, wantPartial: true},
		{name: "empty gzip body", body: nil, encoding: "gzip", wantErr: ErrEmptyResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := "application/json"
			switch tt.ctype {
			case "-":
				ctype = ""
			case "":
			default:
				ctype = tt.ctype
			}
			p, err := Extract(Input{ResponseBody: tt.body, ResponseContentType: ctype, ResponseContentEncoding: tt.encoding, ResponseTruncated: tt.truncated})
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if p.Response != tt.want || p.Partial != tt.wantPartial {
				t.Errorf("got %q partial=%v, want %q partial=%v", p.Response, p.Partial, tt.want, tt.wantPartial)
			}
		})
	}
}

// TestDecodeBody checks the exported decoder's contract directly.
func TestDecodeBody(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	gz := gzipBytes(t, data)
	if out, err := DecodeBody(gz, "gzip", int64(len(data))); err != nil || !bytes.Equal(out, data) {
		t.Fatalf("exact cap: %d bytes, %v", len(out), err)
	}
	if _, err := DecodeBody(gz, "gzip", int64(len(data)-1)); !errors.Is(err, ErrDecode) {
		t.Fatalf("one byte over the cap: %v", err)
	}
	out, err := DecodeBody(gz[:len(gz)/2], "gzip", 1<<20)
	if !errors.Is(err, ErrDecode) || !errors.Is(err, io.ErrUnexpectedEOF) || len(out) == 0 || !bytes.HasPrefix(data, out) {
		t.Fatalf("cut data: %d bytes, %v", len(out), err)
	}
	if out, err := DecodeBody(gz, "gzip", math.MaxInt64); err != nil || !bytes.Equal(out, data) {
		t.Fatalf("largest cap: %d bytes, %v", len(out), err)
	}
	if _, err := DecodeBody(gz, "gzip", 0); !errors.Is(err, ErrDecode) {
		t.Fatalf("zero cap: %v", err)
	}
	if out, err := DecodeBody(data, "", 1); err != nil || !bytes.Equal(out, data) {
		t.Fatalf("identity is not capped: %v", err)
	}
	for _, enc := range []string{"br", "compress", strings.Repeat("x", 100), "gzip\x00<script>"} {
		_, err := DecodeBody(data, enc, 1<<20)
		if !errors.Is(err, ErrDecode) {
			t.Fatalf("%q: %v", enc, err)
		}
		if len(enc) > 32 || strings.ContainsAny(enc, "\x00<") {
			if strings.Contains(err.Error(), enc) {
				t.Errorf("error repeats an unsafe header value: %v", err)
			}
		}
	}
}

// TestBinary checks that binary content types are skipped with ErrBinary on
// the response side and give an empty prompt with PromptErr on the request
// side.
func TestBinary(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")
	types := []string{"image/png", "IMAGE/JPEG; q=1", "audio/mpeg", "video/mp4", "application/octet-stream", "application/pdf",
		"multipart/form-data; boundary=x", "font/woff2", "application/x-protobuf", "application/zip", "application/grpc+proto"}
	for _, ct := range types {
		t.Run(ct, func(t *testing.T) {
			_, err := Extract(Input{ResponseBody: []byte("some bytes"), ResponseContentType: ct})
			if !errors.Is(err, ErrBinary) {
				t.Errorf("response: %v, want ErrBinary", err)
			}
			p, err := Extract(Input{RequestBody: []byte("some bytes"), RequestContentType: ct, ResponseBody: []byte("ok"), ResponseContentType: "text/plain"})
			if err != nil || p.Prompt != "" || !errors.Is(p.PromptErr, ErrBinary) || p.Response != "ok" {
				t.Errorf("request: %+v, %v", p, err)
			}
		})
	}
	sniffed := []struct {
		name, ctype string
		body        []byte
		want        error
	}{
		{"unlabelled PNG", "", png, ErrBinary},
		{"unknown application type with binary bytes", "application/x-custom", png, ErrBinary},
		{"unknown application type with text", "application/x-custom", []byte("hello there"), nil},
		{"unlabelled text", "", []byte("hello there"), nil},
	}
	for _, tt := range sniffed {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Extract(Input{ResponseBody: tt.body, ResponseContentType: tt.ctype})
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestClassify checks content type handling and the correction of
// mislabelled bodies.
func TestClassify(t *testing.T) {
	tests := []struct {
		ctype, body string
		want        bodyKind
	}{
		{"application/json", `{"a":1}`, kindJSON},
		{"application/json; charset=utf-8", `  [1]`, kindJSON},
		{"application/problem+json", `{"a":1}`, kindJSON},
		{"application/json", "data: {}\n\n", kindSSE},
		{"text/event-stream", "data: x\n\n", kindSSE},
		{"text/event-stream", `{"error":{"message":"bad"}}`, kindJSON},
		{"text/plain", `{"a":1}`, kindText},
		{"text/html", "<p>x</p>", kindText},
		{"", `{"a":1}`, kindJSON},
		{"", "event: x\ndata: y\n\n", kindSSE},
		{"", "plain words", kindText},
		{"application/xml", "<a/>", kindText},
		{"application/x-www-form-urlencoded", "a=b", kindText},
		{"image/png", "x", kindBinary},
		{"application/json", "", kindEmpty},
	}
	for _, tt := range tests {
		if got := classify(tt.ctype, []byte(tt.body)); got != tt.want {
			t.Errorf("classify(%q, %q) = %v, want %v", tt.ctype, tt.body, got, tt.want)
		}
	}
}

// TestTextCap checks truncation at rune boundaries on both sides and the
// priorities of prompt selection under the cap.
func TestTextCap(t *testing.T) {
	long := strings.Repeat("\u00e9t\u00e9 ", 100) // 6 bytes per repeat, 2-byte runes
	x := mustNew(t, WithMaxTextBytes(52))         // byte 52 is inside a rune
	p, err := x.Extract(Input{RequestBody: []byte(long), RequestContentType: "text/plain", ResponseBody: []byte(long), ResponseContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{p.Prompt, p.Response} {
		if len(s) != 51 || !utf8.ValidString(s) || !strings.HasPrefix(long, s) {
			t.Errorf("cut text %q (%d bytes)", s, len(s))
		}
	}
	if !p.Truncated || p.Partial {
		t.Errorf("Truncated=%v Partial=%v", p.Truncated, p.Partial)
	}

	sys := strings.Repeat("S", 100)
	user := "the latest user question"
	req := fmt.Sprintf(`{"messages":[{"role":"system","content":%q},{"role":"user","content":"old turn"},{"role":"assistant","content":"old answer"},{"role":"user","content":%q}]}`, sys, user)
	in := Input{RequestBody: []byte(req), RequestContentType: "application/json", ResponseBody: []byte("ok"), ResponseContentType: "text/plain"}
	tests := []struct {
		name string
		sel  PromptSelection
		max  int
		want string
	}{
		{"system cut for the user turn", PromptLatestUserWithSystem, 60, sys[:35] + "\n" + user},
		{"system keeps half the cap", PromptLatestUserWithSystem, 40, sys[:20] + "\n" + user[:19]},
		{"all turns keep the latest", PromptAllTurns, 30, "nswer\n" + user},
		{"user turn alone cut at the end", PromptLatestUser, 10, user[:10]},
		{"everything fits", PromptLatestUser, 1000, user},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mustNew(t, WithPromptSelection(tt.sel), WithMaxTextBytes(tt.max)).Extract(in)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Prompt) > tt.max {
				t.Errorf("prompt of %d bytes over the cap %d", len(p.Prompt), tt.max)
			}
			if p.Prompt != tt.want || p.Truncated != (tt.max < 1000) {
				t.Errorf("got %q truncated=%v, want %q", p.Prompt, p.Truncated, tt.want)
			}
		})
	}
}

// TestTextCapJSON checks the cap where text is collected from JSON, which
// stops collecting past the cap.
func TestTextCapJSON(t *testing.T) {
	word := "na\u00efve " // 7 bytes
	many := strings.Repeat(word, 40)
	invalid := strings.Repeat("\xff\xfe\xfd", 30) // runs that repair to one U+FFFD each
	tests := []struct {
		name, req, resp string
		wantPrompt      string
		wantResp        string
	}{
		{
			name:       "chat response and latest user turn over the cap",
			req:        `{"messages":[{"role":"user","content":[{"type":"text","text":"` + many + `"},{"type":"text","text":"more"}]}]}`,
			resp:       `{"choices":[{"message":{"content":"` + many + `"}}]}`,
			wantPrompt: strings.Repeat(word, 4), wantResp: strings.Repeat(word, 4),
		},
		{
			name: "unknown JSON over the cap",
			req:  `{"q":["` + many + `"]}`, resp: `{"a":{"b":"` + many + `","c":"x"}}`,
			wantPrompt: strings.Repeat(word, 4), wantResp: strings.Repeat(word, 4),
		},
		{
			name:       "many small strings over the cap",
			req:        `{"prompt":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p"]}`,
			resp:       `{"x":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p"]}`,
			wantPrompt: "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n",
			wantResp:   "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n",
		},
		{
			name: "invalid bytes that shrink on repair are still marked",
			req:  `{"prompt":"ok"}`, resp: `{"choices":[{"message":{"content":"` + invalid + `"}}]}`,
			wantPrompt: "ok", wantResp: "\uFFFD",
		},
	}
	x := mustNew(t, WithMaxTextBytes(28)) // 28 bytes = 4 words
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := x.Extract(Input{RequestBody: []byte(tt.req), RequestContentType: "application/json", ResponseBody: []byte(tt.resp), ResponseContentType: "application/json"})
			if err != nil {
				t.Fatal(err)
			}
			if p.Prompt != tt.wantPrompt {
				t.Errorf("prompt %q, want %q", p.Prompt, tt.wantPrompt)
			}
			if p.Response != tt.wantResp {
				t.Errorf("response %q, want %q", p.Response, tt.wantResp)
			}
			if !p.Truncated {
				t.Error("not marked truncated")
			}
		})
	}
}

// TestInvalidUTF8InJSON checks repair of invalid bytes inside JSON strings
// and of escapes that encode lone surrogates.
func TestInvalidUTF8InJSON(t *testing.T) {
	req := []byte("{\"messages\":[{\"role\":\"user\",\"content\":\"bad \xff\xfe bytes \\udc00 end\"}]}")
	resp := []byte("{\"choices\":[{\"message\":{\"content\":\"ok \xc3\"}}]}")
	p, err := Extract(Input{RequestBody: req, RequestContentType: "application/json", ResponseBody: resp, ResponseContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Prompt != "bad \uFFFD bytes \uFFFD end" || p.Response != "ok \uFFFD" || p.Format != FormatOpenAIChat {
		t.Errorf("got %q / %q / %s", p.Prompt, p.Response, p.Format)
	}
}

// TestPromptSelectionEdges covers conversations without a plain latest
// user message.
func TestPromptSelectionEdges(t *testing.T) {
	tests := []struct {
		name, req string
		want      [3]string // latest user, with system, all turns
	}{
		{
			name: "no user message",
			req:  `{"messages":[{"role":"system","content":"sys"},{"role":"assistant","content":"hi"},{"role":"tool","content":"result"}]}`,
			want: [3]string{"result", "sys\nresult", "sys\nhi\nresult"},
		},
		{
			name: "user message of tool results only",
			req:  `{"system":"S","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"R"}]}]}`,
			want: [3]string{"R", "S\nR", "S\nR"},
		},
		{
			name: "unknown role counts as user, system anywhere",
			req:  `{"messages":[{"role":"user","content":"q1"},{"role":"critic","content":"q2"},{"role":"system","content":"late rule"}]}`,
			want: [3]string{"q2", "late rule\nq2", "q1\nq2\nlate rule"},
		},
		{
			name: "responses instructions as a list",
			req:  `{"instructions":[{"role":"developer","content":"D"}],"input":[{"role":"user","content":"U"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"O"}]}]}`,
			want: [3]string{"U\nO", "D\nU\nO", "D\nU\nO"},
		},
		{
			name: "escaped member names",
			req:  `{"m\u0065ssages":[{"role":"us\u0065r","content":"escaped"}]}`,
			want: [3]string{"escaped", "escaped", "escaped"},
		},
		{
			name: "duplicate member: the last wins",
			req:  `{"messages":[{"role":"user","content":"first","content":"second"}]}`,
			want: [3]string{"second", "second", "second"},
		},
		{
			name: "completions token arrays carry no text",
			req:  `{"prompt":[[1,2,3]],"suffix":"tail"}`,
			want: [3]string{"tail", "tail", "tail"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, sel := range []PromptSelection{PromptLatestUser, PromptLatestUserWithSystem, PromptAllTurns} {
				p, err := mustNew(t, WithPromptSelection(sel)).Extract(Input{RequestBody: []byte(tt.req), RequestContentType: "application/json", ResponseBody: []byte("r"), ResponseContentType: "text/plain"})
				if err != nil {
					t.Fatal(err)
				}
				if p.Prompt != tt.want[i] {
					t.Errorf("%v: got %q, want %q", sel, p.Prompt, tt.want[i])
				}
			}
		})
	}
}

// TestNoContentInErrors plants a canary in every body that fails and checks
// that no error message carries it.
func TestNoContentInErrors(t *testing.T) {
	const canary = "CANARY-7f3a9c-secret-text"
	body := []byte(`{"choices":[{"message":{"content":"` + canary + `"}}]}`)
	inputs := []Input{
		{ResponseBody: []byte(canary), ResponseContentType: "image/png"},
		{ResponseBody: append([]byte{0x1f, 0x8b}, body...), ResponseContentEncoding: "gzip"},
		{ResponseBody: body, ResponseContentEncoding: "br"},
		{ResponseBody: gzipBytes(t, bytes.Repeat([]byte(canary), 100000)), ResponseContentEncoding: "gzip"},
		{ResponseBody: []byte(`{"choices":[{"message":{"content":""}}],"id":"` + canary + `"}`), ResponseContentType: "application/json"},
		{RequestBody: []byte(canary), RequestContentType: "audio/wav", RequestContentEncoding: "br", ResponseBody: body},
	}
	for i, in := range inputs {
		p, err := Extract(in)
		for _, e := range []error{err, p.PromptErr} {
			if e != nil && strings.Contains(e.Error(), canary) {
				t.Errorf("input %d: error carries content: %v", i, e)
			}
		}
		if err == nil && p.PromptErr == nil {
			t.Errorf("input %d: no error", i)
		}
	}
}

// TestJSONParser checks the parser against encoding/json on valid and
// invalid documents, and the tolerant scanner on both.
func TestJSONParser(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `""`, `0`, `-0.5e+10`, `true`, `null`, ` {"a" : [1, 2.5, "x", {"b": null}], "c": false} `,
		`{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, `[[[[]]]]`, `{"a":{"b":{"c":"d"}}}`,
		`{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `1e`, `tru`, `nul`, `"abc`, `"\x"`, `"\u12"`,
		`{"a":1}}`, `[1 2]`, `{1:2}`, `[1]x`, "\"a\x01b\"",
	}
	for _, doc := range docs {
		var d jdoc
		err := d.parse([]byte(doc))
		valid := jsonValid([]byte(doc))
		if valid && err != nil {
			t.Errorf("%q: rejected a valid document: %v", doc, err)
		}
		if !valid && err == nil && !strings.ContainsRune(doc, '\x01') {
			t.Errorf("%q: accepted an invalid document", doc)
		}
		if valid {
			if got, _ := appendStrings(nil, []byte(doc), "|", 0); string(got) != referenceStrings(t, []byte(doc), "|") {
				t.Errorf("%q: strings %q, want %q", doc, got, referenceStrings(t, []byte(doc), "|"))
			}
		}
	}
	var deep jdoc
	if err := deep.parse([]byte(strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1))); err == nil {
		t.Error("no depth limit")
	}
}

// TestCloseCut checks the closing of JSON documents cut short.
func TestCloseCut(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`{"a":"hel`, `{"a":"hel"}`, true},
		{`{"a":["x","y`, `{"a":["x","y"]}`, true},
		{`{"a":["x",`, `{"a":["x"]}`, true},
		{`{"a":{"b":1},"c`, `{"a":{"b":1}}`, true},
		{`{"a":12`, `{}`, true},
		{`{"a":true,"b":nu`, `{"a":true}`, true},
		{`[{"t":"x\`, `[{"t":"x"}]`, true},
		{`[{"t":"x\u00`, `[{"t":"x"}]`, true},
		{`["\ud83d`, `[""]`, true},
		{`["a\\`, `["a\\"]`, true},
		{`{"a":"b"}`, ``, false},
		{`"abc`, ``, false},
		{`{"a":1}{`, ``, false},
		{`{"a":]`, ``, false},
		{`plain`, ``, false},
	}
	for _, tt := range tests {
		got, ok := closeCut([]byte(tt.in))
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("closeCut(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && !jsonValid(got) {
			t.Errorf("closeCut(%q) = %q is not valid JSON", tt.in, got)
		}
	}
}

// TestPlainBodyLabelledCompressed covers a capture mounted inside a
// compressing middleware: the header says gzip or deflate, the bytes are plain.
func TestPlainBodyLabelledCompressed(t *testing.T) {
	for _, enc := range []string{"gzip", "deflate", "x-gzip"} {
		p, err := Extract(Input{
			ResponseBody:            []byte(`{"choices":[{"message":{"role":"assistant","content":"plain after all"}}]}`),
			ResponseContentType:     "application/json",
			ResponseContentEncoding: enc,
			ResponseStatus:          200,
		})
		if err != nil || p.Response != "plain after all" {
			t.Errorf("%s: %q, %v", enc, p.Response, err)
		}
	}
	// Real compressed bytes that are corrupt still fail.
	if _, err := Extract(Input{ResponseBody: []byte("\x1f\x8b\x08\x00garbage-garbage-garbage"), ResponseContentType: "text/plain",
		ResponseContentEncoding: "gzip", ResponseStatus: 200}); !errors.Is(err, ErrDecode) {
		t.Errorf("corrupt gzip: %v, want ErrDecode", err)
	}
}

// TestDecodeBodyPlainOverCap checks that a plain body labelled compressed,
// which DecodeBody passes through as already decoded, is held to the cap as
// its decoding would be (found by FuzzDecodeBody).
func TestDecodeBodyPlainOverCap(t *testing.T) {
	plain := []byte("plain text sent as it is")
	for _, enc := range []string{"gzip", "x-gzip", "deflate", "gzip, identity"} {
		if out, err := DecodeBody(plain, enc, int64(len(plain))); err != nil || !bytes.Equal(out, plain) {
			t.Errorf("%s, exact cap: %q, %v", enc, out, err)
		}
		if out, err := DecodeBody(plain, enc, int64(len(plain)-1)); !errors.Is(err, ErrDecode) || out != nil {
			t.Errorf("%s, one byte over the cap: %q, %v; want ErrDecode", enc, out, err)
		}
	}
}
