package safecheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/safecheck/safecheck/extract"
	"github.com/safecheck/safecheck/failure"
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

// process checks one sample for every test type of its route, holding the
// CPU lane l until it waits (see lane).
func (g *Guard) process(c *Capture, l *lane) {
	if g.budget.on() {
		c.procStart, c.charging = g.budget.clock(), true // finish charges the budget from here
	}
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
		ids       recordIDs
	)
	c.cells = sampleCells{n: len(rt.cfg.testTypes), lane: l}
	for i, tt := range rt.cfg.testTypes {
		o, at := g.check(c, pair, i, tt)
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
			if g.appHooks {
				c.cells.lane.release() // the application's hooks may wait
			}
			c.hooks += g.report(&o, rt.records, i, at, &ids)
			g.react(rt, &o) // escalations, alerts, events (events.go)
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
	g.chargeSample(c)
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

// check runs testType, the route's i-th, through the cache, the in-flight
// dedupe and the policies. at is when the check ended, or zero when it
// read no clock (a cache hit).
func (g *Guard) check(c *Capture, pair extract.Pair, i int, testType string) (o Outcome, at time.Time) {
	o = Outcome{
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
	if c.keys == "" {
		// The texts are the same for every test type: hash them once, and
		// make every test type's key in one allocation.
		c.keys = textsKeys(c.rt.cfg.testTypes, hashTexts(pair.Prompt, pair.Response))
	}
	key := c.keys[16*i : 16*i+16]
	o.Verdict, o.Cached, o.Attempts, o.Duration, o.Err = g.evaluateKey(g.workCtx, req, key, &c.waited, &at, &c.cells)
	return o, at
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
