package escalation

import "testing"

func TestRankOrdersRiskLevels(t *testing.T) {
	prev := 0
	for _, l := range RiskLevels() {
		r := Rank(l)
		if r < prev || r == 0 {
			t.Errorf("Rank(%q) = %d after %d", l, r, prev)
		}
		prev = r
	}
	for _, l := range []string{"", "LOW", "severe"} {
		if Rank(l) != 0 {
			t.Errorf("Rank(%q) = %d, want 0", l, Rank(l))
		}
	}
}
