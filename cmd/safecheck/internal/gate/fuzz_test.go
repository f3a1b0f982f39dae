package gate

import "testing"

func FuzzParse(f *testing.F) {
	for _, s := range []string{"flagged", "risk>=high,score>=0.7", "toxicity:score > .5, pii:fail", "risk==medium", "score<=1e-1", ",,", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		g, err := Parse(expr)
		if err != nil {
			return
		}
		// The normal form parses to itself.
		again, err := Parse(g.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", expr, g.String(), err)
		}
		if again.String() != g.String() {
			t.Fatalf("normal form not stable: %q then %q", g.String(), again.String())
		}
		for _, v := range []Verdict{
			{TestType: "pii", Flagged: true, Score: 0.9, RiskLevel: "reject", PassFail: "fail"},
			{TestType: "toxicity", Score: 0, RiskLevel: "low", PassFail: "pass"},
		} {
			a, _ := g.Fails(v)
			b, _ := again.Fails(v)
			if a != b {
				t.Fatalf("%q and its normal form %q disagree on %+v", expr, g.String(), v)
			}
		}
	})
}
