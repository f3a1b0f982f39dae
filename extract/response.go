package extract

// respParse reads the text of a non-streaming response body.
type respParse struct {
	d      *jdoc
	format string
	out    joiner
}

func (r *respParse) str(n int) {
	if r.d.kind(n) == jString {
		r.out.addStr(r.d, n)
	}
}

// rawJSON adds node n as JSON text: a string's text, or the source of an
// object or array.
func (r *respParse) rawJSON(n int) {
	switch r.d.kind(n) {
	case jString:
		r.out.addStr(r.d, n)
	case jObject, jArray:
		r.out.addCompact(r.d.raw(n))
	}
}

// parse reads a response document in a known format and reports false when
// it is not one.
func (r *respParse) parse() bool {
	d := r.d
	if d.kind(0) != jObject {
		return false
	}
	var f [len(responseFields)]int
	d.fields(0, responseNames, f[:])
	var buf [64]byte
	object := d.text(f[0], &buf)
	if choices := f[1]; d.kind(choices) == jArray {
		r.format = FormatOpenAIChat
		if string(object) == "text_completion" {
			r.format = FormatOpenAICompletions
		}
		for c := d.child(choices); c >= 0; c = d.sibling(choices, c) {
			var cf [len(choiceFields)]int
			d.fields(c, choiceNames, cf[:])
			if t := cf[0]; d.kind(t) == jString {
				r.format = FormatOpenAICompletions
				r.str(t)
			}
			r.chatMessage(cf[1])
		}
		return true
	}
	output := f[2]
	if d.kind(output) == jArray || string(object) == "response" {
		r.format = FormatOpenAIResponses
		n := len(r.out.buf)
		for it := d.child(output); it >= 0; it = d.sibling(output, it) {
			r.outputItem(it)
		}
		if len(r.out.buf) == n {
			// The SDKs' convenience field, for servers that send it.
			r.str(f[3])
		}
		return true
	}
	if d.strEq(f[4], "message") {
		if content := f[5]; d.kind(content) == jArray {
			r.format = FormatAnthropicMessages
			for b := d.child(content); b >= 0; b = d.sibling(content, b) {
				r.block(b)
			}
			return true
		}
	}
	return false
}

// responseFields are the members of a response document parse reads.
var responseFields = [...]string{"object", "choices", "output", "output_text", "type", "content"}

// responseNames index responseFields.
var responseNames = newNameSet(responseFields[:])

// choiceFields are the members of a choice parse reads.
var choiceFields = [...]string{"text", "message"}

// choiceNames index choiceFields.
var choiceNames = newNameSet(choiceFields[:])

// chatMessageFields are the members of a message chatMessage reads.
var chatMessageFields = [...]string{"content", "refusal", "tool_calls", "function_call", "audio"}

// chatMessageNames index chatMessageFields.
var chatMessageNames = newNameSet(chatMessageFields[:])

// chatMessage reads choices[].message of a chat completion.
func (r *respParse) chatMessage(m int) {
	d := r.d
	if d.kind(m) != jObject {
		return
	}
	var f [len(chatMessageFields)]int
	d.fields(m, chatMessageNames, f[:])
	switch c := f[0]; d.kind(c) {
	case jString:
		r.str(c)
	case jArray: // some compatible servers send content parts
		for p := d.child(c); p >= 0; p = d.sibling(c, p) {
			r.block(p)
		}
	}
	r.str(f[1])
	if calls := f[2]; d.kind(calls) == jArray {
		for tc := d.child(calls); tc >= 0; tc = d.sibling(calls, tc) {
			r.rawJSON(d.field(d.field(tc, "function"), "arguments"))
		}
	}
	r.rawJSON(d.field(f[3], "arguments"))
	r.str(d.field(f[4], "transcript"))
}

// outputItem reads one item of a Responses API output list.
func (r *respParse) outputItem(it int) {
	d := r.d
	var f [len(itemFields)]int
	d.fields(it, itemNames, f[:])
	var buf [64]byte
	switch string(d.text(f[0], &buf)) {
	case "message":
		if content := f[1]; d.kind(content) == jArray {
			for p := d.child(content); p >= 0; p = d.sibling(content, p) {
				r.block(p)
			}
		}
	case "function_call":
		r.rawJSON(f[2])
	case "custom_tool_call":
		r.rawJSON(f[3])
	}
}

// block reads one content block or part: text of any flavour, a refusal, or
// a tool call's input.
func (r *respParse) block(b int) {
	d := r.d
	var f [len(partFields)]int
	d.fields(b, partNames, f[:])
	var buf [64]byte
	switch string(d.text(f[0], &buf)) {
	case "text", "output_text", "":
		r.str(f[1])
	case "refusal":
		r.str(f[2])
	case "tool_use", "server_tool_use", "mcp_tool_use":
		r.rawJSON(f[3])
	}
}
