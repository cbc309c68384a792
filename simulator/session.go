package simulator

import (
	"net/netip"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// sessionState is where a session is in its life.
type sessionState uint8

const (
	// stateOpened: RMCP+ Open Session answered, waiting for RAKP1.
	stateOpened sessionState = iota
	// stateRAKP2Sent: RAKP2 sent, waiting for RAKP3.
	stateRAKP2Sent
	// stateChallenged: IPMI 1.5 Get Session Challenge answered, waiting
	// for Activate Session. Such sessions do not occupy a slot.
	stateChallenged
	// stateActive: authenticated; commands are accepted.
	stateActive
)

// session is one entry of a BMC's session table. All fields are guarded by
// the owning BMC's mutex.
type session struct {
	state  sessionState
	v15    bool
	handle uint8
	// bmcID is the ID the console puts in its packets (the BMC session ID
	// in RMCP+, the session ID in IPMI 1.5); consoleID is the ID the BMC
	// puts in its packets (RMCP+ only; equal to bmcID for IPMI 1.5).
	bmcID     uint32
	consoleID uint32
	remote    netip.AddrPort
	user      *User
	// maxPriv is the highest privilege Set Session Privilege Level may
	// reach; priv is the current operating privilege.
	maxPriv      wire.PrivilegeLevel
	priv         wire.PrivilegeLevel
	lastActivity time.Time

	// RMCP+ handshake and keys.
	suite         crypto.CipherSuite
	openTag       uint8
	openPriv      uint8 // Open Session's requested maximum privilege as sent (opensesspriv_keys)
	role          uint8 // RAKP1 role byte as sent
	consoleRandom [16]byte
	bmcRandom     [16]byte
	integrity     crypto.Integrity
	aes           *crypto.AESCBC128
	k2            []byte // kept for the padding quirk's own encryption

	// IPMI 1.5.
	authType  wire.AuthType
	challenge [16]byte

	inbound seqWindow
	outSeq  uint32
}

// occupiesSlot reports whether s counts against the session limit: every
// RMCP+ session from Open Session on, and activated IPMI 1.5 sessions.
func (s *session) occupiesSlot() bool { return s.state != stateChallenged }

// nextOutSeq returns the session sequence number of the next packet the
// BMC sends; zero is skipped because it marks packets outside a session.
func (s *session) nextOutSeq() uint32 {
	s.outSeq++
	if s.outSeq == 0 {
		s.outSeq++
	}
	return s.outSeq
}

// seqWindowSize is how far an inbound session sequence number may run
// ahead of the highest one seen, and how far behind it a not yet seen one
// is still accepted (IPMI v2.0 section 6.12.13 suggests a window of 8 to
// 32; 16 each way tolerates clients that burn numbers on retransmits).
const seqWindowSize = 16

// seqWindow is the inbound sequence-number check of a session: it rejects
// numbers already seen (replays) and numbers outside the window.
type seqWindow struct {
	started bool
	highest uint32
	// seen has bit i set when highest-i has been received.
	seen uint32
}

// start makes next the first acceptable number (IPMI 1.5 sessions name it
// in Activate Session).
func (w *seqWindow) start(next uint32) {
	w.started, w.highest, w.seen = true, next-1, 1
}

// accept checks seq and records it when acceptable.
func (w *seqWindow) accept(seq uint32) bool {
	if seq == 0 {
		return false
	}
	if !w.started {
		w.started, w.highest, w.seen = true, seq, 1
		return true
	}
	if d := seq - w.highest; d != 0 && d <= seqWindowSize {
		w.highest = seq
		if d >= 32 {
			w.seen = 1
		} else {
			w.seen = w.seen<<d | 1
		}
		return true
	}
	back := w.highest - seq
	if back >= seqWindowSize || back >= 32 {
		return false
	}
	if w.seen&(1<<back) != 0 {
		return false
	}
	w.seen |= 1 << back
	return true
}
