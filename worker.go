package safecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/extract"
	"github.com/safecheck/safecheck/failure"
	"golang.org/x/sync/singleflight"
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
	// Outbound is set when the exchange was the app's own call to its LLM,
	// sampled by Route.Transport, rather than a request the app served.
	Outbound bool
}

// process checks one sample for every test type of its route.
func (g *Guard) process(c *Capture) {
	c.requestID = cleanID(c.requestID)
	c.customerID = cleanID(c.customerID)
	rt := c.rt
	if c.requestID == "" {
		c.requestID = newRequestID()
	}
	if g.workCtx.Err() != nil {
		g.finish(c, dropShutdown, 0, false)
		return
	}
	pair, err, ok := g.extract(c)
	if !ok {
		g.finish(c, dropPanic, 0, false)
		return
	}
	if err == nil && pair.Response == "" {
		err = extract.ErrEmptyResponse
	}
	if err != nil {
		g.finish(c, extractDropReason(err), 0, false)
		return
	}
	if pair.Prompt == "" {
		pair.Prompt = c.prompt
	}
	if pair.Prompt == "" {
		rt.warnEmptyPrompt()
		g.finish(c, dropEmptyPrompt, 0, false)
		return
	}
	if g.cfg.scrub != nil {
		if pair.Prompt, pair.Response, ok = g.scrubPair(pair.Prompt, pair.Response); !ok {
			g.finish(c, dropPanic, 0, false)
			return
		}
	}
	var (
		firstFail failure.Class
		fromAPI   bool
	)
	for _, tt := range rt.cfg.testTypes {
		o := g.check(c, pair, tt)
		if g.workCtx.Err() != nil && o.Err != nil {
			// Close's deadline passed while this sample was being checked.
			g.finish(c, dropShutdown, 0, false)
			return
		}
		if o.Err != nil && isLocalStop(o.Err) {
			if firstFail != 0 {
				break // already failed; the rest would not be called either
			}
			// The Guard declined to call the API: the sample is dropped.
			reason := dropRateLimitLate
			if errors.Is(o.Err, errAuthStopped) {
				reason = dropAuthStopped
			}
			g.finish(c, reason, 0, false)
			return
		}
		if !g.abandoned.Load() {
			g.report(&o)
		}
		switch {
		case o.Err != nil:
			if firstFail == 0 {
				firstFail = classify(o.Err).Class
			}
		case !o.Cached:
			fromAPI = true
		}
	}
	g.finish(c, dropNone, firstFail, fromAPI)
}

// finish counts how one sample ended (dropped for reason, failed with the
// class fail, checked by the API, or answered by the cache) and releases
// it. After Close has given up waiting, every sample ends as a shutdown
// drop, as Close's count said.
func (g *Guard) finish(c *Capture, reason dropReason, fail failure.Class, fromAPI bool) {
	g.finishMu.RLock()
	defer g.finishMu.RUnlock()
	switch {
	case g.abandoned.Load():
		g.drop(c.rt, dropShutdown)
	case reason != dropNone:
		g.drop(c.rt, reason)
	case fail != 0:
		g.counters.failed(fail).Add(1)
	case fromAPI:
		g.counters.checked.Add(1)
	default:
		g.counters.cacheHits.Add(1)
	}
	g.release(c)
}

// extract runs the route's extractor, which may be the application's code:
// ok is false when it panicked.
func (g *Guard) extract(c *Capture) (pair extract.Pair, err error, ok bool) {
	defer func() {
		if recover() != nil {
			g.appPanicked(panicExtractor)
			ok = false
		}
	}()
	pair, err = c.rt.cfg.extractor.Extract(extract.Input{
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
	return pair, err, true
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
		Outbound:   c.outbound,
	}
	req := CheckRequest{TestType: testType, Prompt: pair.Prompt, Response: pair.Response, CustomerID: c.customerID}
	o.Verdict, o.Cached, o.Attempts, o.Duration, o.Err = g.evaluate(g.workCtx, req)
	return o
}

// evaluate answers req from the cache, from an identical check in flight, or
// through the policies, in that order. The call itself runs under the
// Guard's own context, so each caller waits only as long as its ctx allows
// and a caller giving up never cancels the call for the others.
func (g *Guard) evaluate(ctx context.Context, req CheckRequest) (v Verdict, cached bool, attempts int, d time.Duration, err error) {
	key := cacheKey(req.TestType, req.Prompt, req.Response)
	if v, ok := g.cache.get(key); ok {
		return v, true, 0, 0, nil
	}
	start := time.Now()
	var ran atomic.Bool
	call := func() (any, error) {
		// An identical check may have finished between the lookup above
		// and this call: its verdict is in the cache now.
		if v, ok := g.cache.peek(key); ok {
			return flightResult{v: v}, nil
		}
		ran.Store(true)
		v, attempts, err := g.policy.run(g.workCtx, g.checker, req)
		if err == nil {
			g.cache.put(key, v)
		}
		return flightResult{v: v, attempts: attempts}, err
	}
	var res singleflight.Result
	if ctx == g.workCtx {
		// A sample's own deadline is the Guard's: wait in place, without a
		// goroutine for the call.
		res.Val, res.Err, _ = g.cache.flight.Do(key, call)
	} else {
		select {
		case res = <-g.cache.flight.DoChan(key, call):
		case <-ctx.Done():
			return Verdict{}, false, 0, time.Since(start), classify(ctx.Err())
		}
	}
	d = time.Since(start)
	fr, _ := res.Val.(flightResult)
	if !ran.Load() {
		fr.attempts = 0
	}
	if res.Err != nil {
		return Verdict{}, false, fr.attempts, d, classify(res.Err)
	}
	return fr.v, !ran.Load(), fr.attempts, d, nil
}

type flightResult struct {
	v        Verdict
	attempts int
}

// report tallies, logs and hands one outcome to the hook.
func (g *Guard) report(o *Outcome) {
	g.counters.recordCheck(o)
	g.logOutcome(o)
	for _, f := range g.cfg.onVerdict {
		g.callHook(f, o)
	}
}

// callHook runs one WithOnVerdict hook, containing its panic.
func (g *Guard) callHook(f func(Outcome), o *Outcome) {
	defer func() {
		if recover() != nil {
			g.appPanicked(panicHook)
		}
	}()
	f(*o)
}

func (g *Guard) logOutcome(o *Outcome) {
	if o.Err != nil {
		ce := classify(o.Err)
		if ce.Class == failure.Unauthorized {
			return // a rejected key is said once, by the auth gate, not per sample
		}
		if g.log.Enabled(g.baseCtx, slog.LevelError) {
			g.log.LogAttrs(g.baseCtx, slog.LevelError, "safecheck check failed", append(outcomeAttrs(o),
				slog.String("error_class", ce.Class.String()), slog.Int("status", ce.Status), slog.Int("attempts", o.Attempts))...)
		}
		return
	}
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
		slog.String("direction", direction(o.Outbound)),
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
		o.Err = &CheckError{Class: failure.Canceled, Err: ErrClosed}
		return o
	}
	if !g.supports(req.TestType) {
		o.Err = &CheckError{Class: failure.BadRequest, Err: fmt.Errorf("unknown test type %q", req.TestType)}
		return o
	}
	if g.cfg.scrub != nil {
		var ok bool
		if req.Prompt, req.Response, ok = g.scrubPair(req.Prompt, req.Response); !ok {
			o.Err = &CheckError{Class: failure.BadRequest, Err: errors.New("the scrubber panicked")}
			return o
		}
	}
	o.Verdict, o.Cached, o.Attempts, o.Duration, o.Err = g.evaluate(ctx, req)
	g.counters.recordCheck(&o)
	return o
}
