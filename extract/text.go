package extract

import (
	"bytes"
	"unicode/utf8"
)

// replacement is what a run of invalid UTF-8 becomes.
var replacement = []byte(string(utf8.RuneError))

// repairUTF8 returns b with every run of invalid UTF-8 replaced by U+FFFD.
func repairUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, replacement)
}

// cutHead returns the longest prefix of the valid UTF-8 text b that is at
// most max bytes and ends on a rune boundary, and whether it cut anything.
func cutHead(b []byte, max int) ([]byte, bool) {
	if len(b) <= max {
		return b, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return b[:cut], true
}

// cutTail returns the longest suffix of the valid UTF-8 text b that is at
// most max bytes and starts on a rune boundary, and whether it cut anything.
func cutTail(b []byte, max int) ([]byte, bool) {
	if len(b) <= max {
		return b, false
	}
	start := len(b) - max
	for start < len(b) && !utf8.RuneStart(b[start]) {
		start++
	}
	return b[start:], true
}

// trimCutRune drops a UTF-8 sequence left incomplete at the end of b, as a
// capture cut by a byte cap leaves it, so that a cut body yields a prefix of
// the full text instead of a replacement character.
func trimCutRune(b []byte) []byte {
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		if utf8.RuneStart(b[len(b)-k]) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return b[:len(b)-k]
			}
			return b
		}
	}
	return b
}

// isBlank reports whether b holds nothing but white space.
func isBlank(b []byte) bool {
	return len(bytes.TrimSpace(b)) == 0
}

// joiner appends pieces of text separated by sep, skipping empty pieces.
// With a positive limit it stops collecting once it holds limit bytes (cut
// where no rune is split) and sets over.
type joiner struct {
	buf   []byte
	sep   string
	limit int
	over  bool
}

// full reports whether the joiner takes no more text.
func (j *joiner) full() bool {
	return j.limit > 0 && len(j.buf) >= j.limit
}

// clip enforces the limit after an append.
func (j *joiner) clip() {
	if j.limit > 0 && len(j.buf) > j.limit {
		j.buf = trimCutRune(j.buf[:j.limit])
		j.over = true
	}
}

// addStr appends the decoded text of string node i of d, with a separator
// before it when both it and the text before it are non-empty.
func (j *joiner) addStr(d *jdoc, i int) {
	if j.full() {
		j.over = j.over || d.nonEmptyStr(i)
		return
	}
	mark := len(j.buf)
	if mark > 0 {
		j.buf = append(j.buf, j.sep...)
	}
	n := len(j.buf)
	if j.buf = d.appendStr(j.buf, i); len(j.buf) == n {
		j.buf = j.buf[:mark]
	}
	j.clip()
}

// addCompact appends the JSON text raw, compacted, like addStr.
func (j *joiner) addCompact(raw []byte) {
	if j.full() {
		j.over = true
		return
	}
	mark := len(j.buf)
	if mark > 0 {
		j.buf = append(j.buf, j.sep...)
	}
	n := len(j.buf)
	if j.buf = appendCompact(j.buf, raw); len(j.buf) == n {
		j.buf = j.buf[:mark]
	}
	j.clip()
}

// addBytes appends piece like addStr.
func (j *joiner) addBytes(piece []byte) {
	if len(piece) == 0 {
		return
	}
	if j.full() {
		j.over = true
		return
	}
	if len(j.buf) > 0 {
		j.buf = append(j.buf, j.sep...)
	}
	j.buf = append(j.buf, piece...)
	j.clip()
}
