package inband

import (
	"testing"
	"unsafe"
)

// FuzzParseRecv feeds the receive parser every combination of the fields
// the kernel fills: it must never panic nor read past its buffers, and
// what it returns must lie inside them.
func FuzzParseRecv(f *testing.F) {
	f.Add(int32(recvTypeResponse), uint32(8), uint8(0x07), uint8(0x01), uint16(3), []byte{0x00, 0x20, 0x01})
	f.Add(int32(recvTypeResponse), uint32(8), uint8(0x07), uint8(0x01), uint16(0), []byte{})
	f.Add(int32(recvTypeAsyncEvent), uint32(40), uint8(0x04), uint8(0x02), uint16(16), make([]byte, 16))
	f.Add(int32(recvTypeResponse), uint32(200), uint8(0x06), uint8(0x01), uint16(1000), []byte{0xff})
	f.Fuzz(func(t *testing.T, recvType int32, addrLen uint32, netFn, cmd uint8, dataLen uint16, buf []byte) {
		var addr anyAddr
		r := ipmiRecv{recvType: recvType, addr: (*byte)(unsafe.Pointer(&addr)), addrLen: addrLen, msgID: 5,
			msg: ipmiMsg{netFn: netFn, cmd: cmd, dataLen: dataLen}}
		if len(buf) > 0 {
			r.msg.data = &buf[0]
		}
		m, err := parseRecv(&r, buf)
		if err != nil {
			return
		}
		if int(dataLen) > len(buf) {
			t.Fatalf("accepted data length %d beyond %d bytes", dataLen, len(buf))
		}
		if recvType == recvTypeResponse {
			if dataLen < 1 || len(m.data) != int(dataLen)-1 || byte(m.cc) != buf[0] || !m.netFn.IsResponse() {
				t.Fatalf("response %+v from % x (len %d)", m, buf, dataLen)
			}
		} else if len(m.data) != int(dataLen) {
			t.Fatalf("message data %d bytes, want %d", len(m.data), dataLen)
		}
	})
}
