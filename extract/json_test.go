package extract

import "testing"

// TestAppendStringsTolerant covers the reading of bodies that are not one
// complete JSON document.
func TestAppendStringsTolerant(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"b"} {"c":["d"]}`, "b|d"},
		{"{\"x\":\"y\"}\n{\"z\":\"w\"}\n", "y|w"},
		{`{"a":"hel`, "hel"},
		{`{"messa`, ""},
		{`["ab\u00`, "ab"},
		{`["ab\`, "ab"},
		{`["ab\ud83d`, "ab"},
		{`["ab\ud83d\ud`, "ab"},
		{`["ab\ud83d\ude00`, "ab\U0001F600"},
		{`["ab\udc00`, "ab\uFFFD"},
		{`{"a":"x", oops "y"}`, `x|oops "y"}`},
		{`{"t":NaN,"m":"evil"}`, `NaN,"m":"evil"}`},
		{`not JSON at all`, `not JSON at all`},
		{"[\"a\x01b\"]", "\"a\x01b\"]"},
	}
	for _, tt := range tests {
		if got, _ := appendStrings(nil, []byte(tt.in), "|", 0); string(got) != tt.want {
			t.Errorf("appendStrings(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnquoteInvalidUTF8 checks that invalid bytes in an escaped string
// are kept for the repair that turns each run into one U+FFFD.
func TestUnquoteInvalidUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\"a\xff\xfe\\n\xc3\\u00e9\"", "a\xff\xfe\n\xc3\u00e9"},
		{"\"\xffab\\\"", "\xffab\""}, // cut after an escaped quote
		{"\"ab\xff\"", "ab\xff"},
	}
	for _, tt := range tests {
		if got := appendUnquoted(nil, []byte(tt.in)); string(got) != tt.want {
			t.Errorf("appendUnquoted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
