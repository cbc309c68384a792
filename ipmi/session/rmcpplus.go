package session

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// errSuiteRefused: Open Session refused the proposed algorithms, so auto
// negotiation may try the next suite.
var errSuiteRefused = errors.New("cipher suite refused")

// errRAKPCrossed: RAKP4 failed after RAKP1 was retransmitted. A BMC
// answers each RAKP1 with a fresh random number, so when both answers
// arrive, the RAKP3 we built from the first may meet a BMC that kept the
// second: the failure says nothing about the password, and the handshake
// is worth one more try.
var errRAKPCrossed = errors.New("RAKP messages crossed after a retransmit")

// handshakeRMCPPlus sets up an RMCP+ session: Get Channel Authentication
// Capabilities, cipher suite choice, Open Session, RAKP 1-4, Set Session
// Privilege Level (IPMI v2.0 section 13.15).
func (s *Session) handshakeRMCPPlus(ctx context.Context) error {
	caps, err := s.authCapabilities(ctx, true)
	if err != nil {
		return err
	}
	if caps.ExtendedCapabilities && !caps.SupportsIPMIv20 {
		return fmt.Errorf("%w: %s does not offer IPMI v2.0 (RMCP+) on this channel; use driver LAN", ErrProtocol, s.addr)
	}
	suites, err := s.cipherSuiteCandidates(ctx)
	if err != nil {
		return err
	}
	var refused []string
	for i, suite := range suites {
		err := s.loginWithSuite(ctx, suite)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errSuiteRefused) {
			return err
		}
		if i == 0 {
			// A remembered suite is tried first; once refused it is no
			// longer worth going straight to.
			s.cfg.Memory.forgetSuite()
		}
		if len(suites) == 1 {
			return authError(NoCipherSuite, "%v", err)
		}
		refused = append(refused, strings.TrimPrefix(err.Error(), errSuiteRefused.Error()+": "))
	}
	return authError(NoCipherSuite, "BMC refused every cipher suite tried: %s", strings.Join(refused, "; "))
}

// loginWithSuite logs in with one cipher suite, trying the lookup modes
// Config.Lookup allows in order: a BMC that does not know the user under
// one mode (RAKP2 status 0x0D) gets one more Open Session with the other.
// The error of a refused login names the modes tried and the privilege.
func (s *Session) loginWithSuite(ctx context.Context, suite crypto.CipherSuite) error {
	modes := []LookupMode{s.cfg.Lookup}
	if s.cfg.Lookup == LookupAuto {
		first := s.cfg.Memory.Lookup()
		if first == LookupAuto {
			first = LookupNameOnly
		}
		modes = []LookupMode{first, first.other()}
	}
	var tried []string
	for _, mode := range modes {
		err := s.openRMCPPlusSession(ctx, suite, mode)
		if errors.Is(err, errRAKPCrossed) {
			err = s.openRMCPPlusSession(ctx, suite, mode)
			if errors.Is(err, errRAKPCrossed) {
				err = errors.Unwrap(err)
			}
		}
		if t := tracerFrom(ctx); t != nil {
			kv := []any{"suite", suite.ID, "lookup", mode, "privilege", s.cfg.Privilege, "user", s.cfg.Username}
			if err != nil {
				kv = append(kv, "err", err)
			}
			t.Trace("login attempt", kv...)
		}
		if err == nil {
			s.cfg.Memory.remember(mode, suite)
			return nil
		}
		tried = append(tried, mode.String())
		var ae *AuthError
		if !errors.As(err, &ae) {
			return err
		}
		if ae.Kind != WrongUser || len(tried) == len(modes) {
			return &AuthError{Kind: ae.Kind, Detail: fmt.Sprintf("%s (user %q, privilege %s, %s, %s)",
				ae.Detail, s.cfg.Username, s.cfg.Privilege, suite, strings.Join(tried, ", then "))}
		}
	}
	return nil // not reached: the last mode returns above
}

// authCapabilities sends Get Channel Authentication Capabilities for the
// present channel. With extended set it asks for the IPMI v2.0 data and,
// if the BMC rejects that bit (IPMI v1.5 BMCs answer 0xCC), asks again
// without it. No answer at all means the BMC is unreachable.
func (s *Session) authCapabilities(ctx context.Context, extended bool) (*command.GetChannelAuthCapabilitiesResponse, error) {
	req := command.GetChannelAuthCapabilitiesRequest{Channel: wire.ChannelPresentIface, ExtendedData: extended, MaxPrivilege: s.cfg.Privilege}
	var buf [2]byte
	code, data, err := s.call(ctx, s.deadlineFor(ctx), wire.NetFnApp, command.CmdGetChannelAuthCapabilities, req.AppendTo(buf[:0]))
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return nil, fmt.Errorf("%w: no answer from %s", ErrUnreachable, s.addr)
		}
		return nil, err
	}
	if code != wire.CCOK {
		if extended {
			return s.authCapabilities(ctx, false)
		}
		if code == wire.CCInvalidDataField && s.cfg.Privilege > wire.PrivilegeUser {
			// The request has one variable field besides the "present
			// channel": the privilege. ipmi_sim answers 0xCC when it
			// exceeds the channel's limit (docs/bmc-quirks.md).
			return nil, authError(PrivilegeRefused, "get channel authentication capabilities for %s: completion code %s", s.cfg.Privilege, code)
		}
		return nil, fmt.Errorf("%w: get channel authentication capabilities: completion code %s", ErrProtocol, code)
	}
	var resp command.GetChannelAuthCapabilitiesResponse
	if err := resp.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return &resp, nil
}

// cipherSuiteCandidates returns the suites to try in order: the
// configured one; or, for CipherSuiteAuto, the suite this BMC last
// accepted, else every suite it offers (or, when it does not say, every
// suite we speak) strongest first. A refused suite means "try the next".
func (s *Session) cipherSuiteCandidates(ctx context.Context) ([]crypto.CipherSuite, error) {
	if s.cfg.CipherSuite != CipherSuiteAuto {
		suite, _ := crypto.LookupCipherSuite(uint8(s.cfg.CipherSuite))
		return []crypto.CipherSuite{suite}, nil
	}
	var order []crypto.CipherSuite
	var offered []uint8
	if id, known := s.cfg.Memory.CipherSuite(); known {
		// Straight to what worked; the rest only if it is refused now.
		if suite, ok := crypto.LookupCipherSuite(id); ok {
			order = append(order, suite)
		}
		offered = crypto.SupportedCipherSuiteIDs()
	} else {
		var err error
		offered, err = s.channelCipherSuites(ctx)
		if err != nil {
			if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
				return nil, err
			}
			// The command is optional (and some BMCs answer it only
			// inside a session): propose suites strongest first, as
			// ipmitool's -C auto does.
			offered = crypto.SupportedCipherSuiteIDs()
		}
	}
	if t := tracerFrom(ctx); t != nil {
		kv := []any{"offered", fmt.Sprint(offered)}
		if len(order) > 0 {
			kv = append(kv, "remembered", order[0].ID)
		}
		t.Trace("cipher suites", kv...)
	}
	for _, suite := range preferenceOrder(offered) {
		if len(order) == 0 || suite.ID != order[0].ID {
			order = append(order, suite)
		}
	}
	if len(order) == 0 {
		return nil, authError(NoCipherSuite, "BMC offers cipher suites %v; suite 0 is used only when configured", offered)
	}
	return order, nil
}

// preferenceOrder lists the suites of offered but 0 in the order
// crypto.NegotiateCipherSuite prefers them.
func preferenceOrder(offered []uint8) []crypto.CipherSuite {
	var left []uint8
	for _, id := range offered {
		if id != 0 {
			left = append(left, id)
		}
	}
	var order []crypto.CipherSuite
	for {
		s, ok := crypto.NegotiateCipherSuite(left)
		if !ok {
			return order
		}
		order = append(order, s)
		left = slices.DeleteFunc(left, func(id uint8) bool { return id == s.ID })
	}
}

// channelCipherSuites reads the BMC's cipher suite list with Get Channel
// Cipher Suites (section 22.15) outside a session: 16-byte blocks by list
// index until a short one. It returns the standard suites whose listed
// algorithms match the standard definition.
func (s *Session) channelCipherSuites(ctx context.Context) ([]uint8, error) {
	// The BMC answered Get Channel Authentication Capabilities just now;
	// one that stays silent here does not implement the command, so do
	// not spend the whole deadline on it.
	deadline := s.deadlineFor(ctx)
	if half := time.Now().Add(s.cfg.Timeout / 2); half.Before(deadline) {
		deadline = half
	}
	var records []byte
	for index := uint8(0); index <= command.CipherSuiteListIndexMax; index++ {
		req := command.GetChannelCipherSuitesRequest{Channel: wire.ChannelPresentIface, PayloadType: wire.PayloadIPMI,
			ListIndex: index, ListByCipherSuite: true}
		var buf [3]byte
		code, data, err := s.call(ctx, deadline, wire.NetFnApp, command.CmdGetChannelCipherSuites, req.AppendTo(buf[:0]))
		if err != nil {
			return nil, err
		}
		if code != wire.CCOK {
			return nil, &wire.CompletionCodeError{NetFn: wire.NetFnApp, Command: command.CmdGetChannelCipherSuites, Code: code}
		}
		var resp command.GetChannelCipherSuitesResponse
		if err := resp.Unmarshal(data); err != nil {
			return nil, err
		}
		records = append(records, resp.RecordData...)
		if len(resp.RecordData) < int(command.CipherSuiteRecordDataMax) {
			break
		}
	}
	parsed, err := command.ParseCipherSuiteRecords(records)
	if err != nil {
		return nil, err
	}
	var ids []uint8
	for _, rec := range parsed {
		if rec.OEM {
			continue
		}
		std, ok := crypto.LookupCipherSuite(rec.ID)
		if !ok || rec.AuthAlg != uint8(std.Auth) ||
			!containsAlg(rec.IntegrityAlgs, uint8(std.Integrity)) || !containsAlg(rec.ConfidentialityAlgs, uint8(std.Confidentiality)) {
			continue
		}
		ids = append(ids, rec.ID)
	}
	return ids, nil
}

func containsAlg(algs []uint8, alg uint8) bool {
	for _, a := range algs {
		if a == alg {
			return true
		}
	}
	return false
}

// randomSessionID returns a random non-zero session ID (0 means "no
// session" on the wire).
func randomSessionID() (uint32, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		if id := binary.LittleEndian.Uint32(b[:]); id != 0 {
			return id, nil
		}
	}
}

// openRMCPPlusSession runs Open Session and the RAKP exchange with one
// suite, then raises the session privilege.
func (s *Session) openRMCPPlusSession(ctx context.Context, suite crypto.CipherSuite, lookup LookupMode) error {
	consoleID, err := randomSessionID()
	if err != nil {
		return err
	}
	s.tag++
	open := wire.OpenSessionRequest{
		Tag: s.tag,
		// 0 asks for the highest privilege the algorithms allow, as the
		// spec and FreeIPMI do; the level we want is asked for in RAKP1.
		MaxPrivilege:             wire.PrivilegeHighest,
		ConsoleSessionID:         consoleID,
		AuthAlgorithm:            uint8(suite.Auth),
		IntegrityAlgorithm:       uint8(suite.Integrity),
		ConfidentialityAlgorithm: uint8(suite.Confidentiality),
	}
	var osr wire.OpenSessionResponse
	_, err = s.payloadRoundTrip(ctx, wire.PayloadOpenSessionReq, open.AppendTo(nil), wire.PayloadOpenSessionResp,
		func(p []byte) bool {
			return osr.Unmarshal(p) == nil && (osr.ConsoleSessionID == consoleID ||
				osr.Status != wire.RAKPStatusOK && osr.ConsoleSessionID == 0 && osr.Tag == s.tag)
		})
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	switch osr.Status {
	case wire.RAKPStatusOK:
	case wire.RAKPStatusNoCipherSuiteMatch, wire.RAKPStatusInvalidAuthAlgorithm, wire.RAKPStatusInvalidIntegrityAlgorithm,
		wire.RAKPStatusInvalidConfidentiality, wire.RAKPStatusNoMatchingAuthPayload, wire.RAKPStatusNoMatchingIntegrity:
		return fmt.Errorf("%w: %s: open session status %s", errSuiteRefused, suite, osr.Status)
	case wire.RAKPStatusInvalidRole, wire.RAKPStatusUnauthorizedRole:
		return authError(PrivilegeRefused, "open session status %s", osr.Status)
	case wire.RAKPStatusInsufficientResources, wire.RAKPStatusNoResourcesForRole:
		return fmt.Errorf("%w: open session status %s", ErrSessionTableFull, osr.Status)
	default:
		return fmt.Errorf("%w: open session status %s", ErrProtocol, osr.Status)
	}
	if osr.AuthAlgorithm != open.AuthAlgorithm || osr.IntegrityAlgorithm != open.IntegrityAlgorithm ||
		osr.ConfidentialityAlgorithm != open.ConfidentialityAlgorithm {
		// The spec lets a BMC answer a proposal it cannot meet with other
		// algorithms rather than an error status: for us that suite is
		// refused, and auto tries the next one. Its session slot is
		// freed when the BMC's half-open session times out.
		return fmt.Errorf("%w: %s: BMC answered with algorithms %d/%d/%d", errSuiteRefused, suite,
			osr.AuthAlgorithm, osr.IntegrityAlgorithm, osr.ConfidentialityAlgorithm)
	}
	if osr.BMCSessionID == 0 {
		return fmt.Errorf("%w: open session: BMC session ID 0", ErrProtocol)
	}
	// ipmi_sim echoes the requested maximum privilege (0, "highest")
	// instead of the level it grants (docs/bmc-quirks.md), so 0 is
	// accepted; a real level below the configured one is a refusal.
	if osr.MaxPrivilege != wire.PrivilegeHighest && osr.MaxPrivilege < s.cfg.Privilege {
		return authError(PrivilegeRefused, "open session grants at most %s, want %s", osr.MaxPrivilege, s.cfg.Privilege)
	}

	role := uint8(s.cfg.Privilege)
	if lookup == LookupNameOnly {
		role |= wire.RoleNameOnlyLookup
	}
	hs := crypto.Handshake{
		Suite:            suite,
		Username:         s.cfg.Username,
		Password:         s.cfg.Password,
		KG:               s.cfg.KG,
		Role:             role,
		ConsoleSessionID: consoleID,
		BMCSessionID:     osr.BMCSessionID,
	}
	if _, err := rand.Read(hs.ConsoleRandom[:]); err != nil {
		return err
	}
	s.tag++
	rakp1 := wire.RAKP1{Tag: s.tag, BMCSessionID: osr.BMCSessionID, ConsoleRandom: hs.ConsoleRandom, Role: role, Username: s.cfg.Username}
	var r2 wire.RAKP2
	// Some BMCs send RAKP2 with message tag 0 rather than ours; the
	// console session ID identifies the answer well enough.
	rakp1Retransmitted := false
	s.onRetransmit = func() { rakp1Retransmitted = true }
	_, err = s.payloadRoundTrip(ctx, wire.PayloadRAKP1, rakp1.AppendTo(nil), wire.PayloadRAKP2, func(p []byte) bool {
		return r2.Unmarshal(p) == nil && (r2.ConsoleSessionID == consoleID ||
			r2.Status != wire.RAKPStatusOK && r2.ConsoleSessionID == 0 && r2.Tag == s.tag)
	})
	s.onRetransmit = nil
	if err != nil {
		return fmt.Errorf("rakp 1: %w", err)
	}
	if err := rakpStatusError("rakp 2", r2.Status); err != nil {
		return err
	}
	hs.BMCRandom, hs.BMCGUID = r2.BMCRandom, r2.BMCGUID
	if variant, ok := rakp2Variant(hs, r2.AuthCode, open.MaxPrivilege); ok {
		hs = variant
	} else {
		// Tell the BMC, with a RAKP3 carrying an error status (IPMI v2.0
		// section 13.22), so it frees the session slot now rather than
		// when the half-open session times out. ipmi_sim counts such a
		// session as active until then (docs/bmc-quirks.md).
		s.tag++
		abort := wire.RAKP3{Tag: s.tag, Status: wire.RAKPStatusInvalidIntegrityCheck, BMCSessionID: osr.BMCSessionID}
		s.sendPayload(wire.PayloadRAKP3, abort.AppendTo(nil))
		return authError(WrongPassword, "rakp 2 key exchange auth code does not verify")
	}

	s.tag++
	rakp3 := wire.RAKP3{Tag: s.tag, BMCSessionID: osr.BMCSessionID, AuthCode: hs.RAKP3AuthCode()}
	var r4 wire.RAKP4
	_, err = s.payloadRoundTrip(ctx, wire.PayloadRAKP3, rakp3.AppendTo(nil), wire.PayloadRAKP4, func(p []byte) bool {
		return r4.Unmarshal(p) == nil && (r4.ConsoleSessionID == consoleID ||
			r4.Status != wire.RAKPStatusOK && r4.ConsoleSessionID == 0 && r4.Tag == s.tag)
	})
	if err != nil {
		return fmt.Errorf("rakp 3: %w", err)
	}
	if err := rakpStatusError("rakp 4", r4.Status); err != nil {
		if rakp1Retransmitted && r4.Status == wire.RAKPStatusInvalidIntegrityCheck {
			return fmt.Errorf("%w: %w", errRAKPCrossed, err)
		}
		return err
	}
	keys := hs.DeriveKeys()
	// Compare only the integrity check value's defined length: some BMCs
	// send the untruncated HMAC (ipmitool reads the first 12/16 bytes).
	want := hs.RAKP4IntegrityCheck(keys.SIK)
	if len(r4.IntegrityCheck) < len(want) || !crypto.Equal(want, r4.IntegrityCheck[:len(want)]) {
		err := authError(WrongKG, "rakp 4 integrity check value does not verify")
		if rakp1Retransmitted {
			return fmt.Errorf("%w: %w", errRAKPCrossed, err)
		}
		return err
	}

	c := &v2Codec{consoleID: consoleID, bmcID: osr.BMCSessionID, outSeq: 1}
	if c.integrity, err = crypto.NewIntegrity(suite.Integrity, keys.K1, s.cfg.Password); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if suite.Confidentiality == crypto.ConfidentialityAESCBC128 {
		if c.aes, err = crypto.NewAESCBC128(keys.K2); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
	}
	s.setCodec(c)
	return s.raisePrivilege(ctx)
}

// decodeHandshakeHeader decodes the session header of a handshake message.
// A payload length one more than the bytes that came is taken as what
// came: Supermicro's Peppercon firmware declares its RAKP2 so (FreeIPMI's
// supermicro20, H8QME); the message's own checks (status, auth code)
// still apply.
func decodeHandshakeHeader(b []byte) (wire.SessionV2Header, []byte, []byte, error) {
	h, p, rest, err := wire.DecodeSessionV2Header(b)
	if errors.Is(err, wire.ErrShort) && len(b) >= 12 && int(binary.LittleEndian.Uint16(b[10:12])) == len(b)-12+1 {
		fixed := append([]byte(nil), b...)
		binary.LittleEndian.PutUint16(fixed[10:12], uint16(len(b)-12))
		return wire.DecodeSessionV2Header(fixed)
	}
	return h, p, rest, err
}

// rakp2Variant returns the handshake values with which the BMC's RAKP2
// auth code verifies: as the spec computes them, or as some BMCs do (and
// the rest of the handshake must follow them): Intel's user name
// NUL-padded to 16 bytes and, with HMAC-MD5, its password cut to 16 bytes
// (FreeIPMI's intel20: Intel SE7520AF2); the privilege asked for in Open
// Session in place of RAKP1's role byte (FreeIPMI's opensesspriv: Sun Fire
// X4150, Supermicro X8DTH/X8DTG, Intel S5500WBV, Dell C5220). Trying them
// costs a few HMACs and no packet; an auth code none verifies is a wrong
// password.
func rakp2Variant(hs crypto.Handshake, got []byte, openPriv wire.PrivilegeLevel) (crypto.Handshake, bool) {
	// verifies also takes a code one byte longer than the digest (Sun
	// ILOM with RAKP-HMAC-SHA1, FreeIPMI's sun20): the digest is its
	// first bytes.
	verifies := func(h crypto.Handshake) bool {
		want := h.RAKP2AuthCode()
		return crypto.Equal(want, got) ||
			(len(want) > 0 && len(got) == len(want)+1 && crypto.Equal(want, got[:len(want)]))
	}
	if verifies(hs) {
		return hs, true
	}
	intel := hs
	if len(intel.Username) < 16 {
		intel.Username += strings.Repeat("\x00", 16-len(intel.Username))
	}
	if intel.Suite.Auth == crypto.AuthRAKPHMACMD5 && len(intel.Password) > 16 {
		intel.Password = intel.Password[:16]
	}
	if verifies(intel) {
		return intel, true
	}
	sun := hs
	sun.Role = uint8(openPriv)
	if verifies(sun) {
		return sun, true
	}
	return hs, false
}

// rakpStatusError maps a RAKP2/RAKP4 status to an error.
func rakpStatusError(msg string, st wire.RAKPStatus) error {
	switch st {
	case wire.RAKPStatusOK:
		return nil
	case wire.RAKPStatusUnauthorizedName, wire.RAKPStatusInvalidNameLength:
		return authError(WrongUser, "%s status %s", msg, st)
	case wire.RAKPStatusInvalidIntegrityCheck:
		return authError(WrongPassword, "%s status %s", msg, st)
	case wire.RAKPStatusInvalidRole, wire.RAKPStatusUnauthorizedRole:
		return authError(PrivilegeRefused, "%s status %s", msg, st)
	case wire.RAKPStatusNoCipherSuiteMatch:
		return authError(NoCipherSuite, "%s status %s", msg, st)
	case wire.RAKPStatusInsufficientResources, wire.RAKPStatusNoResourcesForRole:
		return fmt.Errorf("%w: %s status %s", ErrSessionTableFull, msg, st)
	}
	return fmt.Errorf("%w: %s status %s", ErrProtocol, msg, st)
}

// raisePrivilege sends Set Session Privilege Level on the new session. It
// is also the first message under the session's keys, so a BMC that
// computes them differently shows up here, as a timeout. On failure the
// session is closed best effort, so no BMC session slot leaks.
func (s *Session) raisePrivilege(ctx context.Context) error {
	req := command.SetSessionPrivilegeLevelRequest{Privilege: s.cfg.Privilege}
	var buf [1]byte
	code, data, err := s.call(ctx, s.deadlineFor(ctx), wire.NetFnApp, command.CmdSetSessionPrivilegeLevel, req.AppendTo(buf[:0]))
	if errors.Is(err, ErrTimeout) && s.signUnsignedLAN() {
		// An IPMI 1.5 BMC that advertised per-message authentication
		// off but drops unsigned messages (FreeIPMI's forcepermsg, IBM
		// eServer 325): sign from now on and ask again.
		code, data, err = s.call(ctx, s.deadlineFor(ctx), wire.NetFnApp, command.CmdSetSessionPrivilegeLevel, req.AppendTo(buf[:0]))
	}
	if err == nil {
		var resp command.SetSessionPrivilegeLevelResponse
		switch {
		case code == 0x80 || code == 0x81 || code == wire.CCInsufficientPrivilege:
			err = authError(PrivilegeRefused, "set session privilege level %s: completion code %s", s.cfg.Privilege, code)
		case code != wire.CCOK:
			err = fmt.Errorf("%w: set session privilege level: completion code %s", ErrProtocol, code)
		case resp.Unmarshal(data) != nil:
			err = fmt.Errorf("%w: set session privilege level: short response", ErrProtocol)
		case resp.Privilege < s.cfg.Privilege:
			err = authError(PrivilegeRefused, "set session privilege level: BMC granted %s, want %s", resp.Privilege, s.cfg.Privilege)
		}
		if err == nil {
			return nil
		}
	} else if errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w (the BMC accepted the handshake but not the session's first message: does it compute this suite's keys differently?)", err)
	}
	deadline := time.Now().Add(250 * time.Millisecond)
	_ = s.closeSession(ctx, deadline)
	return fmt.Errorf("set session privilege level: %w", err)
}

// signUnsignedLAN makes an IPMI 1.5 session that sends unsigned messages
// (per-message authentication advertised off) sign them with its auth
// type. It reports whether it changed anything.
func (s *Session) signUnsignedLAN() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codec.(*v15Codec)
	if !ok || c.outAuth != wire.AuthTypeNone || c.signedToo == wire.AuthTypeNone {
		return false
	}
	c.outAuth = c.signedToo
	return true
}

// sendPayload sends an RMCP+ handshake message outside any session
// without waiting for an answer (best effort).
func (s *Session) sendPayload(typ wire.PayloadType, payload []byte) {
	_, _ = s.conn.Write(appendPresessionPacket(nil, typ, payload))
}

// appendPresessionPacket appends an RMCP+ packet carrying payload outside
// any session (session ID and sequence number 0, unauthenticated).
func appendPresessionPacket(dst []byte, typ wire.PayloadType, payload []byte) []byte {
	dst = wire.IPMIRMCPHeader.AppendTo(dst)
	h := wire.SessionV2Header{PayloadType: typ, PayloadLength: uint16(len(payload))}
	return append(h.AppendTo(dst), payload...)
}

// payloadRoundTrip sends an RMCP+ handshake message (payload type reqType,
// outside any session) and returns the first answer of type respType for
// which match is true, retransmitting until the step's deadline. The
// answer aliases the read buffer. The caller holds stateMu exclusively.
func (s *Session) payloadRoundTrip(ctx context.Context, reqType wire.PayloadType, payload []byte,
	respType wire.PayloadType, match func([]byte) bool) ([]byte, error) {
	pkt := appendPresessionPacket(make([]byte, 0, 64+len(payload)), reqType, payload)

	s.readToken <- struct{}{}
	defer func() { <-s.readToken }()
	deadline := s.deadlineFor(ctx)
	// A step that needed retransmits leaves its backed-off interval to the
	// next (as TCP keeps a backed-off RTO): a BMC slower than the retry
	// interval would otherwise get every RAKP message twice.
	interval := max(s.cfg.RetryInterval, s.hsInterval)
	for sent := 0; ; sent++ {
		if sent > 0 && s.onRetransmit != nil {
			s.onRetransmit()
		}
		if _, err := s.conn.Write(pkt); err != nil {
			return nil, s.netError(err)
		}
		wake := time.Now().Add(interval)
		if deadline.Before(wake) {
			wake = deadline
		}
		for {
			if err := s.conn.SetReadDeadline(wake); err != nil {
				return nil, s.netError(err)
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			n, err := s.conn.Read(s.rbuf)
			if err != nil {
				if !isTimeout(err) {
					return nil, s.netError(err)
				}
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if time.Now().Before(wake) {
					continue
				}
				break
			}
			b := s.rbuf[:n]
			if n == len(s.rbuf) || n < wire.RMCPHeaderSize+12 || b[0] != wire.RMCPVersion1 || b[3] != wire.RMCPClassIPMI {
				continue
			}
			rh, p, _, err := decodeHandshakeHeader(b[wire.RMCPHeaderSize:])
			if err != nil || rh.PayloadType != respType || rh.Authenticated || rh.Encrypted {
				continue
			}
			if match(p) {
				if sent > 0 {
					s.hsInterval = interval
				}
				return p, nil
			}
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: no answer to %s", ErrTimeout, reqType)
		}
		interval = min(2*interval, maxRetryInterval)
	}
}
