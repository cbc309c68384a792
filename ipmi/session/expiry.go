package session

import (
	"context"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Sessions quiet for Config.StaleAfter may have expired on the BMC: BMCs end
// idle sessions after 30-60 s (ipmi_sim 30 s, many firmwares 60 s), about
// one scrape interval, and most drop requests for an unknown session
// without a word. A request on such a session waits only staleProbeTimeout
// (at least two retransmit intervals) before the session is presumed gone
// and logged into again, instead of the full Timeout: at a 60 s scrape
// interval that was a 4 s stall on every third scrape of a fleet. Where the
// session has measured how fast the BMC answers that command, the wait is
// staleProbeRTOs of its retransmission timeout (at least staleProbeMin):
// a live session answers one of the several sends in that time, and on a
// nearby BMC the stall is a tenth of the fixed second (10,000 BMCs at a
// 60 s interval: every BMC's first lost session cost ~1.3 s).
//
// Once a probe has found the session gone after some quiet time, the
// session remembers it (expiredAfter): a request after nearly as much
// quiet (7/8 of it: scrape intervals jitter, and a scrape that logged in
// again ends later than one that did not) and more than the session was
// ever seen to survive logs in again at once, without the probe's wait.
// With ipmi_sim, whose sessions last 30 s, that was a 1.3 s stall on
// every scrape at a 60 s interval. The old session still gets a Close
// Session, not waited for, in case it was alive after all. Every
// recheckExpiryEvery such logins the probe runs instead, and a session
// that survives as much quiet as one was lost after clears the limit, so
// a limit learnt from a network outage or a BMC reset is forgotten.
const (
	staleProbeTimeout  = time.Second
	staleProbeRTOs     = 8
	staleProbeMin      = 100 * time.Millisecond
	recheckExpiryEvery = 8
)

// staleness is how long a session has been quiet at now, how long a
// request of kind k sent now may go unanswered before the session is
// presumed dead, and whether it is presumed dead already (log in again
// without asking).
func (s *Session) staleness(now time.Time, k commandKind) (quiet, timeout time.Duration, expired bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answeredSince.IsZero() {
		return 0, s.cfg.Timeout, false
	}
	quiet = now.Sub(s.answeredSince)
	probe, expired := s.expiry.verdict(quiet)
	if expired {
		return quiet, 0, true
	}
	if probe {
		p := max(staleProbeTimeout, 2*s.cfg.RetryInterval)
		if rto := s.rtt.timeout(k, 0); rto > 0 {
			p = min(p, max(staleProbeMin, staleProbeRTOs*rto))
		}
		if p < s.cfg.Timeout {
			return quiet, p, false
		}
	}
	return quiet, s.cfg.Timeout, false
}

// sessionOutlived records the outcome of a request sent after quiet time
// quiet: whether the BMC had dropped the session.
func (s *Session) sessionOutlived(quiet time.Duration, dropped bool) {
	s.mu.Lock()
	s.expiry.outlived(quiet, dropped)
	learnt := s.expiry.expiredAfter
	s.mu.Unlock()
	if dropped {
		s.cfg.ExpiryHint.learn(learnt)
	}
}

// idleExpiry is what a session learnt about how long its BMC keeps an idle
// session (see above). It holds no clock: callers give it the quiet time,
// so its rules are tested with tables rather than by waiting. The zero
// value with staleAfter set knows nothing yet. Not safe for concurrent
// use (Session.mu guards it).
type idleExpiry struct {
	// staleAfter: less quiet than this proves nothing either way.
	staleAfter time.Duration
	// expiredAfter is the shortest quiet after which the BMC was found to
	// have dropped the session, 0 if never; survived the longest quiet
	// beyond staleAfter it was found to have kept the session through.
	expiredAfter time.Duration
	survived     time.Duration
	// presumed counts the logins made on that evidence alone since it
	// was last checked, and recheckEvery how many to make before checking
	// it again.
	presumed     int
	recheckEvery int
}

// verdict says what to do with a request after quiet time quiet: log in
// again at once (expired), or send it but presume the session lost after
// a short probe (probe), or neither (a fresh session). A verdict of
// expired counts towards the next recheck.
func (e *idleExpiry) verdict(quiet time.Duration) (probe, expired bool) {
	if quiet <= e.staleAfter {
		return false, false
	}
	if e.expiredAfter > 0 && quiet >= e.expiredAfter-e.expiredAfter/8 && quiet > e.survived {
		if e.presumed < e.recheckEvery {
			e.presumed++
			return false, true
		}
		e.presumed = 0 // probe this time: is the limit still right?
	}
	return true, false
}

// outlived records whether a session quiet for quiet was still alive.
func (e *idleExpiry) outlived(quiet time.Duration, dropped bool) {
	if quiet <= e.staleAfter {
		return
	}
	if dropped {
		if quiet <= e.survived {
			e.survived = 0 // it keeps sessions for less time than it used to
		}
		if e.expiredAfter == 0 || quiet < e.expiredAfter {
			e.expiredAfter = quiet
		}
		e.presumed = 0
		return
	}
	e.survived = max(e.survived, quiet)
	if e.expiredAfter > 0 && quiet >= e.expiredAfter {
		e.expiredAfter = 0 // it kept the session longer than that after all
	}
}

// A session the BMC drops when idle costs a new login at the next scrape:
// seven or eight exchanges, a key derivation on a slow BMC CPU, and the
// stale probe or a presumed expiry on our side. Once this BMC has been seen
// to drop an idle session, one Get Device ID after StaleAfter of quiet (or
// half the quiet it was lost after, if less) keeps it: the pool sends it
// (Pool.KeepAlive) for the sessions it still holds, which are the ones
// scraped within their idle_timeout. A BMC that never dropped one gets
// none, unless another BMC of its module did (Config.ExpiryHint) and this
// one was never seen to keep a session through as much quiet.

// keepAliveDue reports whether a keep-alive should go out after quiet,
// given hint, another BMC's learnt expiry (0: none).
func (e *idleExpiry) keepAliveDue(quiet, hint time.Duration) bool {
	limit := e.expiredAfter
	if limit == 0 && hint > e.survived {
		limit = hint
	}
	if limit == 0 {
		return false
	}
	return quiet >= min(e.staleAfter, limit/2) && quiet < limit-limit/8
}

// KeepAlive sends one cheap request (Get Device ID) if the session has
// been quiet long enough that this BMC may soon drop it (keepAliveDue). It
// reports whether it sent one.
func (s *Session) KeepAlive(ctx context.Context) (bool, error) {
	s.mu.Lock()
	due := s.established && !s.closing && !s.answeredSince.IsZero() && s.expiry.keepAliveDue(time.Since(s.answeredSince), s.cfg.ExpiryHint.get())
	s.mu.Unlock()
	if !due {
		return false, nil
	}
	_, _, err := s.Exchange(ctx, wire.Target{}, wire.NetFnApp, command.CmdGetDeviceID, nil)
	return true, err
}
