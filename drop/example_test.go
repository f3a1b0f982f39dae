package drop_test

import (
	"fmt"

	"github.com/safecheck/safecheck/drop"
)

func ExampleReason() {
	fmt.Println(drop.QueueFull, drop.EmptyPrompt, drop.Overload, len(drop.Reasons()))
	// Output: queue_full empty_prompt overload 16
}
