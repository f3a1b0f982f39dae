package safecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
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
	)
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
			c.hooks += g.report(&o, at)
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
	o.Verdict, o.Cached, o.Attempts, o.Duration, o.Err = g.evaluateKey(g.workCtx, req, key, &c.waited, &at)
	return o, at
}

// evaluate answers req from the cache, from an identical check in flight, or
// through the policies, in that order. The call itself runs under the
// Guard's own context, so each caller waits only as long as its ctx allows
// and a caller giving up never cancels the call for the others.
func (g *Guard) evaluate(ctx context.Context, req CheckRequest) (v Verdict, cached bool, attempts int, d time.Duration, err error) {
	return g.evaluateKey(ctx, req, cacheKey(req.TestType, req.Prompt, req.Response), nil, nil)
}

// evaluateKey is evaluate for req, whose cache key is key. It adds the
// time it waited (for the checker, a pause, a permit, a retry or an
// identical check in flight) to *waited, when waited is not nil, and sets
// *end, when end is not nil, to the time it read when the check ended
// (left alone on a cache hit, which reads no clock).
func (g *Guard) evaluateKey(ctx context.Context, req CheckRequest, key string, waited *time.Duration, end *time.Time) (v Verdict, cached bool, attempts int, d time.Duration, err error) {
	if v, ok := g.cache.get(key); ok {
		return v, true, 0, 0, nil
	}
	start := time.Now()
	f := &flight{g: g, key: key, req: req, start: start}
	var res singleflight.Result
	if ctx == g.workCtx {
		// A sample's own deadline is the Guard's: wait in place, without a
		// goroutine for the call.
		res.Val, res.Err, _ = g.cache.flight(key).Do(key, f.run)
	} else {
		select {
		case res = <-g.cache.flight(key).DoChan(key, f.run):
		case <-ctx.Done():
			return Verdict{}, false, 0, time.Since(start), classify(ctx.Err())
		}
	}
	now := time.Now()
	d = now.Sub(start)
	if end != nil {
		*end = now
	}
	if waited != nil {
		if f.ran {
			*waited += f.waited
		} else {
			*waited += d // another caller's check ran meanwhile
		}
	}
	// The flight that ran is this caller's own, or the identical one that
	// was in flight first; only the one that ran made calls.
	lead, _ := res.Val.(*flight)
	if !f.ran {
		attempts = 0
	} else {
		attempts = f.attempts
	}
	if res.Err != nil {
		return Verdict{}, false, attempts, d, classify(res.Err)
	}
	if lead != nil {
		v = lead.v
	}
	return v, !f.ran, attempts, d, nil
}

// flight is one check handed to the in-flight dedupe: its request, and
// what the call gave once it ran. The caller whose flight runs reads it
// after Do returns; the others read the leader's, which Do returns as its
// value.
type flight struct {
	g        *Guard
	key      string
	req      CheckRequest
	v        Verdict
	attempts int
	ran      bool
	waited   time.Duration // time the policies waited, not working
	start    time.Time     // when the caller began: the first attempt starts its clock there
	actx     attemptCtx    // the first attempt's context, allocated with the flight
}

func (f *flight) run() (any, error) {
	g := f.g
	// An identical check may have finished between the lookup and this
	// call: its verdict is in the cache's current generation now.
	if v, ok := g.cache.recent(f.key); ok {
		f.v = v
		return f, nil
	}
	first := firstAttempt{now: f.start, ctx: &f.actx}
	if g.fleet != nil {
		first.now = time.Time{} // the lookup may wait: the attempt reads the clock
		start := time.Now()
		v, ok := g.fleet.lookup(g.workCtx, f.req) // the fleet's cache: a round trip, waited
		stopwatch(&f.waited, start)
		if ok {
			g.cache.put(f.key, v)
			f.v = v
			return f, nil
		}
	}
	f.ran = true
	var (
		v        Verdict
		attempts int
		err      error
	)
	var waited *time.Duration
	if g.budget.on() && !g.budget.threadCPU {
		waited = &f.waited // waits are only subtracted from wall time
	}
	v, attempts, err = g.policy.run(g.workCtx, g.checker, f.req, waited, first)
	f.v, f.attempts = v, attempts
	if err == nil {
		g.cache.put(f.key, v)
		if g.fleet != nil {
			start := time.Now()
			g.fleet.store(g.workCtx, f.req, v)
			stopwatch(&f.waited, start)
		}
	}
	return f, err
}

// report tallies, logs and hands one outcome to the hooks. It returns the
// time the hooks took on the budget's clock, which is the application's,
// not charged to the CPU budget.
//
// at is the record's time, when the caller has read the clock already.
func (g *Guard) report(o *Outcome, at time.Time) (hooks time.Duration) {
	g.counters.recordCheck(o)
	g.logOutcome(o, at)
	if len(g.cfg.onVerdict) == 0 {
		return 0
	}
	start := g.budget.clock()
	for _, f := range g.cfg.onVerdict {
		g.callHook(f, o)
	}
	return g.budget.clock() - start
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

func (g *Guard) logOutcome(o *Outcome, at time.Time) {
	var buf [12]slog.Attr // the record copies them: no allocation here
	if o.Err != nil {
		ce := classify(o.Err)
		if ce.Class == failure.Unauthorized {
			return // a rejected key is said once, by the auth gate, not per sample
		}
		if g.log.Enabled(g.baseCtx, slog.LevelError) {
			g.writeRecord(at, slog.LevelError, "safecheck check failed", append(g.appendOutcomeAttrs(buf[:0], o),
				slog.String("error_class", maskSecrets(ce.Class.String())), slog.Int("status", ce.Status), slog.Int("attempts", o.Attempts)))
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
	attrs := append(g.appendOutcomeAttrs(buf[:0], o),
		slog.Bool("flagged", o.Verdict.Flagged),
		slog.Float64("score", o.Verdict.Score),
		slog.String("risk_level", maskSecrets(o.Verdict.RiskLevel)),
		slog.Bool("cached", o.Cached),
	)
	if o.Partial {
		attrs = append(attrs, slog.Bool("partial", true))
	}
	if o.Truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	g.writeRecord(at, level, msg, attrs)
}

// outcomePC is the program counter verdict records carry as their source:
// logOutcome's, looked up once instead of once per record.
var outcomePC atomic.Uintptr

// writeRecord hands one verdict record, whose level is enabled, to the
// record pipeline, as Logger.LogAttrs would from logOutcome, with the time
// at (now, when at is zero). Its attributes are redacted already, as the
// redactor would have (appendOutcomeAttrs): the record goes to the sinks
// past the redactor, which would only walk it to change nothing.
func (g *Guard) writeRecord(at time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	pc := outcomePC.Load()
	if pc == 0 {
		var pcs [1]uintptr
		runtime.Callers(2, pcs[:]) // logOutcome, the caller of this
		pc = pcs[0]
		outcomePC.Store(pc)
	}
	if at.IsZero() {
		at = time.Now()
	}
	rec := slog.NewRecord(at, level, msg, pc)
	rec.AddAttrs(attrs...)
	_ = g.records.Handle(g.baseCtx, rec)
}

// appendOutcomeAttrs appends the identifying attributes every verdict
// record carries, in the form the redactor gives them: strings with
// secrets masked, the customer id public (redactor.attrChange).
func (g *Guard) appendOutcomeAttrs(dst []slog.Attr, o *Outcome) []slog.Attr {
	return append(dst,
		slog.String("request_id", maskSecrets(o.RequestID)),
		slog.String("route", maskSecrets(o.Route)),
		slog.String("test_type", maskSecrets(o.TestType)),
		slog.Int64("response_time_ms", o.Duration.Milliseconds()),
		slog.String("customer_id", g.redact.publicCustomerID(o.CustomerID)),
		slog.String("direction", direction(o.Outbound)), // "inbound" or "outbound": nothing to mask
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
