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

	// win bounds the requests in flight (Config.Window; window.go).
	win *window
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
	// expiry learns how long this BMC keeps an idle session (expiry.go).
	expiry idleExpiry
	// rtt estimates the BMC's response times, for the retransmission
	// timeout (rto.go).
	rtt rttTable
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

func newSession(cfg Config, addr string, conn *net.UDPConn) *Session {
	s := &Session{
		cfg:       cfg,
		obs:       cfg.Observer,
		addr:      addr,
		conn:      conn,
		sock:      newDatagramSocket(conn),
		win:       newWindow(cfg.Window, cfg.MaxWindow, cfg.Memory.Window()),
		rtt:       rttTable{floor: cfg.MinRetryInterval, ceiling: min(maxRetryInterval, max(cfg.Timeout/4, cfg.MinRetryInterval))},
		readToken: make(chan struct{}, 1),
		rbuf:      make([]byte, readBufferSize),
		msgBuf:    make([]byte, 0, 300),
		innerBuf:  make([]byte, 0, 300),
		sendBuf:   make([]byte, 0, 400),

		expiry: idleExpiry{staleAfter: cfg.StaleAfter, recheckEvery: recheckExpiryEvery},
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
	if werr := s.win.acquire(ctx); werr == nil {
		defer s.win.release(false)
	} else {
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
