package alert

import "testing"

func TestStateNames(t *testing.T) {
	for _, s := range []State{OK, Firing} {
		b, err := s.MarshalText()
		if err != nil || string(b) != s.String() {
			t.Errorf("%d: %q, %v", s, b, err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, back, err)
		}
	}
	for _, s := range []State{0, numStates, 200} {
		if s.Valid() || s.String() != "" {
			t.Errorf("State(%d) is valid or named", s)
		}
		if _, err := s.MarshalText(); err == nil {
			t.Errorf("State(%d).MarshalText: no error", s)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("FIRING")); err == nil {
		t.Error("UnmarshalText accepted an unknown name")
	}
}

func TestRuleThreshold(t *testing.T) {
	r := Rule{FlaggedShare: 0.05}
	if r.Threshold() != 0.05 || r.Measure() != "flagged_share" {
		t.Errorf("flagged share rule: %v %s", r.Threshold(), r.Measure())
	}
	r = Rule{ScoreP95: 0.8}
	if r.Threshold() != 0.8 || r.Measure() != "score_p95" {
		t.Errorf("score rule: %v %s", r.Threshold(), r.Measure())
	}
}
