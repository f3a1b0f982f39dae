package safecheck

import (
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/failure"
)

// report tallies, logs and hands one outcome, of the route's i-th test
// type, to the hooks; its record goes to one of sinks. It returns the time
// the hooks took on the budget's clock, which is the application's, not
// charged to the CPU budget.
//
// at is the record's time, when the caller has read the clock already; ids
// are the sample's ids as its records show them.
func (g *Guard) report(o *Outcome, sinks routeRecords, i int, at time.Time, ids *recordIDs) (hooks time.Duration) {
	g.counters.recordCheck(o)
	g.logOutcome(o, sinks.sink(o, i), at, ids)
	if len(g.cfg.onVerdict) == 0 {
		return 0
	}
	start := g.budget.clock()
	for _, f := range g.cfg.onVerdict {
		callHook(g, f, *o)
	}
	return g.budget.clock() - start
}

// callHook runs one application hook (WithOnVerdict, WithOnAlert,
// WithOnEvent) with v, containing its panic.
func callHook[T any](g *Guard, f func(T), v T) {
	defer func() {
		if recover() != nil {
			g.appPanicked(panicHook)
		}
	}()
	f(v)
}

// routeRecords holds a route's record sinks, by test type index, with the
// attributes that only take a few values bound by WithAttrs: route,
// test_type and direction for every record, and flagged and cached for
// verdicts. A handler that preformats bound attributes, as slog's own do,
// encodes them once per route instead of once per record, and a verdict
// record adds five attributes, which slog.Record holds without an
// allocation.
type routeRecords []typeRecords

// typeRecords are the bound sinks of one test type of a route.
type typeRecords struct {
	failed  [2]slog.Handler       // by outbound
	verdict [2][2][2]slog.Handler // by outbound, flagged, cached
}

// bindRecords returns the bound record sinks of a route named name.
func (g *Guard) bindRecords(name string, testTypes []string) routeRecords {
	rr := make(routeRecords, len(testTypes))
	for i, tt := range testTypes {
		t := &rr[i]
		for d := range t.failed {
			t.failed[d] = bindRecord(g.records, name, tt, d == 1)
			for f := range t.verdict[d] {
				for c := range t.verdict[d][f] {
					t.verdict[d][f][c] = t.failed[d].WithAttrs([]slog.Attr{slog.Bool("flagged", f == 1), slog.Bool("cached", c == 1)})
				}
			}
		}
	}
	return rr
}

// sink returns the sinks the record of o, the outcome of the route's i-th
// test type, goes to.
func (rr routeRecords) sink(o *Outcome, i int) slog.Handler {
	t, d := &rr[i], b2i(o.Outbound)
	if o.Err != nil {
		return t.failed[d]
	}
	return t.verdict[d][b2i(o.Verdict.Flagged)][b2i(o.Cached)]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bindRecord returns h with the attributes every record of route's
// testType in one direction carries, masked as the redactor would.
func bindRecord(h slog.Handler, route, testType string, outbound bool) slog.Handler {
	return h.WithAttrs([]slog.Attr{
		slog.String("route", maskSecrets(route)),
		slog.String("test_type", maskSecrets(testType)),
		slog.String("direction", direction(outbound)), // "inbound" or "outbound": nothing to mask
	})
}

// recordIDs are one sample's ids as its records show them, worked out
// once for all its test types: secrets masked, the customer id public
// (redactor.attrChange).
type recordIDs struct {
	requestID, customerID string
	set                   bool
}

func (ids *recordIDs) of(g *Guard, o *Outcome) *recordIDs {
	if !ids.set {
		ids.requestID, ids.customerID, ids.set = maskSecrets(o.RequestID), g.redact.publicCustomerID(o.CustomerID), true
	}
	return ids
}

// logOutcome writes the record of o to sink, the record sinks bound to its
// route, test type and direction and, for a verdict, to its flagged and
// cached (routeRecords.sink).
func (g *Guard) logOutcome(o *Outcome, sink slog.Handler, at time.Time, ids *recordIDs) {
	var buf [10]slog.Attr // the record copies them: no allocation here
	if o.Err != nil {
		ce := classify(o.Err)
		if ce.Class == failure.Unauthorized {
			return // a rejected key is said once, by the auth gate, not per sample
		}
		if g.log.Enabled(g.baseCtx, slog.LevelError) {
			g.writeRecord(sink, at, slog.LevelError, "safecheck check failed", append(appendOutcomeAttrs(buf[:0], o, ids.of(g, o)),
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
	attrs := append(appendOutcomeAttrs(buf[:0], o, ids.of(g, o)),
		slog.Float64("score", o.Verdict.Score),
		slog.String("risk_level", maskSecrets(o.Verdict.RiskLevel)),
	)
	if o.Partial {
		attrs = append(attrs, slog.Bool("partial", true))
	}
	if o.Truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	g.writeRecord(sink, at, level, msg, attrs)
}

// outcomePC is the program counter verdict records carry as their source:
// logOutcome's, looked up once instead of once per record.
var outcomePC atomic.Uintptr

// writeRecord hands one verdict record, whose level is enabled, to sink,
// the record pipeline past the redactor, as Logger.LogAttrs would from
// logOutcome, with the time at (now, when at is zero). Its attributes are
// redacted already, as the redactor would have (appendOutcomeAttrs): the
// record goes to the sinks past the redactor, which would only walk it to
// change nothing.
func (g *Guard) writeRecord(sink slog.Handler, at time.Time, level slog.Level, msg string, attrs []slog.Attr) {
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
	_ = sink.Handle(g.baseCtx, rec)
}

// appendOutcomeAttrs appends the identifying attributes every verdict
// record carries besides the bound ones (routeRecords), in the form the
// redactor gives them (ids).
func appendOutcomeAttrs(dst []slog.Attr, o *Outcome, ids *recordIDs) []slog.Attr {
	return append(dst,
		slog.String("request_id", ids.requestID),
		slog.Int64("response_time_ms", o.Duration.Milliseconds()),
		slog.String("customer_id", ids.customerID),
	)
}
