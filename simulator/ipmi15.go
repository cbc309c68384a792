package simulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// IPMI 1.5 session commands (IPMI v2.0 sections 22.16, 22.17).
const (
	cmdGetSessionChallenge uint8 = 0x39
	cmdActivateSession     uint8 = 0x3A
)

// Activate Session completion codes (IPMI v2.0 table 22-21).
const (
	ccNoSessionSlot          wire.CompletionCode = 0x81
	ccPrivilegeExceedsLimit  wire.CompletionCode = 0x86
	ccInvalidUserName        wire.CompletionCode = 0x81 // Get Session Challenge
	ccNullUserNameNotEnabled wire.CompletionCode = 0x82 // Get Session Challenge
)

// processV15 handles an IPMI 1.5 packet; body starts at the auth type.
func (b *BMC) processV15(body []byte, from netip.AddrPort, now time.Time, dst []byte) []byte {
	h, payload, err := wire.DecodeSession15Header(body)
	if err != nil {
		return b.drop()
	}
	msg, err := wire.DecodeMessage(payload)
	if err != nil || msg.NetFn.IsResponse() {
		return b.drop()
	}
	if h.SessionID == 0 {
		if h.AuthType != wire.AuthTypeNone {
			return b.drop()
		}
		var cc wire.CompletionCode
		var data []byte
		if msg.NetFn == wire.NetFnApp && msg.Cmd == cmdGetSessionChallenge {
			b.counters.countCommand(msg.NetFn, msg.Cmd, msg.Data)
			cc, data = b.getSessionChallenge(msg.Data, from, now)
		} else {
			var ok bool
			if cc, data, ok = b.executeSessionless(&msg); !ok {
				return b.drop()
			}
		}
		return b.appendV15(dst, wire.AuthTypeNone, nil, 0, 0, b.responseMessage(&msg, cc, data))
	}

	s := b.findSession(h.SessionID, true)
	f := b.faults.Load()
	// With per-message authentication disabled (UnexpectedAuth) an active
	// session takes unsigned packets.
	unsigned := f.UnexpectedAuth && s != nil && s.state == stateActive && h.AuthType == wire.AuthTypeNone
	if s == nil || (h.AuthType != s.authType && !unsigned) {
		return b.drop()
	}
	password := []byte(s.user.Password)
	want, err := crypto.AuthCode15(s.authType, password, s.bmcID, h.Sequence, payload)
	if !unsigned && (err != nil || subtle.ConstantTimeCompare(want[:], h.AuthCode[:]) != 1) {
		if s.state == stateChallenged {
			b.failHandshake(s)
		}
		return b.drop()
	}

	if s.state == stateChallenged {
		if msg.NetFn != wire.NetFnApp || msg.Cmd != cmdActivateSession {
			return b.drop()
		}
		b.counters.countCommand(msg.NetFn, msg.Cmd, msg.Data)
		tempID := s.bmcID
		cc, data := b.activateSession(s, msg.Data, now)
		// The reply travels in the temporary session it answers. On
		// success it uses the console's initial outbound sequence
		// number, so the first in-session reply carries the next one:
		// FreeIPMI takes the initial number as already received and
		// drops a reply that repeats it.
		var seq uint32
		id := tempID
		if cc == wire.CCOK {
			seq = s.outSeq
			if f.ActivateNewID {
				id = s.bmcID
			}
		}
		return b.appendV15(dst, s.authType, password, id, seq, b.responseMessage(&msg, cc, data))
	}

	if !s.inbound.accept(h.Sequence) {
		return b.drop()
	}
	s.lastActivity = now
	s.remote = from
	switch b.load = b.overloaded(f); b.load {
	case overloadDrop:
		return nil
	case overloadBusy:
		return b.appendV15Session(dst, s, f, b.responseMessage(&msg, wire.CCNodeBusy, nil))
	}
	b.executed = true
	r := b.execute(s, &msg)
	reply := b.appendV15Session(dst, s, f, b.responseMessage(&msg, r.cc, r.data))
	if r.bridged != nil {
		b.followUp = b.appendV15Session(reply[len(reply):], s, f, r.bridged)
	}
	if r.after != nil {
		r.after()
	}
	return reply
}

// appendV15Session appends an in-session IPMI 1.5 reply of s, with the
// session quirks of f.
func (b *BMC) appendV15Session(dst []byte, s *session, f *Faults, msg []byte) []byte {
	seq := s.nextOutSeq()
	if f.EndianSeq {
		seq = bits.ReverseBytes32(seq)
	}
	start := len(dst)
	id := s.bmcID
	if f.IDZero {
		id = 0
	}
	dst = b.appendV15(dst, s.authType, []byte(s.user.Password), id, seq, msg)
	if f.NoAuthCodeCheck && s.authType != wire.AuthTypeNone {
		// The auth code follows RMCP header, auth type, sequence and
		// session ID.
		code := dst[start+wire.RMCPHeaderSize+9 : start+wire.RMCPHeaderSize+25]
		for i := range code {
			code[i] ^= 0x3c
		}
	}
	return dst
}

// appendV15 appends an IPMI 1.5 packet carrying msg, signed per authType.
func (b *BMC) appendV15(dst []byte, authType wire.AuthType, password []byte, sessionID, seq uint32, msg []byte) []byte {
	dst = wire.IPMIRMCPHeader.AppendTo(dst)
	h := wire.Session15Header{AuthType: authType, Sequence: seq, SessionID: sessionID, PayloadLength: uint8(len(msg))}
	if authType != wire.AuthTypeNone {
		// Only supported types reach here, so AuthCode15 cannot fail.
		h.AuthCode, _ = crypto.AuthCode15(authType, password, sessionID, seq, msg)
	}
	dst = h.AppendTo(dst)
	return append(dst, msg...)
}

// getSessionChallenge starts an IPMI 1.5 login: it checks the auth type
// and user and hands out a temporary session ID and challenge.
func (b *BMC) getSessionChallenge(data []byte, from netip.AddrPort, now time.Time) (wire.CompletionCode, []byte) {
	if len(data) < 17 {
		return wire.CCRequestDataLengthInvalid, nil
	}
	t := wire.AuthType(data[0] & 0x0F)
	if !b.cfg.authType15Enabled(t) {
		return wire.CCInvalidDataField, nil
	}
	name := string(bytes.TrimRight(data[1:17], "\x00"))
	u := b.cfg.userByName(name)
	if u == nil || len(u.Password) > crypto.MaxPassword15Length {
		b.counters.HandshakeFailures.Add(1)
		if name == "" {
			return ccNullUserNameNotEnabled, nil
		}
		return ccInvalidUserName, nil
	}
	s := &session{
		state: stateChallenged, v15: true, bmcID: b.newSessionID(), remote: from,
		user: u, authType: t, lastActivity: now,
	}
	randReader{b.rng}.Read(s.challenge[:])
	b.addChallenged(s)
	out := binary.LittleEndian.AppendUint32(make([]byte, 0, 20), s.bmcID)
	return wire.CCOK, append(out, s.challenge[:]...)
}

// activateSession completes an IPMI 1.5 login whose auth code has been
// verified.
func (b *BMC) activateSession(s *session, data []byte, now time.Time) (wire.CompletionCode, []byte) {
	if len(data) < 22 {
		return wire.CCRequestDataLengthInvalid, nil
	}
	if wire.AuthType(data[0]&0x0F) != s.authType ||
		subtle.ConstantTimeCompare(data[2:18], s.challenge[:]) != 1 {
		b.failHandshake(s)
		return wire.CCInvalidDataField, nil
	}
	priv := wire.PrivilegeLevel(data[1] & 0x0F)
	if priv < wire.PrivilegeCallback || priv > wire.PrivilegeOEM {
		b.counters.SessionsRejected.Add(1)
		return wire.CCInvalidDataField, nil
	}
	if priv > s.user.Privilege {
		b.counters.SessionsRejected.Add(1)
		return ccPrivilegeExceedsLimit, nil
	}
	if b.faults.Load().SessionsFull || b.slotsUsed() >= b.cfg.MaxSessions {
		b.counters.SessionsRejected.Add(1)
		return ccNoSessionSlot, nil
	}
	initialOutbound := binary.LittleEndian.Uint32(data[18:22])
	var initialInbound uint32
	for initialInbound == 0 {
		initialInbound = b.rng.Uint32() >> 1 // leave room before wrapping
	}
	s.bmcID = b.newSessionID()
	s.state = stateActive
	s.handle = b.newHandle()
	s.maxPriv = priv
	s.priv = minPriv(wire.PrivilegeUser, priv)
	s.inbound.start(initialInbound)
	s.outSeq = initialOutbound
	s.lastActivity = now
	b.counters.SessionsOpened.Add(1)
	out := append(make([]byte, 0, 10), uint8(s.authType))
	out = binary.LittleEndian.AppendUint32(out, s.bmcID)
	out = binary.LittleEndian.AppendUint32(out, initialInbound)
	return wire.CCOK, append(out, uint8(priv))
}
