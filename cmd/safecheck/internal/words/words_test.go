package words

import "testing"

func TestN(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "0 cases"},
		{1, "1 case"},
		{2, "2 cases"},
		{-1, "-1 cases"},
		{1000, "1000 cases"},
	}
	for _, tt := range tests {
		if got := N(tt.n, "case", "cases"); got != tt.want {
			t.Errorf("N(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if Plural(1, "fails", "fail") != "fails" || Plural(3, "fails", "fail") != "fail" {
		t.Error("Plural picks the wrong form")
	}
}
