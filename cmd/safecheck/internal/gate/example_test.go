package gate_test

import (
	"fmt"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
)

func ExampleParse() {
	g, err := gate.Parse("risk>=high, toxicity:score>=0.5")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range []gate.Verdict{
		{TestType: "bias", Flagged: true, Score: 0.8, RiskLevel: "high", PassFail: "fail"},
		{TestType: "toxicity", Score: 0.6, RiskLevel: "medium", PassFail: "pass"},
		{TestType: "pii", Score: 0.6, RiskLevel: "medium", PassFail: "pass"},
		{TestType: "gdpr", Score: 0.1, RiskLevel: "catastrophic", PassFail: "pass"},
	} {
		failed, rule := g.Fails(v)
		fmt.Printf("%s %s: %v [%s]\n", v.TestType, v.RiskLevel, failed, rule)
	}

	_, err = gate.Parse("risk>=severe")
	fmt.Println(err)
	// Output:
	// bias high: true [risk>=high]
	// toxicity medium: true [toxicity:score>=0.5]
	// pii medium: false []
	// gdpr catastrophic: true [risk>=high]
	// -fail-on rule 1 "risk>=severe": unknown risk level "severe" (want one of low, medium, high, reject, critical)
}
