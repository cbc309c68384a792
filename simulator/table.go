package simulator

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"io"
	"math/rand/v2"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Session-table bookkeeping. Every method here runs with b.mu held.

// maxChallenged bounds the IPMI 1.5 challenges waiting for Activate
// Session; the oldest is forgotten first.
const maxChallenged = 8

// expireSessions removes sessions idle for the configured timeout.
func (b *BMC) expireSessions(now time.Time) {
	kept := b.sessions[:0]
	for _, s := range b.sessions {
		if now.Sub(s.lastActivity) >= b.cfg.SessionTimeout {
			if s.occupiesSlot() {
				b.counters.SessionsExpired.Add(1)
			}
			continue
		}
		kept = append(kept, s)
	}
	clear(b.sessions[len(kept):])
	b.sessions = kept
}

// slotsUsed counts sessions that occupy a slot of the table.
func (b *BMC) slotsUsed() int {
	n := 0
	for _, s := range b.sessions {
		if s.occupiesSlot() {
			n++
		}
	}
	return n
}

// activeSessionCount counts sessions past authentication.
func (b *BMC) activeSessionCount() int {
	n := 0
	for _, s := range b.sessions {
		if s.state == stateActive {
			n++
		}
	}
	return n
}

// findSession returns the session the console addresses with id.
func (b *BMC) findSession(id uint32, v15 bool) *session {
	for _, s := range b.sessions {
		if s.bmcID == id && s.v15 == v15 {
			return s
		}
	}
	return nil
}

func (b *BMC) removeSession(target *session) {
	for i, s := range b.sessions {
		if s == target {
			last := len(b.sessions) - 1
			copy(b.sessions[i:], b.sessions[i+1:])
			b.sessions[last] = nil // let the session be collected
			b.sessions = b.sessions[:last]
			return
		}
	}
}

// newSessionID draws a non-zero session ID not in use.
func (b *BMC) newSessionID() uint32 {
	for {
		id := b.rng.Uint32()
		if id != 0 && b.findSession(id, false) == nil && b.findSession(id, true) == nil {
			return id
		}
	}
}

// newHandle returns the next free session handle (1-255).
func (b *BMC) newHandle() uint8 {
	for {
		b.lastHandle++
		if b.lastHandle == 0 {
			continue
		}
		free := true
		for _, s := range b.sessions {
			if s.handle == b.lastHandle {
				free = false
				break
			}
		}
		if free {
			return b.lastHandle
		}
	}
}

// addChallenged stores an IPMI 1.5 challenge session, forgetting the
// oldest challenge when too many wait.
func (b *BMC) addChallenged(s *session) {
	n := 0
	for _, t := range b.sessions {
		if t.state == stateChallenged {
			n++
		}
	}
	if n >= maxChallenged {
		for _, t := range b.sessions {
			if t.state == stateChallenged {
				b.removeSession(t)
				break
			}
		}
	}
	b.sessions = append(b.sessions, s)
}

// minPriv returns the lower of two privilege levels.
func minPriv(a, c wire.PrivilegeLevel) wire.PrivilegeLevel {
	if a < c {
		return a
	}
	return c
}

// randReader adapts the BMC's seeded generator to io.Reader for AES IVs.
// Predictable IVs are fine for a simulator and keep runs reproducible.
type randReader struct{ r *rand.Rand }

var _ io.Reader = randReader{}

func (rr randReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := rr.r.Uint64()
		for j := i; j < len(p) && j < i+8; j++ {
			p[j] = uint8(v)
			v >>= 8
		}
	}
	return len(p), nil
}

// lookupSuite is crypto.LookupCipherSuite; configured IDs were validated,
// so it always succeeds for them.
func lookupSuite(id uint8) (crypto.CipherSuite, bool) { return crypto.LookupCipherSuite(id) }
