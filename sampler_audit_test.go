package safecheck

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/safecheck/safecheck/internal/syncbuf"

	"github.com/safecheck/safecheck/internal/audit"
)

// TestChangesCarryTheContextsAuditAttrs: the three changes add the
// attributes audit.WithAttrs put in their context to their audit records,
// the "incident replaced" record included; a context without any adds
// nothing.
func TestChangesCarryTheContextsAuditAttrs(t *testing.T) {
	ops := audit.WithAttrs(context.Background(), slog.String("actor", "alice"), slog.String("via", "test"))
	tests := []struct {
		name   string
		ctx    context.Context
		change func(ctx context.Context, g *Guard) error
		msgs   []string // the records the change writes, in order
	}{
		{"rate", ops, func(ctx context.Context, g *Guard) error { return g.SetSampleRate(ctx, "chat", 0.5) },
			[]string{"sample rate changed"}},
		{"rate in code", context.Background(), func(ctx context.Context, g *Guard) error { return g.SetSampleRate(ctx, "chat", 0.5) },
			[]string{"sample rate changed"}},
		{"start", ops, func(ctx context.Context, g *Guard) error { return g.StartIncident(ctx, "drill", time.Hour) },
			[]string{"incident started"}},
		{"replace", ops, func(ctx context.Context, g *Guard) error {
			if err := g.StartIncident(context.Background(), "first", time.Hour); err != nil {
				return err
			}
			return g.StartIncident(ctx, "second", time.Hour, "chat")
		}, []string{"incident started", "incident replaced", "incident started"}},
		{"end", ops, func(ctx context.Context, g *Guard) error {
			if err := g.StartIncident(context.Background(), "first", time.Hour); err != nil {
				return err
			}
			return g.EndIncident(ctx)
		}, []string{"incident started", "incident ended"}},
		{"end in code", context.Background(), func(ctx context.Context, g *Guard) error {
			if err := g.StartIncident(ctx, "first", time.Hour); err != nil {
				return err
			}
			return g.EndIncident(ctx)
		}, []string{"incident started", "incident ended"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := &syncBuffer{}
			g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)))
			mustRoute(t, g, "chat", WithSampleRate(0.1), WithTestTypes("toxicity"))
			if err := tt.change(tt.ctx, g); err != nil {
				t.Fatal(err)
			}
			recs := syncbuf.Records(t, buf.String())
			if len(recs) != len(tt.msgs) {
				t.Fatalf("%d records, want %d: %v", len(recs), len(tt.msgs), recs)
			}
			for i, rec := range recs {
				if rec["msg"] != tt.msgs[i] || rec["audit"] != true {
					t.Errorf("record %d: %v, want an audit record %q", i, rec, tt.msgs[i])
				}
				// Only the records of the change made with ctx carry its attrs.
				withCtx := tt.ctx == ops && (tt.name == "rate" || tt.name == "start" || i > 0)
				if got := rec["actor"] != nil && rec["via"] != nil; got != withCtx {
					t.Errorf("record %d (%s): actor %v via %v, want them: %v", i, rec["msg"], rec["actor"], rec["via"], withCtx)
				}
				if withCtx && (rec["actor"] != "alice" || rec["via"] != "test") {
					t.Errorf("record %d: actor %v via %v", i, rec["actor"], rec["via"])
				}
			}
		})
	}
}
