package extract

// role is the author of a turn, as far as prompt selection cares.
type role uint8

const (
	roleUser role = iota // user, and any role not listed below
	roleSystem
	roleAssistant
	roleTool
)

func parseRole(d *jdoc, n int) role {
	var buf [64]byte
	switch string(d.text(n, &buf)) {
	case "system", "developer":
		return roleSystem
	case "assistant", "model":
		return roleAssistant
	case "tool", "function", "ipython":
		return roleTool
	}
	return roleUser
}

// piece is one text of a turn: a string node, or a node copied as raw JSON
// (a tool call's input object).
type piece struct {
	node int32
	raw  bool
}

// turn is one message of a conversation; its pieces are
// reqParse.pieces[p0:p1].
type turn struct {
	role role
	// ownText is set when the message carries text written by its author,
	// not only tool results.
	ownText bool
	p0, p1  int32
}

// reqParse holds the conversation read from a request body.
type reqParse struct {
	d      *jdoc
	format string
	turns  []turn
	pieces []piece
	cur    turn
}

func (r *reqParse) begin(ro role) {
	r.cur = turn{role: ro, p0: int32(len(r.pieces))}
}

func (r *reqParse) end() {
	r.cur.p1 = int32(len(r.pieces))
	if r.cur.p1 > r.cur.p0 {
		r.turns = append(r.turns, r.cur)
	}
}

// str adds string node n to the current turn; own marks it as the author's
// own text. Other kinds and empty strings are ignored.
func (r *reqParse) str(n int, own bool) {
	if !r.d.nonEmptyStr(n) {
		return
	}
	r.pieces = append(r.pieces, piece{node: int32(n)})
	if own && r.cur.role != roleTool {
		r.cur.ownText = true
	}
}

// rawJSON adds node n as JSON text: a string's text, or the source of an
// object or array.
func (r *reqParse) rawJSON(n int) {
	switch r.d.kind(n) {
	case jString:
		r.str(n, false)
	case jObject, jArray:
		r.pieces = append(r.pieces, piece{node: int32(n), raw: true})
	}
}

// parseRequest reads the conversation of a request body in a known format.
// It reports false when the document is not one.
func (r *reqParse) parse() bool {
	d := r.d
	if d.kind(0) != jObject {
		return false
	}
	var f [len(requestFields)]int
	d.fields(0, requestNames, f[:])
	if msgs := f[0]; d.kind(msgs) == jArray {
		r.format = FormatOpenAIChat
		sys := f[1]
		if d.kind(sys) == jString || d.kind(sys) == jArray {
			r.format = FormatAnthropicMessages
			r.begin(roleSystem)
			r.content(sys)
			r.end()
		}
		for m := d.child(msgs); m >= 0; m = d.sibling(msgs, m) {
			r.message(m)
		}
		return true
	}
	input, instr := f[2], f[3]
	if ik := d.kind(input); ik == jString || ik == jArray || d.kind(instr) == jString {
		r.format = FormatOpenAIResponses
		switch d.kind(instr) {
		case jString:
			r.begin(roleSystem)
			r.str(instr, true)
			r.end()
		case jArray:
			r.items(instr, true)
		}
		switch d.kind(input) {
		case jString:
			r.begin(roleUser)
			r.str(input, true)
			r.end()
		case jArray:
			r.items(input, false)
		}
		return true
	}
	prompt := f[4]
	if pk := d.kind(prompt); pk == jString || pk == jArray {
		r.format = FormatOpenAICompletions
		r.begin(roleUser)
		if pk == jString {
			r.str(prompt, true)
		} else {
			for p := d.child(prompt); p >= 0; p = d.sibling(prompt, p) {
				r.str(p, true) // arrays of token ids carry no text
			}
		}
		r.str(f[5], true)
		r.end()
		return true
	}
	return false
}

// requestFields are the members of a request document parse reads.
var requestFields = [...]string{"messages", "system", "input", "instructions", "prompt", "suffix"}

// requestNames index requestFields.
var requestNames = newNameSet(requestFields[:])

// messageFields are the members of a message that message reads.
var messageFields = [...]string{"role", "content", "refusal", "tool_calls", "function_call"}

// messageNames index messageFields.
var messageNames = newNameSet(messageFields[:])

// message reads one chat message (OpenAI chat, Anthropic Messages, or a
// Responses API message item).
func (r *reqParse) message(m int) {
	d := r.d
	if d.kind(m) != jObject {
		return
	}
	var f [len(messageFields)]int
	d.fields(m, messageNames, f[:])
	r.begin(parseRole(d, f[0]))
	r.content(f[1])
	r.str(f[2], true)
	if calls := f[3]; d.kind(calls) == jArray {
		for c := d.child(calls); c >= 0; c = d.sibling(calls, c) {
			r.rawJSON(d.field(d.field(c, "function"), "arguments"))
		}
	}
	r.rawJSON(d.field(f[4], "arguments"))
	r.end()
}

// content reads a message's content: a string, or an array of content parts
// or blocks.
func (r *reqParse) content(c int) {
	d := r.d
	switch d.kind(c) {
	case jString:
		r.str(c, true)
	case jArray:
		for p := d.child(c); p >= 0; p = d.sibling(c, p) {
			r.part(p, true)
		}
	}
}

// partFields are the members of a content part or block that part and
// respParse.block read.
var partFields = [...]string{"type", "text", "refusal", "input", "content"}

// partNames index partFields.
var partNames = newNameSet(partFields[:])

// part reads one content part (OpenAI) or content block (Anthropic). own is
// false inside tool results.
func (r *reqParse) part(p int, own bool) {
	d := r.d
	switch d.kind(p) {
	case jString:
		r.str(p, own)
		return
	case jObject:
	default:
		return
	}
	var f [len(partFields)]int
	d.fields(p, partNames, f[:])
	var buf [64]byte
	switch string(d.text(f[0], &buf)) {
	case "text", "input_text", "output_text", "":
		r.str(f[1], own)
	case "refusal":
		r.str(f[2], own)
	case "tool_use", "server_tool_use", "mcp_tool_use":
		r.format = FormatAnthropicMessages
		r.rawJSON(f[3])
	case "tool_result", "mcp_tool_result":
		r.format = FormatAnthropicMessages
		c := f[4]
		switch d.kind(c) {
		case jString:
			r.str(c, false)
		case jArray:
			for q := d.child(c); q >= 0; q = d.sibling(c, q) {
				r.part(q, false)
			}
		}
	}
}

// itemFields are the members of a Responses API item that items and
// respParse.outputItem read.
var itemFields = [...]string{"type", "content", "arguments", "input", "output"}

// itemNames index itemFields.
var itemNames = newNameSet(itemFields[:])

// items reads a Responses API input item list; asSystem puts every item in
// the system part (instructions given as a list).
func (r *reqParse) items(list int, asSystem bool) {
	d := r.d
	for it := d.child(list); it >= 0; it = d.sibling(list, it) {
		if d.kind(it) != jObject {
			continue
		}
		var f [len(itemFields)]int
		d.fields(it, itemNames, f[:])
		var buf [64]byte
		switch string(d.text(f[0], &buf)) {
		case "message", "":
			if asSystem {
				r.begin(roleSystem)
				r.content(f[1])
				r.end()
			} else {
				r.message(it)
			}
		case "function_call", "custom_tool_call":
			r.begin(roleAssistant)
			r.rawJSON(f[2])
			r.rawJSON(f[3])
			r.end()
		case "function_call_output", "custom_tool_call_output", "computer_call_output", "local_shell_call_output", "mcp_call":
			r.begin(roleTool)
			out := f[4]
			switch d.kind(out) {
			case jString:
				r.str(out, false)
			case jArray:
				for q := d.child(out); q >= 0; q = d.sibling(out, q) {
					r.part(q, false)
				}
			}
			r.end()
		}
	}
}

// appendTurns appends the pieces of turns[from:] whose role is in roles to
// j.
func (r *reqParse) appendTurns(j *joiner, turns []turn, keep func(role) bool) {
	for _, t := range turns {
		if !keep(t.role) {
			continue
		}
		for _, p := range r.pieces[t.p0:t.p1] {
			if p.raw {
				j.addCompact(r.d.raw(int(p.node)))
			} else {
				j.addStr(r.d, int(p.node))
			}
		}
	}
}

// latestUser returns the index of the turn the latest user turn starts at:
// the last user message with text of its own (so that tool results sent
// back after it stay with it), else the last user message, else -1.
func (r *reqParse) latestUser() int {
	last := -1
	for i := len(r.turns) - 1; i >= 0; i-- {
		t := r.turns[i]
		if t.role != roleUser {
			continue
		}
		if t.ownText {
			return i
		}
		if last < 0 {
			last = i
		}
	}
	return last
}

// prompt builds the prompt text for sel, capped to max bytes, and reports
// whether it cut anything. The latest-user selections stop collecting text
// at limit bytes per part.
func (r *reqParse) prompt(sel PromptSelection, max, limit int) ([]byte, bool) {
	d := r.d
	if sel == PromptAllTurns {
		j := joiner{buf: d.buf(bufUser, 0), sep: "\n"}
		r.appendTurns(&j, r.turns, func(role) bool { return true })
		d.keep(bufUser, j.buf)
		// The latest turns matter most: when the conversation is over the
		// cap, its oldest text is cut.
		return cutTail(repairUTF8(j.buf), max)
	}
	// The texts are collected in d's buffers, sized by the document: the
	// text of a JSON document is never longer than its source.
	user := joiner{buf: d.buf(bufUser, min(limit, len(d.src))), sep: "\n", limit: limit}
	if li := r.latestUser(); li >= 0 {
		r.appendTurns(&user, r.turns[li:], func(ro role) bool { return ro == roleUser || ro == roleTool })
	} else {
		r.appendTurns(&user, r.turns, func(ro role) bool { return ro == roleUser || ro == roleTool })
	}
	d.keep(bufUser, user.buf)
	var sys joiner
	if sel == PromptLatestUserWithSystem {
		sys = joiner{buf: d.buf(bufSystem, 0), sep: "\n", limit: limit}
		r.appendTurns(&sys, r.turns, func(ro role) bool { return ro == roleSystem })
		d.keep(bufSystem, sys.buf)
	}
	sysText, userText := repairUTF8(sys.buf), repairUTF8(user.buf)
	out, cut := joinCapped(d.buf(bufPrompt, len(sysText)+1+len(userText)), sysText, userText, max)
	if len(sysText) > 0 && len(userText) > 0 {
		d.keep(bufPrompt, out) // built in the buffer; otherwise out is one of the texts
	}
	return out, cut || user.over || sys.over
}

// joinCapped joins the system text and the user text with "\n" within max
// bytes, appending to the empty buffer dst when it needs a new text. When
// both do not fit, the system text is cut first, but keeps at least half
// the cap if it is that long; the user text gets the rest.
func joinCapped(dst, sys, user []byte, max int) ([]byte, bool) {
	if len(sys) == 0 {
		return cutHead(user, max)
	}
	if len(user) == 0 {
		return cutHead(sys, max)
	}
	if len(sys)+1+len(user) <= max {
		return append(append(append(dst[:0], sys...), '\n'), user...), false
	}
	budget := max - 1 - len(user)
	if budget < max/2 {
		budget = max / 2
	}
	sys, _ = cutHead(sys, budget)
	rest := max - len(sys)
	if len(sys) > 0 {
		rest--
	}
	user, _ = cutHead(user, rest)
	out := dst[:0]
	out = append(out, sys...)
	if len(sys) > 0 && len(user) > 0 {
		out = append(out, '\n')
	}
	return append(out, user...), true
}
