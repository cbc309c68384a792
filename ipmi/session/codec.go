package session

import (
	"crypto/rand"
	"encoding/binary"
	"errors"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// openResult classifies an inbound datagram.
type openResult int

const (
	// openOK: the datagram belongs to this session and passed every check.
	openOK openResult = iota
	// openSessionless: an unauthenticated datagram outside any session
	// (session ID 0). On an established session this is how some BMCs
	// answer a request for a session they no longer know.
	openSessionless
	// openSessionInvalid: an RMCP+ handshake-format message (Open Session
	// Response, RAKP 2 or 4) naming our console session ID with status
	// "invalid session ID" or "inactive session ID": the BMC says our
	// session is gone.
	openSessionInvalid

	// The datagram is dropped, for the reason the name gives (see
	// dropReason): its headers do not parse or are not IPMI,
	dropMalformed
	// it names another session,
	dropUnknownSession
	// it fails authentication (integrity check value, IPMI v1.5 auth
	// code, or no authentication where the session has it),
	dropIntegrity
	// its session sequence number is outside the window or seen before,
	dropSequence
	// or the IPMI message's checksum is wrong.
	dropChecksum
)

// dropped reports whether the datagram is dropped.
func (r openResult) dropped() bool { return r >= dropMalformed }

// dropReason is the reason label of a dropped datagram, as in
// ipmi_fleet_exporter_replies_dropped_total.
func (r openResult) dropReason() string {
	switch r {
	case dropMalformed:
		return "malformed"
	case dropUnknownSession:
		return "unknown_session"
	case dropIntegrity:
		return "integrity"
	case dropSequence:
		return "sequence"
	case dropChecksum:
		return "checksum"
	}
	return ""
}

// Reasons for dropping a datagram that decoded, named by dispatch.
const (
	// dropUnexpected: the answer's netFn or command is not the pending
	// request's.
	dropUnexpected = "unexpected_response"
	// dropUnmatched: no request is waiting for its sequence number (a
	// late answer to a request that gave up, or a duplicate).
	dropUnmatched = "late_or_duplicate"
)

// decodeResult maps a message decoding error to a drop reason.
func decodeResult(err error) openResult {
	if errors.Is(err, wire.ErrChecksum) {
		return dropChecksum
	}
	return dropMalformed
}

// codec turns IPMI messages into datagrams and back for one session
// state. It is used under Session.mu only.
type codec interface {
	// seal appends to dst the datagram carrying the IPMI message msg,
	// consuming the next outbound session sequence number.
	seal(dst, msg []byte) ([]byte, error)
	// open checks a datagram (authenticity, session ID, message
	// checksums, replay) and returns the IPMI message it carries,
	// decrypting in place: the message's data aliases b.
	open(b []byte) (wire.Message, openResult)
	// sessionID is the BMC's ID of the session, for Close Session; 0 when
	// there is no session.
	sessionID() uint32
}

// legacyPadLengths are IPMI v1.5 datagram lengths that some old NICs'
// sideband filters mishandle; the spec (IPMI v1.5 section 12.4, "legacy
// PAD") has the sender add one zero byte to such datagrams, as ipmitool
// does.
func legacyPad(b []byte) []byte {
	switch len(b) {
	case 56, 84, 112, 128, 156:
		return append(b, 0)
	}
	return b
}

// sessionless15 sends and receives IPMI messages outside a session in the
// IPMI v1.5 format (auth type none, session ID and sequence 0). The
// pre-session commands go this way even for RMCP+: ipmi_sim ignores
// Get Channel Cipher Suites in the RMCP+ format with session ID 0
// (docs/bmc-quirks.md), and every BMC accepts the v1.5 form.
type sessionless15 struct{}

func (sessionless15) sessionID() uint32 { return 0 }

func (sessionless15) seal(dst, msg []byte) ([]byte, error) {
	dst = wire.IPMIRMCPHeader.AppendTo(dst)
	h := wire.Session15Header{AuthType: wire.AuthTypeNone, PayloadLength: uint8(len(msg))}
	dst = h.AppendTo(dst)
	return legacyPad(append(dst, msg...)), nil
}

func (sessionless15) open(b []byte) (wire.Message, openResult) {
	m, ok := sessionlessMessage(b)
	if !ok {
		return m, dropMalformed
	}
	return m, openOK
}

// sessionlessMessage returns the IPMI message of a datagram sent outside
// any session, in either format: v1.5 with session ID 0, or RMCP+ with
// session ID 0, unauthenticated and unencrypted.
func sessionlessMessage(b []byte) (wire.Message, bool) {
	if len(b) < wire.RMCPHeaderSize+1 || b[0] != wire.RMCPVersion1 || b[3] != wire.RMCPClassIPMI {
		return wire.Message{}, false
	}
	body := b[wire.RMCPHeaderSize:]
	var payload []byte
	if wire.AuthType(body[0]) == wire.AuthTypeRMCPPlus {
		h, p, _, err := wire.DecodeSessionV2Header(body)
		if err != nil || h.SessionID != 0 || h.PayloadType != wire.PayloadIPMI || h.Authenticated || h.Encrypted {
			return wire.Message{}, false
		}
		payload = p
	} else {
		h, p, err := wire.DecodeSession15Header(body)
		if err != nil || h.SessionID != 0 {
			return wire.Message{}, false
		}
		payload = p
	}
	m, err := wire.DecodeMessage(payload)
	if errors.Is(err, wire.ErrChecksum) {
		// Outside a session nothing authenticates the message, and the
		// checksums guard only against corruption UDP's own checksum
		// already catches; some BMCs get them wrong on every message
		// (Supermicro X9: FreeIPMI's nochecksumcheck). The answer must
		// still match a request waiting for it (rqSeq, netFn, command).
		m, err = wire.DecodeMessageUnchecked(payload)
	}
	return m, err == nil
}

// v2Codec is an established RMCP+ session.
type v2Codec struct {
	consoleID, bmcID uint32
	outSeq           uint32
	integrity        crypto.Integrity // nil: integrity none
	aes              *crypto.AESCBC128
	window           seqWindow
}

func (c *v2Codec) sessionID() uint32 { return c.bmcID }

func (c *v2Codec) seal(dst, msg []byte) ([]byte, error) {
	start := len(dst)
	dst = wire.IPMIRMCPHeader.AppendTo(dst)
	h := wire.SessionV2Header{
		PayloadType:   wire.PayloadIPMI,
		Encrypted:     c.aes != nil,
		Authenticated: c.integrity != nil,
		SessionID:     c.bmcID,
		Sequence:      c.outSeq,
	}
	// The session sequence number is never reused: a retransmit is a new
	// packet (IPMI v2.0 section 6.12.13). 0 marks pre-session packets and
	// is skipped on wrap.
	c.outSeq++
	if c.outSeq == 0 {
		c.outSeq = 1
	}
	sessionStart := len(dst)
	dst = h.AppendTo(dst)
	payloadStart := len(dst)
	if c.aes != nil {
		var err error
		if dst, err = c.aes.AppendEncrypt(dst, msg, rand.Reader); err != nil {
			return dst[:start], err
		}
	} else {
		dst = append(dst, msg...)
	}
	binary.LittleEndian.PutUint16(dst[payloadStart-2:], uint16(len(dst)-payloadStart))
	if c.integrity != nil {
		dst = wire.AppendIntegrityPad(dst, sessionStart)
		dst = c.integrity.AppendAuthCode(dst, dst[sessionStart:])
	}
	return dst, nil
}

func (c *v2Codec) open(b []byte) (wire.Message, openResult) {
	var none wire.Message
	if len(b) < wire.RMCPHeaderSize+12 || b[0] != wire.RMCPVersion1 || b[3] != wire.RMCPClassIPMI {
		return none, dropMalformed
	}
	body := b[wire.RMCPHeaderSize:]
	if wire.AuthType(body[0]) != wire.AuthTypeRMCPPlus {
		if m, ok := sessionlessMessage(b); ok {
			return m, openSessionless
		}
		return none, dropMalformed
	}
	h, payload, rest, err := wire.DecodeSessionV2Header(body)
	if err != nil {
		return none, dropMalformed
	}
	if h.SessionID != c.consoleID {
		if m, ok := sessionlessMessage(b); ok {
			return m, openSessionless
		}
		if c.sessionRefused(h, payload) {
			return none, openSessionInvalid
		}
		return none, dropUnknownSession
	}
	if c.integrity != nil {
		// Everything after the handshake must be authenticated: an
		// unauthenticated packet naming our session is forged.
		if !h.Authenticated {
			return none, dropIntegrity
		}
		code, err := wire.CheckIntegrityTrailer(rest, c.integrity.AuthCodeLen())
		if err != nil {
			return none, dropIntegrity
		}
		signed := body[:len(body)-len(code)]
		if !c.integrity.Verify(signed, code) {
			return none, dropIntegrity
		}
	} else if h.Authenticated || len(rest) != 0 {
		return none, dropIntegrity
	}
	if h.PayloadType != wire.PayloadIPMI || h.Sequence == 0 || h.Encrypted != (c.aes != nil) {
		return none, dropMalformed
	}
	msg := payload
	if c.aes != nil {
		if msg, err = c.aes.Decrypt(payload); err != nil {
			return none, dropMalformed
		}
	}
	m, err := wire.DecodeMessage(msg)
	if errors.Is(err, wire.ErrChecksum) && c.integrity != nil {
		// Some BMCs (Supermicro X9, FreeIPMI's nochecksumcheck) get the
		// message checksums wrong. The integrity check value just
		// verified covers every byte of the message, so the checksums
		// add nothing here: take the message, as FreeIPMI does with
		// that flag. Without integrity the checksums are all we have.
		m, err = wire.DecodeMessageUnchecked(msg)
	}
	if err != nil {
		return none, decodeResult(err)
	}
	// The replay window is updated only for a packet that passed every
	// check, so a corrupt copy cannot burn the number of a good one.
	if !c.window.accept(h.Sequence) {
		return none, dropSequence
	}
	return m, openOK
}

// sessionRefused reports whether an unauthenticated handshake-format
// message outside any session says our session ID is invalid or inactive.
// All three formats start tag, status, 2 reserved bytes, console session
// ID (IPMI v2.0 tables 13-10, 13-12, 13-14).
func (c *v2Codec) sessionRefused(h wire.SessionV2Header, payload []byte) bool {
	switch h.PayloadType {
	case wire.PayloadOpenSessionResp, wire.PayloadRAKP2, wire.PayloadRAKP4:
	default:
		return false
	}
	if h.SessionID != 0 || h.Authenticated || h.Encrypted || len(payload) < 8 ||
		binary.LittleEndian.Uint32(payload[4:]) != c.consoleID {
		return false
	}
	st := wire.RAKPStatus(payload[1])
	return st == wire.RAKPStatusInvalidSessionID || st == wire.RAKPStatusInactiveSessionID
}

// v15Codec is an IPMI v1.5 session (or, during Activate Session, the
// temporary session of Get Session Challenge).
type v15Codec struct {
	id uint32
	// outAuth is the auth type of outbound packets; inAuth what inbound
	// ones must carry. With per-message authentication disabled both are
	// none after activation (IPMI v2.0 section 22.13, status bit 4).
	outAuth, inAuth wire.AuthType
	password        []byte
	outSeq          uint32
	// outSeqFixed keeps outSeq as is (0 for Activate Session).
	outSeqFixed bool
	window      seqWindow
	// noWindow skips the replay check: the Activate Session response
	// carries the temporary session's numbering.
	noWindow bool
	// activating: the codec of the temporary session, which also takes
	// the Activate Session reply under another (the new) session ID when
	// its auth code verifies with that ID: goipmi-server sends it so.
	activating bool
	// signedToo, with per-message authentication disabled (inAuth none),
	// also takes replies signed with this auth type when they verify:
	// some BMCs sign their replies all the same (FreeIPMI's
	// unexpectedauth, Dell PowerEdge 2850).
	signedToo wire.AuthType
	// firstSeq is the BMC's initial outbound sequence number, which we
	// chose; a first reply numbered as its byte swap shows a BMC that
	// writes the number big-endian (FreeIPMI's endianseq, Sun ILOM 1.0
	// and 2.0), and swapSeq then reads every number swapped.
	firstSeq uint32
	swapSeq  bool
}

// endianSeqSlack is how far past the initial number a first reply's
// sequence number may be (earlier replies lost) to tell byte order.
const endianSeqSlack = 64

func (c *v15Codec) sessionID() uint32 { return c.id }

func (c *v15Codec) seal(dst, msg []byte) ([]byte, error) {
	if len(msg) > 0xFF {
		return dst, errTooLong
	}
	dst = wire.IPMIRMCPHeader.AppendTo(dst)
	h := wire.Session15Header{AuthType: c.outAuth, Sequence: c.outSeq, SessionID: c.id, PayloadLength: uint8(len(msg))}
	if c.outAuth != wire.AuthTypeNone {
		code, err := crypto.AuthCode15(c.outAuth, c.password, c.id, c.outSeq, msg)
		if err != nil {
			return dst, err
		}
		h.AuthCode = code
	}
	if !c.outSeqFixed {
		c.outSeq++
		if c.outSeq == 0 {
			c.outSeq = 1
		}
	}
	dst = h.AppendTo(dst)
	return legacyPad(append(dst, msg...)), nil
}

func (c *v15Codec) open(b []byte) (wire.Message, openResult) {
	var none wire.Message
	if len(b) < wire.RMCPHeaderSize+10 || b[0] != wire.RMCPVersion1 || b[3] != wire.RMCPClassIPMI {
		return none, dropMalformed
	}
	body := b[wire.RMCPHeaderSize:]
	if wire.AuthType(body[0]) == wire.AuthTypeRMCPPlus {
		return none, dropMalformed
	}
	h, payload, err := wire.DecodeSession15Header(body)
	if err != nil {
		return none, dropMalformed
	}
	// Two other session IDs are taken when the auth code verifies with
	// them (below): while activating, the new one (goipmi-server); in a
	// session, 0 (FreeIPMI's idzero: Tyan S2882 with the M3289 BMC).
	otherID := h.AuthType == c.inAuth && h.AuthType != wire.AuthTypeNone &&
		((c.activating && h.SessionID != 0) || (!c.activating && !c.noWindow && h.SessionID == 0))
	if h.SessionID != c.id && !otherID {
		if m, ok := sessionlessMessage(b); ok && h.AuthType == wire.AuthTypeNone {
			return m, openSessionless
		}
		return none, dropUnknownSession
	}
	if h.AuthType != c.inAuth && (c.signedToo == wire.AuthTypeNone || h.AuthType != c.signedToo) {
		return none, dropIntegrity
	}
	if h.AuthType != wire.AuthTypeNone {
		want, err := crypto.AuthCode15(h.AuthType, c.password, h.SessionID, h.Sequence, payload)
		if err != nil || !crypto.Equal(want[:], h.AuthCode[:]) {
			return none, dropIntegrity
		}
	}
	m, err := wire.DecodeMessage(payload)
	if errors.Is(err, wire.ErrChecksum) && h.AuthType != wire.AuthTypeNone {
		// The auth code just verified covers the message (see v2Codec).
		m, err = wire.DecodeMessageUnchecked(payload)
	}
	if err != nil {
		return none, decodeResult(err)
	}
	if c.noWindow {
		return m, openOK
	}
	seq := h.Sequence
	if !c.window.started && c.firstSeq != 0 && seq-c.firstSeq > endianSeqSlack && bswap32(seq)-c.firstSeq <= endianSeqSlack {
		c.swapSeq = true
	}
	if c.swapSeq {
		seq = bswap32(seq)
	}
	if !c.window.accept(seq) {
		return none, dropSequence
	}
	return m, openOK
}

func bswap32(v uint32) uint32 { return v>>24 | v>>8&0xFF00 | v<<8&0xFF0000 | v<<24 }
