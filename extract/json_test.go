package extract

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDocStrings checks that the string values read from a parsed document
// are those read from its bytes, for every golden JSON body and every prefix
// of it that parses or closes.
func TestDocStrings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	docs := [][]byte{[]byte(`{"a":["x\u00e9\ud83d\ude00","",{"b":"y\n"}],"c":"\ud800"}`)}
	for _, f := range files {
		if filepath.Base(f) != "case.json" && filepath.Base(f) != "want.json" {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, b)
		}
	}
	var d jdoc
	for _, doc := range docs {
		for cut := 0; cut <= len(doc); cut++ {
			body := doc[:cut]
			var s side
			if !parseJSON(&d, body, &s) {
				continue
			}
			for _, limit := range []int{0, 16} {
				want, wantOver := appendStrings(nil, body, "|", limit)
				got, over := d.appendStrings(nil, "|", limit)
				if !bytes.Equal(got, want) || over != wantOver {
					t.Fatalf("%q limit %d: document gives %q %v, bytes %q %v", body, limit, got, over, want, wantOver)
				}
			}
		}
	}
}

// TestAppendStringsTolerant covers the reading of bodies that are not one
// complete JSON document.
func TestAppendStringsTolerant(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"b"} {"c":["d"]}`, "b|d"},
		{"{\"x\":\"y\"}\n{\"z\":\"w\"}\n", "y|w"},
		{`{"a":"hel`, "hel"},
		{`{"messa`, ""},
		{`["ab\u00`, "ab"},
		{`["ab\`, "ab"},
		{`["ab\ud83d`, "ab"},
		{`["ab\ud83d\ud`, "ab"},
		{`["ab\ud83d\ude00`, "ab\U0001F600"},
		{`["ab\udc00`, "ab\uFFFD"},
		{`{"a":"x", oops "y"}`, `x|oops "y"}`},
		{`{"t":NaN,"m":"evil"}`, `NaN,"m":"evil"}`},
		{`not JSON at all`, `not JSON at all`},
		{"[\"a\x01b\"]", "\"a\x01b\"]"},
	}
	for _, tt := range tests {
		if got, _ := appendStrings(nil, []byte(tt.in), "|", 0); string(got) != tt.want {
			t.Errorf("appendStrings(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnquoteInvalidUTF8 checks that invalid bytes in an escaped string
// are kept for the repair that turns each run into one U+FFFD.
func TestUnquoteInvalidUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\"a\xff\xfe\\n\xc3\\u00e9\"", "a\xff\xfe\n\xc3\u00e9"},
		{"\"\xffab\\\"", "\xffab\""}, // cut after an escaped quote
		{"\"ab\xff\"", "ab\xff"},
	}
	for _, tt := range tests {
		if got := appendUnquoted(nil, []byte(tt.in)); string(got) != tt.want {
			t.Errorf("appendUnquoted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEscapedNames checks that member names and type names written with
// escape sequences are read as their text, as encoding/json reads them,
// including a name short enough to be skipped unless decoded.
func TestEscapedNames(t *testing.T) {
	const js, sse = "application/json", "text/event-stream"
	tests := []struct {
		name           string
		in             Input
		format         string
		prompt, answer string
	}{
		{"chat", Input{
			RequestBody:  []byte(`{"m\u0065ssages":[{"\u0072ole":"\u0073ystem","content":"be brief"},{"role":"user","\u0063ontent":"hi"}]}`),
			ResponseBody: []byte(`{"\u0063hoices":[{"m\u0065ssage":{"cont\u0065nt":"hello"}}]}`),
		}, FormatOpenAIChat, "be brief\nhi", "hello"},
		{"anthropic blocks", Input{
			RequestBody:  []byte(`{"system":"s","messages":[{"role":"user","content":[{"\u0074ype":"t\u0065xt","\u0074ext":"q"}]}]}`),
			ResponseBody: []byte(`{"type":"m\u0065ssage","content":[{"type":"text","t\u0065xt":"a"}]}`),
		}, FormatAnthropicMessages, "s\nq", "a"},
		{"anthropic stream", Input{
			RequestBody: []byte(`{"messages":[{"role":"user","content":"q"}]}`),
			ResponseBody: []byte("data: {\"t\\u0079pe\":\"content_block_d\\u0065lta\",\"ind\\u0065x\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n\n" +
				"data: {\"type\":\"message_stop\"}\n\n"),
			ResponseContentType: sse,
		}, FormatAnthropicMessagesStream, "q", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.RequestContentType = js
			if tt.in.ResponseContentType == "" {
				tt.in.ResponseContentType = js
			}
			p, err := Extract(tt.in)
			if err != nil || p.Format != tt.format || p.Prompt != tt.prompt || p.Response != tt.answer || p.Partial {
				t.Fatalf("got %+v, %v; want format %s, prompt %q, response %q", p, err, tt.format, tt.prompt, tt.answer)
			}
		})
	}
}
