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
	object := d.name(d.field(0, "object"))
	if choices := d.field(0, "choices"); d.kind(choices) == jArray {
		r.format = FormatOpenAIChat
		if object == "text_completion" {
			r.format = FormatOpenAICompletions
		}
		for c := d.child(choices); c >= 0; c = d.sibling(choices, c) {
			if t := d.field(c, "text"); d.kind(t) == jString {
				r.format = FormatOpenAICompletions
				r.str(t)
			}
			r.chatMessage(d.field(c, "message"))
		}
		return true
	}
	output := d.field(0, "output")
	if d.kind(output) == jArray || object == "response" {
		r.format = FormatOpenAIResponses
		n := len(r.out.buf)
		for it := d.child(output); it >= 0; it = d.sibling(output, it) {
			r.outputItem(it)
		}
		if len(r.out.buf) == n {
			// The SDKs' convenience field, for servers that send it.
			r.str(d.field(0, "output_text"))
		}
		return true
	}
	if d.strEq(d.field(0, "type"), "message") {
		if content := d.field(0, "content"); d.kind(content) == jArray {
			r.format = FormatAnthropicMessages
			for b := d.child(content); b >= 0; b = d.sibling(content, b) {
				r.block(b)
			}
			return true
		}
	}
	return false
}

// chatMessage reads choices[].message of a chat completion.
func (r *respParse) chatMessage(m int) {
	d := r.d
	if d.kind(m) != jObject {
		return
	}
	switch c := d.field(m, "content"); d.kind(c) {
	case jString:
		r.str(c)
	case jArray: // some compatible servers send content parts
		for p := d.child(c); p >= 0; p = d.sibling(c, p) {
			r.block(p)
		}
	}
	r.str(d.field(m, "refusal"))
	if calls := d.field(m, "tool_calls"); d.kind(calls) == jArray {
		for tc := d.child(calls); tc >= 0; tc = d.sibling(calls, tc) {
			r.rawJSON(d.field(d.field(tc, "function"), "arguments"))
		}
	}
	r.rawJSON(d.field(d.field(m, "function_call"), "arguments"))
	r.str(d.field(d.field(m, "audio"), "transcript"))
}

// outputItem reads one item of a Responses API output list.
func (r *respParse) outputItem(it int) {
	d := r.d
	switch d.name(d.field(it, "type")) {
	case "message":
		if content := d.field(it, "content"); d.kind(content) == jArray {
			for p := d.child(content); p >= 0; p = d.sibling(content, p) {
				r.block(p)
			}
		}
	case "function_call":
		r.rawJSON(d.field(it, "arguments"))
	case "custom_tool_call":
		r.rawJSON(d.field(it, "input"))
	}
}

// block reads one content block or part: text of any flavour, a refusal, or
// a tool call's input.
func (r *respParse) block(b int) {
	d := r.d
	switch d.name(d.field(b, "type")) {
	case "text", "output_text", "":
		r.str(d.field(b, "text"))
	case "refusal":
		r.str(d.field(b, "refusal"))
	case "tool_use", "server_tool_use", "mcp_tool_use":
		r.rawJSON(d.field(b, "input"))
	}
}
