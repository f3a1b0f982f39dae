package pii

import (
	"regexp"
	"strings"
)

// emailExpr is the shape of an e-mail address: a local part, '@', and a
// domain that ends in a dot and at least two letters.
const emailExpr = `[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`

var (
	emailText  = regexp.MustCompile(emailExpr)
	emailWhole = regexp.MustCompile(`^` + emailExpr + `$`)
)

// IsEmail reports whether s, as a whole, is an e-mail address.
func IsEmail(s string) bool {
	return strings.IndexByte(s, '@') >= 0 && emailWhole.MatchString(s)
}

// MaskEmails returns s with every e-mail address in it replaced by mask.
func MaskEmails(s, mask string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	return emailText.ReplaceAllLiteralString(s, mask)
}

// phoneForms are the shapes of phone numbers, each with the number of
// digits it may hold. Every form is a phone chunk (see PhoneChunk) with
// the grouping of a phone number: a plain run of digits is none of them.
var phoneForms = []struct {
	re       *regexp.Regexp // matches a whole chunk
	min, max int            // digits
}{
	// International (E.164): + and 8 to 15 digits, in groups separated by
	// spaces, dashes or parentheses, or none: +44 20 7946 0958.
	{regexp.MustCompile(`^\+\(?[0-9]{1,4}\)?(?:[ \-]?\(?[0-9]{1,5}\)?){1,6}$`), 8, 15},
	// North American, written with separators: (555) 010-9999,
	// 555-010-9999, 555.010.9999, 555 010 9999.
	{regexp.MustCompile(`^(?:\([0-9]{3}\) ?[0-9]{3}[ .\-]?|[0-9]{3}[ .\-][0-9]{3}[ .\-])[0-9]{4}$`), 10, 10},
	// National, with a leading 0 and groups separated by spaces or dashes:
	// 020 7946 0958.
	{regexp.MustCompile(`^0[0-9]{1,4}(?:[ \-][0-9]{2,4}){2,3}$`), 9, 12},
}

// IsPhone reports whether s, as a whole, is a phone number: a '+' and 8 to
// 15 digits with optional separators, a North American number written
// with separators, or a national number with a leading 0 written in
// groups. Plain runs of digits and dates are not phone numbers.
func IsPhone(s string) bool {
	if s == "" || PhoneChunk(s, 0) != len(s) {
		return false
	}
	n := countDigits(s)
	for _, f := range phoneForms {
		if n >= f.min && n <= f.max && f.re.MatchString(s) {
			return true
		}
	}
	return false
}

// PhoneChunk returns the end of the numeric chunk starting at s[i], or i
// if there is none. A chunk is an optional '+', then digit groups, each
// optionally in parentheses, joined by at most one space, dot or dash; it
// is as long as possible. Every phone number is a chunk; text scanners cut
// text into chunks and ask IsPhone about each.
func PhoneChunk(s string, i int) int {
	j := i
	if j < len(s) && s[j] == '+' {
		j++
	}
	j, ok := phoneGroup(s, j)
	if !ok {
		return i
	}
	for {
		k := j
		if k < len(s) && (s[k] == ' ' || s[k] == '.' || s[k] == '-') {
			k++
		}
		end, ok := phoneGroup(s, k)
		if !ok {
			return j
		}
		j = end
	}
}

// phoneGroup reads "(?digits)?" at s[j].
func phoneGroup(s string, j int) (int, bool) {
	k := j
	if k < len(s) && s[k] == '(' {
		k++
	}
	d := k
	for k < len(s) && isDigitByte(s[k]) {
		k++
	}
	if k == d {
		return j, false
	}
	if k < len(s) && s[k] == ')' {
		k++
	}
	return k, true
}

func isDigitByte(b byte) bool { return b >= '0' && b <= '9' }

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigitByte(s[i]) {
			n++
		}
	}
	return n
}

// The prefixes of AssuranceHub API keys.
const (
	TestKeyPrefix = "ash_test_"
	LiveKeyPrefix = "ash_live_"
)

// keyExpr is the shape of an AssuranceHub API key: a prefix and at least
// one key character.
const keyExpr = `ash_(?:test|live)_[A-Za-z0-9_\-]+`

var (
	keyText = regexp.MustCompile(keyExpr)
	// secretText is a key, or "bearer" (any case), white space and a
	// token (RFC 6750's b64token and its padding).
	secretText = regexp.MustCompile(keyExpr + `|(?i:bearer)\s+[A-Za-z0-9._~+/\-]+=*`)
)

// ContainsKeyPrefix reports whether s holds the prefix of an AssuranceHub
// API key ("ash_test_" or "ash_live_") anywhere.
func ContainsKeyPrefix(s string) bool {
	return strings.Contains(s, TestKeyPrefix) || strings.Contains(s, LiveKeyPrefix)
}

// MaskKeys returns s with every AssuranceHub API key in it replaced by mask.
func MaskKeys(s, mask string) string {
	if !strings.Contains(s, "ash_") {
		return s
	}
	return keyText.ReplaceAllLiteralString(s, mask)
}

// MaskKeysBytes is MaskKeys for a byte slice. It returns a new slice.
func MaskKeysBytes(b []byte, mask string) []byte {
	return keyText.ReplaceAllLiteral(b, []byte(mask))
}

// MaskSecrets returns s with every AssuranceHub API key, and every bearer
// token together with the word "bearer" before it, replaced by mask. Any
// token after "bearer" is masked, however short: it is meant for text that
// is logged, where a false positive costs nothing.
func MaskSecrets(s, mask string) string {
	if !strings.Contains(s, "ash_") && !containsBearer(s) {
		return s
	}
	return secretText.ReplaceAllLiteralString(s, mask)
}

// containsBearer reports whether s contains "bearer" in any case, as
// strings.Contains(strings.ToLower(s), "bearer") would, without copying s:
// no other rune lowers to these ASCII letters.
func containsBearer(s string) bool {
	const word = "bearer"
	for i := 0; i+len(word) <= len(s); i++ {
		if s[i]|0x20 != 'b' {
			continue
		}
		j := 1
		for j < len(word) && s[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}
