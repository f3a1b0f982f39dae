package extract

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// streamCases are the golden cases whose response is a complete event
// stream ending with its terminal event.
var streamCases = []string{
	"openai_chat_stream",
	"openai_chat_stream_tools",
	"openai_chat_stream_refusal",
	"openai_chat_stream_multiline",
	"openai_completions_stream",
	"openai_responses_stream",
	"openai_responses_stream_refusal",
	"anthropic_messages_stream",
	"sse_unknown",
}

func goldenInput(t testing.TB, name string) Input {
	t.Helper()
	return loadGolden(t, filepath.Join("testdata", "golden", name))
}

// lineEndings rewrites an LF stream with other line endings.
var lineEndings = []struct {
	name string
	conv func([]byte) []byte
}{
	{"LF", func(b []byte) []byte { return b }},
	{"CRLF", func(b []byte) []byte { return bytes.ReplaceAll(normalizeLF(b), []byte("\n"), []byte("\r\n")) }},
	{"CR", func(b []byte) []byte { return bytes.ReplaceAll(normalizeLF(b), []byte("\n"), []byte("\r")) }},
}

// normalizeLF turns CRLF and CR line endings into LF.
func normalizeLF(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
}

// TestStreamLineEndings checks that every stream gives the same pair with
// LF, CRLF and CR line endings, with and without its final newline.
func TestStreamLineEndings(t *testing.T) {
	for _, name := range streamCases {
		in := goldenInput(t, name)
		want, wantErr := Extract(in)
		if wantErr != nil {
			t.Fatalf("%s: %v", name, wantErr)
		}
		for _, le := range lineEndings {
			for _, trim := range []bool{false, true} {
				tin := in
				tin.ResponseBody = le.conv(in.ResponseBody)
				if trim {
					tin.ResponseBody = bytes.TrimRight(tin.ResponseBody, "\r\n")
				}
				got, err := Extract(tin)
				want := want
				if trim && name == "sse_unknown" {
					// A stream of unknown format has no terminal event:
					// an unterminated last event may have been cut.
					want.Partial = true
				}
				if err != nil || got != want {
					t.Errorf("%s %s trimmed=%v: got %+v, %v; want %+v", name, le.name, trim, got, err, want)
				}
			}
		}
	}
}

// terminalEnd returns the offset just after the last data line of a
// stream: a cut before it loses the terminal event.
func terminalEnd(body []byte) int {
	i := bytes.LastIndex(body, []byte("data:"))
	if j := bytes.IndexAny(body[i:], "\r\n"); j >= 0 {
		return i + j
	}
	return len(body)
}

// TestStreamEveryCut feeds every prefix of every stream, as a capture cut
// by its cap (and, separately, as a stream the client left), and checks that
// extraction does not fail, gives valid UTF-8, marks the pair partial, and
// yields a prefix-consistent subset of the full text: the same texts (per
// choice, content block or tool call) in the same order, each a prefix of
// its full version.
func TestStreamEveryCut(t *testing.T) {
	for _, name := range streamCases {
		for _, le := range lineEndings[:2] {
			if le.name != "LF" && !strings.HasPrefix(name, "openai_chat_stream") && name != "anthropic_messages_stream" {
				continue // CRLF for some streams keeps the test quick under -race
			}
			t.Run(name+"/"+le.name, func(t *testing.T) {
				t.Parallel()
				in := goldenInput(t, name)
				full := le.conv(in.ResponseBody)
				fullAsm := assemble(full)
				fullSegs := fullAsm.segs
				if fullAsm.kind == streamUnknown {
					fullSegs = [][]byte{fullAsm.text()}
				}
				fullPair, err := Extract(Input{ResponseBody: full, ResponseContentType: in.ResponseContentType})
				if err != nil {
					t.Fatal(err)
				}
				term := terminalEnd(full)
				for cut := 0; cut < len(full); cut++ {
					prefix := full[:cut]
					a := assemble(trimCutRune(prefix))
					for _, truncated := range []bool{true, false} {
						p, err := Extract(Input{
							RequestBody: in.RequestBody, RequestContentType: in.RequestContentType,
							ResponseBody: prefix, ResponseContentType: in.ResponseContentType, ResponseTruncated: truncated,
						})
						if err != nil && !errors.Is(err, ErrEmptyResponse) {
							t.Fatalf("cut %d: %v", cut, err)
						}
						if !utf8.ValidString(p.Response) {
							t.Fatalf("cut %d: invalid UTF-8 %q", cut, p.Response)
						}
						if !truncated && errors.Is(err, ErrEmptyResponse) && fullAsm.kind != streamUnknown && a.kind == streamUnknown {
							continue // no event of the format yet: nothing to check, partial or not
						}
						if wantPartial := truncated || cut < term; fullAsm.kind != streamUnknown && wantPartial != p.Partial {
							t.Fatalf("cut %d truncated=%v: Partial=%v, want %v", cut, truncated, p.Partial, wantPartial)
						}
						if truncated && !p.Partial {
							t.Fatalf("cut %d: truncated capture not marked partial", cut)
						}
						if len(fullAsm.segs) <= 1 && !strings.HasPrefix(fullPair.Response, p.Response) {
							t.Fatalf("cut %d: response %q is not a prefix of the full %q", cut, p.Response, fullPair.Response)
						}
					}
					segs := a.segs
					if a.kind == streamUnknown {
						segs = [][]byte{a.text()}
					}
					if fullAsm.kind != streamUnknown && a.kind != streamUnknown && a.kind != fullAsm.kind {
						t.Fatalf("cut %d: kind %v, want %v", cut, a.kind, fullAsm.kind)
					}
					if a.kind != streamUnknown || fullAsm.kind == streamUnknown {
						if len(segs) > len(fullSegs) {
							t.Fatalf("cut %d: %d texts, the full stream has %d", cut, len(segs), len(fullSegs))
						}
						for i, s := range segs {
							if !bytes.HasPrefix(fullSegs[i], s) {
								t.Fatalf("cut %d: text %d %q is not a prefix of %q", cut, i, s, fullSegs[i])
							}
						}
					} else if len(a.text()) != 0 {
						t.Fatalf("cut %d: text %q before the format was recognised", cut, a.text())
					}
				}
			})
		}
	}
}

// TestStreamCutInRune cuts a stream inside each byte of multi-byte runes,
// in raw data and in JSON data.
func TestStreamCutInRune(t *testing.T) {
	tests := []struct {
		name, body, want string
		cuts             []string // the stream is cut after each byte of the first occurrence of each
	}{
		{
			name: "raw data", body: "data: caf\u00e9 \u2615 \U0001F600\n\n",
			want: "caf\u00e9 \u2615 \U0001F600", cuts: []string{"\u00e9", "\u2615", "\U0001F600"},
		},
		{
			name: "chat JSON", body: "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"na\u00efve\"}}]}\n\n" +
				"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \U0001F600 ok\"}}]}\n\ndata: [DONE]\n\n",
			want: "na\u00efve \U0001F600 ok", cuts: []string{"\U0001F600"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			for _, r := range tt.cuts {
				at := strings.Index(tt.body, r)
				for k := 1; k < len(r); k++ {
					for _, truncated := range []bool{true, false} {
						p, err := Extract(Input{ResponseBody: body[:at+k], ResponseContentType: "text/event-stream", ResponseTruncated: truncated})
						if err != nil && !errors.Is(err, ErrEmptyResponse) {
							t.Fatal(err)
						}
						if !utf8.ValidString(p.Response) || strings.ContainsRune(p.Response, utf8.RuneError) {
							t.Fatalf("cut at %d: %q", at+k, p.Response)
						}
						if !strings.HasPrefix(tt.want, p.Response) || !p.Partial {
							t.Fatalf("cut at %d: %q partial=%v, want a prefix of %q, partial", at+k, p.Response, p.Partial, tt.want)
						}
					}
				}
			}
			p, err := Extract(Input{ResponseBody: body, ResponseContentType: "text/event-stream"})
			if err != nil || p.Response != tt.want {
				t.Fatalf("whole stream: %q, %v", p.Response, err)
			}
		})
	}
}

// TestSSEEvents checks the event parser against the examples of the SSE
// specification and the cases it spells out.
func TestSSEEvents(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Event
	}{
		{"spec stock ticker", "data: YHOO\ndata: +2\ndata: 10\n\n", []Event{{"message", "YHOO\n+2\n10", ""}}},
		{"spec comment and ids", ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			[]Event{{"message", "first event", "1"}, {"message", "second event", ""}, {"message", " third event", ""}}},
		{"spec empty data", "data\n\ndata\ndata\n\ndata:", []Event{{"message", "", ""}, {"message", "\n", ""}, {"message", "", ""}}},
		{"spec space after colon", "data:test\n\ndata: test\n\n", []Event{{"message", "test", ""}, {"message", "test", ""}}},
		{"event type resets", "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\ndata: 113411\n\n",
			[]Event{{"add", "73857293", ""}, {"remove", "2153", ""}, {"message", "113411", ""}}},
		{"event without data is not dispatched", "event: ping\n\ndata: x\n\n", []Event{{"message", "x", ""}}},
		{"CRLF", "data: a\r\ndata: b\r\n\r\n", []Event{{"message", "a\nb", ""}}},
		{"CR", "data: a\rdata: b\r\r", []Event{{"message", "a\nb", ""}}},
		{"mixed endings", "data: a\r\n\ndata: b\r\rdata: c\n\r\n", []Event{{"message", "a", ""}, {"message", "b", ""}, {"message", "c", ""}}},
		{"BOM", "\uFEFFdata: x\n\n", []Event{{"message", "x", ""}}},
		{"unknown fields and retry ignored", "retry: 10\nfoo: bar\ndata: x\n\n", []Event{{"message", "x", ""}}},
		{"id with NUL ignored", "id: 7\n\nid: a\x00b\ndata: x\n\n", []Event{{"message", "x", "7"}}},
		{"colon in value kept", "data: a: b\n\n", []Event{{"message", "a: b", ""}}},
		{"unterminated final event dispatched", "data: x\n\ndata: y", []Event{{"message", "x", ""}, {"message", "y", ""}}},
		{"comments only", ": a\n: b\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Collect(SSEEvents([]byte(tt.body)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
	// Stopping early.
	n := 0
	for range SSEEvents([]byte("data: 1\n\ndata: 2\n\n")) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("iteration did not stop: %d", n)
	}
}

// TestStreamEvents covers stream details the golden files do not.
func TestStreamEvents(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		want        string
		wantFormat  string
		wantPartial bool
	}{
		{
			name: "two choices interleaved",
			body: `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"A1"}},{"index":1,"delta":{"content":"B1"}}]}` + "\n\n" +
				`data: {"object":"chat.completion.chunk","choices":[{"index":1,"delta":{"content":" B2"}}]}` + "\n\n" +
				`data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" A2"}}]}` + "\n\ndata: [DONE]\n\n",
			want: "A1 A2\nB1 B2", wantFormat: FormatOpenAIChatStream,
		},
		{
			name: "content then tool call in one choice, legacy function_call",
			body: `data: {"choices":[{"index":0,"delta":{"content":"Calling."}}]}` + "\n\n" +
				`data: {"choices":[{"index":0,"delta":{"function_call":{"name":"f","arguments":"{\"a\""}}}]}` + "\n\n" +
				`data: {"choices":[{"index":0,"delta":{"function_call":{"arguments":":1}"}}}]}` + "\n\ndata: [DONE]",
			want: "Calling.\n{\"a\":1}", wantFormat: FormatOpenAIChatStream,
		},
		{
			name: "escaped text and surrogate pairs",
			body: `data: {"choices":[{"delta":{"content":"Tab\there \"q\" \u00e9 \ud83d\ude00 \ud800x"}}]}` + "\n\ndata: [DONE]\n\n",
			want: "Tab\there \"q\" \u00e9 \U0001F600 \uFFFDx", wantFormat: FormatOpenAIChatStream,
		},
		{
			name: "chat stream without DONE is partial",
			body: `data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}` + "\n\n",
			want: "Hi", wantFormat: FormatOpenAIChatStream, wantPartial: true,
		},
		{
			name: "events after DONE ignored",
			body: "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",
			want: "a", wantFormat: FormatOpenAIChatStream,
		},
		{
			name: "error object in a chat stream is ignored",
			body: "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\"}}\n\n",
			want: "a", wantFormat: FormatOpenAIChatStream, wantPartial: true,
		},
		{
			name: "responses failed is partial",
			body: "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"Half\"}\n\n" +
				"data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"message\":\"server\"}}}\n\n",
			want: "Half", wantFormat: FormatOpenAIResponsesStream, wantPartial: true,
		},
		{
			name: "responses incomplete is complete",
			body: "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"Max\"}\n\n" +
				"data: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\"}}\n\n",
			want: "Max", wantFormat: FormatOpenAIResponsesStream,
		},
		{
			name: "responses done text completes missed deltas",
			body: "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n\n" +
				"data: {\"type\":\"response.output_text.done\",\"output_index\":0,\"content_index\":0,\"text\":\"Hello\"}\n\n" +
				"data: {\"type\":\"response.completed\",\"response\":{\"instructions\":\"secret system text\"}}\n\n",
			want: "Hello", wantFormat: FormatOpenAIResponsesStream,
		},
		{
			name: "anthropic block start text and tool without deltas",
			body: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\n" +
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"Start\"}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" more\"}}\n\n" +
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
			want: "Start more", wantFormat: FormatAnthropicMessagesStream,
		},
		{
			name: "unknown JSON stream gives string values",
			body: "data: {\"token\":\"Hel\"}\n\ndata: {\"token\":\"lo\",\"n\":2}\n\n",
			want: "Hel\nlo", wantFormat: FormatSSE,
		},
		{
			name: "unknown stream cut inside its last JSON event",
			body: "data: {\"token\":\"Hel\"}\n\ndata: {\"token\":\"lo",
			want: "Hel", wantFormat: FormatSSE, wantPartial: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Extract(Input{ResponseBody: []byte(tt.body), ResponseContentType: "text/event-stream"})
			if err != nil {
				t.Fatal(err)
			}
			if p.Response != tt.want || p.Format != tt.wantFormat || p.Partial != tt.wantPartial {
				t.Errorf("got %q %s partial=%v, want %q %s partial=%v", p.Response, p.Format, p.Partial, tt.want, tt.wantFormat, tt.wantPartial)
			}
		})
	}
}
