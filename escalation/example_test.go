package escalation_test

import (
	"fmt"

	"github.com/safecheck/safecheck/escalation"
)

func ExampleRank() {
	min := escalation.Config{MinRiskLevel: "high"}
	for _, level := range []string{"low", "high", "reject", "unknown"} {
		fmt.Println(level, escalation.Rank(level) >= escalation.Rank(min.MinRiskLevel))
	}
	// Output:
	// low false
	// high true
	// reject true
	// unknown false
}
