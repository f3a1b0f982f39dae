package safecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/safecheck/safecheck/extract"
)

// Outcome is one finished check of one test type for one sample. It is
// passed to the WithOnVerdict hook and written as one log record. It
// carries no prompt or response text.
type Outcome struct {
	Route      string
	RequestID  string
	CustomerID string
	TestType   string
	Verdict    Verdict
	Cached     bool          // answered by the verdict cache or by an identical check in flight
	Partial    bool          // the exchange was cut short (stream ended early, capture truncated)
	Truncated  bool          // the text was cut to the extraction cap
	Format     string        // the wire format the text was extracted from
	Duration   time.Duration // time spent checking, retries included
	Attempts   int           // calls made to the checker
	Err        error         // nil, or a *CheckError
	// Annotation is what the WithAnnotate function returned for the sampled
	// request, or nil.
	Annotation any
}

// process checks one sample for every test type of its route.
func (g *Guard) process(c *Capture) {
	defer g.release(c)
	c.requestID = cleanID(c.requestID)
	c.customerID = cleanID(c.customerID)
	rt := c.rt
	if c.requestID == "" {
		c.requestID = newRequestID()
	}
	if g.workCtx.Err() != nil {
		g.drop(rt, dropShutdown)
		return
	}
	pair, err := rt.cfg.extractor.Extract(extract.Input{
		RequestBody:             c.req,
		RequestContentType:      c.reqCT,
		RequestContentEncoding:  c.reqCE,
		RequestTruncated:        c.reqTrunc,
		ResponseBody:            c.resp,
		ResponseContentType:     c.respCT,
		ResponseContentEncoding: c.respCE,
		ResponseTruncated:       c.respTrunc,
		ResponseStatus:          c.status,
	})
	if err == nil && pair.Response == "" {
		err = extract.ErrEmptyResponse
	}
	if err != nil {
		g.drop(rt, extractDropReason(err))
		return
	}
	if g.cfg.scrub != nil {
		pair.Prompt, pair.Response = g.cfg.scrub(pair.Prompt), g.cfg.scrub(pair.Response)
	}
	var (
		firstFail string
		fromAPI   bool
	)
	for _, tt := range rt.cfg.testTypes {
		o := g.check(c, pair, tt)
		if g.workCtx.Err() != nil && o.Err != nil {
			// Close's deadline passed while this sample was being checked.
			g.drop(rt, dropShutdown)
			return
		}
		g.report(&o)
		switch {
		case o.Err != nil:
			if firstFail == "" {
				firstFail = classify(o.Err).Class
			}
		case !o.Cached:
			fromAPI = true
		}
	}
	switch {
	case firstFail != "":
		g.counters.failed(firstFail).Add(1)
	case fromAPI:
		g.counters.checked.Add(1)
	default:
		g.counters.cacheHits.Add(1)
	}
}

func extractDropReason(err error) dropReason {
	switch {
	case errors.Is(err, extract.ErrEmptyResponse):
		return dropEmptyResponse
	case errors.Is(err, extract.ErrBinary):
		return dropBinary
	case errors.Is(err, extract.ErrDecode):
		return dropUndecodable
	}
	return dropExtractError
}

// check runs one test type through the cache, the in-flight dedupe and the
// policies.
func (g *Guard) check(c *Capture, pair extract.Pair, testType string) Outcome {
	o := Outcome{
		Route:      c.rt.name,
		RequestID:  c.requestID,
		CustomerID: c.customerID,
		TestType:   testType,
		Partial:    pair.Partial || c.reqTrunc || c.respTrunc,
		Truncated:  pair.Truncated,
		Format:     pair.Format,
		Annotation: c.annotation,
	}
	req := CheckRequest{TestType: testType, Prompt: pair.Prompt, Response: pair.Response, CustomerID: c.customerID}
	o.Verdict, o.Cached, o.Attempts, o.Duration, o.Err = g.evaluate(g.workCtx, req)
	return o
}

// evaluate answers req from the cache, from an identical check in flight, or
// through the policies, in that order.
func (g *Guard) evaluate(ctx context.Context, req CheckRequest) (v Verdict, cached bool, attempts int, d time.Duration, err error) {
	key := cacheKey(req.TestType, req.Prompt, req.Response)
	if v, ok := g.cache.get(key); ok {
		return v, true, 0, 0, nil
	}
	start := time.Now()
	ran := false
	res, err, _ := g.cache.flight.Do(key, func() (any, error) {
		// An identical check may have finished between the lookup above
		// and this call: its verdict is in the cache now.
		if v, ok := g.cache.peek(key); ok {
			return flightResult{v: v}, nil
		}
		ran = true
		v, attempts, err := g.policy.run(ctx, g.checker, req)
		if err == nil {
			g.cache.put(key, v)
		}
		return flightResult{v: v, attempts: attempts}, err
	})
	d = time.Since(start)
	if err != nil {
		return Verdict{}, false, attemptsOf(res, ran), d, classify(err)
	}
	return res.(flightResult).v, !ran, attemptsOf(res, ran), d, nil
}

func attemptsOf(res any, ran bool) int {
	if fr, ok := res.(flightResult); ok && ran {
		return fr.attempts
	}
	return 0
}

type flightResult struct {
	v        Verdict
	attempts int
}

// report tallies, logs and hands one outcome to the hook.
func (g *Guard) report(o *Outcome) {
	g.counters.recordCheck(o)
	g.logOutcome(o)
	if g.cfg.onVerdict != nil {
		func() {
			defer func() {
				if recover() != nil {
					g.counters.hookPanics.Add(1)
				}
			}()
			g.cfg.onVerdict(*o)
		}()
	}
}

func (g *Guard) logOutcome(o *Outcome) {
	if o.Err != nil {
		ce := classify(o.Err)
		if ce.Class == ClassUnauthorized {
			// A rejected key is a configuration error: say it once, not per sample.
			if g.authFail.CompareAndSwap(false, true) {
				g.log.LogAttrs(g.baseCtx, slog.LevelError,
					"AssuranceHub rejected the API key: no sample is being checked; set ASSURANCEHUB_API_KEY to a valid key",
					slog.Int("status", ce.Status))
			}
			return
		}
		if g.log.Enabled(g.baseCtx, slog.LevelError) {
			g.log.LogAttrs(g.baseCtx, slog.LevelError, "safecheck check failed", append(outcomeAttrs(o),
				slog.String("error_class", ce.Class), slog.Int("status", ce.Status), slog.Int("attempts", o.Attempts))...)
		}
		return
	}
	g.authFail.Store(false)
	level, msg := slog.LevelInfo, "safecheck verdict"
	if o.Verdict.Flagged {
		level, msg = slog.LevelWarn, "safecheck verdict: flagged"
	}
	if !g.log.Enabled(g.baseCtx, level) {
		return
	}
	attrs := append(outcomeAttrs(o),
		slog.Bool("flagged", o.Verdict.Flagged),
		slog.Float64("score", o.Verdict.Score),
		slog.String("risk_level", o.Verdict.RiskLevel),
		slog.Bool("cached", o.Cached),
	)
	if o.Partial {
		attrs = append(attrs, slog.Bool("partial", true))
	}
	if o.Truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	g.log.LogAttrs(g.baseCtx, level, msg, attrs...)
}

// outcomeAttrs are the identifying attributes every verdict record carries.
func outcomeAttrs(o *Outcome) []slog.Attr {
	return append(make([]slog.Attr, 0, 12),
		slog.String("request_id", o.RequestID),
		slog.String("route", o.Route),
		slog.String("test_type", o.TestType),
		slog.Int64("response_time_ms", o.Duration.Milliseconds()),
		slog.String("customer_id", o.CustomerID),
	)
}

// Check evaluates one pair now, through the same verdict cache, in-flight
// dedupe and resilience policies as sampled traffic, and returns its outcome.
// It is for batch tools such as the safecheck CLI; it is not counted as a
// sample, but its checks appear in Stats' per-test-type counts. It blocks
// until the check is done or ctx ends.
func (g *Guard) Check(ctx context.Context, req CheckRequest) Outcome {
	req.CustomerID = cleanID(req.CustomerID)
	o := Outcome{RequestID: "", CustomerID: req.CustomerID, TestType: req.TestType}
	if g.closed.Load() {
		o.Err = &CheckError{Class: ClassCanceled, Err: ErrClosed}
		return o
	}
	if !g.supports(req.TestType) {
		o.Err = &CheckError{Class: ClassBadRequest, Err: fmt.Errorf("unknown test type %q", req.TestType)}
		return o
	}
	if g.cfg.scrub != nil {
		req.Prompt, req.Response = g.cfg.scrub(req.Prompt), g.cfg.scrub(req.Response)
	}
	o.Verdict, o.Cached, o.Attempts, o.Duration, o.Err = g.evaluate(ctx, req)
	g.counters.recordCheck(&o)
	return o
}
