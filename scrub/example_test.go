package scrub_test

import (
	"fmt"

	"github.com/safecheck/safecheck/scrub"
)

func ExampleText() {
	fmt.Println(scrub.Text("Mail jane@example.com or call +1 555 010 9999 about card 4111 1111 1111 1111."))
	fmt.Println(scrub.Text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl, key ash_live_abc123"))
	fmt.Println(scrub.Text("Order 4111 1111 1111 1112 shipped on 2024-01-15.")) // fails the Luhn check: kept
	// Output:
	// Mail [EMAIL] or call [PHONE] about card [CARD].
	// Authorization: Bearer [SECRET], key [SECRET]
	// Order 4111 1111 1111 1112 shipped on 2024-01-15.
}
