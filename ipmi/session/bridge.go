package session

import (
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

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
