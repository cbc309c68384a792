package inband

import (
	"fmt"
	"unsafe"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// message is a received struct ipmi_recv, decoded.
type message struct {
	recvType int32
	msgID    int
	addrType int32
	channel  int16
	netFn    wire.NetFn
	cmd      uint8
	cc       wire.CompletionCode
	data     []byte // after the completion code; aliases the buffer
}

// parseRecv decodes r as the kernel left it; buf is the data buffer
// r.msg.data points to. The lengths come from the kernel but are checked
// against the buffers all the same: a wrong one must not read past them.
func parseRecv(r *ipmiRecv, buf []byte) (message, error) {
	m := message{recvType: r.recvType, msgID: r.msgID}
	addrLen := int(r.addrLen)
	if addrLen < int(unsafe.Sizeof(systemInterfaceAddr{})) || addrLen > int(unsafe.Sizeof(anyAddr{})) {
		return m, fmt.Errorf("address length %d", r.addrLen)
	}
	if r.addr != nil {
		a := (*anyAddr)(unsafe.Pointer(r.addr))
		m.addrType, m.channel = a.addrType, a.channel
	}
	return decodeMessage(m, r.msg.netFn, r.msg.cmd, int(r.msg.dataLen), buf)
}

// decodeMessage checks the message part: netFn and cmd as the kernel
// gives them, n data bytes in buf, the first being the completion code.
func decodeMessage(m message, netFn, cmd uint8, n int, buf []byte) (message, error) {
	m.netFn, m.cmd = wire.NetFn(netFn), cmd
	if n > len(buf) {
		return m, fmt.Errorf("data length %d beyond the %d-byte buffer", n, len(buf))
	}
	if m.recvType == recvTypeResponse {
		if n < 1 {
			return m, fmt.Errorf("reply without a completion code")
		}
		if !m.netFn.IsResponse() {
			return m, fmt.Errorf("reply with request netfn 0x%02x", netFn)
		}
		m.cc = wire.CompletionCode(buf[0])
		m.data = buf[1:n]
		return m, nil
	}
	m.data = buf[:n]
	return m, nil
}
