// Package requestid carries the id of an HTTP request in its context, and
// puts it on every log line written with that context.
package requestid

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context { return context.WithValue(ctx, key{}, id) }

// From returns the request id ctx carries, "" when none.
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Attr is the name of the log attribute holding the id.
const Attr = "request_id"

// Handler returns a slog.Handler that adds the request id of each record's
// context to the record, unless the record already has one, and hands it to
// next. Log with the *Context methods (InfoContext, Log) for it to apply.
func Handler(next slog.Handler) slog.Handler {
	if h, ok := next.(handler); ok {
		return h // already wrapped
	}
	return handler{next}
}

type handler struct{ next slog.Handler }

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == Attr
			return !has
		})
		if !has {
			r = r.Clone()
			r.AddAttrs(slog.String(Attr, id))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.next.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.next.WithGroup(name)} }
