package event_test

import (
	"fmt"

	"github.com/safecheck/safecheck/event"
)

func ExampleKind() {
	for _, k := range event.Kinds() {
		fmt.Println(k)
	}
	// Output:
	// verdict.flagged
	// escalation.started
	// escalation.ended
	// alert.fired
	// alert.cleared
}
