package gate

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		expr string
		want string // String() of the parsed gate
	}{
		{"", ""},
		{"  ", ""},
		{"flagged", "flagged"},
		{"FLAGGED", "flagged"},
		{"fail", "fail"},
		{"failed", "fail"},
		{"risk>=high", "risk>=high"},
		{"risk >= HIGH", "risk>=high"},
		{"risk_level>reject", "risk>reject"},
		{"risk=critical", "risk=critical"},
		{"risk==medium", "risk=medium"},
		{"risk<low", "risk<low"},
		{"score>=0.7", "score>=0.7"},
		{"score > .5", "score>0.5"},
		{"score<=1", "score<=1"},
		{"score=0", "score=0"},
		{"flagged,risk>=high", "flagged,risk>=high"},
		{" flagged , score>=0.7 ", "flagged,score>=0.7"},
		{"toxicity:score>=0.5,pii:flagged", "toxicity:score>=0.5,pii:flagged"},
		{"child_safety : risk>=low", "child_safety:risk>=low"},
	}
	for _, tt := range tests {
		g, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := g.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.expr, got, tt.want)
		}
		if g.Empty() != (tt.want == "") {
			t.Errorf("Parse(%q).Empty() = %v", tt.expr, g.Empty())
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"flagged,", `rule 2 "": empty rule`},
		{",flagged", `rule 1 "": empty rule`},
		{"flaged", "want flagged, fail, risk<op><level> or score<op><number>"},
		{"risk>=extreme", `unknown risk level "extreme"`},
		{"risk>=", "want flagged"},
		{"risk", "want flagged"},
		{">=high", "want flagged"},
		{"risk=>high", "want flagged"},
		{"risk>=>high", "want flagged"},
		{"score>=1.5", "score must be a number from 0 to 1"},
		{"score>=-0.1", "score must be a number from 0 to 1"},
		{"score>=NaN", "score must be a number from 0 to 1"},
		{"score>=high", "score must be a number from 0 to 1"},
		{"latency>5", `unknown field "latency"`},
		{":flagged", "invalid test type"},
		{"tox icity:flagged", "invalid test type"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.expr, err, tt.want)
		}
	}
}

func TestRiskOrdering(t *testing.T) {
	for i, l := range RiskLevels {
		if r, ok := RiskRank(l); !ok || r != i {
			t.Errorf("RiskRank(%q) = %d, %v; want %d", l, r, ok, i)
		}
		if r, ok := RiskRank(strings.ToUpper(l)); !ok || r != i {
			t.Errorf("RiskRank(%q) = %d, %v", strings.ToUpper(l), r, ok)
		}
	}
	if _, ok := RiskRank("severe"); ok {
		t.Error("RiskRank(severe) known")
	}
	want := []string{"low", "medium", "high", "reject", "critical"}
	if strings.Join(RiskLevels, "<") != strings.Join(want, "<") {
		t.Errorf("RiskLevels = %v, want %v", RiskLevels, want)
	}
}

func TestFails(t *testing.T) {
	low := Verdict{TestType: "pii", Score: 0.1, RiskLevel: "low", PassFail: "pass"}
	medium := Verdict{TestType: "pii", Score: 0.5, RiskLevel: "medium", PassFail: "pass"}
	high := Verdict{TestType: "bias", Flagged: true, Score: 0.7, RiskLevel: "high", PassFail: "fail"}
	reject := Verdict{TestType: "toxicity", Flagged: true, Score: 0.85, RiskLevel: "reject", PassFail: "fail"}
	critical := Verdict{TestType: "hipaa", Flagged: true, Score: 0.95, RiskLevel: "critical", PassFail: "fail"}
	unknown := Verdict{TestType: "gdpr", Score: 0.2, RiskLevel: "severe", PassFail: "pass"}
	unflaggedFail := Verdict{TestType: "pii", Score: 0.3, RiskLevel: "low", PassFail: "FAIL"}
	all := []Verdict{low, medium, high, reject, critical, unknown, unflaggedFail}

	tests := []struct {
		expr  string
		fails []Verdict
		rule  string
	}{
		{"", nil, ""},
		{"flagged", []Verdict{high, reject, critical}, "flagged"},
		{"fail", []Verdict{high, reject, critical, unflaggedFail}, "fail"},
		{"risk>=high", []Verdict{high, reject, critical, unknown}, "risk>=high"},
		{"risk>high", []Verdict{reject, critical, unknown}, "risk>high"},
		{"risk>=reject", []Verdict{reject, critical, unknown}, "risk>=reject"},
		{"risk=medium", []Verdict{medium, unknown}, "risk=medium"},
		{"risk<=medium", []Verdict{low, medium, unknown, unflaggedFail}, "risk<=medium"},
		{"score>=0.7", []Verdict{high, reject, critical}, "score>=0.7"},
		{"score>0.7", []Verdict{reject, critical}, "score>0.7"},
		{"score<0.2", []Verdict{low}, "score<0.2"},
		{"score=0.5", []Verdict{medium}, "score=0.5"},
		{"toxicity:flagged", []Verdict{reject}, "toxicity:flagged"},
		{"pii:score>=0.3,hipaa:risk>=critical", []Verdict{medium, critical, unflaggedFail}, ""},
	}
	for _, tt := range tests {
		g, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		for _, v := range all {
			want := false
			for _, f := range tt.fails {
				if f == v {
					want = true
				}
			}
			got, rule := g.Fails(v)
			if got != want {
				t.Errorf("Parse(%q).Fails(%+v) = %v, want %v", tt.expr, v, got, want)
			}
			if got && tt.rule != "" && rule != tt.rule {
				t.Errorf("Parse(%q).Fails(%+v) rule = %q, want %q", tt.expr, v, rule, tt.rule)
			}
		}
	}
}

func TestFailsFirstMatchingRule(t *testing.T) {
	g, err := Parse("score>=0.9, flagged")
	if err != nil {
		t.Fatal(err)
	}
	v := Verdict{TestType: "pii", Flagged: true, Score: 0.85, RiskLevel: "reject", PassFail: "fail"}
	if failed, rule := g.Fails(v); !failed || rule != "flagged" {
		t.Errorf("Fails = %v, %q; want true, flagged", failed, rule)
	}
	var none *Gate
	if failed, _ := none.Fails(v); failed || !none.Empty() {
		t.Error("a nil Gate fails something")
	}
}

func TestTestTypes(t *testing.T) {
	g, err := Parse("pii:flagged,toxicity:score>0.5,pii:fail,risk>=high")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.TestTypes(), ","); got != "pii,toxicity" {
		t.Errorf("TestTypes = %q, want pii,toxicity", got)
	}
}
