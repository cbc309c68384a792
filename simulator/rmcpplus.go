package simulator

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"net/netip"
	"strings"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// process handles one datagram (b.mu held) and returns the reply built
// into dst, or nil when the BMC stays silent.
func (b *BMC) process(pkt []byte, from netip.AddrPort, now time.Time, f *Faults, dst []byte) []byte {
	h, err := wire.DecodeRMCPHeader(pkt)
	if err != nil {
		return b.drop()
	}
	b.expireSessions(now)
	body := pkt[wire.RMCPHeaderSize:]
	switch h.Class {
	case wire.RMCPClassASF:
		m, err := wire.DecodeASF(body)
		if err != nil || m.IANA != wire.ASFIANA || m.Type != wire.ASFTypePresencePng {
			return b.drop()
		}
		b.counters.countStep(stepPresencePing)
		pong := wire.NewPresencePong(m.Tag)
		return pong.AppendTo(dst)
	case wire.RMCPClassIPMI:
		if len(body) == 0 {
			return b.drop()
		}
		if wire.AuthType(body[0]) == wire.AuthTypeRMCPPlus {
			return b.processV2(body, from, now, f, dst)
		}
		return b.processV15(body, from, now, dst)
	}
	return b.drop()
}

// drop counts an ignored packet; it returns nil for the caller's return.
func (b *BMC) drop() []byte {
	b.counters.PacketsDropped.Add(1)
	return nil
}

// processV2 handles an RMCP+ packet; body starts at the auth type byte.
func (b *BMC) processV2(body []byte, from netip.AddrPort, now time.Time, f *Faults, dst []byte) []byte {
	h, payload, rest, err := wire.DecodeSessionV2Header(body)
	if err != nil {
		return b.drop()
	}
	switch h.PayloadType {
	case wire.PayloadOpenSessionReq:
		if h.SessionID != 0 || h.Authenticated || h.Encrypted {
			return b.drop()
		}
		return b.openSession(payload, from, now, f, dst)
	case wire.PayloadRAKP1:
		if h.SessionID != 0 || h.Authenticated || h.Encrypted {
			return b.drop()
		}
		return b.rakp1(payload, now, f, dst)
	case wire.PayloadRAKP3:
		if h.SessionID != 0 || h.Authenticated || h.Encrypted {
			return b.drop()
		}
		return b.rakp3(payload, now, f, dst)
	case wire.PayloadIPMI:
	default:
		return b.drop() // SOL and OEM payloads are not simulated
	}

	if h.SessionID == 0 {
		if h.Authenticated || h.Encrypted {
			return b.drop()
		}
		msg, err := wire.DecodeMessage(payload)
		if err != nil || msg.NetFn.IsResponse() {
			return b.drop()
		}
		cc, data, ok := b.executeSessionless(&msg)
		if !ok {
			return b.drop()
		}
		return b.appendV2(dst, nil, wire.PayloadIPMI, b.responseMessage(&msg, cc, data), f)
	}

	s := b.findSession(h.SessionID, false)
	if s == nil || s.state != stateActive {
		return b.drop()
	}
	if s.integrity != nil {
		if !h.Authenticated {
			return b.drop()
		}
		code, err := wire.CheckIntegrityTrailer(rest, s.integrity.AuthCodeLen())
		if err != nil || !s.integrity.Verify(body[:len(body)-len(code)], code) {
			return b.drop()
		}
	} else if h.Authenticated {
		return b.drop()
	}
	if h.Encrypted != (s.aes != nil) {
		return b.drop()
	}
	if !s.inbound.accept(h.Sequence) {
		return b.drop()
	}
	if s.aes != nil {
		if payload, err = s.aes.Decrypt(payload); err != nil {
			return b.drop()
		}
	}
	msg, err := wire.DecodeMessage(payload)
	if err != nil || msg.NetFn.IsResponse() {
		return b.drop()
	}
	s.lastActivity = now
	s.remote = from
	switch b.load = b.overloaded(f); b.load {
	case overloadDrop:
		return nil
	case overloadBusy:
		return b.appendV2(dst, s, wire.PayloadIPMI, b.responseMessage(&msg, wire.CCNodeBusy, nil), f)
	}
	b.executed = true
	r := b.execute(s, &msg)
	reply := b.appendV2(dst, s, wire.PayloadIPMI, b.responseMessage(&msg, r.cc, r.data), f)
	if r.bridged != nil {
		b.followUp = b.appendV2(reply[len(reply):], s, wire.PayloadIPMI, r.bridged, f)
	}
	if r.after != nil {
		r.after()
	}
	return reply
}

// appendV2 appends an RMCP+ packet carrying payload. With s nil the packet
// is outside any session (session ID and sequence 0, no protection);
// otherwise it is addressed to the console's session ID and protected
// with the session's algorithms.
func (b *BMC) appendV2(dst []byte, s *session, pt wire.PayloadType, payload []byte, f *Faults) []byte {
	dst = wire.IPMIRMCPHeader.AppendTo(dst)
	start := len(dst)
	h := wire.SessionV2Header{PayloadType: pt}
	if s != nil {
		h.SessionID = s.consoleID
		h.Sequence = s.nextOutSeq()
		h.Encrypted = s.aes != nil
		h.Authenticated = s.integrity != nil
	}
	dst = h.AppendTo(dst)
	payloadStart := len(dst)
	switch {
	case h.Encrypted && f.AESPadFullBlock && (len(payload)+1)%16 == 0:
		dst = b.encryptPadFullBlock(dst, s, payload)
	case h.Encrypted:
		// The reader never fails, so neither does the encryption.
		dst, _ = s.aes.AppendEncrypt(dst, payload, randReader{b.rng})
	default:
		dst = append(dst, payload...)
	}
	binary.LittleEndian.PutUint16(dst[payloadStart-2:], uint16(len(dst)-payloadStart))
	if h.Authenticated {
		dst = wire.AppendIntegrityPad(dst, start)
		dst = s.integrity.AppendAuthCode(dst, dst[start:])
	}
	return dst
}

// encryptPadFullBlock is AES-CBC-128 as some firmwares do it: a payload
// whose length plus the pad-length byte is already a multiple of 16 gets a
// whole extra block of padding (1, 2, ... 16, then pad length 16).
func (b *BMC) encryptPadFullBlock(dst []byte, s *session, payload []byte) []byte {
	block, err := aes.NewCipher(s.k2[:16])
	if err != nil { // cannot happen: K2 has at least 16 bytes in every AES suite
		dst, _ = s.aes.AppendEncrypt(dst, payload, randReader{b.rng})
		return dst
	}
	ivStart := len(dst)
	dst = append(dst, make([]byte, aes.BlockSize)...)
	randReader{b.rng}.Read(dst[ivStart:])
	body := len(dst)
	dst = append(dst, payload...)
	for i := 1; i <= 16; i++ {
		dst = append(dst, uint8(i))
	}
	dst = append(dst, 16)
	cipher.NewCBCEncrypter(block, dst[ivStart:body]).CryptBlocks(dst[body:], dst[body:])
	return dst
}

// responseMessage encodes the IPMI response to req into the BMC's message
// scratch buffer (valid until the next call).
func (b *BMC) responseMessage(req *wire.Message, cc wire.CompletionCode, data []byte) []byte {
	b.respData = append(append(b.respData[:0], uint8(cc)), data...)
	m := responseTo(req, b.respData)
	b.msgScratch = m.AppendTo(b.msgScratch[:0])
	if b.faults.Load().NoChecksumCheck && len(b.msgScratch) > 0 {
		// Both checksums wrong, as Supermicro X9 firmware sends them.
		b.msgScratch[2] ^= 0x5a
		b.msgScratch[len(b.msgScratch)-1] ^= 0xa5
	}
	return b.msgScratch
}

// responseTo returns the response header for req carrying data (the
// completion code and response data).
func responseTo(req *wire.Message, data []byte) wire.Message {
	return wire.Message{
		DestAddr: req.SrcAddr, NetFn: req.NetFn.Response(), DestLUN: req.SrcLUN,
		SrcAddr: req.DestAddr, Seq: req.Seq, SrcLUN: req.DestLUN, Cmd: req.Cmd, Data: data,
	}
}

// openSession answers an RMCP+ Open Session Request.
func (b *BMC) openSession(payload []byte, from netip.AddrPort, now time.Time, f *Faults, dst []byte) []byte {
	b.counters.countStep(stepOpenSession)
	var req wire.OpenSessionRequest
	if err := req.Unmarshal(payload); err != nil {
		if len(payload) < 8 {
			return b.drop()
		}
		b.counters.SessionsRejected.Add(1)
		resp := wire.OpenSessionResponse{Tag: payload[0], Status: wire.RAKPStatusIllegalParameter,
			ConsoleSessionID: binary.LittleEndian.Uint32(payload[4:])}
		return b.appendV2(dst, nil, wire.PayloadOpenSessionResp, resp.AppendTo(nil), f)
	}
	resp := wire.OpenSessionResponse{Tag: req.Tag, ConsoleSessionID: req.ConsoleSessionID}
	reject := func(st wire.RAKPStatus) []byte {
		b.counters.SessionsRejected.Add(1)
		resp.Status = st
		return b.appendV2(dst, nil, wire.PayloadOpenSessionResp, resp.AppendTo(nil), f)
	}
	// A retransmitted request (same console, same console session ID)
	// gets the same session again rather than a second slot.
	var s *session
	for _, t := range b.sessions {
		if !t.v15 && t.state == stateOpened && t.consoleID == req.ConsoleSessionID && t.remote == from {
			s = t
		}
	}
	if s == nil {
		if req.ConsoleSessionID == 0 {
			return reject(wire.RAKPStatusInvalidSessionID)
		}
		suite, st := b.chooseSuite(req)
		if st != wire.RAKPStatusOK {
			return reject(st)
		}
		maxPriv := req.MaxPrivilege
		if maxPriv == wire.PrivilegeHighest {
			maxPriv = wire.PrivilegeAdmin
		}
		if maxPriv > wire.PrivilegeOEM {
			return reject(wire.RAKPStatusInvalidRole)
		}
		if f.SessionsFull || b.slotsUsed() >= b.cfg.MaxSessions {
			return reject(wire.RAKPStatusInsufficientResources)
		}
		s = &session{
			state: stateOpened, handle: b.newHandle(), bmcID: b.newSessionID(),
			consoleID: req.ConsoleSessionID, remote: from, suite: suite, maxPriv: maxPriv,
			openTag: req.Tag, openPriv: uint8(req.MaxPrivilege), lastActivity: now,
		}
		b.sessions = append(b.sessions, s)
	}
	s.lastActivity = now
	resp.MaxPrivilege = s.maxPriv
	if f.OpenSessPriv {
		resp.MaxPrivilege = req.MaxPrivilege
	}
	resp.BMCSessionID = s.bmcID
	resp.AuthAlgorithm = uint8(s.suite.Auth)
	resp.IntegrityAlgorithm = uint8(s.suite.Integrity)
	resp.ConfidentialityAlgorithm = uint8(s.suite.Confidentiality)
	return b.appendV2(dst, nil, wire.PayloadOpenSessionResp, resp.AppendTo(nil), f)
}

// chooseSuite finds the enabled cipher suite with exactly the proposed
// algorithms, or the status naming the first algorithm that matched none.
func (b *BMC) chooseSuite(req wire.OpenSessionRequest) (crypto.CipherSuite, wire.RAKPStatus) {
	authOK, integrityOK := false, false
	for _, id := range b.cfg.CipherSuites {
		cs, _ := crypto.LookupCipherSuite(id)
		if uint8(cs.Auth) != req.AuthAlgorithm {
			continue
		}
		authOK = true
		if uint8(cs.Integrity) != req.IntegrityAlgorithm {
			continue
		}
		integrityOK = true
		if uint8(cs.Confidentiality) == req.ConfidentialityAlgorithm {
			return cs, wire.RAKPStatusOK
		}
	}
	switch {
	case !authOK:
		return crypto.CipherSuite{}, wire.RAKPStatusInvalidAuthAlgorithm
	case !integrityOK:
		return crypto.CipherSuite{}, wire.RAKPStatusInvalidIntegrityAlgorithm
	}
	return crypto.CipherSuite{}, wire.RAKPStatusInvalidConfidentiality
}

// handshake returns the RAKP values of s as crypto computes them.
func (b *BMC) handshake(s *session) crypto.Handshake {
	hs := crypto.Handshake{
		Suite: s.suite, Username: s.user.Name, Password: []byte(s.user.Password), KG: b.cfg.KG,
		Role: s.role, ConsoleSessionID: s.consoleID, BMCSessionID: s.bmcID,
		ConsoleRandom: s.consoleRandom, BMCRandom: s.bmcRandom, BMCGUID: b.guid,
	}
	f := b.faults.Load()
	if f.Intel20 {
		// Intel's user name is NUL-padded to 16 bytes in the RAKP
		// hashes, and with HMAC-MD5 its password is cut to 16 bytes.
		hs.Username += strings.Repeat("\x00", max(16-len(hs.Username), 0))
		if s.suite.Auth == crypto.AuthRAKPHMACMD5 && len(hs.Password) > 16 {
			hs.Password = hs.Password[:16]
		}
	}
	if f.OpenSessPrivKeys || f.Sun20 {
		// The keys are hashed with the privilege of Open Session, not
		// RAKP1's role byte (lookup bit included).
		hs.Role = s.openPriv
	}
	return hs
}

// failHandshake ends a session whose authentication failed.
func (b *BMC) failHandshake(s *session) {
	b.counters.HandshakeFailures.Add(1)
	b.removeSession(s)
}

// rakp1 answers RAKP Message 1 with RAKP Message 2.
func (b *BMC) rakp1(payload []byte, now time.Time, f *Faults, dst []byte) []byte {
	b.counters.countStep(stepRAKP1)
	if len(payload) < 8 {
		return b.drop()
	}
	resp := wire.RAKP2{Tag: payload[0]}
	if f.RAKP2ZeroTag {
		resp.Tag = 0
	}
	reply := func(st wire.RAKPStatus) []byte {
		resp.Status = st
		start := len(dst)
		out := b.appendV2(dst, nil, wire.PayloadRAKP2, resp.AppendTo(nil), f)
		if f.Supermicro20 {
			// The payload length says one byte more than was sent.
			at := start + wire.RMCPHeaderSize + 10
			binary.LittleEndian.PutUint16(out[at:], binary.LittleEndian.Uint16(out[at:])+1)
		}
		return out
	}
	s := b.findSession(binary.LittleEndian.Uint32(payload[4:]), false)
	if s == nil {
		b.counters.HandshakeFailures.Add(1)
		return reply(wire.RAKPStatusInvalidSessionID)
	}
	resp.ConsoleSessionID = s.consoleID
	if s.state != stateOpened && s.state != stateRAKP2Sent {
		b.counters.HandshakeFailures.Add(1)
		return reply(wire.RAKPStatusInactiveSessionID)
	}
	var m wire.RAKP1
	if err := m.Unmarshal(payload); err != nil {
		if len(payload) < 28 {
			return b.drop()
		}
		b.failHandshake(s)
		return reply(wire.RAKPStatusInvalidNameLength)
	}
	priv := wire.PrivilegeLevel(m.Role & 0x0F)
	if priv < wire.PrivilegeCallback || priv > wire.PrivilegeOEM || m.Role&0xE0 != 0 {
		b.failHandshake(s)
		return reply(wire.RAKPStatusInvalidRole)
	}
	var u *User
	if m.Role&wire.RoleNameOnlyLookup != 0 {
		u = b.cfg.userByName(m.Username)
	} else {
		u = b.cfg.userByNameAndPrivilege(m.Username, priv)
	}
	if u == nil {
		b.failHandshake(s)
		return reply(wire.RAKPStatusUnauthorizedName)
	}
	if priv > u.Privilege || priv > s.maxPriv {
		b.failHandshake(s)
		return reply(wire.RAKPStatusUnauthorizedRole)
	}
	s.user, s.role, s.consoleRandom, s.maxPriv = u, m.Role, m.ConsoleRandom, priv
	randReader{b.rng}.Read(s.bmcRandom[:])
	s.state = stateRAKP2Sent
	s.lastActivity = now
	hs := b.handshake(s)
	resp.BMCRandom, resp.BMCGUID, resp.AuthCode = s.bmcRandom, b.guid, hs.RAKP2AuthCode()
	if f.Sun20 && s.suite.Auth == crypto.AuthRAKPHMACSHA1 {
		// One byte more than the digest (what the byte is does not
		// matter to a client that shortens it).
		resp.AuthCode = append(resp.AuthCode, 0)
	}
	return reply(wire.RAKPStatusOK)
}

// rakp3 checks RAKP Message 3 and answers RAKP Message 4, activating the
// session.
func (b *BMC) rakp3(payload []byte, now time.Time, f *Faults, dst []byte) []byte {
	b.counters.countStep(stepRAKP3)
	var m wire.RAKP3
	if err := m.Unmarshal(payload); err != nil {
		return b.drop()
	}
	resp := wire.RAKP4{Tag: m.Tag}
	reply := func(st wire.RAKPStatus) []byte {
		resp.Status = st
		return b.appendV2(dst, nil, wire.PayloadRAKP4, resp.AppendTo(nil), f)
	}
	s := b.findSession(m.BMCSessionID, false)
	if s == nil {
		b.counters.HandshakeFailures.Add(1)
		return reply(wire.RAKPStatusInvalidSessionID)
	}
	resp.ConsoleSessionID = s.consoleID
	if m.Status != wire.RAKPStatusOK {
		// The console rejected RAKP2 (typically: wrong password on its
		// side) and tells the BMC so; there is nothing to answer. An
		// unauthenticated packet must not end an active session.
		if s.state == stateRAKP2Sent {
			b.failHandshake(s)
		}
		return nil
	}
	// An active session takes a retransmitted RAKP3 (its RAKP4 was lost)
	// as long as the session has not been used yet.
	if s.state != stateRAKP2Sent && !(s.state == stateActive && s.outSeq == 0 && !s.inbound.started) {
		b.counters.HandshakeFailures.Add(1)
		return reply(wire.RAKPStatusInactiveSessionID)
	}
	hs := b.handshake(s)
	if !crypto.Equal(m.AuthCode, hs.RAKP3AuthCode()) {
		b.failHandshake(s)
		return reply(wire.RAKPStatusInvalidIntegrityCheck)
	}
	keys := hs.DeriveKeys()
	if s.state != stateActive {
		integrity, err := crypto.NewIntegrity(s.suite.Integrity, keys.K1, []byte(s.user.Password))
		if err != nil {
			b.failHandshake(s)
			return reply(wire.RAKPStatusInvalidIntegrityAlgorithm)
		}
		s.integrity = integrity
		if s.suite.Confidentiality == crypto.ConfidentialityAESCBC128 {
			if s.aes, err = crypto.NewAESCBC128(keys.K2); err != nil {
				b.failHandshake(s)
				return reply(wire.RAKPStatusInvalidConfidentiality)
			}
			s.k2 = keys.K2
		}
		s.state = stateActive
		// Sessions start at User level (or lower); the console raises
		// the level with Set Session Privilege Level.
		s.priv = minPriv(wire.PrivilegeUser, s.maxPriv)
		b.counters.SessionsOpened.Add(1)
	}
	s.lastActivity = now
	resp.IntegrityCheck = hs.RAKP4IntegrityCheck(keys.SIK)
	if f.IntegrityCheckValue && len(resp.IntegrityCheck) == 0 {
		// A value where the suite has none: bytes of no meaning.
		resp.IntegrityCheck = make([]byte, 12)
		randReader{b.rng}.Read(resp.IntegrityCheck)
	}
	return reply(wire.RAKPStatusOK)
}
