package command

import (
	"errors"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Bridging commands (app netFn, IPMI v2.0 sections 22.6-22.7 and 6.13).
//
// How a bridged request travels (single bridging, as ipmitool -b/-t does
// it over lanplus). The client sends the BMC a Send Message request whose
// data is the byte 40h|channel ("track request") followed by a complete
// IPMB request to the target: rsSA = target address, netFn/rsLUN,
// checksum, rqSA = 81h (remote console software ID), rqSeq/rqLUN with the
// same sequence number as the outer LAN message, cmd, data, checksum.
// AppendBridgedRequest builds exactly that. The BMC answers in one of
// three ways, and a client has to handle all of them:
//
//  1. A Send Message response with a non-zero completion code: bridging
//     failed, report that code.
//  2. A Send Message response with completion code 0 and no data, followed
//     by a second LAN message carrying the target's response. ipmi_sim does
//     this: its second message is an IPMB-format response with rqAddr 20h
//     (the BMC, not 81h), netFn/LUN and cmd of the bridged command and the
//     sequence number of the request, so match it on sequence number and
//     command (as ipmitool does), not on rqAddr.
//  3. A Send Message response with completion code 0 whose data is the
//     target's complete IPMB response (rqSA, netFn/rqLUN, checksum, rsSA,
//     rqSeq/rsLUN, cmd, completion code, data, checksum), i.e. the
//     response embedded in the Send Message response. ipmitool recognizes
//     this by a response payload longer than 8 bytes. Use
//     SendMessageResponse.BridgedResponse.
const (
	CmdGetMessage  uint8 = 0x33
	CmdSendMessage uint8 = 0x34
)

// CCMessageQueueEmpty is Get Message's "data not available (queue/buffer
// empty)" completion code.
const CCMessageQueueEmpty wire.CompletionCode = 0x80

// SendMessageTracking is the tracking operation of Send Message (bits 7:6).
type SendMessageTracking uint8

const (
	SendMessageNoTracking   SendMessageTracking = 0
	SendMessageTrackRequest SendMessageTracking = 1 // BMC tracks the request and routes the response back
	SendMessageRaw          SendMessageTracking = 2 // send raw, no tracking (test mode)
)

// SendMessageRequest asks the BMC to deliver Message on Channel.
type SendMessageRequest struct {
	Channel       uint8
	Tracking      SendMessageTracking
	Authenticated bool // bit 4: send message with authentication
	Encrypted     bool // bit 5: send message with encryption
	// Message is the message for the channel: for IPMB channels an
	// encoded IPMBRequest. Owned by the request after Unmarshal.
	Message []byte
}

func (*SendMessageRequest) Op() Op { return Op{wire.NetFnApp, CmdSendMessage} }

func (r *SendMessageRequest) AppendTo(b []byte) []byte {
	c := uint8(r.Tracking&3)<<6 | r.Channel&0x0F
	if r.Encrypted {
		c |= 0x20
	}
	if r.Authenticated {
		c |= 0x10
	}
	return append(append(b, c), r.Message...)
}

func (r *SendMessageRequest) Unmarshal(data []byte) error {
	const what = "send message request"
	if err := checkFixedLen(what, data, 1); err != nil {
		return err
	}
	t := SendMessageTracking(data[0] >> 6)
	if t == 3 {
		return malformed(what, "reserved tracking operation 3")
	}
	r.Channel = data[0] & 0x0F
	r.Tracking = t
	r.Encrypted = data[0]&0x20 != 0
	r.Authenticated = data[0]&0x10 != 0
	r.Message = append(r.Message[:0], data[1:]...)
	return nil
}

// SendMessageResponse is the Send Message response data: usually empty,
// sometimes the embedded response of the bridged request.
type SendMessageResponse struct {
	Data []byte // owned by the response
}

func (r *SendMessageResponse) AppendTo(b []byte) []byte { return append(b, r.Data...) }

func (r *SendMessageResponse) Unmarshal(data []byte) error {
	r.Data = append(r.Data[:0], data...)
	return nil
}

// BridgedResponse decodes the embedded IPMB response into dst. It returns
// false (and leaves dst alone) when the response carries no data, in which
// case the target's response arrives as a separate message.
func (r *SendMessageResponse) BridgedResponse(dst *IPMBResponse) (bool, error) {
	if len(r.Data) == 0 {
		return false, nil
	}
	if err := dst.Unmarshal(r.Data); err != nil {
		return false, fmt.Errorf("send message embedded response: %w", err)
	}
	return true, nil
}

// decodeIPMB decodes b with both checksums checked, turning checksum
// failures into ErrMalformed (they also still match wire.ErrChecksum).
func decodeIPMB(what string, b []byte) (wire.Message, error) {
	m, err := wire.DecodeMessage(b)
	if err != nil {
		if errors.Is(err, wire.ErrChecksum) {
			return m, fmt.Errorf("%s: %w: %w", what, wire.ErrMalformed, err)
		}
		return m, fmt.Errorf("%s: %w", what, err)
	}
	return m, nil
}

// IPMBRequest is an IPMB request message as encapsulated in Send Message
// (IPMI v2.0 sections 6.13 and 22.7): rsSA, netFn/rsLUN, checksum, rqSA,
// rqSeq/rqLUN, cmd, data, checksum.
type IPMBRequest struct {
	RsAddr uint8 // responder slave address (8-bit form)
	NetFn  wire.NetFn
	RsLUN  uint8
	RqAddr uint8 // requester address or software ID
	RqSeq  uint8 // 6 bits
	RqLUN  uint8
	Cmd    uint8
	Data   []byte // owned by the message after Unmarshal
}

func (m *IPMBRequest) AppendTo(b []byte) []byte {
	w := wire.Message{DestAddr: m.RsAddr, NetFn: m.NetFn, DestLUN: m.RsLUN, SrcAddr: m.RqAddr,
		Seq: m.RqSeq, SrcLUN: m.RqLUN, Cmd: m.Cmd, Data: m.Data}
	return w.AppendTo(b)
}

// Unmarshal verifies both checksums and that the netFn is a request one.
func (m *IPMBRequest) Unmarshal(b []byte) error {
	const what = "ipmb request"
	w, err := decodeIPMB(what, b)
	if err != nil {
		return err
	}
	if w.NetFn.IsResponse() {
		return malformed(what, "netfn 0x%02x is a response netfn", uint8(w.NetFn))
	}
	m.RsAddr, m.NetFn, m.RsLUN = w.DestAddr, w.NetFn, w.DestLUN
	m.RqAddr, m.RqSeq, m.RqLUN, m.Cmd = w.SrcAddr, w.Seq, w.SrcLUN, w.Cmd
	m.Data = append(m.Data[:0], w.Data...)
	return nil
}

// IPMBResponse is an IPMB response message: rqSA, netFn/rqLUN, checksum,
// rsSA, rqSeq/rsLUN, cmd, completion code, data, checksum.
type IPMBResponse struct {
	RqAddr uint8
	NetFn  wire.NetFn // the response (odd) netFn
	RqLUN  uint8
	RsAddr uint8
	RqSeq  uint8
	RsLUN  uint8
	Cmd    uint8
	Code   wire.CompletionCode
	Data   []byte // after the completion code; owned by the message
}

func (m *IPMBResponse) AppendTo(b []byte) []byte {
	// Encode through wire.Message without building a joined data slice:
	// write the header, then patch in the payload and checksum.
	start := len(b)
	w := wire.Message{DestAddr: m.RqAddr, NetFn: m.NetFn, DestLUN: m.RqLUN, SrcAddr: m.RsAddr,
		Seq: m.RqSeq, SrcLUN: m.RsLUN, Cmd: m.Cmd}
	b = w.AppendTo(b)
	b = b[:len(b)-1] // drop the data checksum, recomputed below
	b = append(b, uint8(m.Code))
	b = append(b, m.Data...)
	return append(b, wire.Checksum(b[start+3:]))
}

// Unmarshal verifies both checksums, that the netFn is a response one and
// that a completion code is present.
func (m *IPMBResponse) Unmarshal(b []byte) error {
	const what = "ipmb response"
	w, err := decodeIPMB(what, b)
	if err != nil {
		return err
	}
	if !w.NetFn.IsResponse() {
		return malformed(what, "netfn 0x%02x is a request netfn", uint8(w.NetFn))
	}
	if len(w.Data) < 1 {
		return fmt.Errorf("%s: no completion code: %w", what, wire.ErrShort)
	}
	m.RqAddr, m.NetFn, m.RqLUN = w.DestAddr, w.NetFn, w.DestLUN
	m.RsAddr, m.RqSeq, m.RsLUN, m.Cmd = w.SrcAddr, w.Seq, w.SrcLUN, w.Cmd
	m.Code = wire.CompletionCode(w.Data[0])
	m.Data = append(m.Data[:0], w.Data[1:]...)
	return nil
}

// AppendBridgedRequest appends the data of a Send Message request that
// carries one request to target, the way ipmitool's lanplus interface does
// single bridging: tracking "track request" on target.Channel, and an IPMB
// request from the remote console software ID (81h) to target.Addr and
// target.LUN with sequence number rqSeq and requester LUN 0. Wrap the
// result in a Send Message (app netFn, CmdSendMessage) to the BMC.
func AppendBridgedRequest(b []byte, target wire.Target, rqSeq uint8, netFn wire.NetFn, cmd uint8, data []byte) []byte {
	b = append(b, uint8(SendMessageTrackRequest)<<6|target.Channel&0x0F)
	req := IPMBRequest{RsAddr: target.Addr, NetFn: netFn, RsLUN: target.LUN & 3,
		RqAddr: wire.RemoteConsoleSWID, RqSeq: rqSeq, Cmd: cmd, Data: data}
	return req.AppendTo(b)
}

// --- Get Message (section 22.6) ---

// GetMessageRequest reads the BMC's receive message queue. It has no data.
type GetMessageRequest struct{}

func (*GetMessageRequest) Op() Op                   { return Op{wire.NetFnApp, CmdGetMessage} }
func (*GetMessageRequest) AppendTo(b []byte) []byte { return b }
func (*GetMessageRequest) Unmarshal([]byte) error   { return nil }

// GetMessageResponse is one queued message. For IPMB channels Data is the
// IPMB message as received.
type GetMessageResponse struct {
	Channel uint8 // bits 3:0
	// InferredPrivilege is bits 7:4 (IPMI v2.0): the privilege the BMC
	// infers for the message's session.
	InferredPrivilege wire.PrivilegeLevel
	Data              []byte // owned by the response
}

func (r *GetMessageResponse) AppendTo(b []byte) []byte {
	b = append(b, uint8(r.InferredPrivilege&0x0F)<<4|r.Channel&0x0F)
	return append(b, r.Data...)
}

func (r *GetMessageResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get message response", data, 1); err != nil {
		return err
	}
	r.Channel = data[0] & 0x0F
	r.InferredPrivilege = wire.PrivilegeLevel(data[0] >> 4)
	r.Data = append(r.Data[:0], data[1:]...)
	return nil
}
