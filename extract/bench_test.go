package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchBodySize is the size each generated body aims at.
const benchBodySize = 64 << 10

// benchText returns deterministic prose of about n bytes with some non-ASCII
// runes, quotes and newlines, as model text has.
func benchText(seed, n int) string {
	words := []string{"the", "model", "answer", "café", "safety", "\"quoted\"", "check", "naïve", "stream", "token",
		"response", "prompt", "—", "data", "über", "system", "line\n", "tool", "value", "😀"}
	var b strings.Builder
	for i := seed; b.Len() < n; i++ {
		b.WriteString(words[(i*7+i/3)%len(words)])
		b.WriteByte(' ')
	}
	return b.String()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

type obj = map[string]any

// fillTo calls add with growing indexes until size reports at least n bytes.
func fillTo(n int, size func() int, add func(i int)) {
	for i := 0; size() < n; i++ {
		add(i)
	}
}

func benchChatRequest() []byte {
	msgs := []any{obj{"role": "system", "content": benchText(1, 800)}}
	fillTo(benchBodySize, func() int { return len(mustJSON(msgs)) }, func(i int) {
		switch i % 4 {
		case 0:
			msgs = append(msgs, obj{"role": "user", "content": benchText(i, 600)})
		case 1:
			msgs = append(msgs, obj{"role": "assistant", "content": benchText(i, 900)})
		case 2:
			msgs = append(msgs, obj{"role": "user", "content": []any{
				obj{"type": "text", "text": benchText(i, 300)},
				obj{"type": "image_url", "image_url": obj{"url": "https://example.com/a.png"}},
				obj{"type": "text", "text": benchText(i+1, 200)}}})
		case 3:
			msgs = append(msgs,
				obj{"role": "assistant", "content": nil, "tool_calls": []any{obj{"id": fmt.Sprint("call_", i), "type": "function",
					"function": obj{"name": "lookup", "arguments": string(mustJSON(obj{"q": benchText(i, 80)}))}}}},
				obj{"role": "tool", "tool_call_id": fmt.Sprint("call_", i), "content": benchText(i, 400)})
		}
	})
	return mustJSON(obj{"model": "gpt-4o", "messages": msgs, "temperature": 0.2})
}

func benchAnthropicRequest() []byte {
	msgs := []any{}
	fillTo(benchBodySize, func() int { return len(mustJSON(msgs)) }, func(i int) {
		switch i % 3 {
		case 0:
			msgs = append(msgs, obj{"role": "user", "content": benchText(i, 600)})
		case 1:
			msgs = append(msgs, obj{"role": "assistant", "content": []any{
				obj{"type": "text", "text": benchText(i, 700)},
				obj{"type": "tool_use", "id": fmt.Sprint("toolu_", i), "name": "lookup", "input": obj{"q": benchText(i, 60), "n": i}}}})
		case 2:
			msgs = append(msgs, obj{"role": "user", "content": []any{
				obj{"type": "tool_result", "tool_use_id": fmt.Sprint("toolu_", i-1), "content": []any{obj{"type": "text", "text": benchText(i, 300)}}},
				obj{"type": "text", "text": benchText(i+2, 200)}}})
		}
	})
	return mustJSON(obj{"model": "claude-sonnet-4-20250514", "max_tokens": 1024, "system": benchText(3, 500), "messages": msgs})
}

func benchResponsesRequest() []byte {
	items := []any{}
	fillTo(benchBodySize, func() int { return len(mustJSON(items)) }, func(i int) {
		switch i % 4 {
		case 0:
			items = append(items, obj{"role": "user", "content": benchText(i, 600)})
		case 1:
			items = append(items, obj{"type": "message", "role": "assistant", "content": []any{obj{"type": "output_text", "text": benchText(i, 800)}}})
		case 2:
			items = append(items, obj{"type": "function_call", "call_id": fmt.Sprint("c", i), "name": "f", "arguments": string(mustJSON(obj{"q": benchText(i, 80)}))})
		case 3:
			items = append(items, obj{"type": "function_call_output", "call_id": fmt.Sprint("c", i-1), "output": benchText(i, 400)})
		}
	})
	return mustJSON(obj{"model": "gpt-4.1", "instructions": benchText(5, 500), "input": items})
}

func benchCompletionsRequest() []byte {
	prompts := []any{}
	fillTo(benchBodySize, func() int { return len(mustJSON(prompts)) }, func(i int) {
		prompts = append(prompts, benchText(i, 2000))
	})
	return mustJSON(obj{"model": "gpt-3.5-turbo-instruct", "prompt": prompts, "max_tokens": 100})
}

// Non-streaming responses whose text makes the body about n bytes.
func benchChatResponse(n int) []byte {
	return mustJSON(obj{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
		"choices": []any{obj{"index": 0, "message": obj{"role": "assistant", "content": benchText(0, n-200), "refusal": nil}, "finish_reason": "stop"}}})
}

func benchResponsesResponse(n int) []byte {
	return mustJSON(obj{"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4.1",
		"output": []any{obj{"type": "message", "id": "msg_1", "role": "assistant", "content": []any{obj{"type": "output_text", "text": benchText(0, n-250), "annotations": []any{}}}}}})
}

func benchCompletionsResponse(n int) []byte {
	return mustJSON(obj{"id": "cmpl-1", "object": "text_completion", "model": "gpt-3.5-turbo-instruct",
		"choices": []any{obj{"text": benchText(0, n-200), "index": 0, "finish_reason": "stop"}}})
}

func benchAnthropicResponse(n int) []byte {
	return mustJSON(obj{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
		"content": []any{obj{"type": "text", "text": benchText(0, n-250)}}, "stop_reason": "end_turn"})
}

// benchStream builds an event stream of about benchBodySize bytes from
// deltas of a few words, each wrapped by event.
func benchStream(event func(i int, delta string) string, head, tail string) []byte {
	var b bytes.Buffer
	b.WriteString(head)
	text := benchText(0, benchBodySize)
	for i := 0; b.Len() < benchBodySize-len(tail); i++ {
		start := (i * 24) % (len(text) - 64)
		for start > 0 && text[start]&0xC0 == 0x80 {
			start--
		}
		end := start + 24
		for text[end]&0xC0 == 0x80 {
			end++
		}
		b.WriteString(event(i, text[start:end]))
	}
	b.WriteString(tail)
	return b.Bytes()
}

func sseData(v any) string { return "data: " + string(mustJSON(v)) + "\n\n" }

func benchChatStream() []byte {
	return benchStream(func(i int, d string) string {
		return sseData(obj{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", "system_fingerprint": "fp_1",
			"choices": []any{obj{"index": 0, "delta": obj{"content": d}, "logprobs": nil, "finish_reason": nil}}})
	}, "", "data: [DONE]\n\n")
}

func benchCompletionsStream() []byte {
	return benchStream(func(i int, d string) string {
		return sseData(obj{"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct",
			"choices": []any{obj{"text": d, "index": 0, "logprobs": nil, "finish_reason": nil}}})
	}, "", "data: [DONE]\n\n")
}

func benchResponsesStream() []byte {
	return benchStream(func(i int, d string) string {
		return "event: response.output_text.delta\n" + sseData(obj{"type": "response.output_text.delta", "sequence_number": i + 3,
			"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": d, "logprobs": []any{}})
	}, "event: response.created\n"+sseData(obj{"type": "response.created", "sequence_number": 0, "response": obj{"id": "resp_1", "status": "in_progress"}}),
		"event: response.completed\n"+sseData(obj{"type": "response.completed", "sequence_number": 99999, "response": obj{"id": "resp_1", "status": "completed"}}))
}

func benchAnthropicStream() []byte {
	return benchStream(func(i int, d string) string {
		return "event: content_block_delta\n" + sseData(obj{"type": "content_block_delta", "index": 0, "delta": obj{"type": "text_delta", "text": d}})
	}, "event: message_start\n"+sseData(obj{"type": "message_start", "message": obj{"id": "msg_1", "type": "message", "role": "assistant", "content": []any{}}})+
		"event: content_block_start\n"+sseData(obj{"type": "content_block_start", "index": 0, "content_block": obj{"type": "text", "text": ""}}),
		"event: content_block_stop\n"+sseData(obj{"type": "content_block_stop", "index": 0})+
			"event: message_delta\n"+sseData(obj{"type": "message_delta", "delta": obj{"stop_reason": "end_turn"}})+
			"event: message_stop\n"+sseData(obj{"type": "message_stop"}))
}

func benchUnknownJSON() []byte {
	items := []any{}
	fillTo(benchBodySize, func() int { return len(mustJSON(items)) }, func(i int) {
		items = append(items, obj{"id": i, "title": benchText(i, 40), "body": benchText(i, 500), "tags": []any{"a", "b", benchText(i, 20)}, "score": 0.5, "ok": true})
	})
	return mustJSON(obj{"results": items, "count": len(items)})
}

// benchCase is one format: the input to extract and the JSON documents the
// baseline unmarshals.
type benchCase struct {
	name     string
	in       Input
	baseline [][]byte
	// tokens, when set, are the JSON documents extraction reads (for a
	// stream, the request and each event's data), which the
	// baseline_jsontext_tokens sub-benchmark reads token by token.
	tokens [][]byte
}

func benchCases() []benchCase {
	const js, sse = "application/json", "text/event-stream"
	chatReq, respReq, anthReq, complReq := benchChatRequest(), benchResponsesRequest(), benchAnthropicRequest(), benchCompletionsRequest()
	chatStream, respStream, anthStream, complStream := benchChatStream(), benchResponsesStream(), benchAnthropicStream(), benchCompletionsStream()
	unknown := benchUnknownJSON()
	text := benchText(9, benchBodySize)
	textDoc := mustJSON(obj{"text": text})
	pair := func(req []byte, resp []byte, respCT string) Input {
		return Input{RequestBody: req, RequestContentType: js, ResponseBody: resp, ResponseContentType: respCT, ResponseStatus: 200}
	}
	return []benchCase{
		{FormatOpenAIChat, pair(chatReq, benchChatResponse(benchBodySize), js), [][]byte{chatReq, benchChatResponse(benchBodySize)}, nil},
		{FormatOpenAIChatStream, pair(chatReq, chatStream, sse), [][]byte{chatReq, benchChatResponse(len(chatStream))}, nil},
		{FormatOpenAIResponses, pair(respReq, benchResponsesResponse(benchBodySize), js), [][]byte{respReq, benchResponsesResponse(benchBodySize)}, nil},
		{FormatOpenAIResponsesStream, pair(respReq, respStream, sse), [][]byte{respReq, benchResponsesResponse(len(respStream))}, nil},
		{FormatOpenAICompletions, pair(complReq, benchCompletionsResponse(benchBodySize), js), [][]byte{complReq, benchCompletionsResponse(benchBodySize)}, nil},
		{FormatOpenAICompletionsStream, pair(complReq, complStream, sse), [][]byte{complReq, benchCompletionsResponse(len(complStream))}, nil},
		{FormatAnthropicMessages, pair(anthReq, benchAnthropicResponse(benchBodySize), js), [][]byte{anthReq, benchAnthropicResponse(benchBodySize)}, nil},
		{FormatAnthropicMessagesStream, pair(anthReq, anthStream, sse), [][]byte{anthReq, benchAnthropicResponse(len(anthStream))}, nil},
		{FormatJSON, pair(unknown, unknown, js), [][]byte{unknown, unknown}, nil},
		{FormatText, Input{RequestBody: []byte(text), RequestContentType: "text/plain", ResponseBody: []byte(text), ResponseContentType: "text/plain"},
			[][]byte{textDoc, textDoc}, nil},
	}
}

// BenchmarkExtract measures extraction per format on bodies of about 64 KiB
// per side, beside encoding/json unmarshalling the same JSON bytes into
// map[string]any (baseline_json_map). For stream formats, and for text, the
// baseline unmarshals the request and a non-streaming JSON response body of
// the same size as the stream (or text), since the stream itself is not one
// JSON document.
func BenchmarkExtract(b *testing.B) {
	runBench(b, benchCases())
}

// cpuMeter measures the process's CPU time (getrusage) over a benchmark
// loop, which a machine shared with other work disturbs less than the wall
// time of ns/op.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, processCPU(b)} }

// report reports cpu-ns/op, the CPU time per iteration, garbage collection
// included.
func (m cpuMeter) report() {
	m.b.ReportMetric(float64(processCPU(m.b)-m.start)/float64(m.b.N), "cpu-ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runBench runs the extract and baseline_json_map sub-benchmarks of cases.
func runBench(b *testing.B, cases []benchCase) {
	runtime.GC() // not the generation's garbage in the first measurement
	for _, bc := range cases {
		p, err := Extract(bc.in)
		if err != nil || p.Format != bc.name || p.Response == "" || p.Prompt == "" {
			b.Fatalf("%s: format %q, %d/%d bytes, %v", bc.name, p.Format, len(p.Prompt), len(p.Response), err)
		}
		b.Run(bc.name+"/extract", func(b *testing.B) {
			b.SetBytes(int64(len(bc.in.RequestBody) + len(bc.in.ResponseBody)))
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				if _, err := Extract(bc.in); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report()
		})
		b.Run(bc.name+"/baseline_json_map", func(b *testing.B) {
			b.SetBytes(totalLen(bc.baseline))
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				for _, doc := range bc.baseline {
					var m map[string]any
					if err := json.Unmarshal(doc, &m); err != nil {
						b.Fatal(err)
					}
				}
			}
			cpu.report()
		})
		if bc.tokens == nil {
			continue
		}
		// The floor of any extraction on jsontext: reading every token of
		// the same documents, with the decoder and options Extract uses.
		b.Run(bc.name+"/baseline_jsontext_tokens", func(b *testing.B) {
			b.SetBytes(totalLen(bc.tokens))
			b.ReportAllocs()
			var t tokens
			cpu := startCPU(b)
			for b.Loop() {
				for _, doc := range bc.tokens {
					dec := t.reset(doc)
					for {
						if _, err := dec.ReadToken(); err != nil {
							if err != io.EOF {
								b.Fatal(err)
							}
							break
						}
					}
				}
			}
			cpu.report()
		})
	}
}

// smallChatRequest is a chat request as the root package's BenchmarkPipeline
// sends it: about 200 bytes, a system and a user message.
const smallChatRequest = `{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"Question number 12345: how do I reset my password?"}]}`

// smallAnthropicRequest is the same conversation as an Anthropic Messages
// request.
const smallAnthropicRequest = `{"model":"claude-sonnet-4-20250514","max_tokens":1024,"system":"You are a helpful assistant.",` +
	`"messages":[{"role":"user","content":"Question number 12345: how do I reset my password?"}]}`

// smallAnswer returns answer text that makes a response body of about 1 KiB.
func smallAnswer(n int) string {
	s := "Answer 12345: "
	for len(s) < n {
		s += "Open the settings page, choose Security, and follow the steps to reset it. "
	}
	return s
}

// smallChatResponse is a chat.completion response of about 1 KiB, as
// BenchmarkPipeline's handler writes it.
func smallChatResponse() []byte {
	return []byte(`{"id":"chatcmpl-12345","object":"chat.completion","created":1700000000,"model":"gpt-4o",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + smallAnswer(780) + `"},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":30,"completion_tokens":200,"total_tokens":230}}`)
}

// smallChatStream is the same answer as a chat completion event stream of
// about 1 KiB, in deltas of a few words.
func smallChatStream() []byte {
	var b bytes.Buffer
	words := strings.SplitAfter(smallAnswer(100), " ")
	for i := 0; i < len(words); i += 4 {
		delta := strings.Join(words[i:min(i+4, len(words))], "")
		b.WriteString(sseData(obj{"id": "chatcmpl-12345", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o",
			"choices": []any{obj{"index": 0, "delta": obj{"content": delta}, "finish_reason": nil}}}))
	}
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// smallAnthropicResponse is a Messages response of about 1 KiB.
func smallAnthropicResponse() []byte {
	return []byte(`{"id":"msg_12345","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",` +
		`"content":[{"type":"text","text":"` + smallAnswer(820) + `"}],"stop_reason":"end_turn","stop_sequence":null,` +
		`"usage":{"input_tokens":30,"output_tokens":200}}`)
}

// BenchmarkExtractSmall measures extraction of the small exchange the
// pipeline benchmark samples (a 200-byte request, a response of about
// 1 KiB), where per-call costs weigh most, beside encoding/json
// unmarshalling the same JSON documents into map[string]any
// (baseline_json_map; for the stream, a JSON response of the stream's size).
func BenchmarkExtractSmall(b *testing.B) {
	const js, sse = "application/json", "text/event-stream"
	chatReq, anthReq := []byte(smallChatRequest), []byte(smallAnthropicRequest)
	chatResp, chatStream, anthResp := smallChatResponse(), smallChatStream(), smallAnthropicResponse()
	pair := func(req, resp []byte, respCT string) Input {
		return Input{RequestBody: req, RequestContentType: js, ResponseBody: resp, ResponseContentType: respCT, ResponseStatus: 200}
	}
	streamDocs := [][]byte{chatReq}
	for ev := range SSEEvents(chatStream) {
		if ev.Data != "[DONE]" {
			streamDocs = append(streamDocs, []byte(ev.Data))
		}
	}
	cases := []benchCase{
		{FormatOpenAIChat, pair(chatReq, chatResp, js), [][]byte{chatReq, chatResp}, [][]byte{chatReq, chatResp}},
		{FormatOpenAIChatStream, pair(chatReq, chatStream, sse), [][]byte{chatReq, benchChatResponse(len(chatStream))}, streamDocs},
		{FormatAnthropicMessages, pair(anthReq, anthResp, js), [][]byte{anthReq, anthResp}, [][]byte{anthReq, anthResp}},
	}
	runBench(b, cases)
}

// totalLen is the bytes of docs together.
func totalLen(docs [][]byte) int64 {
	n := 0
	for _, doc := range docs {
		n += len(doc)
	}
	return int64(n)
}
