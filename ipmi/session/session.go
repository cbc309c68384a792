package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Transport is what ipmi.Client sends commands over. *Session implements
// it for IPMI over LAN; an in-band driver (/dev/ipmi0) can implement it
// too without touching the command layer.
type Transport interface {
	// Exchange sends one request to target (the zero Target is the BMC;
	// others are bridged) and returns the completion code and the response
	// data after it. The returned slice is valid until the next Exchange
	// on this Transport.
	Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error)
	// Close ends the session (Close Session) and releases its resources.
	// It is idempotent.
	Close(ctx context.Context) error
}

var _ Transport = (*Session)(nil)

// Internal errors that steer the request engine; never returned to callers
// unwrapped.
var (
	// errAttemptExpired: the request's own budget (Config.Timeout) ran out
	// before the caller's deadline.
	errAttemptExpired = errors.New("no answer within the session timeout")
	// errSessionGone: the BMC answered outside our session, i.e. it no
	// longer knows it.
	errSessionGone = errors.New("BMC answered outside the session")
	// errPresumedExpired: the session has been quiet for longer than this
	// BMC was seen to keep an idle session (see staleness).
	errPresumedExpired = errors.New("session quiet for longer than the BMC keeps idle sessions")
	errTooLong         = errors.New("ipmi session: message too long")
)

// readBufferSize holds any IPMI LAN datagram: the largest RMCP+ packet
// (255-byte message, AES block and IV, SHA-256 auth code) is under 350
// bytes. A datagram filling the whole buffer was truncated and is dropped.
const readBufferSize = 2048

// Session is an IPMI-over-LAN session: RMCP+ (OpenRMCPPlus) or IPMI v1.5
// (OpenLAN). It is safe for concurrent use; Config.Window bounds the
// requests in flight. A session the BMC drops (idle expiry, BMC reset) is
// re-established transparently, at most once per Exchange.
type Session struct {
	cfg  Config
	obs  Observer
	addr string // host:port as dialled
	conn *net.UDPConn
	sock *datagramSocket // conn's datagram I/O (socket.go)
	// kick makes a blocked Read return, so a reader notices its caller's
	// context being cancelled (see Exchange).
	kick func()

	// slots holds one token per request in flight (Config.Window).
	slots chan struct{}
	// readToken is held by the one goroutine reading the socket; it hands
	// every response to the request it belongs to. No goroutine of our own
	// reads: callers take turns.
	readToken chan struct{}
	// stateMu is held shared by request attempts and exclusively while
	// the session is set up, re-established or closed.
	stateMu sync.RWMutex

	mu          sync.Mutex // guards everything below
	codec       codec      // nil: no session (handshake failed or closed)
	established bool
	closing     bool
	closed      bool
	// gen counts handshakes, so concurrent callers that all saw the same
	// session die re-establish it once.
	gen       uint64
	nextRqSeq uint8
	pending   [64]*request // by rqSeq
	free      []*request
	// answeredSince is the latest first-send time of a request that got
	// its answer: if a request sent after ours was answered, the session
	// is alive even though ours was not.
	answeredSince time.Time
	// expiredAfter is the shortest quiet time (since answeredSince) after
	// which this BMC was found to have dropped the session, 0 if never;
	// survived the longest quiet beyond StaleAfter it was found to have
	// kept the session through. presumed counts the logins made on that
	// evidence alone since it was last checked, and recheckEvery how many
	// to make before checking it again (see staleness).
	expiredAfter time.Duration
	survived     time.Duration
	presumed     int
	recheckEvery int
	// Encode buffers, reused by every send.
	msgBuf, innerBuf, sendBuf []byte
	// rbuf is read into by the readToken holder, then processed under mu.
	rbuf []byte
	// handshake-only state (stateMu held exclusively)
	tag uint8
	// hsInterval is the retransmit interval the last handshake step ended
	// with; onRetransmit, when set, is told of each handshake retransmit.
	hsInterval   time.Duration
	onRetransmit func()
}

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
	done      chan struct{} // signalled once on completion, for followers
	completed bool
	code      wire.CompletionCode
	resp      []byte
	err       error // completion with an error (bridging failure, session gone)
}

func newSession(cfg Config, addr string, conn *net.UDPConn) *Session {
	s := &Session{
		cfg:       cfg,
		obs:       cfg.Observer,
		addr:      addr,
		conn:      conn,
		sock:      newDatagramSocket(conn),
		slots:     make(chan struct{}, cfg.Window),
		readToken: make(chan struct{}, 1),
		rbuf:      make([]byte, readBufferSize),
		msgBuf:    make([]byte, 0, 300),
		innerBuf:  make([]byte, 0, 300),
		sendBuf:   make([]byte, 0, 400),

		recheckEvery: recheckExpiryEvery,
	}
	s.kick = func() { _ = s.conn.SetReadDeadline(time.Unix(1, 0)) }
	return s
}

// Open opens a session with the protocol cfg.Driver names.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	switch cfg.Driver {
	case DriverLAN:
		return OpenLAN(ctx, cfg)
	case DriverLAN20:
		return OpenRMCPPlus(ctx, cfg)
	}
	return nil, fmt.Errorf("ipmi session: unknown driver %d", cfg.Driver)
}

// OpenRMCPPlus opens an IPMI v2.0 RMCP+ session.
func OpenRMCPPlus(ctx context.Context, cfg Config) (*Session, error) {
	cfg.Driver = DriverLAN20
	return open(ctx, cfg)
}

// OpenLAN opens an IPMI v1.5 session.
func OpenLAN(ctx context.Context, cfg Config) (*Session, error) {
	cfg.Driver = DriverLAN
	return open(ctx, cfg)
}

func open(ctx context.Context, cfg Config) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	addr, err := HostPort(cfg.Host)
	if err != nil {
		return nil, err
	}
	conn, err := dial(ctx, cfg.Resolver, addr)
	if err != nil {
		return nil, err
	}
	s := newSession(cfg, addr, conn)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, s.kick)
		defer stop()
	}
	s.stateMu.Lock()
	err = s.handshake(ctx)
	s.stateMu.Unlock()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// dial opens a connected UDP socket: the kernel then drops datagrams from
// any other address or port, and reports an ICMP port unreachable as
// ECONNREFUSED on the next read, which is how a port with nothing
// listening fails fast.
func dial(ctx context.Context, resolver *net.Resolver, addr string) (*net.UDPConn, error) {
	d := net.Dialer{Resolver: resolver}
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		if isUnreachable(err) {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
		}
		return nil, fmt.Errorf("ipmi session: %s: %w", addr, err)
	}
	return c.(*net.UDPConn), nil
}

// isUnreachable reports the socket errors an ICMP error turns into.
func isUnreachable(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTDOWN)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// netError maps a socket error to the package's errors.
func (s *Session) netError(err error) error {
	switch {
	case isUnreachable(err):
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, s.addr, err)
	case errors.Is(err, net.ErrClosed):
		return ErrClosed
	}
	return fmt.Errorf("ipmi session: %s: %w", s.addr, err)
}

// RemoteAddr is the BMC's address as dialled.
func (s *Session) RemoteAddr() string { return s.addr }

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
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, fmt.Errorf("%w: waiting for a request slot: %w", ErrTimeout, ctx.Err())
	}
	defer func() { <-s.slots }()
	r := s.getRequest()
	defer s.putRequest(r)
	r.netFn, r.cmd, r.data, r.target = netFn, cmd, data, target
	r.bridged = !target.IsBMC()

	reopened := false
	for {
		s.stateMu.RLock()
		gen, dead, err := s.exchangeOnce(ctx, r)
		s.stateMu.RUnlock()
		if err == nil {
			if r.err != nil {
				return 0, nil, r.err
			}
			if s.cfg.Window > 1 {
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
		if herr := s.reopen(ctx, gen, errors.Is(err, errPresumedExpired)); herr != nil {
			return 0, nil, fmt.Errorf("%w (%w); re-establishing: %w", ErrSessionLost, err, herr)
		}
		reopened = true
	}
}

// Sessions quiet for Config.StaleAfter may have expired on the BMC: BMCs end
// idle sessions after 30-60 s (ipmi_sim 30 s, many firmwares 60 s), about
// one scrape interval, and most drop requests for an unknown session
// without a word. A request on such a session waits only staleProbeTimeout
// (at least two retransmit intervals) before the session is presumed gone
// and logged into again, instead of the full Timeout: at a 60 s scrape
// interval that was a 4 s stall on every third scrape of a fleet.
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
	recheckExpiryEvery = 8
)

// staleness is how long a session has been quiet at now, how long a
// request sent now may go unanswered before the session is presumed dead,
// and whether it is presumed dead already (log in again without asking).
func (s *Session) staleness(now time.Time) (quiet, timeout time.Duration, expired bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answeredSince.IsZero() {
		return 0, s.cfg.Timeout, false
	}
	quiet = now.Sub(s.answeredSince)
	if quiet <= s.cfg.StaleAfter {
		return quiet, s.cfg.Timeout, false
	}
	if s.expiredAfter > 0 && quiet >= s.expiredAfter-s.expiredAfter/8 && quiet > s.survived {
		if s.presumed < s.recheckEvery {
			s.presumed++
			return quiet, 0, true
		}
		s.presumed = 0 // probe this time: is the limit still right?
	}
	if probe := max(staleProbeTimeout, 2*s.cfg.RetryInterval); probe < s.cfg.Timeout {
		return quiet, probe, false
	}
	return quiet, s.cfg.Timeout, false
}

// sessionOutlived records the outcome of a request sent after quiet time
// quiet beyond Config.StaleAfter: whether the BMC had dropped the session.
func (s *Session) sessionOutlived(quiet time.Duration, dropped bool) {
	if quiet <= s.cfg.StaleAfter {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if dropped {
		if quiet <= s.survived {
			s.survived = 0 // it keeps sessions for less time than it used to
		}
		if s.expiredAfter == 0 || quiet < s.expiredAfter {
			s.expiredAfter = quiet
		}
		s.presumed = 0
		return
	}
	s.survived = max(s.survived, quiet)
	if s.expiredAfter > 0 && quiet >= s.expiredAfter {
		s.expiredAfter = 0 // it kept the session longer than that after all
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
		return gen, true, errors.New("no session")
	}
	now := time.Now()
	quiet, timeout, expired := s.staleness(now)
	if expired {
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
		}
		return gen, dead, fmt.Errorf("%w: %s after %v", ErrTimeout, CommandName(r.netFn, r.cmd), timeout)
	case errors.Is(err, context.DeadlineExceeded):
		return gen, false, fmt.Errorf("%w: %s: %w", ErrTimeout, CommandName(r.netFn, r.cmd), err)
	case errors.Is(err, context.Canceled):
		return gen, false, fmt.Errorf("ipmi session: %s: %w", CommandName(r.netFn, r.cmd), err)
	}
	return gen, false, err
}

// reopen replaces the session of generation gen with a new one, unless a
// concurrent caller already did. presumed: the old session is presumed
// expired without having been asked (see staleness), so its Close Session
// is sent without waiting for an answer.
func (s *Session) reopen(ctx context.Context, gen uint64, presumed bool) error {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, s.kick)
		defer stop()
	}
	s.mu.Lock()
	same, closing := s.gen == gen, s.closing
	s.mu.Unlock()
	if closing {
		return ErrClosed
	}
	if !same {
		return nil
	}
	s.abandon(ctx, presumed)
	return s.handshake(ctx)
}

// abandon closes the current session best effort: one Close Session with
// a short deadline, because the session is most likely dead already and
// the time belongs to the caller's retry; with noWait, sent and not waited
// for at all.
func (s *Session) abandon(ctx context.Context, noWait bool) {
	s.mu.Lock()
	established := s.established
	s.established = false
	s.mu.Unlock()
	if !established {
		return
	}
	deadline := time.Now().Add(250 * time.Millisecond)
	if noWait {
		deadline = time.Now() // attempt sends once, then finds its deadline passed
	} else if d, ok := ctx.Deadline(); ok {
		if quarter := time.Now().Add(time.Until(d) / 8); quarter.Before(deadline) {
			deadline = quarter
		}
	}
	_ = s.closeSession(ctx, deadline)
	s.obs.SessionClosed()
}

// closeSession sends Close Session for the current session.
func (s *Session) closeSession(ctx context.Context, deadline time.Time) error {
	s.mu.Lock()
	var id uint32
	if s.codec != nil {
		id = s.codec.sessionID()
	}
	s.mu.Unlock()
	if id == 0 {
		return nil
	}
	req := command.CloseSessionRequest{SessionID: id}
	var data [5]byte
	code, _, err := s.call(ctx, deadline, wire.NetFnApp, command.CmdCloseSession, req.AppendTo(data[:0]))
	s.mu.Lock()
	s.codec = nil
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// 0x87: the BMC no longer knows the session, which is what we wanted.
	if code != wire.CCOK && code != wire.CCInvalidSessionIDInRequest {
		return &wire.CompletionCodeError{NetFn: wire.NetFnApp, Command: command.CmdCloseSession, Code: code}
	}
	return nil
}

// Close sends Close Session (waiting at most until ctx's deadline) and
// closes the socket. Later calls return nil; Exchanges after Close fail
// with ErrClosed.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()

	var err error
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		// Requests still in flight hold the slots: give up on Close
		// Session, and close the socket now so they end at once rather
		// than at their deadlines.
		err = fmt.Errorf("ipmi session: close: %w", ctx.Err())
		_ = s.conn.Close()
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, s.kick)
		defer stop()
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.mu.Lock()
	established := s.established
	s.established = false
	s.mu.Unlock()
	if established {
		if err == nil {
			deadline := time.Now().Add(s.cfg.Timeout)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			err = s.closeSession(ctx, deadline)
		}
		s.obs.SessionClosed()
	}
	s.mu.Lock()
	s.closed = true
	s.codec = nil
	s.mu.Unlock()
	if cerr := s.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = fmt.Errorf("ipmi session: close socket: %w", cerr)
	}
	return err
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

	interval := s.cfg.RetryInterval
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
			// Retransmit: same rqSeq, so a late answer to the first try
			// still completes the request; new session sequence number.
			s.mu.Lock()
			if !r.completed {
				err = s.sendLocked(r)
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
			s.obs.Retransmit(CommandName(r.netFn, r.cmd))
			if t := tracerFrom(ctx); t != nil {
				t.Trace("retransmit", "command", CommandName(r.netFn, r.cmd), "after", now.Sub(r.firstSent).Round(time.Millisecond))
			}
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
			s.replyDropped(ctx, dropped)
		}
	}
}

// replyDropped reports a datagram dispatch dropped.
func (s *Session) replyDropped(ctx context.Context, reason string) {
	if d, ok := s.obs.(DropObserver); ok {
		d.ReplyDropped(reason)
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

// bridgedLocked handles a response to a bridged request. The BMC answers
// the Send Message first; the target's response then comes embedded in
// that answer's data or as a message of its own (ipmi_sim; see
// command.AppendBridgedRequest), matched on rqSeq, netFn and command only
// because BMCs disagree on its rqAddr.
func (s *Session) bridgedLocked(r *request, m wire.Message, code wire.CompletionCode) {
	sendMessageAnswer := m.NetFn == wire.NetFnApp.Response() && m.Cmd == command.CmdSendMessage
	if sendMessageAnswer && !r.acked && !(r.netFn == wire.NetFnApp && r.cmd == command.CmdSendMessage) {
		if code != wire.CCOK {
			s.completeLocked(r, 0, nil, fmt.Errorf("ipmi session: bridging to 0x%02x on channel %d: %w",
				r.target.Addr, r.target.Channel, &wire.CompletionCodeError{NetFn: wire.NetFnApp, Command: command.CmdSendMessage, Code: code}))
			return
		}
		if len(m.Data) == 1 {
			r.acked = true
			return
		}
		inner, err := wire.DecodeMessage(m.Data[1:])
		if err != nil || !inner.NetFn.IsResponse() || len(inner.Data) == 0 || inner.NetFn != r.netFn.Response() || inner.Cmd != r.cmd {
			s.completeLocked(r, 0, nil, fmt.Errorf("%w: bridged response embedded in Send Message is not the answer to %s",
				ErrProtocol, CommandName(r.netFn, r.cmd)))
			return
		}
		s.completeLocked(r, wire.CompletionCode(inner.Data[0]), inner.Data[1:], nil)
		return
	}
	if m.NetFn == r.netFn.Response() && m.Cmd == r.cmd {
		s.completeLocked(r, code, m.Data[1:], nil)
	}
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
	r.completed = true
	r.code = code
	r.resp = append(r.resp[:0], data...)
	r.err = err
	select {
	case r.done <- struct{}{}:
	default:
	}
}

// deadlineFor is the deadline of one handshake step: ctx's, or Timeout
// from now if that is sooner or ctx has none.
func (s *Session) deadlineFor(ctx context.Context) time.Time {
	d := time.Now().Add(s.cfg.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// handshake sets up a new session with the configured protocol and
// reports it to the Observer. The caller holds stateMu exclusively.
func (s *Session) handshake(ctx context.Context) error {
	start := time.Now()
	s.mu.Lock()
	s.gen++
	s.established = false
	s.codec = sessionless15{}
	s.mu.Unlock()
	s.hsInterval = 0
	var err error
	if s.cfg.Driver == DriverLAN {
		err = s.handshakeLAN(ctx)
	} else {
		err = s.handshakeRMCPPlus(ctx)
	}
	s.mu.Lock()
	if err != nil {
		s.codec = nil
	} else {
		s.established = true
		// The BMC just answered a whole handshake: the session is fresh,
		// not stale (see staleness).
		if start.After(s.answeredSince) {
			s.answeredSince = start
		}
	}
	s.mu.Unlock()
	s.obs.Handshake(handshakeResultOf(err), time.Since(start))
	if t := tracerFrom(ctx); t != nil {
		kv := []any{"driver", s.cfg.Driver, "result", handshakeResultOf(err), "took", time.Since(start).Round(time.Microsecond)}
		if err != nil {
			kv = append(kv, "err", err)
		}
		t.Trace("login", kv...)
	}
	if err != nil {
		return err
	}
	s.obs.SessionOpened()
	return nil
}

// setCodec switches the codec during a handshake.
func (s *Session) setCodec(c codec) {
	s.mu.Lock()
	s.codec = c
	s.mu.Unlock()
}
