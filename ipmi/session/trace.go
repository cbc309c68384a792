package session

import (
	"context"
)

// Tracer receives, for the calls made with one context, what the session
// did on their behalf: each request's outcome with its completion code
// and retransmits, replies it dropped and why, and the steps of any login.
// It is how a scrape with debug=true shows a user why a collector is down.
// Trace is called from the goroutines calling into the Session, possibly
// concurrently, and must not block.
type Tracer interface {
	Trace(event string, keyvals ...any)
}

type tracerKey struct{}

// WithTracer returns a context whose calls into a Session are traced to t,
// as net/http/httptrace does for HTTP requests.
func WithTracer(ctx context.Context, t Tracer) context.Context {
	return context.WithValue(ctx, tracerKey{}, t)
}

// tracerFrom returns ctx's Tracer, or nil.
func tracerFrom(ctx context.Context) Tracer {
	t, _ := ctx.Value(tracerKey{}).(Tracer)
	return t
}

// DropObserver, when a Config.Observer implements it too, is told of
// every reply the session dropped, with the reason (checksum, integrity,
// sequence, unknown_session, malformed, unexpected_response,
// late_or_duplicate): a BMC whose replies are all dropped otherwise looks
// merely unreachable.
type DropObserver interface {
	ReplyDropped(reason string)
}
