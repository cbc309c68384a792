package simulator

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Handler executes the IPMI commands the LAN side does not own (every
// command except session setup and Send Message). *model.BMC satisfies it.
type Handler interface {
	Handle(target wire.Target, netFn wire.NetFn, cmd uint8, data []byte, priv wire.PrivilegeLevel) (wire.CompletionCode, []byte)
}

// maxDatagram bounds what a BMC reads: every legitimate IPMI LAN request
// is far smaller (IPMI caps LAN messages near 256 bytes), so a longer
// datagram is cut and then fails to decode.
const maxDatagram = 1024

// BMC is one simulated BMC's LAN side: its socket, session table, faults
// and counters. Model returns the state machine behind it.
type BMC struct {
	index   int
	cfg     *BMCConfig // shared by the fleet, read-only
	handler Handler
	clock   func() time.Time
	guid    [16]byte

	counters *Counters
	faults   atomic.Pointer[Faults]

	conn *net.UDPConn
	addr netip.AddrPort

	mu               sync.Mutex // guards everything below
	sessions         []*session
	lastHandle       uint8
	rng              *rand.Rand // protocol values: session IDs, randoms, IVs
	faultRNG         *rand.Rand // fault decisions
	unreachableUntil time.Time
	// Scratch buffers for building replies, grown on first use so idle
	// BMCs of a large fleet carry none.
	msgScratch []byte
	respData   []byte
	// followUp is a second packet the packet being processed produced
	// (a bridged response); respond hands it out after the reply.
	followUp []byte
	// executed: the packet being processed was an in-session request
	// that ran (its reply counts as in flight while held back); load:
	// what the window quirks made of it.
	executed bool
	load     overload

	// inFlight counts the held-back replies to executed in-session
	// requests: what the window quirks compare with their N.
	inFlight atomic.Int64

	sendMu  sync.Mutex
	closed  bool
	pending map[*time.Timer]struct{} // delayed replies not yet sent
	queue   []*delayedReply          // the same, in the order they go
	wg      sync.WaitGroup           // serve loop and delayed replies
}

// newBMC builds a BMC without a socket. seed and index select its random
// streams.
func newBMC(index int, cfg *BMCConfig, h Handler, clock func() time.Time, seed int64) *BMC {
	b := &BMC{
		index:    index,
		cfg:      cfg,
		handler:  h,
		clock:    clock,
		counters: newCounters(),
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(index)<<1)),
		faultRNG: rand.New(rand.NewPCG(uint64(seed), uint64(index)<<1|1)),
	}
	b.faults.Store(&Faults{})
	b.guid = b.systemGUID()
	return b
}

// systemGUID asks the handler for Get System GUID so RAKP2 carries the
// same GUID the BMC reports; without one it derives a GUID from the seed.
func (b *BMC) systemGUID() [16]byte {
	var g [16]byte
	cc, data := b.handler.Handle(wire.Target{}, wire.NetFnApp, 0x37, nil, wire.PrivilegeUser)
	if cc == wire.CCOK && len(data) >= 16 {
		copy(g[:], data)
		return g
	}
	binary.LittleEndian.PutUint64(g[:], b.rng.Uint64())
	binary.LittleEndian.PutUint64(g[8:], b.rng.Uint64())
	return g
}

// Index is the BMC's position in its fleet.
func (b *BMC) Index() int { return b.index }

// Addr is the UDP address the BMC listens on.
func (b *BMC) Addr() netip.AddrPort { return b.addr }

// Faults returns the BMC's current faults.
func (b *BMC) Faults() Faults { return *b.faults.Load() }

// SetFaults replaces the BMC's faults; it takes effect with the next packet.
func (b *BMC) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	b.faults.Store(&f)
	return nil
}

// Reboot drops every session, as a BMC reset does. With unreachable > 0
// the BMC also ignores all packets for that long, as while it boots.
func (b *BMC) Reboot(unreachable time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sessions {
		if s.occupiesSlot() {
			b.counters.SessionsDropped.Add(1)
		}
	}
	clear(b.sessions)
	b.sessions = b.sessions[:0]
	if unreachable > 0 {
		b.unreachableUntil = b.clock().Add(unreachable)
	} else {
		b.unreachableUntil = time.Time{}
	}
}

// Counters returns a snapshot of the BMC's counters.
func (b *BMC) Counters() CounterSnapshot {
	s := CounterSnapshot{Commands: map[string]uint64{}}
	s.add(b.counters, b.ActiveSessions())
	return s
}

// ActiveSessions is the number of sessions occupying a slot (after
// expiring idle ones).
func (b *BMC) ActiveSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireSessions(b.clock())
	return b.slotsUsed()
}

// SessionInfo describes one session for the control API.
type SessionInfo struct {
	Handle    uint8  `json:"handle"`
	Protocol  string `json:"protocol"` // "ipmi15" or "rmcp+"
	State     string `json:"state"`
	User      string `json:"user"`
	Privilege string `json:"privilege"`
	Suite     *uint8 `json:"cipher_suite,omitempty"`
	Remote    string `json:"remote"`
	IdleFor   string `json:"idle_for"`
}

// Sessions lists the BMC's sessions.
func (b *BMC) Sessions() []SessionInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	b.expireSessions(now)
	out := make([]SessionInfo, 0, len(b.sessions))
	for _, s := range b.sessions {
		si := SessionInfo{Handle: s.handle, Protocol: "rmcp+", Privilege: s.priv.String(),
			Remote: s.remote.String(), IdleFor: now.Sub(s.lastActivity).Round(time.Millisecond).String()}
		if s.v15 {
			si.Protocol = "ipmi15"
		} else {
			id := s.suite.ID
			si.Suite = &id
		}
		if s.user != nil {
			si.User = s.user.Name
		}
		si.State = [...]string{"opened", "rakp2_sent", "challenged", "active"}[s.state]
		out = append(out, si)
	}
	return out
}

// respond runs one datagram through the faults and the protocol and
// returns the reply, and sometimes a follow-up packet, to send after
// delay; ok is false when there is no reply. Both are built into dst.
func (b *BMC) respond(pkt []byte, from netip.AddrPort, dst []byte) (reply, followUp []byte, delay time.Duration, ok bool) {
	reply, followUp, delay, _, ok = b.answer(pkt, from, dst)
	return reply, followUp, delay, ok
}

// answer is respond that also says whether the reply, when delayed,
// counts as in flight (the reply to an executed in-session request).
func (b *BMC) answer(pkt []byte, from netip.AddrPort, dst []byte) (reply, followUp []byte, delay time.Duration, held, ok bool) {
	b.counters.PacketsIn.Add(1)
	f := b.faults.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	if f.Silent || now.Before(b.unreachableUntil) || (f.Loss > 0 && b.faultRNG.Float64() < f.Loss) {
		b.counters.FaultDrops.Add(1)
		return nil, nil, 0, false, false
	}
	b.followUp, b.executed, b.load = nil, false, overloadNone
	reply = b.process(pkt, from, now, f, dst)
	followUp, b.followUp = b.followUp, nil
	if reply == nil {
		return nil, nil, 0, false, false
	}
	reply = b.spoil(reply, f)
	if followUp != nil {
		followUp = b.spoil(followUp, f)
	}
	delay = f.Latency
	if f.Jitter > 0 {
		delay += time.Duration(b.faultRNG.Int64N(int64(2*f.Jitter)+1)) - f.Jitter
	}
	switch b.load {
	case overloadCorrupt:
		reply[len(reply)-1] ^= 0xFF
	case overloadReorder:
		// Overtakes every reply held back, and is never held itself.
		delay = 0
		b.executed = false
	}
	return reply, followUp, max(delay, 0), b.executed, true
}

// overload is what a window quirk does to a request beyond its N.
type overload uint8

const (
	overloadNone overload = iota
	overloadDrop
	overloadBusy
	overloadCorrupt
	overloadReorder
)

// overloaded decides what the window quirks of f do to an in-session
// request arriving now, from the replies in flight. The caller holds mu.
func (b *BMC) overloaded(f *Faults) overload {
	n := int(b.inFlight.Load())
	beyond := func(limit int) bool { return limit > 0 && n >= limit }
	switch {
	case beyond(f.WindowDrop):
		b.counters.FaultDrops.Add(1)
		return overloadDrop
	case beyond(f.WindowBusy):
		b.counters.FaultReplies.Add(1)
		return overloadBusy
	case beyond(f.WindowCorrupt):
		b.counters.FaultReplies.Add(1)
		return overloadCorrupt
	case beyond(f.WindowReorder):
		b.counters.FaultReplies.Add(1)
		return overloadReorder
	}
	return overloadNone
}

// spoil applies the garbage and truncate faults to one outgoing packet.
func (b *BMC) spoil(p []byte, f *Faults) []byte {
	if f.Garbage > 0 && b.faultRNG.Float64() < f.Garbage {
		for i := range p {
			p[i] = uint8(b.faultRNG.Uint32())
		}
		b.counters.FaultReplies.Add(1)
	} else if f.Truncate > 0 && len(p) > 1 && b.faultRNG.Float64() < f.Truncate {
		p = p[:1+b.faultRNG.IntN(len(p)-1)]
		b.counters.FaultReplies.Add(1)
	}
	return p
}

// serve reads datagrams until the socket is closed.
func (b *BMC) serve() {
	defer b.wg.Done()
	buf := make([]byte, maxDatagram)
	scratch := make([]byte, 0, 256)
	for {
		n, from, err := b.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP-induced errors (a console that went away) are
			// reported on the next read; keep serving.
			continue
		}
		reply, followUp, delay, held, ok := b.answer(buf[:n], from, scratch[:0])
		if !ok {
			continue
		}
		if delay > 0 {
			later := [][]byte{append([]byte(nil), reply...)}
			if followUp != nil {
				later = append(later, append([]byte(nil), followUp...))
			}
			b.sendLater(later, from, delay, held)
		} else {
			b.send(reply, from)
			if followUp != nil {
				b.send(followUp, from)
			}
		}
		if cap(reply) > cap(scratch) {
			scratch = reply[:0]
		}
	}
}

// send counts the packet before writing it: a client that has read the
// reply and then looks at the counters must see it counted.
func (b *BMC) send(p []byte, to netip.AddrPort) {
	b.counters.PacketsOut.Add(1)
	if _, err := b.conn.WriteToUDPAddrPort(p, to); err != nil {
		b.counters.PacketsOut.Add(^uint64(0))
	}
}

// sendLater sends the packets, in order, after delay unless the BMC is
// closed first. held counts them as a request in flight until they go.
//
// Delayed replies leave in the order they are due, and replies due at the
// same time in the order they were made: each has its own timer, but the
// timers' goroutines may run in any order, so whichever runs sends every
// reply due up to its own. Without that, two replies 50 µs apart could
// swap, which a real BMC behind a real network does not do, and a
// client's adaptive window takes a reply out of order for trouble.
func (b *BMC) sendLater(pkts [][]byte, to netip.AddrPort, delay time.Duration, held bool) {
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	if b.closed {
		return
	}
	if b.pending == nil {
		b.pending = map[*time.Timer]struct{}{}
	}
	if held {
		b.inFlight.Add(1)
	}
	d := &delayedReply{due: time.Now().Add(delay), pkts: pkts, to: to, held: held}
	// Sorted by due time, a new one after those due at the same time.
	i := len(b.queue)
	for i > 0 && b.queue[i-1].due.After(d.due) {
		i--
	}
	b.queue = slices.Insert(b.queue, i, d)
	b.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		defer b.wg.Done()
		b.sendMu.Lock()
		defer b.sendMu.Unlock()
		delete(b.pending, t)
		if b.closed {
			return
		}
		// Everything up to this reply (due no later), and whatever else
		// is due by now.
		n := slices.Index(b.queue, d) + 1 // 0: another timer sent it
		for now := time.Now(); n < len(b.queue) && !b.queue[n].due.After(now); n++ {
		}
		due := b.queue[:n:n]
		b.queue = b.queue[n:]
		for _, r := range due {
			if r.held {
				// Before the send: a console that answers the reply
				// at once finds the slot free.
				b.inFlight.Add(-1)
			}
			for _, p := range r.pkts {
				b.send(p, r.to)
			}
		}
	})
	b.pending[t] = struct{}{}
}

// delayedReply is a reply waiting for its time (sendLater).
type delayedReply struct {
	due  time.Time
	pkts [][]byte
	to   netip.AddrPort
	held bool
}

// close stops the serve loop and discards delayed replies.
func (b *BMC) close() error {
	b.sendMu.Lock()
	b.closed = true
	for t := range b.pending {
		if t.Stop() {
			b.wg.Done()
		}
		delete(b.pending, t)
	}
	b.queue = nil
	b.sendMu.Unlock()
	var err error
	if b.conn != nil {
		err = b.conn.Close()
	}
	b.wg.Wait()
	return err
}
