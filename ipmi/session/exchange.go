package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// request is one IPMI request in flight. Requests are recycled through
// Session.free with their response buffers, which is what makes the hot
// path allocation-free.
type request struct {
	rqSeq     uint8
	netFn     wire.NetFn
	cmd       uint8
	data      []byte // the caller's request data, kept for retransmits
	target    wire.Target
	bridged   bool
	acked     bool // bridged: Send Message accepted, the target's answer is due
	firstSent time.Time
	// retransmitted: sent more than once in this attempt (its round trip
	// is no sample, Karn's rule); reordered: answered while a request sent
	// before it still waited, the earliest of them sent at behind.
	retransmitted, reordered bool
	behind                   time.Time
	// reopen: why exchangeOnce found the session gone (ReopenObserver).
	reopen    string
	done      chan struct{} // signalled once on completion, for followers
	completed bool
	code      wire.CompletionCode
	resp      []byte
	err       error // completion with an error (bridging failure, session gone)
}

// Exchange sends one request and returns the completion code and the
// response data after it (see Transport).
//
// The returned data is valid until the next Exchange on this Session
// begins: with Window 1 it aliases a per-session buffer, which keeps the
// hot path free of allocations. With Window > 1 (concurrent callers by
// design) each call gets its own copy.
//
// ctx's deadline bounds every wait. A cancellation without a deadline is
// noticed at once after the request's first retransmit, and at its first
// retransmit time (Config.RetryInterval) before that.
//
// A request unanswered for Config.Timeout on a session that answered
// nothing else meanwhile, or answered outside the session, makes Exchange
// close the session (best effort), establish a new one and send the
// request once more, all within ctx's deadline.
func (s *Session) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	start := time.Now()
	code, resp, err := s.exchange(ctx, target, netFn, cmd, data)
	result := RequestOK
	switch {
	case err == nil && code != wire.CCOK:
		result = RequestCompletionCode
	case err != nil && (errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded)):
		result = RequestTimeout
	case err != nil:
		result = RequestError
	}
	if _, nop := s.obs.(nopObserver); !nop {
		s.obs.Request(CommandName(netFn, cmd), result, code, time.Since(start))
	}
	if t := tracerFrom(ctx); t != nil {
		kv := []any{"command", CommandName(netFn, cmd), "result", result, "took", time.Since(start).Round(time.Microsecond)}
		if !target.IsBMC() {
			kv = append(kv, "bridged_to", fmt.Sprintf("0x%02x", target.Addr), "channel", target.Channel)
		}
		if result == RequestCompletionCode {
			kv = append(kv, "completion_code", code.String())
		}
		if err != nil {
			kv = append(kv, "err", err)
		}
		t.Trace("request", kv...)
	}
	return code, resp, err
}

func (s *Session) exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	if netFn.IsResponse() {
		return 0, nil, fmt.Errorf("ipmi session: netfn 0x%02x is a response netfn", uint8(netFn))
	}
	r := s.getRequest()
	defer s.putRequest(r)
	r.netFn, r.cmd, r.data, r.target = netFn, cmd, data, target
	r.bridged = !target.IsBMC()
	for busy := 0; ; busy++ {
		if err := s.win.acquire(ctx); err != nil {
			return 0, nil, fmt.Errorf("%w: waiting for a request slot: %w", ErrTimeout, err)
		}
		code, resp, err := s.exchangeInWindow(ctx, r)
		clean := err == nil && !r.retransmitted && !r.reordered && code != wire.CCNodeBusy
		s.win.release(clean)
		if clean || !s.win.adaptive {
			return code, resp, err
		}
		if s.win.trouble(r.troubleSent(), code == wire.CCNodeBusy) {
			s.windowChanged(ctx, r, code)
		}
		// A BMC busy with what we sent at once: the window is smaller
		// now; ask again, a couple of times, after a round trip.
		if err != nil || code != wire.CCNodeBusy || busy >= maxBusyRetries {
			return code, resp, err
		}
		s.mu.Lock()
		wait := s.rtt.timeout(kindOf(netFn, cmd, r.bridged), s.cfg.RetryInterval)
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return code, resp, err
		}
	}
}

// troubleSent is when the trouble r met began: for a reply out of order,
// when the request it overtook was sent. Answers keep overtaking a lost
// request until its retransmit is answered, however many are sent after
// the window shrinks; they are all that one loss, and shrink it once.
func (r *request) troubleSent() time.Time {
	if r.reordered && r.behind.Before(r.firstSent) {
		return r.behind
	}
	return r.firstSent
}

// maxBusyRetries bounds how often the adaptive window asks again after a
// "node busy" answer.
const maxBusyRetries = 2

// windowChanged reports the adaptive window's new size to the trace and
// remembers it for the BMC's next session.
func (s *Session) windowChanged(ctx context.Context, r *request, code wire.CompletionCode) {
	size := s.win.size()
	s.cfg.Memory.rememberWindow(size)
	if t := tracerFrom(ctx); t != nil {
		why := "retransmit"
		switch {
		case code == wire.CCNodeBusy:
			why = "node busy"
		case r.reordered:
			why = "reply out of order"
		}
		t.Trace("window", "size", size, "after", why, "command", CommandName(r.netFn, r.cmd))
	}
}

// exchangeInWindow runs r, re-establishing the session once if it looks
// gone. The caller holds a window slot.
func (s *Session) exchangeInWindow(ctx context.Context, r *request) (wire.CompletionCode, []byte, error) {
	r.retransmitted, r.reordered = false, false
	reopened := false
	for {
		s.stateMu.RLock()
		gen, dead, err := s.exchangeOnce(ctx, r)
		s.stateMu.RUnlock()
		if err == nil {
			if r.err != nil {
				return 0, nil, r.err
			}
			if s.cfg.Window != 1 {
				return r.code, append([]byte(nil), r.resp...), nil
			}
			return r.code, r.resp, nil
		}
		if !dead {
			return 0, nil, err
		}
		if reopened {
			return 0, nil, fmt.Errorf("%w: %w", ErrSessionLost, err)
		}
		if o, ok := s.obs.(ReopenObserver); ok {
			o.SessionReopened(r.reopen)
		}
		if herr := s.reopen(ctx, gen, errors.Is(err, errPresumedExpired)); herr != nil {
			return 0, nil, fmt.Errorf("%w (%w); re-establishing: %w", ErrSessionLost, err, herr)
		}
		reopened = true
	}
}

// exchangeOnce runs one attempt of r on the current session. dead reports
// that the session looks gone and re-establishing it may help.
func (s *Session) exchangeOnce(ctx context.Context, r *request) (gen uint64, dead bool, err error) {
	s.mu.Lock()
	gen, established, closing := s.gen, s.established, s.closing
	s.mu.Unlock()
	if closing {
		return gen, false, ErrClosed
	}
	if !established {
		// A previous re-establishing failed: try again now.
		r.reopen = ReopenLoginRetry
		return gen, true, errors.New("no session")
	}
	now := time.Now()
	quiet, timeout, expired := s.staleness(now, kindOf(r.netFn, r.cmd, r.bridged))
	if expired {
		r.reopen = ReopenPresumedExpired
		return gen, true, errPresumedExpired
	}
	deadline := now.Add(timeout)
	ctxDeadline, hasDeadline := ctx.Deadline()
	if hasDeadline && ctxDeadline.Before(deadline) {
		deadline = ctxDeadline
	}
	err = s.attempt(ctx, r, deadline)
	switch {
	case err == nil && errors.Is(r.err, errSessionGone):
		r.err = nil
		s.sessionOutlived(quiet, true)
		r.reopen = ReopenSessionGone
		return gen, true, errSessionGone
	case err == nil:
		s.sessionOutlived(quiet, false)
		return gen, false, nil
	case errors.Is(err, errAttemptExpired):
		s.mu.Lock()
		heard := !s.answeredSince.Before(r.firstSent)
		s.mu.Unlock()
		// A bridged request the BMC accepted, or a session that answered
		// a request sent after this one, is alive: the target or this
		// command is slow, and a new session would not help. (Any packet
		// at all would not do: a late duplicate of an earlier answer
		// proves nothing about now.)
		dead = !heard && !(r.bridged && r.acked)
		if dead {
			s.sessionOutlived(quiet, true)
			r.reopen = ReopenTimeout
			if timeout < s.cfg.Timeout {
				r.reopen = ReopenStaleProbe
			}
		}
		return gen, dead, fmt.Errorf("%w: %s after %v", ErrTimeout, CommandName(r.netFn, r.cmd), timeout)
	case errors.Is(err, context.DeadlineExceeded):
		return gen, false, fmt.Errorf("%w: %s: %w", ErrTimeout, CommandName(r.netFn, r.cmd), err)
	case errors.Is(err, context.Canceled):
		return gen, false, fmt.Errorf("ipmi session: %s: %w", CommandName(r.netFn, r.cmd), err)
	}
	return gen, false, err
}

// call sends one IPMI request to the BMC on the current codec and waits
// until deadline: the handshake's and Close Session's path. The caller
// holds stateMu exclusively. The response aliases a recycled buffer and is
// valid until the next call.
func (s *Session) call(ctx context.Context, deadline time.Time, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	r := s.getRequest()
	defer s.putRequest(r)
	r.netFn, r.cmd, r.data = netFn, cmd, data
	err := s.attempt(ctx, r, deadline)
	switch {
	case err == nil && r.err != nil:
		return 0, nil, r.err
	case err == nil:
		return r.code, r.resp, nil
	case errors.Is(err, errAttemptExpired), errors.Is(err, context.DeadlineExceeded):
		return 0, nil, fmt.Errorf("%w: no answer to %s", ErrTimeout, CommandName(netFn, cmd))
	}
	return 0, nil, err
}

func (s *Session) getRequest() *request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		r := s.free[n-1]
		s.free = s.free[:n-1]
		return r
	}
	return &request{done: make(chan struct{}, 1), resp: make([]byte, 0, 64)}
}

func (s *Session) putRequest(r *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := r.resp[:0]
	*r = request{done: r.done, resp: resp}
	select {
	case <-r.done:
	default:
	}
	s.free = append(s.free, r)
}

// attempt sends r on the current codec and waits for its answer until
// deadline, retransmitting with exponential backoff. It returns nil when r
// completed (r.code/r.resp or r.err set), errAttemptExpired at deadline,
// the context's error, or a socket error.
func (s *Session) attempt(ctx context.Context, r *request, deadline time.Time) error {
	s.mu.Lock()
	if s.closed || s.codec == nil {
		s.mu.Unlock()
		return ErrClosed
	}
	// rqSeq tells requests in flight apart; it advances with every request
	// so a late answer to an earlier one finds no request waiting.
	for s.pending[s.nextRqSeq] != nil {
		s.nextRqSeq = (s.nextRqSeq + 1) & 0x3F
	}
	r.rqSeq = s.nextRqSeq
	s.nextRqSeq = (s.nextRqSeq + 1) & 0x3F
	r.completed, r.acked, r.err = false, false, nil
	s.pending[r.rqSeq] = r
	r.firstSent = time.Now()
	err := s.sendLocked(r)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.pending[r.rqSeq] == r {
			s.pending[r.rqSeq] = nil
		}
		s.mu.Unlock()
	}()
	if err != nil {
		return err
	}

	s.mu.Lock()
	interval := s.rtt.timeout(kindOf(r.netFn, r.cmd, r.bridged), s.cfg.RetryInterval)
	s.mu.Unlock()
	firstWait := interval
	nextSend := r.firstSent.Add(interval)
	// A cancelled context must interrupt a blocked read. Registering the
	// kick costs two allocations, so the hot path (an answer before the
	// first retransmit) goes without: until then a cancellation is noticed
	// by the first retransmit time at the latest. Deadlines need no kick:
	// they bound every read.
	var stopKick func() bool
	defer func() {
		if stopKick != nil {
			stopKick()
		}
	}()
	for {
		s.mu.Lock()
		completed := r.completed
		s.mu.Unlock()
		if completed {
			return nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			if d, ok := ctx.Deadline(); ok && !now.Before(d) {
				return context.DeadlineExceeded
			}
			return errAttemptExpired
		}
		if !now.Before(nextSend) {
			if stopKick == nil && ctx.Done() != nil {
				stopKick = context.AfterFunc(ctx, s.kick)
			}
			// On a busy host the answer is often already queued on the
			// socket when the timer fires: we were late, not the BMC.
			// Read what is there before sending the request again.
			if done, err := s.readQueued(ctx, r); err != nil {
				return err
			} else if done {
				return nil
			}
			// Retransmit: same rqSeq, so a late answer to the first try
			// still completes the request; new session sequence number.
			s.mu.Lock()
			sent := false
			if !r.completed {
				err = s.sendLocked(r)
				r.retransmitted, sent = true, true
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
			if !sent {
				continue
			}
			s.obs.Retransmit(CommandName(r.netFn, r.cmd))
			if t := tracerFrom(ctx); t != nil {
				t.Trace("retransmit", "command", CommandName(r.netFn, r.cmd), "after", now.Sub(r.firstSent).Round(time.Millisecond))
			}
			s.mu.Lock()
			s.rtt.backOff(kindOf(r.netFn, r.cmd, r.bridged), firstWait)
			s.mu.Unlock()
			interval = min(2*interval, maxRetryInterval)
			nextSend = now.Add(interval)
			continue
		}
		wake := nextSend
		if deadline.Before(wake) {
			wake = deadline
		}
		select {
		case s.readToken <- struct{}{}:
			err = s.readUntil(ctx, r, wake)
			<-s.readToken
		default:
			err = s.follow(ctx, r, wake)
		}
		if err != nil {
			return err
		}
	}
}

// queuedReadBudget is how long readQueued reads: enough to take what the
// kernel has queued, far below any round trip.
const queuedReadBudget = 50 * time.Microsecond

// readQueued reads and dispatches the datagrams already queued on the
// socket, if no other caller is reading, and reports whether r completed.
func (s *Session) readQueued(ctx context.Context, r *request) (bool, error) {
	select {
	case s.readToken <- struct{}{}:
	default:
		return false, nil // the reader hands r its answer if it came
	}
	err := s.readUntil(ctx, r, time.Now().Add(queuedReadBudget))
	<-s.readToken
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.completed, nil
}

// follow waits while another request's caller reads the socket: for r's
// answer, for the reader role, or until wake.
func (s *Session) follow(ctx context.Context, r *request, wake time.Time) error {
	t := time.NewTimer(time.Until(wake))
	defer t.Stop()
	select {
	case <-r.done:
		return nil
	case s.readToken <- struct{}{}:
		err := s.readUntil(ctx, r, wake)
		<-s.readToken
		return err
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readUntil reads and dispatches datagrams until r completes or wake
// passes. The caller holds readToken.
func (s *Session) readUntil(ctx context.Context, r *request, wake time.Time) error {
	for {
		s.mu.Lock()
		completed := r.completed
		s.mu.Unlock()
		if completed {
			return nil
		}
		if err := s.conn.SetReadDeadline(wake); err != nil {
			return s.netError(err)
		}
		// Checked after setting the deadline: a cancellation from now on
		// kicks the read (Exchange registered s.kick), one before is seen
		// here.
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := s.sock.read(s.rbuf)
		if err != nil {
			if isTimeout(err) {
				if err := ctx.Err(); err != nil {
					return err
				}
				if time.Now().Before(wake) {
					continue // kicked for another caller's context
				}
				return nil
			}
			return s.netError(err)
		}
		if n == len(s.rbuf) {
			continue
		}
		s.mu.Lock()
		dropped := s.dispatchLocked(s.rbuf[:n])
		s.mu.Unlock()
		if dropped != "" {
			s.replyDropped(ctx, dropped, r.firstSent)
		}
	}
}

// replyDropped reports a datagram dispatch dropped.
// sent is when the reader's own request was sent: the corrupt reply
// belongs to the requests in flight then, one trouble event.
func (s *Session) replyDropped(ctx context.Context, reason string, sent time.Time) {
	if d, ok := s.obs.(DropObserver); ok {
		d.ReplyDropped(reason)
	}
	switch reason {
	case "checksum", "integrity", "malformed", dropUnexpected:
		// A corrupt reply: a BMC overwhelmed by the requests in flight
		// (late and duplicate answers are ours to expect after a
		// retransmit, and another session's are not this BMC's fault).
		if s.win.trouble(sent, true) {
			size := s.win.size()
			s.cfg.Memory.rememberWindow(size)
			if t := tracerFrom(ctx); t != nil {
				t.Trace("window", "size", size, "after", "reply dropped: "+reason)
			}
		}
	}
	if t := tracerFrom(ctx); t != nil {
		t.Trace("reply dropped", "reason", reason)
	}
}

// sendLocked encodes r and sends it.
func (s *Session) sendLocked(r *request) error {
	var m wire.Message
	if r.bridged {
		s.innerBuf = command.AppendBridgedRequest(s.innerBuf[:0], r.target, r.rqSeq, r.netFn, r.cmd, r.data)
		m = wire.Message{DestAddr: wire.BMCSlaveAddress, NetFn: wire.NetFnApp, SrcAddr: wire.RemoteConsoleSWID,
			Seq: r.rqSeq, Cmd: command.CmdSendMessage, Data: s.innerBuf}
	} else {
		m = wire.Message{DestAddr: wire.BMCSlaveAddress, NetFn: r.netFn, DestLUN: r.target.LUN & 3,
			SrcAddr: wire.RemoteConsoleSWID, Seq: r.rqSeq, Cmd: r.cmd, Data: r.data}
	}
	s.msgBuf = m.AppendTo(s.msgBuf[:0])
	if s.codec == nil {
		return ErrClosed
	}
	pkt, err := s.codec.seal(s.sendBuf[:0], s.msgBuf)
	if err != nil {
		return fmt.Errorf("ipmi session: encode %s: %w", CommandName(r.netFn, r.cmd), err)
	}
	s.sendBuf = pkt
	if _, err := s.sock.write(pkt); err != nil {
		return s.netError(err)
	}
	return nil
}

// dispatchLocked hands one datagram to the request it answers. Anything
// that fails a check, answers nothing pending (a stale or duplicate
// reply), or does not match the pending request's command is dropped.
func (s *Session) dispatchLocked(b []byte) (dropped string) {
	if s.codec == nil {
		return ""
	}
	m, res := s.codec.open(b)
	switch {
	case res.dropped():
		return res.dropReason()
	case res == openSessionless:
		if s.established {
			s.sessionlessLocked(m)
		}
		return ""
	case res == openSessionInvalid:
		if s.established {
			for _, r := range s.pending {
				if r != nil && !r.completed {
					s.completeLocked(r, 0, nil, errSessionGone)
				}
			}
		}
		return ""
	}
	if !m.NetFn.IsResponse() || len(m.Data) == 0 {
		return dropUnexpected
	}
	r := s.pending[m.Seq&0x3F]
	if r == nil || r.completed {
		return dropUnmatched
	}
	code := wire.CompletionCode(m.Data[0])
	if !r.bridged {
		if m.NetFn == r.netFn.Response() && m.Cmd == r.cmd {
			s.completeLocked(r, code, m.Data[1:], nil)
			return ""
		}
		return dropUnexpected
	}
	s.bridgedLocked(r, m, code)
	return ""
}

// sessionlessLocked handles a datagram from outside any session on an
// established session: if it answers a pending request, the BMC has lost
// our session (some BMCs answer an unknown session ID this way, with a
// session-less error response).
func (s *Session) sessionlessLocked(m wire.Message) {
	if !m.NetFn.IsResponse() {
		return
	}
	r := s.pending[m.Seq&0x3F]
	if r == nil || r.completed {
		return
	}
	if (m.NetFn == r.netFn.Response() && m.Cmd == r.cmd) ||
		(r.bridged && m.NetFn == wire.NetFnApp.Response() && m.Cmd == command.CmdSendMessage) {
		s.completeLocked(r, 0, nil, errSessionGone)
	}
}

func (s *Session) completeLocked(r *request, code wire.CompletionCode, data []byte, err error) {
	if err == nil && r.firstSent.After(s.answeredSince) {
		s.answeredSince = r.firstSent
	}
	if err == nil && !r.retransmitted {
		s.rtt.sample(kindOf(r.netFn, r.cmd, r.bridged), time.Since(r.firstSent))
	}
	if s.win.adaptive {
		for _, p := range s.pending {
			if p != nil && p != r && !p.completed && !p.bridged && !r.bridged && p.firstSent.Before(r.firstSent) {
				if !r.reordered || p.firstSent.Before(r.behind) {
					r.behind = p.firstSent
				}
				r.reordered = true
			}
		}
	}
	r.completed = true
	r.code = code
	r.resp = append(r.resp[:0], data...)
	r.err = err
	select {
	case r.done <- struct{}{}:
	default:
	}
}
