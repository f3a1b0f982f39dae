package safecheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/safecheck/safecheck/assurancehub"
)

func TestHubErrorClasses(t *testing.T) {
	tests := []struct {
		err   error
		class ErrorClass
		retry bool
	}{
		{&assurancehub.APIError{StatusCode: http.StatusTooManyRequests}, ClassRateLimited, true},
		{&assurancehub.APIError{StatusCode: http.StatusServiceUnavailable}, ClassServer, true},
		{&assurancehub.APIError{StatusCode: http.StatusUnauthorized}, ClassUnauthorized, false},
		{&assurancehub.APIError{StatusCode: http.StatusForbidden}, ClassUnauthorized, false},
		{&assurancehub.APIError{StatusCode: http.StatusUnprocessableEntity}, ClassBadRequest, false},
		{&assurancehub.APIError{StatusCode: http.StatusRequestTimeout}, ClassTimeout, true},
		{fmt.Errorf("x: %w", assurancehub.ErrMalformedResponse), ClassMalformed, false},
		{fmt.Errorf("x: %w", assurancehub.ErrResponseTooLarge), ClassMalformed, false},
		{fmt.Errorf("x: %w", assurancehub.ErrEmptyPrompt), ClassBadRequest, false},
		{fmt.Errorf("x: %w", assurancehub.ErrKeyEnvironment), ClassUnauthorized, false},
		{fmt.Errorf("x: %w", assurancehub.ErrPinMismatch), ClassConfig, false},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), ClassTimeout, true},
		{errors.New("connection reset"), ClassNetwork, true},
	}
	for _, tc := range tests {
		ce := classify(hubError(context.Background(), tc.err))
		if ce.Class != tc.class || ce.Retryable() != tc.retry {
			t.Errorf("%v: class %s retryable %v, want %s %v", tc.err, ce.Class, ce.Retryable(), tc.class, tc.retry)
		}
	}
}
