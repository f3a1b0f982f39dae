package safecheck

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxIDLen is the most bytes of a request id or a customer id that reach a
// log record, a hook or the checker.
const maxIDLen = 128

// cleanID returns id as it may appear in a log record: every control
// character and every byte that is not valid UTF-8 replaced by '_', then cut
// to at most maxIDLen bytes without splitting a character. An id that is
// already clean is returned unchanged, without allocating.
func cleanID(id string) string {
	var (
		b       strings.Builder
		copying bool // b holds the cleaned form of id[:i]
	)
	for i := 0; i < len(id); {
		r, n := rune(id[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(id[i:])
		}
		bad := r == utf8.RuneError && n == 1 || unicode.IsControl(r)
		size, done := n, i // bytes this character adds, bytes written so far
		if bad {
			size = 1
		}
		if copying {
			done = b.Len()
		}
		if done+size > maxIDLen {
			if !copying {
				// A copy, so that a long id's memory is not kept alive.
				return strings.Clone(id[:i])
			}
			return b.String()
		}
		switch {
		case bad && !copying:
			copying = true
			b.Grow(min(len(id), maxIDLen))
			b.WriteString(id[:i])
			b.WriteByte('_')
		case bad:
			b.WriteByte('_')
		case copying:
			b.WriteString(id[i : i+n])
		}
		i += n
	}
	if !copying {
		return id
	}
	return b.String()
}
