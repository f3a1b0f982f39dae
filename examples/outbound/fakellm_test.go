package outbound

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The fake keys of the LLM APIs; neither may appear in a record.
const (
	openAIKey    = "sk-test-openaiCANARYKEY0123456789abcdef"
	anthropicKey = "sk-test-anthropicCANARYKEY0123456789abcd"
)

// answerChunks are the pieces the fake LLM answers in. Whole, the answer
// holds "kill you", which the fake AssuranceHub flags as toxic; in a stream
// the phrase is split across two events, so only the reassembled text
// holds it.
var answerChunks = []string{"Fine. CANARY-RESPONSE-7f3a: I will kil", "l you", " now, said the villain."}

func answer() string { return strings.Join(answerChunks, "") }

// holdHeader asks the fake LLM to stop a stream after its first text event
// and wait until the client goes away.
const holdHeader = "X-Test-Hold"

// fakeLLM is a loopback server that speaks the wire formats of OpenAI chat
// completions and Responses and of Anthropic Messages, as JSON or, when the
// request says "stream": true, as server-sent events, after the public API
// references. It checks each API's key header.
type fakeLLM struct {
	*httptest.Server
	fail  atomic.Int32 // answer this many requests with a retryable 500
	calls atomic.Int32
}

func newFakeLLM(t *testing.T) *fakeLLM {
	f := &fakeLLM{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", f.serve(openAIAuth, chatJSON, chatStream))
	mux.HandleFunc("POST /v1/responses", f.serve(openAIAuth, responsesJSON, responsesStream))
	mux.HandleFunc("POST /v1/messages", f.serve(anthropicAuth, messagesJSON, messagesStream))
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func openAIAuth(r *http.Request) bool    { return r.Header.Get("Authorization") == "Bearer "+openAIKey }
func anthropicAuth(r *http.Request) bool { return r.Header.Get("X-Api-Key") == anthropicKey }

// sse writes one server-sent event and flushes it.
type sse struct {
	w http.ResponseWriter
}

func (s sse) event(name string, data any) {
	b, _ := json.Marshal(data)
	if name != "" {
		fmt.Fprintf(s.w, "event: %s\n", name)
	}
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	s.w.(http.Flusher).Flush()
}

func (f *fakeLLM) serve(auth func(*http.Request) bool, whole func() any, stream func(sse, func())) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if !auth(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"invalid key","type":"authentication_error"}}`)
			return
		}
		if f.fail.Load() > 0 && f.fail.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After-Ms", "1")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"overloaded","type":"server_error"}}`)
			return
		}
		var req struct {
			Stream bool `json:"stream"`
		}
		json.Unmarshal(body, &req)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(whole())
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		hold := func() {}
		if r.Header.Get(holdHeader) != "" {
			hold = func() {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			}
		}
		stream(sse{w}, hold)
	}
}

type obj = map[string]any

const created = 1767225600

// chatJSON is a chat.completion object.
func chatJSON() any {
	return obj{
		"id": "chatcmpl-1", "object": "chat.completion", "created": created, "model": "gpt-5.4-mini",
		"choices": []obj{{"index": 0, "finish_reason": "stop", "logprobs": nil,
			"message": obj{"role": "assistant", "content": answer(), "refusal": nil}}},
		"usage": obj{"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
	}
}

// chatStream is a chat completion as chat.completion.chunk events, the
// last with the finish reason, then data: [DONE].
func chatStream(s sse, hold func()) {
	chunk := func(delta obj, finish any) obj {
		return obj{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": created, "model": "gpt-5.4-mini",
			"choices": []obj{{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}}}
	}
	s.event("", chunk(obj{"role": "assistant", "content": ""}, nil))
	for i, c := range answerChunks {
		s.event("", chunk(obj{"content": c}, nil))
		if i == 0 {
			hold()
		}
	}
	s.event("", chunk(obj{}, "stop"))
	fmt.Fprint(s.w, "data: [DONE]\n\n")
}

func responseObj(status string, output []obj) obj {
	return obj{
		"id": "resp_1", "object": "response", "created_at": created, "status": status, "model": "gpt-5.4-mini",
		"output": output, "parallel_tool_calls": true, "tool_choice": "auto", "tools": []obj{},
		"usage": obj{"input_tokens": 9, "output_tokens": 12, "total_tokens": 21,
			"input_tokens_details": obj{"cached_tokens": 0}, "output_tokens_details": obj{"reasoning_tokens": 0}},
	}
}

func messageItem(status, text string) obj {
	content := []obj{}
	if status == "completed" {
		content = []obj{{"type": "output_text", "text": text, "annotations": []obj{}}}
	}
	return obj{"type": "message", "id": "msg_1", "status": status, "role": "assistant", "content": content}
}

// responsesJSON is a Responses API response object.
func responsesJSON() any {
	return responseObj("completed", []obj{messageItem("completed", answer())})
}

// responsesStream is a response as Responses API streaming events, from
// response.created to response.completed, each with its sequence number.
func responsesStream(s sse, hold func()) {
	seq := 0
	ev := func(typ string, fields obj) {
		fields["type"], fields["sequence_number"] = typ, seq
		seq++
		s.event(typ, fields)
	}
	part := obj{"type": "output_text", "text": "", "annotations": []obj{}}
	ev("response.created", obj{"response": responseObj("in_progress", []obj{})})
	ev("response.in_progress", obj{"response": responseObj("in_progress", []obj{})})
	ev("response.output_item.added", obj{"output_index": 0, "item": messageItem("in_progress", "")})
	ev("response.content_part.added", obj{"item_id": "msg_1", "output_index": 0, "content_index": 0, "part": part})
	for i, c := range answerChunks {
		ev("response.output_text.delta", obj{"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": c, "logprobs": []obj{}})
		if i == 0 {
			hold()
		}
	}
	ev("response.output_text.done", obj{"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": answer(), "logprobs": []obj{}})
	ev("response.content_part.done", obj{"item_id": "msg_1", "output_index": 0, "content_index": 0,
		"part": obj{"type": "output_text", "text": answer(), "annotations": []obj{}}})
	ev("response.output_item.done", obj{"output_index": 0, "item": messageItem("completed", answer())})
	ev("response.completed", obj{"response": responsesJSON()})
}

func messageObj(content []obj, stop any, outTokens int) obj {
	return obj{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": obj{"input_tokens": 9, "output_tokens": outTokens}}
}

// messagesJSON is an Anthropic Messages message.
func messagesJSON() any {
	return messageObj([]obj{{"type": "text", "text": answer()}}, "end_turn", 12)
}

// messagesStream is a message as Anthropic Messages streaming events:
// message_start, one text block's start, deltas and stop, message_delta,
// message_stop, with a ping.
func messagesStream(s sse, hold func()) {
	s.event("message_start", obj{"type": "message_start", "message": messageObj([]obj{}, nil, 1)})
	s.event("content_block_start", obj{"type": "content_block_start", "index": 0, "content_block": obj{"type": "text", "text": ""}})
	s.event("ping", obj{"type": "ping"})
	for i, c := range answerChunks {
		s.event("content_block_delta", obj{"type": "content_block_delta", "index": 0, "delta": obj{"type": "text_delta", "text": c}})
		if i == 0 {
			hold()
		}
	}
	s.event("content_block_stop", obj{"type": "content_block_stop", "index": 0})
	s.event("message_delta", obj{"type": "message_delta", "delta": obj{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": obj{"output_tokens": 12}})
	s.event("message_stop", obj{"type": "message_stop"})
}
