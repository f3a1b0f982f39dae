package alert_test

import (
	"fmt"

	"github.com/safecheck/safecheck/alert"
)

func ExampleState() {
	fmt.Println(alert.OK, alert.Firing)
	// Output: ok firing
}
