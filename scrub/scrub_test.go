package scrub

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/safecheck/safecheck/internal/pii"
)

func TestScrubGolden(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text", "What is the capital of France?", "What is the capital of France?"},
		{"empty", "", ""},

		{"email", "Write to jane.doe+news@example.co.uk today.", "Write to [EMAIL] today."},
		{"two emails", "a@b.io,c.d@e-f.org", "[EMAIL],[EMAIL]"},
		{"not an email", "user@localhost and @handle and a@b", "user@localhost and @handle and a@b"},

		{"visa contiguous", "card 4111111111111111 ok", "card [CARD] ok"},
		{"visa with spaces", "card: 4111 1111 1111 1111.", "card: [CARD]."},
		{"amex with dashes", "3782-822463-10005", "[CARD]"},
		{"19 digits", "6011000990139424124 x", "[CARD] x"},
		{"13 digits", "4111111111119", "[CARD]"},
		{"Luhn-invalid 16 digits", "id 4111111111111112", "id 4111111111111112"},
		{"card glued to letters", "ref4111111111111111x", "ref[CARD]x"},
		{"card after a short group", "Order 12 4111 1111 1111 1111", "Order 12 [CARD]"},
		{"too long to be a card", "12345678901234567890123", "12345678901234567890123"},
		{"two cards", "4111111111111111 and 5500-0000-0000-0004", "[CARD] and [CARD]"},

		{"US phone", "Call (555) 010-9999 now", "Call [PHONE] now"},
		{"US phone dashes", "555-010-9999", "[PHONE]"},
		{"US phone dots", "555.010.9999", "[PHONE]"},
		{"digit run is not a phone", "tel:5550109999", "tel:5550109999"},
		{"US phone mixed separators", "555 010-9999", "[PHONE]"},
		{"US phone half separated", "555-0109999", "555-0109999"},
		{"international contiguous", "+15550109999", "[PHONE]"},
		{"national contiguous is not a phone", "02079460958", "02079460958"},
		{"international", "+1 555 010 9999 or +44 20 7946 0958", "[PHONE] or [PHONE]"},
		{"international with parentheses", "+49 (30) 1234567", "[PHONE]"},
		{"national with leading zero", "ring 020 7946 0958", "ring [PHONE]"},
		{"date is not a phone", "on 2024-01-15 at 10:30", "on 2024-01-15 at 10:30"},
		{"IP address is not a phone", "host 192.168.100.200", "host 192.168.100.200"},
		{"decimal is not a phone", "pi is 3.14159265358", "pi is 3.14159265358"},
		{"short numbers are not phones", "rooms 101 202 303", "rooms 101 202 303"},
		{"phone glued to letters", "x5550109999", "x5550109999"},
		{"11 contiguous digits", "55501099991", "55501099991"},

		{"AssuranceHub key", "key=ash_live_abcDEF123_-x!", "key=[SECRET]!"},
		{"OpenAI-style key", "use sk-proj-abcdefghijklmnopqrstuvwx", "use [SECRET]"},
		{"short sk- word", "the sk-learn library", "the sk-learn library"},
		{"sk- inside a word", "task-abcdefghijklmnopqrstuvwxyz", "task-abcdefghijklmnopqrstuvwxyz"},
		{"bearer JWT", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-x==", "Authorization: Bearer [SECRET]"},
		{"bearer lower case", "bearer 0123456789abcdefXYZ", "bearer [SECRET]"},
		{"bearer in prose", "The bearer of this letter", "The bearer of this letter"},
		{"bearer of a long word", "bearer responsibilities", "bearer responsibilities"},
		{"bearer bearer token", "bearer bearer abcdefgh12345678", "bearer bearer [SECRET]"},

		{"mixed", "Mail bob@example.com, card 4242 4242 4242 4242, call +1-555-010-9999, key ash_test_abc123",
			"Mail [EMAIL], card [CARD], call [PHONE], key [SECRET]"},
		{"non-ASCII around", "Grüße an anna@example.de – Tel. +49 30 1234567 ✓", "Grüße an [EMAIL] – Tel. [PHONE] ✓"},
		{"invalid UTF-8 kept", "\xff4111111111111111\xfe", "\xff[CARD]\xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.in)
			if got != tt.want {
				t.Errorf("Text(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Text(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111": true, "4111 1111 1111 1111": true, "378282246310005": true,
		"4111111111111112": false, "0": true, "18": true, "19": false,
	} {
		if got := luhn(s); got != want {
			t.Errorf("luhn(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzScrub checks Text's invariants on arbitrary text: valid UTF-8 stays
// valid, scrubbing twice changes nothing more, and no run of 13 to 19
// digits that passes the Luhn check survives.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		"card 4111 1111 1111 1111 and 4111111111111111",
		"Order 12 4111 1111 1111 1111 99",
		"+1 (555) 010-9999, 555.010.9999, 020 7946 0958",
		"jane.doe@example.com bearer abcdefgh12345678 sk-abcdefghijklmnopqrstuvwxyz ash_test_x",
		"\xff4111111111111111\xfe",
		"1234567890123456789012345 4111-1111-1111-1111-4111",
	} {
		f.Add(s)
	}
	chunkRE := regexp.MustCompile(`^\+?\(?[0-9]+\)?(?:[ .\-]?\(?[0-9]+\)?)*`)
	f.Fuzz(func(t *testing.T, in string) {
		// pii.PhoneChunk is the hand-written form of chunkRE.
		for i := 0; i < len(in) && i < 32; i++ {
			want := i
			if m := chunkRE.FindStringIndex(in[i:]); m != nil {
				want = i + m[1]
			}
			if got := pii.PhoneChunk(in, i); got != want {
				t.Fatalf("pii.PhoneChunk(%q, %d) = %d, want %d", in, i, got, want)
			}
		}
		out := Text(in)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q is not valid UTF-8", in, out)
		}
		if again := Text(out); again != out {
			t.Fatalf("not idempotent:\n in    %q\n once  %q\n twice %q", in, out, again)
		}
		for i := 0; i < len(out); {
			if !isDigitByte(out[i]) {
				i++
				continue
			}
			j := i
			for j < len(out) && isDigitByte(out[j]) {
				j++
			}
			if n := j - i; n >= 13 && n <= 19 && luhn(out[i:j]) {
				t.Fatalf("Text(%q) = %q keeps the Luhn-valid run %q", in, out, out[i:j])
			}
			i = j
		}
	})
}

func TestLuhnWindowMatchesLuhn(t *testing.T) {
	for _, s := range []string{"4111111111111111", "4111111111111112", "378282246310005", "6011000990139424124", "0", "18", "19", "79927398713"} {
		var w luhnWindow
		for i := range s {
			w.add(s[i : i+1])
			if got, want := w.valid(), luhn(s[:i+1]); got != want {
				t.Errorf("window %q: valid %v, luhn %v", s[:i+1], got, want)
			}
		}
	}
}

// TestScrubIsLinear scrubs inputs built to make a scrubber that re-scans
// text go quadratic (prompts come from end users), and compares each with
// ordinary text of the same size. A linear scrubber is within a small
// factor of it; a quadratic one is thousands of times slower.
func TestScrubIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	const size = 128 << 10
	timeOf := func(s string) time.Duration {
		start := time.Now()
		Text(s)
		return time.Since(start)
	}
	prose := strings.Repeat("The 3 quick brown foxes jump over 12 lazy dogs; mail me at fox@example.com. ", size/77)
	base := max(timeOf(prose), time.Millisecond)
	for _, unit := range []string{"ask-", "sk-sk-", "xbearer ", ".bearer\tab ", "1 ", "4111-", "+1", "(", "a@", "x@y.co4 ", "ash_test_", "0000 "} {
		in := "xsk-" + strings.Repeat(unit, size/len(unit))
		if d := timeOf(in); d > 200*base {
			t.Errorf("scrubbing %d bytes of %q took %v, ordinary text %v", len(in), unit, d, base)
		}
	}
}
