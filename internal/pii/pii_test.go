package pii

import (
	"regexp"
	"strings"
	"testing"
)

func TestIsEmail(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a@b.example", true},
		{"jane.doe+news@example.co.uk", true},
		{"user@localhost", false},
		{"a@b", false},
		{"@handle", false},
		{"alice@example.com.", false},
		{"mail alice@example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsEmail(tt.in); got != tt.want {
			t.Errorf("IsEmail(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMaskEmails(t *testing.T) {
	tests := []struct{ in, want string }{
		{"write to a@b.example today", "write to [E] today"},
		{"a@b.io,c.d@e-f.org", "[E],[E]"},
		{"user@localhost", "user@localhost"},
		{"no at sign", "no at sign"},
	}
	for _, tt := range tests {
		if got := MaskEmails(tt.in, "[E]"); got != tt.want {
			t.Errorf("MaskEmails(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsPhone(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+44 20 7946 0958", true},
		{"+1 (555) 010-9999", true},
		{"+49 (30) 1234567", true},
		{"+15550109999", true},
		{"(555) 010-9999", true},
		{"(555)010-9999", true},
		{"555-010-9999", true},
		{"555.010.9999", true},
		{"555 010 9999", true},
		{"020 7946 0958", true},
		{"0800-123-4567", true},

		{"+1234567", false},          // 7 digits
		{"+1234567890123456", false}, // 16 digits
		{"5550109999", false},
		{"02079460958", false},
		{"10000001", false},
		{"00012345", false},
		{"2024-01-15", false},
		{"01-15-2024", false},
		{"15.01.2024", false},
		{"192.168.100.200", false},
		{"3.14159265358", false},
		{"cust-12345678", false},
		{"555-010-9999 ext 2", false},
		{"555-010-99999", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsPhone(tt.in); got != tt.want {
			t.Errorf("IsPhone(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPhoneChunk(t *testing.T) {
	tests := []struct {
		in    string
		i     int
		want  int
		chunk string
	}{
		{"call (555) 010-9999 now", 5, 19, "(555) 010-9999"},
		{"+44 20 7946 0958.", 0, 16, "+44 20 7946 0958"},
		{"1 2  3", 0, 3, "1 2"},
		{"abc", 0, 0, ""},
		{"+x", 0, 0, ""},
	}
	for _, tt := range tests {
		got := PhoneChunk(tt.in, tt.i)
		if got != tt.want || tt.in[tt.i:got] != tt.chunk {
			t.Errorf("PhoneChunk(%q, %d) = %d, want %d (%q)", tt.in, tt.i, got, tt.want, tt.chunk)
		}
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		in, keys, secrets string
		prefix            bool
	}{
		{"key=ash_live_abcDEF123_-x!", "key=[K]!", "key=[K]!", true},
		{"from ash_live_0ld to ash_test_n3w", "from [K] to [K]", "from [K] to [K]", true},
		{"it must start with \"ash_test_\"", "it must start with \"ash_test_\"", "it must start with \"ash_test_\"", true},
		{"Authorization: Bearer abc.def", "Authorization: Bearer abc.def", "Authorization: [K]", false},
		{"BEARER x==", "BEARER x==", "[K]", false},
		{"ash_prod_abc", "ash_prod_abc", "ash_prod_abc", false},
		{"plain", "plain", "plain", false},
	}
	for _, tt := range tests {
		if got := MaskKeys(tt.in, "[K]"); got != tt.keys {
			t.Errorf("MaskKeys(%q) = %q, want %q", tt.in, got, tt.keys)
		}
		if got := string(MaskKeysBytes([]byte(tt.in), "[K]")); got != tt.keys {
			t.Errorf("MaskKeysBytes(%q) = %q, want %q", tt.in, got, tt.keys)
		}
		if got := MaskSecrets(tt.in, "[K]"); got != tt.secrets {
			t.Errorf("MaskSecrets(%q) = %q, want %q", tt.in, got, tt.secrets)
		}
		if got := ContainsKeyPrefix(tt.in); got != tt.prefix {
			t.Errorf("ContainsKeyPrefix(%q) = %v, want %v", tt.in, got, tt.prefix)
		}
	}
}

// FuzzIsPhone checks that IsPhone agrees with a scan of the text: a phone
// number is always one whole chunk, and masking it leaves no digits of it.
func FuzzIsPhone(f *testing.F) {
	for _, s := range []string{"+44 20 7946 0958", "(555) 010-9999", "555.010.9999", "020 7946 0958", "2024-01-15", "+(1)"} {
		f.Add(s)
	}
	chunkRE := regexp.MustCompile(`^\+?\(?[0-9]+\)?(?:[ .\-]?\(?[0-9]+\)?)*`)
	f.Fuzz(func(t *testing.T, s string) {
		if !IsPhone(s) {
			return
		}
		if m := chunkRE.FindStringIndex(s); m == nil || m[1] != len(s) {
			t.Fatalf("IsPhone(%q) but it is not one chunk", s)
		}
		if n := countDigits(s); n < 8 || n > 15 {
			t.Fatalf("IsPhone(%q) with %d digits", s, n)
		}
	})
}

func TestContainsBearerMatchesToLower(t *testing.T) {
	for _, s := range []string{"", "bearer", "BEARER x", "Authorization: Bearer abc", "beare", "xbEaReRx",
		"bear er", "béarer", "\u212abearer", "BEAREr", "bb bearer", "ḂEARER", "beaRe"} {
		if got, want := containsBearer(s), strings.Contains(strings.ToLower(s), "bearer"); got != want {
			t.Errorf("containsBearer(%q) = %v, want %v", s, got, want)
		}
	}
}
