package audit

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
)

func TestAttrs(t *testing.T) {
	actor := slog.String("actor", "alice")
	ip := slog.String("client_ip", "127.0.0.1")
	reason := slog.String("reason", "after #42")
	withActor := WithAttrs(context.Background(), actor, ip)
	tests := []struct {
		name string
		ctx  context.Context
		want []slog.Attr
	}{
		{"nil context", nil, nil},
		{"none", context.Background(), nil},
		{"actor", withActor, []slog.Attr{actor, ip}},
		{"replaced", WithAttrs(withActor, reason), []slog.Attr{reason}},
		{"prepended", WithAttrs(withActor, append([]slog.Attr{reason}, Attrs(withActor)...)...), []slog.Attr{reason, actor, ip}},
		{"emptied", WithAttrs(withActor), nil},
		{"under another value", context.WithValue(withActor, struct{ k int }{1}, "x"), []slog.Attr{actor, ip}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Attrs(tt.ctx)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Attrs = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAttrsAreCopied: the caller's slice may change after WithAttrs, and an
// append to what Attrs returns never writes into the stored attributes.
func TestAttrsAreCopied(t *testing.T) {
	attrs := []slog.Attr{slog.String("actor", "alice"), slog.String("via", "admin")}
	ctx := WithAttrs(context.Background(), attrs...)
	attrs[0] = slog.String("actor", "mallory")
	got := Attrs(ctx)
	_ = append(got, slog.String("extra", "x"))
	if fmt.Sprint(Attrs(ctx)) != "[actor=alice via=admin]" {
		t.Errorf("Attrs = %v", Attrs(ctx))
	}
}
