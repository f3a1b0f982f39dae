package extract

import "bytes"

// streamKind is the wire format of an event stream.
type streamKind uint8

const (
	streamUnknown streamKind = iota
	streamChat
	streamCompletions
	streamResponses
	streamAnthropic
)

func (k streamKind) format() string {
	switch k {
	case streamChat:
		return FormatOpenAIChatStream
	case streamCompletions:
		return FormatOpenAICompletionsStream
	case streamResponses:
		return FormatOpenAIResponsesStream
	case streamAnthropic:
		return FormatAnthropicMessagesStream
	}
	return FormatSSE
}

// segKind tells apart the texts of one output slot.
type segKind uint8

const (
	segText segKind = iota
	segRefusal
	segTool
	segFunction
	segAudio
)

// segKey names one text being reassembled from deltas: a choice (OpenAI
// chat), an output item and content part (Responses) or a content block
// (Anthropic), plus a tool call index where there is one.
type segKey struct {
	a, b int32
	kind segKind
}

// streamAsm reassembles the text of an event stream, event by event.
type streamAsm struct {
	d       *jdoc
	kind    streamKind
	done    bool // a terminal event marking a complete stream was seen
	failed  bool // the stream reported an error
	cut     bool // the body ended inside a line or an event
	keys    map[segKey]int
	segs    [][]byte
	generic joiner // text of a stream of unknown format
}

func newStreamAsm(d *jdoc) *streamAsm {
	return &streamAsm{d: d, keys: make(map[segKey]int), generic: joiner{sep: "\n"}}
}

// seg returns the index of the segment for k, creating it.
func (s *streamAsm) seg(k segKey) int {
	i, ok := s.keys[k]
	if !ok {
		i = len(s.segs)
		s.keys[k] = i
		s.segs = append(s.segs, nil)
	}
	return i
}

// appendTo appends string node n to the segment for k; other kinds are
// ignored.
func (s *streamAsm) appendTo(k segKey, n int) {
	if s.d.kind(n) != jString {
		return
	}
	i := s.seg(k)
	s.segs[i] = s.d.appendStr(s.segs[i], n)
}

// setTo replaces the segment for k with string node n when n has text: the
// ".done" events of the Responses API carry the whole text.
func (s *streamAsm) setTo(k segKey, n int) {
	if !s.d.nonEmptyStr(n) {
		return
	}
	i := s.seg(k)
	s.segs[i] = s.d.appendStr(s.segs[i][:0], n)
}

func (s *streamAsm) recognize(k streamKind) {
	if s.kind == streamUnknown {
		s.kind = k
	}
}

// event handles one event; it returns false once the stream is over.
func (s *streamAsm) event(ev *sseEvent) bool {
	data := ev.data
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		s.done = true
		return false
	}
	d := s.d
	if d.parse(data) != nil || d.kind(0) != jObject {
		s.unknownEvent(ev)
		return true
	}
	typ := d.name(d.field(0, "type"))
	switch {
	case len(typ) > 9 && typ[:9] == "response.":
		s.recognize(streamResponses)
		return s.responsesEvent(typ)
	case typ == "message_start" || typ == "content_block_start" || typ == "content_block_delta" ||
		typ == "content_block_stop" || typ == "message_delta" || typ == "message_stop" || typ == "ping":
		s.recognize(streamAnthropic)
		return s.anthropicEvent(typ)
	case typ == "error" && s.kind != streamUnknown:
		s.failed = true
		return false
	}
	if choices := d.field(0, "choices"); d.kind(choices) == jArray {
		s.chatChunk(choices)
		return true
	}
	s.unknownEvent(ev)
	return true
}

// unknownEvent keeps the text of an event of no known format, in case the
// whole stream turns out to be of none: the string values of JSON data, or
// the data itself. An unterminated JSON event at the end of the body is
// skipped, as a known format's would be: it was cut.
func (s *streamAsm) unknownEvent(ev *sseEvent) {
	if s.kind != streamUnknown {
		return
	}
	if looksJSON(ev.data) {
		if ev.atEOF && s.d.parse(ev.data) != nil {
			return
		}
		s.generic.buf, _ = appendStrings(s.generic.buf, ev.data, "\n", 0)
		return
	}
	s.generic.buf = append(s.generic.buf, ev.data...)
}

// chatChunk handles an OpenAI chat completion chunk or legacy completion
// chunk: choices[].delta.{content,refusal,tool_calls[].function.arguments,
// function_call.arguments,audio.transcript} and choices[].text.
func (s *streamAsm) chatChunk(choices int) {
	d := s.d
	kind := streamChat
	if d.strEq(d.field(0, "object"), "text_completion") {
		kind = streamCompletions
	}
	pos := int32(0)
	for c := d.child(choices); c >= 0; c, pos = d.sibling(choices, c), pos+1 {
		ci := d.intField(c, "index", pos)
		if t := d.field(c, "text"); d.kind(t) == jString {
			kind = streamCompletions
			s.appendTo(segKey{a: ci, kind: segText}, t)
		}
		delta := d.field(c, "delta")
		if d.kind(delta) != jObject {
			continue
		}
		s.appendTo(segKey{a: ci, kind: segText}, d.field(delta, "content"))
		s.appendTo(segKey{a: ci, kind: segRefusal}, d.field(delta, "refusal"))
		if calls := d.field(delta, "tool_calls"); d.kind(calls) == jArray {
			tpos := int32(0)
			for tc := d.child(calls); tc >= 0; tc, tpos = d.sibling(calls, tc), tpos+1 {
				ti := d.intField(tc, "index", tpos)
				s.appendTo(segKey{a: ci, b: ti, kind: segTool}, d.field(d.field(tc, "function"), "arguments"))
			}
		}
		s.appendTo(segKey{a: ci, kind: segFunction}, d.field(d.field(delta, "function_call"), "arguments"))
		s.appendTo(segKey{a: ci, kind: segAudio}, d.field(d.field(delta, "audio"), "transcript"))
	}
	s.recognize(kind)
}

// responsesEvent handles an OpenAI Responses API streaming event.
func (s *streamAsm) responsesEvent(typ string) bool {
	d := s.d
	oi := d.intField(0, "output_index", 0)
	ci := d.intField(0, "content_index", 0)
	switch typ {
	case "response.output_text.delta":
		s.appendTo(segKey{a: oi, b: ci, kind: segText}, d.field(0, "delta"))
	case "response.output_text.done":
		s.setTo(segKey{a: oi, b: ci, kind: segText}, d.field(0, "text"))
	case "response.refusal.delta":
		s.appendTo(segKey{a: oi, b: ci, kind: segRefusal}, d.field(0, "delta"))
	case "response.refusal.done":
		s.setTo(segKey{a: oi, b: ci, kind: segRefusal}, d.field(0, "refusal"))
	case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
		s.appendTo(segKey{a: oi, kind: segTool}, d.field(0, "delta"))
	case "response.function_call_arguments.done":
		s.setTo(segKey{a: oi, kind: segTool}, d.field(0, "arguments"))
	case "response.custom_tool_call_input.done":
		s.setTo(segKey{a: oi, kind: segTool}, d.field(0, "input"))
	case "response.completed", "response.incomplete":
		s.done = true
		return false
	case "response.failed":
		s.failed = true
		return false
	}
	return true
}

// anthropicEvent handles an Anthropic Messages streaming event.
func (s *streamAsm) anthropicEvent(typ string) bool {
	d := s.d
	idx := d.intField(0, "index", 0)
	switch typ {
	case "content_block_start":
		cb := d.field(0, "content_block")
		switch d.name(d.field(cb, "type")) {
		case "text":
			s.seg(segKey{a: idx, kind: segText})
			s.appendTo(segKey{a: idx, kind: segText}, d.field(cb, "text"))
		case "tool_use", "server_tool_use", "mcp_tool_use":
			// The input arrives as input_json_delta pieces; the block
			// start holds an empty placeholder object.
			s.seg(segKey{a: idx, kind: segTool})
		}
	case "content_block_delta":
		delta := d.field(0, "delta")
		switch d.name(d.field(delta, "type")) {
		case "text_delta":
			s.appendTo(segKey{a: idx, kind: segText}, d.field(delta, "text"))
		case "input_json_delta":
			s.appendTo(segKey{a: idx, kind: segTool}, d.field(delta, "partial_json"))
		}
	case "message_stop":
		s.done = true
		return false
	}
	return true
}

// text returns the reassembled text: the segments in the order they first
// appeared, joined with "\n", or for a stream of unknown format the text of
// its events.
func (s *streamAsm) text() []byte {
	if s.kind == streamUnknown {
		return s.generic.buf
	}
	j := joiner{sep: "\n"}
	for _, seg := range s.segs {
		j.addBytes(seg)
	}
	return j.buf
}

// partial reports whether the stream looks cut short: a known format
// without its terminal event or with an error event, or a stream of unknown
// format that ends inside a line or an event.
func (s *streamAsm) partial() bool {
	if s.kind == streamUnknown {
		return s.cut && !s.done
	}
	return !s.done || s.failed
}

// assemble runs the whole body through a new assembler.
func assemble(body []byte) *streamAsm {
	s := newStreamAsm(new(jdoc))
	_, s.cut = parseSSE(body, nil, s.event)
	return s
}
