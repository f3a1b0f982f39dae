package extract

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// atName reports whether the next token of dec is an object member name.
func atName(dec *jsontext.Decoder) bool {
	depth := dec.StackDepth()
	if depth == 0 {
		return false
	}
	kind, n := dec.StackIndex(depth)
	return kind == '{' && n%2 == 0
}

// cutString returns the offsets in src of the string value that dec failed
// to read because src ends inside it: from its opening quote to the end of
// its last complete character. An escape sequence cut in half is left out,
// and so is a high surrogate whose low half was cut off. It reports false
// when err is another failure.
func cutString(dec *jsontext.Decoder, src []byte, err error) (start, end int, ok bool) {
	var serr *jsontext.SyntacticError
	if !errors.As(err, &serr) || serr.Err != io.ErrUnexpectedEOF {
		return 0, 0, false
	}
	// Only white space and a comma or colon stand before the opening quote.
	start = len(src) - len(bytes.TrimLeft(dec.UnreadBuffer(), jsonSpace+",:"))
	end = int(serr.ByteOffset)
	if start >= end || src[start] != '"' {
		return 0, 0, false
	}
	// With invalid UTF-8 allowed, a surrogate escape needs no pair; a strict
	// decoder stops before an unpaired one at the end.
	_, err = jsontext.NewDecoder(bytes.NewBuffer(src[start:end])).ReadValue()
	if errors.As(err, &serr) && serr.Err == io.ErrUnexpectedEOF {
		if e := start + int(serr.ByteOffset); e < end && isHighSurrogate(src[e:end]) {
			end = e
		}
	}
	return start, end, true
}

// isHighSurrogate reports whether esc is a \u escape of a UTF-16 high
// surrogate (U+D800 to U+DBFF).
func isHighSurrogate(esc []byte) bool {
	if len(esc) != 6 || (esc[2] != 'd' && esc[2] != 'D') {
		return false
	}
	switch esc[3] {
	case '8', '9', 'a', 'b', 'A', 'B':
		return true
	}
	return false
}

// appendStrings appends the decoded text of every string value (not member
// names) of src to dst in document order, each non-empty one preceded by sep
// when dst already holds text. It accepts any bytes: a stream of several
// values gives the strings of each, JSON cut short gives the strings of its
// complete tokens and the decoded beginning of a string value cut by the end
// of src, and where src stops being JSON, the rest of it is appended as it
// is. With a positive limit it stops once dst holds more than limit bytes,
// cuts it back to at most limit where no rune is split, and reports that it
// left text out.
func appendStrings(dst, src []byte, sep string, limit int) ([]byte, bool) {
	t := tokensPool.Get().(*tokens)
	defer func() {
		t.reset(nil)
		tokensPool.Put(t)
	}()
	dec := t.reset(src)
	var err error
	for {
		if dec.PeekKind() != jString {
			if _, err = dec.ReadToken(); err != nil {
				break
			}
			continue
		}
		name := atName(dec)
		var v []byte
		if v, err = dec.ReadValue(); err != nil {
			if start, end, ok := cutString(dec, src, err); ok && !name {
				return appendPiece(dst, src[start:end], true, sep, limit)
			}
			break
		}
		if !name {
			var over bool
			if dst, over = appendPiece(dst, v, true, sep, limit); over {
				return dst, true
			}
		}
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return dst, false
	}
	rest := bytes.TrimLeft(src[dec.InputOffset():], jsonSpace+",:")
	return appendPiece(dst, rest, false, sep, limit)
}

// tokensPool keeps the decoders of appendStrings and closeCut.
var tokensPool = sync.Pool{New: func() any { return new(tokens) }}

// appendPiece appends one text of appendStrings: a JSON string (from its
// opening quote) when quoted is set, else raw bytes.
func appendPiece(dst, piece []byte, quoted bool, sep string, limit int) ([]byte, bool) {
	mark := len(dst)
	if mark > 0 {
		dst = append(dst, sep...)
	}
	n := len(dst)
	if quoted {
		dst = appendUnquoted(dst, piece)
	} else {
		dst = append(dst, piece...)
	}
	if len(dst) == n {
		dst = dst[:mark] // decoded to nothing: no separator either
	}
	if limit > 0 && len(dst) > limit {
		return trimCutRune(dst[:limit]), true
	}
	return dst, false
}

// appendCompact appends the JSON text raw without insignificant white space.
// raw must be a value the parser accepted.
func appendCompact(dst, raw []byte) []byte {
	dst, _ = jsontext.AppendFormat(dst, raw, compactOptions...)
	return dst
}

// closeCut turns a JSON document cut short (a capture that hit its cap, a
// body cut mid-write) into a complete one: it keeps the text up to the last
// complete value, closes a string value left open (dropping an escape cut in
// half), and closes the open arrays and objects. A key, number or literal cut
// short is dropped with what follows its last complete value; so is a
// number or literal that ends the input, as it may be cut too. It reports
// false when src is not a JSON document cut short: complete already, not
// JSON, or broken before its end.
func closeCut(src []byte) ([]byte, bool) {
	t := tokensPool.Get().(*tokens)
	defer func() {
		t.reset(nil)
		tokensPool.Put(t)
	}()
	dec := t.reset(src)
	safe := -1 // the end of the last complete value or opened container
	var err error
	for err == nil {
		switch kind := dec.PeekKind(); kind {
		case jInvalid:
			_, err = dec.ReadToken()
		case '{', '[':
			if _, err = dec.ReadToken(); err == nil {
				if dec.StackDepth() > maxJSONDepth {
					return nil, false
				}
				safe = int(dec.InputOffset())
			}
		case '}', ']':
			if _, err = dec.ReadToken(); err == nil {
				if dec.StackDepth() == 0 {
					return nil, false // complete
				}
				safe = int(dec.InputOffset())
			}
		default:
			name := atName(dec)
			if _, err = dec.ReadValue(); err != nil {
				if _, end, ok := cutString(dec, src, err); ok && !name && dec.StackDepth() > 0 {
					return closeStack(append(append([]byte(nil), src[:end]...), '"'), dec), true
				}
				break
			}
			switch {
			case dec.StackDepth() == 0:
				return nil, false // a complete root that is no container
			case name:
			case kind != jString && int(dec.InputOffset()) == len(src):
				err = io.ErrUnexpectedEOF // a number or literal that may be cut
			default:
				safe = int(dec.InputOffset())
			}
		}
	}
	if safe < 0 || !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, false
	}
	return closeStack(append([]byte(nil), src[:safe]...), dec), true
}

// closeStack appends the closers of the arrays and objects open in dec.
func closeStack(dst []byte, dec *jsontext.Decoder) []byte {
	for i := dec.StackDepth(); i > 0; i-- {
		if kind, _ := dec.StackIndex(i); kind == '{' {
			dst = append(dst, '}')
		} else {
			dst = append(dst, ']')
		}
	}
	return dst
}
