package webhook

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test secrets: fake, of the documented shape. testSecret is the one of
// the Standard Webhooks reference library's signing test.
const (
	testSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	otherSecret = "whsec_c2FmZWNoZWNrLXRlc3Qtcm90YXRlZC1rZXktMzI="
)
