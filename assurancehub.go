package safecheck

import (
	"context"
	"errors"
	"net/http"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/failure"
)

// AssuranceHub returns a Checker that evaluates pairs with the AssuranceHub
// API through c. Its errors are *CheckError values classified by HTTP status,
// so the Guard's policies retry 429, 5xx and network failures and never
// retry other 4xx answers.
func AssuranceHub(c *assurancehub.Client) Checker { return hubChecker{c} }

type hubChecker struct{ c *assurancehub.Client }

func (h hubChecker) Supports(testType string) bool { return h.c.Supports(testType) }

// KeyFingerprint reports the key the next call would send, so that the
// Guard learns when a rejected key has been replaced.
func (h hubChecker) KeyFingerprint(ctx context.Context) (string, error) {
	return h.c.ActiveKeyFingerprint(ctx)
}

func (h hubChecker) Check(ctx context.Context, req CheckRequest) (Verdict, error) {
	res, err := h.c.Evaluate(ctx, req.TestType, assurancehub.Request{
		Prompt:     req.Prompt,
		Response:   req.Response,
		CustomerID: req.CustomerID,
	})
	if err != nil {
		return Verdict{}, hubError(ctx, err)
	}
	return Verdict{
		Flagged:   res.Evaluation.Flagged,
		Score:     res.FinalConsensusScore,
		RiskLevel: res.Evaluation.RiskLevel,
		PassFail:  res.Evaluation.PassFail,
	}, nil
}

func hubError(ctx context.Context, err error) error {
	var api *assurancehub.APIError
	if errors.As(err, &api) {
		return &CheckError{Class: statusClass(api.StatusCode), Status: api.StatusCode, RetryAfter: api.RetryAfter, Err: err}
	}
	switch {
	case errors.Is(err, assurancehub.ErrMalformedResponse), errors.Is(err, assurancehub.ErrResponseTooLarge):
		return &CheckError{Class: failure.Malformed, Err: err}
	case errors.Is(err, assurancehub.ErrEmptyPrompt), errors.Is(err, assurancehub.ErrEmptyResponse),
		errors.Is(err, assurancehub.ErrUnknownTestType):
		return &CheckError{Class: failure.BadRequest, Err: err}
	case errors.Is(err, assurancehub.ErrNoAPIKey), errors.Is(err, assurancehub.ErrInvalidAPIKey),
		errors.Is(err, assurancehub.ErrKeyEnvironment):
		return &CheckError{Class: failure.Unauthorized, Err: err}
	case errors.Is(err, assurancehub.ErrPinMismatch):
		// Retrying cannot help, and the breaker must not count it as an outage.
		return &CheckError{Class: failure.Config, Err: err}
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return &CheckError{Class: failure.Timeout, Err: err}
	}
	return classify(err)
}

func statusClass(status int) failure.Class {
	switch {
	case status == http.StatusTooManyRequests:
		return failure.RateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return failure.Unauthorized
	case status == http.StatusRequestTimeout:
		return failure.Timeout
	case status >= 500:
		return failure.Server
	}
	return failure.BadRequest
}
