package safecheck

import (
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/safecheck/safecheck/failure"
)

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
