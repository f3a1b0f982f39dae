package extract

import (
	"bytes"
	"errors"
	"io"
	"math"
	"unicode/utf8"

	// Switch to encoding/json/jsontext once it leaves GOEXPERIMENT.
	"github.com/go-json-experiment/json/jsontext"
)

// This file reads JSON for extraction on top of jsontext: a document becomes
// an index of its values (strings kept as ranges of the input and decoded
// only when their text is selected), and the tolerant readings of cut or
// broken bodies take every complete token jsontext yields.

// decodeOptions are the tolerances of every decoder here, those of
// encoding/json: strings may hold invalid UTF-8 and lone surrogate escapes
// (repaired later to U+FFFD), and a member name may repeat (the last wins).
var decodeOptions = []jsontext.Options{jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)}

// compactOptions make jsontext.AppendFormat drop white space and change
// nothing else.
var compactOptions = []jsontext.Options{jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true), jsontext.PreserveRawStrings(true)}

// jkind is the kind of a JSON value.
type jkind = jsontext.Kind

// The kinds of JSON values.
const (
	jInvalid jkind = 0
	jNull    jkind = 'n'
	jTrue    jkind = 't'
	jFalse   jkind = 'f'
	jNumber  jkind = '0'
	jString  jkind = '"'
	jObject  jkind = '{'
	jArray   jkind = '['
)

// jnode is one value of a parsed document, in document order. The children
// of an object alternate key, value.
type jnode struct {
	start, end int32 // strings: the bytes between the quotes; other kinds: the value's bytes
	next       int32 // index of the first node after this value and its descendants
	kind       jkind
	key        bool // string is an object member name
}

// tokens is a jsontext decoder that reads its input in place: its offsets
// and UnreadBuffer index the input itself.
type tokens struct {
	buf bytes.Buffer
	dec jsontext.Decoder
}

// reset starts reading src and returns the decoder.
func (t *tokens) reset(src []byte) *jsontext.Decoder {
	// A bytes.Buffer is read without a copy, so offsets index src.
	t.buf = *bytes.NewBuffer(src)
	t.dec.Reset(&t.buf, decodeOptions...)
	return &t.dec
}

// openNode is a container being parsed: its node, and for an object
// whether its next child is a member name.
type openNode struct {
	node     int32
	object   bool
	nameNext bool
}

// jdoc is a parsed JSON document. Its zero value is ready to parse; a jdoc is
// reused across documents to keep its buffers.
type jdoc struct {
	src   []byte
	nodes []jnode
	open  []openNode // containers not closed yet, while parsing
	tok   tokens

	// Buffers one Extract call reuses from the last: the texts it collects
	// (see the buf constants) and the request's conversation.
	bufs   [numBufs][]byte
	turns  []turn
	pieces []piece
	asm    streamAsm // the assembler of a streamed response
}

// The text buffers of a jdoc, one per text alive at once in an Extract call.
const (
	bufUser   = iota // the request's latest user turn, or all its turns
	bufSystem        // its system text
	bufPrompt        // the two joined
	bufResp          // the response text
	numBufs
)

// maxKeptBuf is the largest text buffer a pooled jdoc keeps.
const maxKeptBuf = 64 << 10

// buf returns text buffer i of d, empty, with room for size bytes.
func (d *jdoc) buf(i, size int) []byte {
	b := d.bufs[i][:0]
	if cap(b) < size {
		b = make([]byte, 0, size)
	}
	return b
}

// keep holds b, which was grown from d.buf(i, ...), for the next call,
// unless it is large.
func (d *jdoc) keep(i int, b []byte) {
	if cap(b) <= maxKeptBuf && cap(b) > cap(d.bufs[i]) {
		d.bufs[i] = b[:0]
	}
}

// maxJSONDepth bounds nesting; deeper documents are handled by the tolerant
// reading instead.
const maxJSONDepth = 512

// errJSON reports a document the parser does not accept. It never carries
// any part of the input.
var errJSON = errors.New("malformed JSON")

// parse parses src as one JSON value surrounded by optional white space.
// On success the root is node 0.
func (d *jdoc) parse(src []byte) error {
	d.src = src
	if len(src) >= math.MaxInt32 {
		d.nodes, d.open = d.nodes[:0], d.open[:0]
		return errJSON
	}
	var err error
	d.nodes, d.open, err = parseNodes(d.tok.reset(src), d.nodes[:0], d.open[:0])
	return err
}

// parseNodes appends the nodes of the value dec reads to nodes, using open
// as its stack; the slices live in locals while it runs.
func parseNodes(dec *jsontext.Decoder, nodes []jnode, open []openNode) ([]jnode, []openNode, error) {
	for {
		kind := dec.PeekKind()
		// In an object, member names and values alternate; the parser
		// accepts nothing but a string where a name goes.
		name := false
		if kind != '}' && kind != ']' && len(open) > 0 {
			if o := &open[len(open)-1]; o.object {
				name = o.nameNext
				o.nameNext = !o.nameNext
			}
		}
		switch kind {
		case jInvalid:
			return nodes, open, errJSON
		case '{', '[':
			if _, err := dec.ReadToken(); err != nil || len(open) >= maxJSONDepth {
				return nodes, open, errJSON
			}
			open = append(open, openNode{node: int32(len(nodes)), object: kind == '{', nameNext: true})
			nodes = append(nodes, jnode{})
			n := &nodes[len(nodes)-1]
			n.start, n.kind = int32(dec.InputOffset()-1), kind
		case '}', ']':
			if _, err := dec.ReadToken(); err != nil {
				return nodes, open, errJSON
			}
			n := &nodes[open[len(open)-1].node]
			open = open[:len(open)-1]
			n.end = int32(dec.InputOffset())
			n.next = int32(len(nodes))
		default:
			v, err := dec.ReadValue()
			if err != nil {
				return nodes, open, errJSON
			}
			// The node is written in place: a node built aside and then
			// copied costs a stalled load for each value.
			nodes = append(nodes, jnode{})
			n := &nodes[len(nodes)-1]
			end := int32(dec.InputOffset())
			n.start, n.end, n.next, n.kind = end-int32(len(v)), end, int32(len(nodes)), kind
			if kind == jString {
				n.start, n.end, n.key = n.start+1, n.end-1, name
			}
		}
		if len(open) == 0 {
			if _, err := dec.ReadToken(); err != io.EOF {
				return nodes, open, errJSON // more than one value
			}
			return nodes, open, nil
		}
	}
}

// release drops the references to the last document.
func (d *jdoc) release() {
	d.src = nil
	d.tok.reset(nil)
	d.asm.release()
}

// jsonSpace is the white space of the JSON grammar.
const jsonSpace = " \t\n\r"

// skipWS returns the index of the first byte of s at or after i that is not
// JSON white space.
func skipWS(s []byte, i int) int {
	return len(s) - len(bytes.TrimLeft(s[i:], jsonSpace))
}

// appendUnquoted appends the decoded text of the JSON string q to dst. q is
// the string from its opening quote, with or without the closing one; it
// holds valid escape sequences only. Lone surrogates become U+FFFD, as in
// encoding/json; invalid UTF-8 is copied for the caller to repair.
func appendUnquoted(dst, q []byte) []byte {
	n := len(dst)
	out, err := jsontext.AppendUnquote(dst, q)
	if err == nil || utf8.Valid(q) {
		return out // an error for a lone surrogate or a missing closing quote
	}
	dst = out[:n]
	// jsontext would replace each invalid byte on its own; decode the valid
	// runs and copy the invalid bytes between them. No escape sequence spans
	// an invalid byte.
	body := q[1:]
	var run []byte
	for len(body) > 0 {
		i := 0
		for i < len(body) {
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		if i > 0 {
			run = append(append(run[:0], '"'), body[:i]...)
			dst, _ = jsontext.AppendUnquote(dst, run)
			body = body[i:]
		}
		for len(body) > 0 {
			if r, size := utf8.DecodeRune(body); r != utf8.RuneError || size > 1 {
				break
			}
			dst = append(dst, body[0])
			body = body[1:]
		}
	}
	return dst
}
