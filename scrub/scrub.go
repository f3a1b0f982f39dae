package scrub

import (
	"strings"

	"github.com/safecheck/safecheck/internal/pii"
)

// Masks that Text puts in place of what it finds.
const (
	MaskEmail  = "[EMAIL]"
	MaskPhone  = "[PHONE]"
	MaskCard   = "[CARD]"
	MaskSecret = "[SECRET]"
)

// Text masks personal data and credentials in s:
//
//   - API keys and tokens: AssuranceHub keys (ash_test_..., ash_live_...),
//     sk-... keys of at least 20 characters after the dash, and bearer
//     tokens of at least 16 characters that hold a digit or punctuation
//     ("Bearer" is kept, the token becomes [SECRET]);
//   - e-mail addresses ([EMAIL]);
//   - card numbers: 13 to 19 digits, contiguous or in groups separated by
//     single spaces or dashes, that pass the Luhn check ([CARD]); digit
//     runs of that length that fail it are left alone;
//   - phone numbers ([PHONE]): + and 8 to 15 digits, contiguous or in
//     groups separated by spaces, dashes or parentheses; North American
//     10-digit numbers written with separators, such as (555) 010-9999,
//     555-010-9999 or 555.010.9999; and national numbers starting with 0
//     of 9 to 12 digits in groups separated by spaces or dashes, such as
//     020 7946 0958. A plain run of digits without a leading + (5550109999,
//     an order number) and a date are not phone numbers.
//
// Recognition is by shape, so it has false positives (an order number that
// looks like a phone number) and false negatives (a phone number written in
// words or without separators). The e-mail and phone shapes are those by
// which safecheck's log records hash customer ids (see
// safecheck.WithRawCustomerIDs). Text is idempotent, keeps valid UTF-8
// valid and never leaves a Luhn-valid run of 13 to 19 digits. It is safe
// for concurrent use.
func Text(s string) string {
	s = maskSecretsIn(s)
	s = pii.MaskEmails(s, MaskEmail)
	if !hasDigit(s) {
		return s
	}
	s = maskCards(s)
	return maskPhones(s)
}

// Lengths below which an sk- key or a bearer token is taken for prose
// ("the sk-learn library", "the bearer of bad news").
const (
	minSKKey       = 20 // characters after "sk-"
	minBearerToken = 16
)

// maskSecretsIn masks API keys and bearer tokens. Prompts come from end
// users, so every pass is linear in len(s).
func maskSecretsIn(s string) string {
	s = pii.MaskKeys(s, MaskSecret)
	if strings.Contains(s, "sk-") {
		s = maskSKKeys(s)
	}
	return maskBearerTokens(s)
}

// atWordStart reports whether s[i] starts a word: it is the first byte or
// follows one that is neither a letter, a digit, '_' nor ']' (the end of a
// mask, so that a mask put in front of a word does not make it one).
func atWordStart(s string, i int) bool {
	return i == 0 || !(isAlnumByte(s[i-1]) || s[i-1] == ']')
}

// maskSKKeys masks "sk-" followed by at least minSKKey characters from
// A-Z, a-z, 0-9, '_' and '-', at the start of a word.
func maskSKKeys(s string) string {
	var masks []span
	for i := 0; i+3 <= len(s); i++ {
		if s[i] != 's' || s[i+1] != 'k' || s[i+2] != '-' || !atWordStart(s, i) {
			continue
		}
		j := i + 3
		for j < len(s) && (isAlnumByte(s[j]) || s[j] == '-') {
			j++
		}
		if j-i-3 >= minSKKey {
			masks = append(masks, span{i, j})
			i = j - 1
		}
	}
	return replaceSpans(s, masks, MaskSecret)
}

// maskBearerTokens masks the token after "bearer" (any case, at the start
// of a word, then white space): characters from A-Z, a-z, 0-9 and "-._~+/",
// then any '=' padding, if isBearerToken accepts it.
func maskBearerTokens(s string) string {
	var masks []span
	for i := 0; i+6 < len(s); i++ {
		if s[i]|0x20 != 'b' || !strings.EqualFold(s[i:i+6], "bearer") || !atWordStart(s, i) {
			continue
		}
		j := i + 6
		for j < len(s) && isSpaceByte(s[j]) {
			j++
		}
		if j == i+6 {
			continue
		}
		k := j
		for k < len(s) && isTokenByte(s[k]) {
			k++
		}
		for k < len(s) && s[k] == '=' {
			k++
		}
		if isBearerToken(s[j:k]) {
			masks = append(masks, span{j, k})
			i = k - 1
		}
	}
	return replaceSpans(s, masks, MaskSecret)
}

func isSpaceByte(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r'
}

// isTokenByte reports whether b may appear in a bearer token (RFC 6750's
// b64token, before the padding).
func isTokenByte(b byte) bool {
	return isAlnumByte(b) || strings.IndexByte(".~+/-", b) >= 0
}

// isBearerToken tells a credential from a word: long enough and not only
// letters.
func isBearerToken(tok string) bool {
	if len(strings.TrimRight(tok, "=")) < minBearerToken {
		return false
	}
	return strings.ContainsFunc(tok, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
}

func hasDigit(s string) bool {
	return strings.ContainsFunc(s, isDigit)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isDigitByte(b byte) bool { return b >= '0' && b <= '9' }

func isAlnumByte(b byte) bool {
	return isDigitByte(b) || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
}

// span is a half-open byte range.
type span struct{ start, end int }

// maskCards replaces card numbers. Digit groups (maximal digit runs) joined
// by single spaces or dashes form a sequence; within it, from the left, the
// longest window of whole groups holding 13 to 19 digits that passes the
// Luhn check is masked. Every run of 13 to 19 digits is such a window on
// its own, so none that passes the check survives.
func maskCards(s string) string {
	var groups []span
	for i := 0; i < len(s); {
		if !isDigitByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigitByte(s[j]) {
			j++
		}
		groups = append(groups, span{i, j})
		i = j
	}
	var masks []span
	for a := 0; a < len(groups); {
		// The sequence of groups starting at a.
		z := a + 1
		for z < len(groups) && groups[z].start == groups[z-1].end+1 &&
			(s[groups[z-1].end] == ' ' || s[groups[z-1].end] == '-') {
			z++
		}
		seq := groups[a:z]
		for i := 0; i < len(seq); {
			best := -1
			var w luhnWindow
			for j := i; j < len(seq) && w.n+seq[j].end-seq[j].start <= 19; j++ {
				w.add(s[seq[j].start:seq[j].end])
				if w.n >= 13 && w.valid() {
					best = j
				}
			}
			if best < 0 {
				i++
				continue
			}
			masks = append(masks, span{seq[i].start, seq[best].end})
			i = best + 1
		}
		a = z
	}
	return replaceSpans(s, masks, MaskCard)
}

// luhnWindow computes the Luhn check of a digit string as it grows to the
// right, in constant time per digit. The check doubles every second digit
// counted from the right end, which depends on the final length, so both
// ways of doubling are summed.
type luhnWindow struct {
	n       int // digits so far
	dblEven int // sum doubling the digits at even positions from the left
	dblOdd  int // sum doubling the digits at odd positions from the left
}

func (w *luhnWindow) add(digits string) {
	for i := 0; i < len(digits); i++ {
		d := int(digits[i] - '0')
		dd := 2 * d
		if dd > 9 {
			dd -= 9
		}
		if w.n%2 == 0 {
			w.dblEven += dd
			w.dblOdd += d
		} else {
			w.dblEven += d
			w.dblOdd += dd
		}
		w.n++
	}
}

// valid reports whether the digits added so far pass the Luhn check.
func (w *luhnWindow) valid() bool {
	// The right-most digit, at position n-1, is not doubled: the doubled
	// digits are those at positions of the other parity.
	if (w.n-1)%2 == 0 {
		return w.dblOdd%10 == 0
	}
	return w.dblEven%10 == 0
}

// luhn reports whether the digits of s (other bytes ignored) pass the Luhn
// check.
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		if !isDigitByte(s[i]) {
			continue
		}
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// maskPhones replaces phone numbers. The text is cut into numeric chunks
// (see pii.PhoneChunk) that start at a word boundary; a chunk that ends at
// a word boundary and is a phone number (pii.IsPhone) is masked whole, any
// other chunk is left whole. Since chunks are maximal, masking one never
// changes another, which keeps Text idempotent: digits right next to a
// phone number, even across one space, make it part of a longer chunk that
// is not a phone number. A chunk never starts right after ']', the end of
// a mask, so that a chunk next to a masked one is judged the same way on
// every pass.
func maskPhones(s string) string {
	var masks []span
	for i := 0; i < len(s); {
		c := s[i]
		if (c != '+' && c != '(' && !isDigitByte(c)) || !atWordStart(s, i) {
			i++
			continue
		}
		end := pii.PhoneChunk(s, i)
		if end == i {
			i++
			continue
		}
		if (end == len(s) || !isAlnumByte(s[end])) && pii.IsPhone(s[i:end]) {
			masks = append(masks, span{i, end})
		}
		i = end
	}
	return replaceSpans(s, masks, MaskPhone)
}

// replaceSpans replaces the ordered, disjoint spans of s with mask.
func replaceSpans(s string, spans []span, mask string) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(mask)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}
