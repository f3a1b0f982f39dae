package extract

import "bytes"

// This file reads a parsed document (json.go): a node's bytes, kind and
// text, an object's members, and the strings below a node.

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
