package failure_test

import (
	"fmt"

	"github.com/safecheck/safecheck/failure"
)

func ExampleClass() {
	fmt.Println(failure.Server, failure.Server.Retryable(), failure.BadRequest.Retryable(), len(failure.Classes()))
	// Output: server_error true false 11
}
