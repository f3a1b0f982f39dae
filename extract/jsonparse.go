package extract

import (
	"bytes"
	"errors"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON parser built for extraction: one pass over the
// bytes, no allocation per value, strings kept as ranges of the input and
// decoded only when their text is selected. It is strict about the JSON
// grammar (so a document it accepts is one encoding/json accepts too, apart
// from control characters inside strings, which it lets through) and has a
// depth limit. Bodies it rejects go to the tolerant string scanner below.

// jkind is the kind of a JSON value.
type jkind uint8

const (
	jInvalid jkind = iota
	jNull
	jTrue
	jFalse
	jNumber
	jString
	jObject
	jArray
)

// jnode is one value of a parsed document, in document order. The children
// of an object alternate key, value.
type jnode struct {
	start, end int32 // strings: the bytes between the quotes; other kinds: the value's bytes
	next       int32 // index of the first node after this value and its descendants
	kind       jkind
	esc        bool // string holds escape sequences
}

// jdoc is a parsed JSON document. Its zero value is ready to parse; a jdoc is
// reused across documents to keep its node slice.
type jdoc struct {
	src   []byte
	nodes []jnode
}

// maxJSONDepth bounds nesting; deeper documents are handled by the tolerant
// scanner instead.
const maxJSONDepth = 512

// errJSON reports a document the parser does not accept. It never carries
// any part of the input.
var errJSON = errors.New("malformed JSON")

// parse parses src as one JSON value surrounded by optional white space.
// On success the root is node 0.
func (d *jdoc) parse(src []byte) error {
	d.src = src
	d.nodes = d.nodes[:0]
	if len(src) >= math.MaxInt32 {
		return errJSON
	}
	i, err := d.value(skipWS(src, 0), 0)
	if err != nil {
		return err
	}
	if skipWS(src, i) != len(src) {
		return errJSON
	}
	return nil
}

func skipWS(s []byte, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value parses the value starting at s[i] and returns the index after it.
func (d *jdoc) value(i, depth int) (int, error) {
	s := d.src
	if i >= len(s) {
		return i, errJSON
	}
	switch c := s[i]; c {
	case '"':
		end, esc, ok := scanString(s, i+1)
		if !ok || (esc && !validEscapes(s[i+1:end])) {
			return i, errJSON
		}
		d.nodes = append(d.nodes, jnode{start: int32(i + 1), end: int32(end), next: int32(len(d.nodes) + 1), kind: jString, esc: esc})
		return end + 1, nil
	case '{', '[':
		if depth >= maxJSONDepth {
			return i, errJSON
		}
		idx := len(d.nodes)
		kind, closer := jObject, byte('}')
		if c == '[' {
			kind, closer = jArray, ']'
		}
		d.nodes = append(d.nodes, jnode{start: int32(i), kind: kind})
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == closer {
			i++
		} else {
			var err error
			for {
				if kind == jObject {
					if i >= len(s) || s[i] != '"' {
						return i, errJSON
					}
					if i, err = d.value(i, depth+1); err != nil {
						return i, err
					}
					i = skipWS(s, i)
					if i >= len(s) || s[i] != ':' {
						return i, errJSON
					}
					i = skipWS(s, i+1)
				}
				if i, err = d.value(i, depth+1); err != nil {
					return i, err
				}
				i = skipWS(s, i)
				if i >= len(s) {
					return i, errJSON
				}
				if s[i] == ',' {
					i = skipWS(s, i+1)
					continue
				}
				if s[i] != closer {
					return i, errJSON
				}
				i++
				break
			}
		}
		d.nodes[idx].end = int32(i)
		d.nodes[idx].next = int32(len(d.nodes))
		return i, nil
	case 't', 'f', 'n':
		lit, kind := "null", jNull
		switch c {
		case 't':
			lit, kind = "true", jTrue
		case 'f':
			lit, kind = "false", jFalse
		}
		if !bytes.HasPrefix(s[i:], []byte(lit)) {
			return i, errJSON
		}
		d.nodes = append(d.nodes, jnode{start: int32(i), end: int32(i + len(lit)), next: int32(len(d.nodes) + 1), kind: kind})
		return i + len(lit), nil
	default:
		end, ok := scanNumber(s, i)
		if !ok {
			return i, errJSON
		}
		d.nodes = append(d.nodes, jnode{start: int32(i), end: int32(end), next: int32(len(d.nodes) + 1), kind: jNumber})
		return end, nil
	}
}

// scanNumber scans a JSON number starting at s[i] per the JSON grammar.
func scanNumber(s []byte, i int) (int, bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = skipDigits(s, i+1)
	default:
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func skipDigits(s []byte, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// scanString finds the closing quote of the string whose content starts at
// s[start]. It returns the index of that quote (len(s) when the string is not
// closed), whether the content holds a backslash, and whether it was closed.
func scanString(s []byte, start int) (end int, esc bool, closed bool) {
	i := start
	for {
		j := bytes.IndexByte(s[i:], '"')
		if j < 0 {
			return len(s), bytes.IndexByte(s[start:], '\\') >= 0, false
		}
		q := i + j
		n := 0
		for k := q - 1; k >= start && s[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q, bytes.IndexByte(s[start:q], '\\') >= 0, true
		}
		i = q + 1
	}
}

// validEscapes reports whether every backslash in raw starts a valid JSON
// escape sequence.
func validEscapes(raw []byte) bool {
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return true
		}
		if i+1 >= len(raw) {
			return false
		}
		switch raw[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			raw = raw[i+2:]
		case 'u':
			if _, ok := hex4(raw[i+2:]); !ok {
				return false
			}
			raw = raw[i+6:]
		default:
			return false
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendUnquoted appends the decoded content of a JSON string (the bytes
// between the quotes) to dst. Invalid or cut escape sequences are dropped and
// lone surrogates become U+FFFD, as encoding/json does; invalid UTF-8 is left
// for the caller to repair.
func appendUnquoted(dst, raw []byte) []byte {
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		if i+1 >= len(raw) {
			return dst
		}
		c := raw[i+1]
		raw = raw[i+2:]
		switch c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw)
			if !ok {
				continue // a cut or malformed \u escape is dropped
			}
			raw = raw[4:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(raw) >= 6 && raw[0] == '\\' && raw[1] == 'u' {
					if v, ok := hex4(raw[2:]); ok {
						r2 = v
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					raw = raw[6:]
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
}

// raw returns the source bytes of node i (for strings, the undecoded content).
func (d *jdoc) raw(i int) []byte {
	n := &d.nodes[i]
	return d.src[n.start:n.end]
}

// kind returns the kind of node i, or jInvalid when i is -1.
func (d *jdoc) kind(i int) jkind {
	if i < 0 {
		return jInvalid
	}
	return d.nodes[i].kind
}

// appendStr appends the decoded text of string node i to dst.
func (d *jdoc) appendStr(dst []byte, i int) []byte {
	n := &d.nodes[i]
	if !n.esc {
		return append(dst, d.src[n.start:n.end]...)
	}
	return appendUnquoted(dst, d.src[n.start:n.end])
}

// strEq reports whether node i is a string equal to s.
func (d *jdoc) strEq(i int, s string) bool {
	if d.kind(i) != jString {
		return false
	}
	n := &d.nodes[i]
	if !n.esc {
		return string(d.src[n.start:n.end]) == s
	}
	var buf [64]byte
	return string(appendUnquoted(buf[:0], d.src[n.start:n.end])) == s
}

// name returns the text of string node i for comparisons in a switch; short
// names without escapes cost no allocation. Non-strings give "".
func (d *jdoc) name(i int) string {
	if d.kind(i) != jString {
		return ""
	}
	n := &d.nodes[i]
	if !n.esc {
		return string(d.src[n.start:n.end])
	}
	return string(appendUnquoted(nil, d.src[n.start:n.end]))
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
	i := d.field(obj, key)
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

// appendStrings appends the decoded text of every string value (not member
// names) of src to dst in document order, each non-empty one preceded by sep
// when dst already holds text. It accepts any bytes: malformed or cut JSON
// gives the strings it can find, and a string cut by the end of src gives its
// decoded beginning. With a positive limit it stops once dst holds more
// than limit bytes, cuts it back to at most limit where no rune is split,
// and reports that it left text out.
func appendStrings(dst, src []byte, sep string, limit int) ([]byte, bool) {
	i := 0
	for i < len(src) {
		j := bytes.IndexByte(src[i:], '"')
		if j < 0 {
			break
		}
		start := i + j + 1
		end, _, closed := scanString(src, start)
		isKey := false
		if closed {
			k := skipWS(src, end+1)
			isKey = k < len(src) && src[k] == ':'
		}
		if !isKey && end > start {
			mark := len(dst)
			if mark > 0 {
				dst = append(dst, sep...)
			}
			n := len(dst)
			if dst = appendUnquoted(dst, src[start:end]); len(dst) == n {
				dst = dst[:mark] // decoded to nothing: no separator either
			}
			if limit > 0 && len(dst) > limit {
				return trimCutRune(dst[:limit]), true
			}
		}
		i = end + 1
	}
	return dst, false
}

// appendCompact appends the JSON text raw without insignificant white space.
// raw must be a value the parser accepted.
func appendCompact(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			end, _, _ := scanString(raw, i+1)
			end = min(end+1, len(raw))
			dst = append(dst, raw[i:end]...)
			i = end
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// closeCut turns a JSON document cut short (a capture that hit its cap, a
// body cut mid-write) into a complete one: it keeps the text up to the last
// complete value, closes a string value left open (dropping an escape cut in
// half), and closes the open arrays and objects. A key, number or literal cut
// short is dropped with what follows its last complete value. It reports
// false when src is not a JSON document cut short: complete already, not
// JSON, or broken before its end.
func closeCut(src []byte) ([]byte, bool) {
	var stack []byte // open containers, '{' or '['
	safe, depth := -1, 0
	expectKey := false
	done := func(i int) {
		safe, depth = i, len(stack)
		expectKey = false
	}
	i := 0
	for {
		i = skipWS(src, i)
		if i >= len(src) {
			break
		}
		if len(stack) == 0 && safe >= 0 {
			return nil, false // a complete root followed by more bytes
		}
		switch c := src[i]; c {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return nil, false
			}
			stack = append(stack, c)
			i++
			safe, depth = i, len(stack)
			expectKey = c == '{'
		case '}', ']':
			if len(stack) == 0 || (stack[len(stack)-1] == '{') != (c == '}') {
				return nil, false
			}
			stack = stack[:len(stack)-1]
			i++
			done(i)
		case ',':
			if len(stack) == 0 {
				return nil, false
			}
			i++
			expectKey = stack[len(stack)-1] == '{'
		case ':':
			i++
		case '"':
			end, _, closed := scanString(src, i+1)
			isKey := len(stack) > 0 && stack[len(stack)-1] == '{' && expectKey
			if !closed {
				if isKey || len(stack) == 0 {
					goto out
				}
				doc := append(append([]byte(nil), src[:i+1+cutEscape(src[i+1:])]...), '"')
				return closeStack(doc, stack), true
			}
			i = end + 1
			if isKey {
				expectKey = false
			} else {
				done(i)
			}
		default:
			j := i
			for j < len(src) && !isDelim(src[j]) {
				j++
			}
			if j == len(src) {
				goto out // a number or literal that may be cut
			}
			i = j
			done(i)
		}
	}
out:
	if safe < 0 || depth == 0 {
		return nil, false // nothing to close, or complete already
	}
	return closeStack(append([]byte(nil), src[:safe]...), stack[:depth]), true
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}

// closeStack appends the closers of the open containers in stack.
func closeStack(dst, stack []byte) []byte {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i] == '{' {
			dst = append(dst, '}')
		} else {
			dst = append(dst, ']')
		}
	}
	return dst
}

// cutEscape returns the length of the content of a string cut short, less an
// escape sequence cut in half at its end, and less a \u escape of a high
// surrogate whose pair was cut off.
func cutEscape(s []byte) int {
	n := cutHalfEscape(s)
	// t[len(t)-6] must be a backslash that starts an escape: cutting the
	// text just after it must cut that lone backslash off.
	if t := s[:n]; len(t) >= 6 && cutHalfEscape(t[:len(t)-5]) == len(t)-6 && t[len(t)-5] == 'u' {
		if r, ok := hex4(t[len(t)-4:]); ok && r >= 0xD800 && r < 0xDC00 {
			return len(t) - 6
		}
	}
	return n
}

// cutHalfEscape returns len(s) less an escape sequence cut in half at the
// end of s.
func cutHalfEscape(s []byte) int {
	for b := len(s) - 1; b >= 0 && b >= len(s)-6; b-- {
		if s[b] != '\\' {
			continue
		}
		n := 0
		for x := b; x >= 0 && s[x] == '\\'; x-- {
			n++
		}
		if n%2 == 1 { // s[b] starts an escape
			if esc := s[b:]; len(esc) < 2 || (esc[1] == 'u' && len(esc) < 6) {
				return b
			}
		}
		break
	}
	return len(s)
}
