package simulator

import (
	"encoding/binary"
	"slices"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Set Session Privilege Level completion codes (IPMI v2.0 table 22-22).
const ccPrivilegeAboveLimit wire.CompletionCode = 0x81

// Close Session completion codes (IPMI v2.0 table 22-24).
const (
	ccInvalidSessionID     wire.CompletionCode = 0x87
	ccInvalidSessionHandle wire.CompletionCode = 0x88
)

// ccNAKOnWrite is Send Message's "NAK on write" completion code: the
// target did not acknowledge the bridged request (IPMI v2.0 table 22-10).
const ccNAKOnWrite wire.CompletionCode = 0x83

// maxBridgeDepth bounds nested Send Message (double bridging is the most
// any client uses).
const maxBridgeDepth = 2

// executeSessionless runs a command received outside a session. Only the
// discovery commands are answered there; ok is false for anything else,
// which the BMC ignores.
func (b *BMC) executeSessionless(msg *wire.Message) (wire.CompletionCode, []byte, bool) {
	if msg.NetFn != wire.NetFnApp {
		return 0, nil, false
	}
	switch msg.Cmd {
	case command.CmdGetChannelAuthCapabilities:
		b.counters.countCommand(msg.NetFn, msg.Cmd, msg.Data)
		cc, data := b.getChannelAuthCapabilities(msg.Data)
		return cc, data, true
	case command.CmdGetChannelCipherSuites:
		b.counters.countCommand(msg.NetFn, msg.Cmd, msg.Data)
		cc, data := b.getChannelCipherSuites(msg.Data)
		return cc, data, true
	}
	return 0, nil, false
}

// result is what a command run in a session produced.
type result struct {
	cc   wire.CompletionCode
	data []byte
	// after, when set, must run once the reply is built (it may end the
	// session the reply is protected with).
	after func()
	// bridged, when set, is a bridged target's IPMB response, sent to the
	// console as a message of its own after the Send Message response.
	bridged []byte
}

// execute runs a command received in the active session s.
func (b *BMC) execute(s *session, msg *wire.Message) result {
	b.counters.countCommand(msg.NetFn, msg.Cmd, msg.Data)
	var r result
	if msg.NetFn == wire.NetFnApp {
		switch msg.Cmd {
		case command.CmdGetChannelAuthCapabilities:
			r.cc, r.data = b.getChannelAuthCapabilities(msg.Data)
			return r
		case command.CmdGetChannelCipherSuites:
			r.cc, r.data = b.getChannelCipherSuites(msg.Data)
			return r
		case command.CmdSetSessionPrivilegeLevel:
			r.cc, r.data = b.setSessionPrivilege(s, msg.Data)
			return r
		case command.CmdCloseSession:
			r.cc, r.after = b.closeSession(s, msg.Data)
			return r
		case command.CmdGetSessionInfo:
			r.cc, r.data = b.getSessionInfo(s, msg.Data)
			return r
		case command.CmdGetSessionChallenge, command.CmdActivateSession:
			r.cc = wire.CCNotSupportedInPresentState
			return r
		case command.CmdSendMessage:
			if s.priv < wire.PrivilegeUser {
				r.cc = wire.CCInsufficientPrivilege
				return r
			}
			var resp []byte
			if r.cc, resp = b.sendMessage(s, msg.Data, 1); r.cc == wire.CCOK {
				if b.faults.Load().BridgeEmbedded {
					r.data = resp
				} else {
					r.bridged = resp
				}
			}
			return r
		}
	}
	r.cc, r.data = b.handler.Handle(wire.Target{Addr: msg.DestAddr, LUN: msg.DestLUN}, msg.NetFn, msg.Cmd, msg.Data, s.priv)
	return r
}

// channelMatches reports whether a request's channel byte names the LAN
// channel the request came in on.
func (b *BMC) channelMatches(ch uint8) bool {
	return ch == wire.ChannelPresentIface || ch == b.cfg.Channel
}

// getChannelAuthCapabilities answers both the IPMI 1.5 form and the form
// asking for IPMI v2.0 extended data.
func (b *BMC) getChannelAuthCapabilities(data []byte) (wire.CompletionCode, []byte) {
	var req command.GetChannelAuthCapabilitiesRequest
	if err := req.Unmarshal(data); err != nil {
		return wire.CCRequestDataLengthInvalid, nil
	}
	if !b.channelMatches(req.Channel) || req.MaxPrivilege < wire.PrivilegeCallback || req.MaxPrivilege > wire.PrivilegeOEM {
		return wire.CCInvalidDataField, nil
	}
	resp := command.GetChannelAuthCapabilitiesResponse{Channel: b.cfg.Channel}
	for _, t := range b.cfg.AuthTypes15 {
		resp.AuthTypes |= 1 << t
	}
	for _, c := range b.cfg.KG {
		resp.KGNonZero = resp.KGNonZero || c != 0
	}
	for _, u := range b.cfg.Users {
		switch {
		case u.Name != "":
			resp.NonNullUserNames = true
		case u.Password != "":
			resp.NullUserNames = true
		default:
			resp.AnonymousLogin = true
		}
	}
	if req.ExtendedData {
		resp.ExtendedCapabilities = true
		resp.SupportsIPMIv20 = true
		resp.SupportsIPMIv15 = len(b.cfg.AuthTypes15) > 0
	}
	f := b.faults.Load()
	if f.UnexpectedAuth || f.ForcePerMsg {
		resp.PerMessageAuthDisabled = true
	}
	if f.AuthCap {
		// Wrong capabilities: nothing offered, nobody may log in.
		resp.AuthTypes = 0
		resp.NonNullUserNames, resp.NullUserNames, resp.AnonymousLogin = false, false, false
	}
	out := resp.AppendTo(nil)
	if f.AuthCapShort && len(out) > 7 {
		out = out[:7]
	}
	return wire.CCOK, out
}

// getChannelCipherSuites pages through the cipher suite records (or the
// supported algorithm list) 16 bytes at a time.
func (b *BMC) getChannelCipherSuites(data []byte) (wire.CompletionCode, []byte) {
	var req command.GetChannelCipherSuitesRequest
	if err := req.Unmarshal(data); err != nil {
		return wire.CCRequestDataLengthInvalid, nil
	}
	if !b.channelMatches(req.Channel) || (req.PayloadType != wire.PayloadIPMI && req.PayloadType != wire.PayloadSOL) {
		return wire.CCInvalidDataField, nil
	}
	var list []byte
	if req.ListByCipherSuite {
		for _, id := range b.cfg.CipherSuites {
			cs, _ := lookupSuite(id)
			list = command.AppendCipherSuiteRecord(list, &command.CipherSuiteRecord{
				ID: id, AuthAlg: uint8(cs.Auth),
				IntegrityAlgs: []uint8{uint8(cs.Integrity)}, ConfidentialityAlgs: []uint8{uint8(cs.Confidentiality)},
			})
		}
	} else {
		var auth, integrity, conf []uint8
		for _, id := range b.cfg.CipherSuites {
			cs, _ := lookupSuite(id)
			auth = appendUnique(auth, uint8(cs.Auth))
			integrity = appendUnique(integrity, 0x40|uint8(cs.Integrity))
			conf = appendUnique(conf, 0x80|uint8(cs.Confidentiality))
		}
		list = append(append(auth, integrity...), conf...)
	}
	start := int(req.ListIndex) * int(command.CipherSuiteRecordDataMax)
	start = min(start, len(list))
	end := min(start+int(command.CipherSuiteRecordDataMax), len(list))
	resp := command.GetChannelCipherSuitesResponse{Channel: b.cfg.Channel, RecordData: list[start:end]}
	return wire.CCOK, resp.AppendTo(nil)
}

func appendUnique(s []uint8, v uint8) []uint8 {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// setSessionPrivilege changes the session's operating privilege within
// the limit negotiated at login.
func (b *BMC) setSessionPrivilege(s *session, data []byte) (wire.CompletionCode, []byte) {
	var req command.SetSessionPrivilegeLevelRequest
	if err := req.Unmarshal(data); err != nil {
		return wire.CCRequestDataLengthInvalid, nil
	}
	switch {
	case req.Privilege == 0: // "no change": report the present level
	case req.Privilege < wire.PrivilegeUser || req.Privilege > wire.PrivilegeOEM:
		// Callback level cannot be set after activation.
		return wire.CCInvalidDataField, nil
	case req.Privilege > s.maxPriv:
		return ccPrivilegeAboveLimit, nil
	default:
		s.priv = req.Privilege
	}
	resp := command.SetSessionPrivilegeLevelResponse{Privilege: s.priv}
	return wire.CCOK, resp.AppendTo(nil)
}

// closeSession ends a session, after its reply has been built.
func (b *BMC) closeSession(s *session, data []byte) (wire.CompletionCode, func()) {
	var req command.CloseSessionRequest
	if err := req.Unmarshal(data); err != nil {
		return wire.CCRequestDataLengthInvalid, nil
	}
	var target *session
	for _, t := range b.sessions {
		if t.state != stateActive {
			continue
		}
		if (req.SessionID != 0 && t.bmcID == req.SessionID) || (req.SessionID == 0 && t.handle == req.SessionHandle) {
			target = t
			break
		}
	}
	if target == nil {
		if req.SessionID == 0 {
			return ccInvalidSessionHandle, nil
		}
		return ccInvalidSessionID, nil
	}
	if target != s && s.priv < wire.PrivilegeAdmin {
		return wire.CCInsufficientPrivilege, nil
	}
	return wire.CCOK, func() {
		b.removeSession(target)
		b.counters.SessionsClosed.Add(1)
	}
}

// getSessionInfo describes the current session or one picked by index,
// handle or ID.
func (b *BMC) getSessionInfo(s *session, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetSessionInfoRequest
	if err := req.Unmarshal(data); err != nil {
		return wire.CCRequestDataLengthInvalid, nil
	}
	var active []*session
	for _, t := range b.sessions {
		if t.state == stateActive {
			active = append(active, t)
		}
	}
	var target *session
	switch req.SessionIndex {
	case command.SessionIndexCurrent:
		target = s
	case command.SessionIndexByHandle:
		for _, t := range active {
			if t.handle == req.SessionHandle {
				target = t
			}
		}
	case command.SessionIndexByID:
		for _, t := range active {
			if t.bmcID == req.SessionID {
				target = t
			}
		}
	default:
		if int(req.SessionIndex) > b.cfg.MaxSessions {
			return wire.CCInvalidDataField, nil
		}
		if int(req.SessionIndex) <= len(active) {
			target = active[req.SessionIndex-1]
		}
	}
	resp := command.GetSessionInfoResponse{MaxSessions: uint8(b.cfg.MaxSessions), ActiveSessions: uint8(len(active))}
	if target != nil {
		resp.SessionHandle = target.handle
		resp.HasSession = true
		resp.UserID = target.user.ID
		resp.Privilege = target.priv
		resp.Channel = b.cfg.Channel
		if !target.v15 {
			resp.ProtocolAux = 1
		}
		var lan [12]byte // IPv4 address, MAC (unknown: zero), port LS byte first
		if a := target.remote.Addr().Unmap(); a.Is4() {
			ip := a.As4()
			copy(lan[:4], ip[:])
		}
		binary.LittleEndian.PutUint16(lan[10:], target.remote.Port())
		resp.ChannelData = lan[:]
	}
	return wire.CCOK, resp.AppendTo(nil)
}

// sendMessage unwraps a bridged request, has the handler answer it as the
// target controller, and returns the target's IPMB response. As the spec
// and ipmi_sim do it, the console gets a Send Message response without
// data followed by that IPMB response as a message of its own; FreeIPMI
// needs this form. With the BridgeEmbedded quirk the IPMB response is the
// Send Message response's data instead, which ipmitool also accepts (it
// takes a Send Message response longer than 8 bytes as carrying it).
// ipmitool matches either on sequence number and command.
func (b *BMC) sendMessage(s *session, data []byte, depth int) (wire.CompletionCode, []byte) {
	var req command.SendMessageRequest
	if err := req.Unmarshal(data); err != nil {
		return wire.CCRequestDataLengthInvalid, nil
	}
	var inner command.IPMBRequest
	if err := inner.Unmarshal(req.Message); err != nil {
		return wire.CCInvalidDataField, nil
	}
	b.counters.countCommand(inner.NetFn, inner.Cmd, inner.Data)
	var cc wire.CompletionCode
	var out []byte
	if inner.NetFn == wire.NetFnApp && inner.Cmd == command.CmdSendMessage && depth < maxBridgeDepth {
		cc, out = b.sendMessage(s, inner.Data, depth+1)
	} else {
		if inner.RsAddr == wire.BMCSlaveAddress && req.Channel == 0 && b.faults.Load().AltBridging {
			// Bridging to itself is not how this BMC is read.
			return wire.CCDestinationUnavailable, nil
		}
		target := wire.Target{Channel: req.Channel, Addr: inner.RsAddr, LUN: inner.RsLUN}
		if cc, ok := b.handler.(controllerChecker); ok && !cc.HasController(target) {
			// Nobody acknowledges the address on the bus: Send
			// Message itself fails, as on real BMCs.
			return ccNAKOnWrite, nil
		}
		cc, out = b.handler.Handle(target, inner.NetFn, inner.Cmd, inner.Data, s.priv)
	}
	resp := command.IPMBResponse{
		RqAddr: inner.RqAddr, NetFn: inner.NetFn.Response(), RqLUN: inner.RqLUN,
		RsAddr: inner.RsAddr, RqSeq: inner.RqSeq, RsLUN: inner.RsLUN, Cmd: inner.Cmd,
		Code: cc, Data: out,
	}
	return wire.CCOK, resp.AppendTo(nil)
}
