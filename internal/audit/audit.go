package audit

import (
	"context"
	"log/slog"
	"slices"
)

// key is the context key of the attributes; its type is unexported so no
// other package can set or read the value except through this one.
type key struct{}

// WithAttrs returns a copy of ctx whose audit records carry attrs, in that
// order, in place of any that ctx carried.
func WithAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	return context.WithValue(ctx, key{}, slices.Clip(slices.Clone(attrs)))
}

// Attrs returns the attributes WithAttrs put in ctx, or nil when there are
// none (or ctx is nil). Callers must not modify the slice.
func Attrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	attrs, _ := ctx.Value(key{}).([]slog.Attr)
	return attrs
}
