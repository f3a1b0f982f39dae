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

// raw returns the source bytes of node i (for strings, the undecoded content).
func (d *jdoc) raw(i int) []byte {
	n := &d.nodes[i]
	return d.src[n.start:n.end]
}

// quoted returns string node i with its quotes.
func (d *jdoc) quoted(i int) []byte {
	n := &d.nodes[i]
	return d.src[n.start-1 : n.end+1]
}

// kind returns the kind of node i, or jInvalid when i is -1.
func (d *jdoc) kind(i int) jkind {
	if i < 0 {
		return jInvalid
	}
	return d.nodes[i].kind
}

// escaped reports whether string node i holds escape sequences.
func (d *jdoc) escaped(i int) bool {
	return bytes.IndexByte(d.raw(i), '\\') >= 0
}

// appendStr appends the decoded text of string node i to dst.
func (d *jdoc) appendStr(dst []byte, i int) []byte {
	if !d.escaped(i) {
		return append(dst, d.raw(i)...)
	}
	return appendUnquoted(dst, d.quoted(i))
}

// strEq reports whether node i is a string equal to s, which holds no
// backslash.
func (d *jdoc) strEq(i int, s string) bool {
	if d.kind(i) != jString {
		return false
	}
	// Escape sequences are longer than their text, so a string of the
	// length of s equals s as it is, and a shorter one cannot.
	switch raw := d.raw(i); {
	case len(raw) == len(s):
		return string(raw) == s
	case len(raw) < len(s) || !d.escaped(i):
		return false
	}
	var buf [64]byte
	return string(appendUnquoted(buf[:0], d.quoted(i))) == s
}

// text returns the decoded text of string node i for a comparison or a
// switch: its source bytes when it holds no escape sequence, else its text
// decoded into buf. Non-strings give nil.
func (d *jdoc) text(i int, buf *[64]byte) []byte {
	if d.kind(i) != jString {
		return nil
	}
	if !d.escaped(i) {
		return d.raw(i)
	}
	return appendUnquoted(buf[:0], d.quoted(i))
}

// fields sets vals[j] to the value of the last member of object node obj
// named set.names[j], or to -1, as field does for each name, in one pass
// over the members. vals is as long as set.names.
func (d *jdoc) fields(obj int, set *nameSet, vals []int) {
	for j := range vals {
		vals[j] = -1
	}
	if d.kind(obj) != jObject {
		return
	}
	var buf [64]byte
	for k := d.child(obj); k >= 0; {
		v := int(d.nodes[k].next)
		key := d.raw(k)
		if j := set.match(key); j >= 0 {
			vals[j] = v
		} else if len(key) > set.shortest && d.escaped(k) {
			// The names hold no backslash: only a name with escape
			// sequences can match once decoded, and it is longer than
			// its text.
			if j := set.match(appendUnquoted(buf[:0], d.quoted(k))); j >= 0 {
				vals[j] = v
			}
		}
		k = d.sibling(obj, v)
	}
}

// nameSet is a list of distinct member names, none holding a backslash,
// indexed by length for jdoc.fields.
type nameSet struct {
	names    []string
	byLen    [][]uint8 // byLen[n] holds the indexes of the names of n bytes
	shortest int       // the length of the shortest name
}

func newNameSet(names []string) *nameSet {
	s := &nameSet{names: names, shortest: len(names[0])}
	for j, name := range names {
		for len(s.byLen) <= len(name) {
			s.byLen = append(s.byLen, nil)
		}
		s.byLen[len(name)] = append(s.byLen[len(name)], uint8(j))
		s.shortest = min(s.shortest, len(name))
	}
	return s
}

// match returns the index of key in s.names, or -1.
func (s *nameSet) match(key []byte) int {
	if len(key) >= len(s.byLen) {
		return -1
	}
	for _, j := range s.byLen[len(key)] {
		if string(key) == s.names[j] {
			return int(j)
		}
	}
	return -1
}

// nonEmptyStr reports whether node i is a string with content.
func (d *jdoc) nonEmptyStr(i int) bool {
	return d.kind(i) == jString && d.nodes[i].end > d.nodes[i].start
}

// child returns the first child of container node i, or -1.
func (d *jdoc) child(i int) int {
	if i < 0 || int(d.nodes[i].next) == i+1 {
		return -1
	}
	return i + 1
}

// sibling returns the child of container node parent that follows child c,
// or -1.
func (d *jdoc) sibling(parent, c int) int {
	n := int(d.nodes[c].next)
	if n >= int(d.nodes[parent].next) {
		return -1
	}
	return n
}

// field returns the value of the last member of object node obj named key,
// or -1. The last one wins, as in most JSON parsers a server would use.
func (d *jdoc) field(obj int, key string) int {
	if d.kind(obj) != jObject {
		return -1
	}
	found := -1
	for k := d.child(obj); k >= 0; {
		v := int(d.nodes[k].next)
		if d.strEq(k, key) {
			found = v
		}
		k = d.sibling(obj, v)
	}
	return found
}

// intField returns the integer value of member key of obj, or def when it
// is missing or not a small integer.
func (d *jdoc) intField(obj int, key string, def int32) int32 {
	return d.intValue(d.field(obj, key), def)
}

// intValue returns the integer value of node i, or def when it is missing
// (-1) or not a small integer.
func (d *jdoc) intValue(i int, def int32) int32 {
	if d.kind(i) != jNumber {
		return def
	}
	b := d.raw(i)
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return def
	}
	var v int32
	for _, c := range b {
		if c < '0' || c > '9' {
			return def
		}
		v = v*10 + int32(c-'0')
	}
	if neg {
		v = -v
	}
	return v
}

// appendStrings appends the text of the document's string values to dst as
// the function appendStrings does for its source.
func (d *jdoc) appendStrings(dst []byte, sep string, limit int) ([]byte, bool) {
	for i := range d.nodes {
		if n := &d.nodes[i]; n.kind != jString || n.key || n.end == n.start {
			continue
		}
		if len(dst) > 0 {
			dst = append(dst, sep...)
		}
		if dst = d.appendStr(dst, i); limit > 0 && len(dst) > limit {
			return trimCutRune(dst[:limit]), true
		}
	}
	return dst, false
}
