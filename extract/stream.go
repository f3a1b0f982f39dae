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
	d      *jdoc
	kind   streamKind
	done   bool // a terminal event marking a complete stream was seen
	failed bool // the stream reported an error
	cut    bool // the body ended inside a line or an event
	// keys[i] names segs[i]; index finds them once there are many.
	keys    []segKey
	index   map[segKey]int
	segs    [][]byte
	generic joiner // text of a stream of unknown format
	ev      sseEvent
	scratch []byte // parseSSE's buffer for multi-line data
}

// maxLinearSegs is how many segments seg searches one by one before it
// indexes them in a map.
const maxLinearSegs = 16

// newStreamAsm returns the assembler of d, emptied, with the buffers of the
// last stream d held.
func newStreamAsm(d *jdoc) *streamAsm {
	s := &d.asm
	*s = streamAsm{
		d:       d,
		keys:    s.keys[:0],
		segs:    s.segs[:0],
		generic: joiner{buf: s.generic.buf[:0], sep: "\n"},
		scratch: s.scratch[:0],
	}
	return s
}

// run reads the events of body.
func (s *streamAsm) run(body []byte) {
	s.scratch, s.cut = parseSSE(body, s.scratch, &s.ev, s.event)
}

// release drops the references to the last stream, and the buffers that
// are too large or too many to keep.
func (s *streamAsm) release() {
	s.ev = sseEvent{}
	keep := cap(s.segs) <= maxLinearSegs && cap(s.keys) <= maxLinearSegs &&
		cap(s.generic.buf) <= maxKeptBuf && cap(s.scratch) <= maxKeptBuf
	for i := 0; keep && i < cap(s.segs); i++ {
		keep = cap(s.segs[:cap(s.segs)][i]) <= maxKeptBuf
	}
	if !keep {
		*s = streamAsm{}
	}
	s.index = nil
}

// seg returns the index of the segment for k, creating it.
func (s *streamAsm) seg(k segKey) int {
	if s.index != nil {
		if i, ok := s.index[k]; ok {
			return i
		}
	} else {
		for i, key := range s.keys {
			if key == k {
				return i
			}
		}
	}
	i := len(s.segs)
	s.keys = append(s.keys, k)
	if s.index != nil {
		s.index[k] = i
	} else if len(s.keys) > maxLinearSegs {
		s.index = make(map[segKey]int, 2*len(s.keys))
		for j, key := range s.keys {
			s.index[key] = j
		}
	}
	if i < cap(s.segs) {
		s.segs = s.segs[:i+1]
		s.segs[i] = s.segs[i][:0] // a buffer of the last stream
	} else {
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
	var f eventValues
	d.fields(0, eventNames, f[:])
	var buf [64]byte
	typ := d.text(f[evType], &buf)
	switch string(typ) {
	case "message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping":
		s.recognize(streamAnthropic)
		return s.anthropicEvent(typ, &f)
	case "error":
		if s.kind != streamUnknown {
			s.failed = true
			return false
		}
	default:
		if len(typ) > 9 && string(typ[:9]) == "response." {
			s.recognize(streamResponses)
			return s.responsesEvent(typ, &f)
		}
	}
	if choices := f[evChoices]; d.kind(choices) == jArray {
		s.chatChunk(choices, f[evObject])
		return true
	}
	s.unknownEvent(ev)
	return true
}

// eventFields are the members of an event's data object that the event
// handlers read, indexed by the ev constants.
var eventFields = [...]string{"type", "choices", "object", "output_index", "content_index", "index",
	"delta", "text", "refusal", "arguments", "input", "content_block"}

// eventNames index eventFields.
var eventNames = newNameSet(eventFields[:])

// Indexes of eventFields.
const (
	evType = iota
	evChoices
	evObject
	evOutputIndex
	evContentIndex
	evIndex
	evDelta
	evText
	evRefusal
	evArguments
	evInput
	evContentBlock
)

// eventValues are the values of the eventFields members of an event.
type eventValues [len(eventFields)]int

// choiceChunkFields are the members of a chunk's choice that chatChunk
// reads.
var choiceChunkFields = [...]string{"index", "text", "delta"}

// choiceChunkNames index choiceChunkFields.
var choiceChunkNames = newNameSet(choiceChunkFields[:])

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
func (s *streamAsm) chatChunk(choices, object int) {
	d := s.d
	kind := streamChat
	if d.strEq(object, "text_completion") {
		kind = streamCompletions
	}
	pos := int32(0)
	for c := d.child(choices); c >= 0; c, pos = d.sibling(choices, c), pos+1 {
		var cf [len(choiceChunkFields)]int
		d.fields(c, choiceChunkNames, cf[:])
		ci := d.intValue(cf[0], pos)
		if t := cf[1]; d.kind(t) == jString {
			kind = streamCompletions
			s.appendTo(segKey{a: ci, kind: segText}, t)
		}
		delta := cf[2]
		if d.kind(delta) != jObject {
			continue
		}
		var f [len(chatMessageFields)]int
		d.fields(delta, chatMessageNames, f[:])
		s.appendTo(segKey{a: ci, kind: segText}, f[0])
		s.appendTo(segKey{a: ci, kind: segRefusal}, f[1])
		if calls := f[2]; d.kind(calls) == jArray {
			tpos := int32(0)
			for tc := d.child(calls); tc >= 0; tc, tpos = d.sibling(calls, tc), tpos+1 {
				ti := d.intField(tc, "index", tpos)
				s.appendTo(segKey{a: ci, b: ti, kind: segTool}, d.field(d.field(tc, "function"), "arguments"))
			}
		}
		s.appendTo(segKey{a: ci, kind: segFunction}, d.field(f[3], "arguments"))
		s.appendTo(segKey{a: ci, kind: segAudio}, d.field(f[4], "transcript"))
	}
	s.recognize(kind)
}

// responsesEvent handles an OpenAI Responses API streaming event.
func (s *streamAsm) responsesEvent(typ []byte, f *eventValues) bool {
	d := s.d
	oi := d.intValue(f[evOutputIndex], 0)
	ci := d.intValue(f[evContentIndex], 0)
	switch string(typ) {
	case "response.output_text.delta":
		s.appendTo(segKey{a: oi, b: ci, kind: segText}, f[evDelta])
	case "response.output_text.done":
		s.setTo(segKey{a: oi, b: ci, kind: segText}, f[evText])
	case "response.refusal.delta":
		s.appendTo(segKey{a: oi, b: ci, kind: segRefusal}, f[evDelta])
	case "response.refusal.done":
		s.setTo(segKey{a: oi, b: ci, kind: segRefusal}, f[evRefusal])
	case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
		s.appendTo(segKey{a: oi, kind: segTool}, f[evDelta])
	case "response.function_call_arguments.done":
		s.setTo(segKey{a: oi, kind: segTool}, f[evArguments])
	case "response.custom_tool_call_input.done":
		s.setTo(segKey{a: oi, kind: segTool}, f[evInput])
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
func (s *streamAsm) anthropicEvent(typ []byte, f *eventValues) bool {
	d := s.d
	idx := d.intValue(f[evIndex], 0)
	var buf [64]byte
	switch string(typ) {
	case "content_block_start":
		cb := f[evContentBlock]
		switch string(d.text(d.field(cb, "type"), &buf)) {
		case "text":
			s.seg(segKey{a: idx, kind: segText})
			s.appendTo(segKey{a: idx, kind: segText}, d.field(cb, "text"))
		case "tool_use", "server_tool_use", "mcp_tool_use":
			// The input arrives as input_json_delta pieces; the block
			// start holds an empty placeholder object.
			s.seg(segKey{a: idx, kind: segTool})
		}
	case "content_block_delta":
		delta := f[evDelta]
		switch string(d.text(d.field(delta, "type"), &buf)) {
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
	n := 0
	for _, seg := range s.segs {
		n += len(seg) + 1
	}
	j := joiner{buf: s.d.buf(bufResp, n), sep: "\n"}
	for _, seg := range s.segs {
		j.addBytes(seg)
	}
	s.d.keep(bufResp, j.buf)
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
	s.run(body)
	return s
}
