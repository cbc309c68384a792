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

// ReopenObserver, when a Config.Observer implements it too, is told why
// the session logged in again within a call: what a lost session costs
// the BMC (a login) and the scrape. The reasons:
//   - presumed_expired: quiet for longer than this BMC was seen to keep an
//     idle session (no request sent first);
//   - stale_probe: quiet for StaleAfter, and no answer within the short
//     probe;
//   - timeout: no answer within the request timeout;
//   - session_gone: the BMC answered that the session is unknown;
//   - login_retry: a re-login in an earlier call had failed.
type ReopenObserver interface {
	SessionReopened(reason string)
}

// Reasons for ReopenObserver.
const (
	ReopenPresumedExpired = "presumed_expired"
	ReopenStaleProbe      = "stale_probe"
	ReopenTimeout         = "timeout"
	ReopenSessionGone     = "session_gone"
	ReopenLoginRetry      = "login_retry"
)
