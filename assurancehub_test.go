package safecheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/failure"
)

func TestHubErrorClasses(t *testing.T) {
	tests := []struct {
		err   error
		class failure.Class
		retry bool
	}{
		{&assurancehub.APIError{StatusCode: http.StatusTooManyRequests}, failure.RateLimited, true},
		{&assurancehub.APIError{StatusCode: http.StatusServiceUnavailable}, failure.Server, true},
		{&assurancehub.APIError{StatusCode: http.StatusUnauthorized}, failure.Unauthorized, false},
		{&assurancehub.APIError{StatusCode: http.StatusForbidden}, failure.Unauthorized, false},
		{&assurancehub.APIError{StatusCode: http.StatusUnprocessableEntity}, failure.BadRequest, false},
		{&assurancehub.APIError{StatusCode: http.StatusRequestTimeout}, failure.Timeout, true},
		{fmt.Errorf("x: %w", assurancehub.ErrMalformedResponse), failure.Malformed, false},
		{fmt.Errorf("x: %w", assurancehub.ErrResponseTooLarge), failure.Malformed, false},
		{fmt.Errorf("x: %w", assurancehub.ErrEmptyPrompt), failure.BadRequest, false},
		{fmt.Errorf("x: %w", assurancehub.ErrKeyEnvironment), failure.Unauthorized, false},
		{fmt.Errorf("x: %w", assurancehub.ErrPinMismatch), failure.Config, false},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), failure.Timeout, true},
		{errors.New("connection reset"), failure.Network, true},
	}
	for _, tc := range tests {
		ce := classify(hubError(context.Background(), tc.err))
		if ce.Class != tc.class || ce.Retryable() != tc.retry {
			t.Errorf("%v: class %s retryable %v, want %s %v", tc.err, ce.Class, ce.Retryable(), tc.class, tc.retry)
		}
	}
}
