//go:build linux && amd64

package inband

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"
)

// The layouts linux/ipmi.h gives on amd64 (LP64): sizes, the ioctl
// numbers, and every field at its offset as bytes.
func TestABIAmd64(t *testing.T) {
	sizes := []struct {
		name      string
		got, want uintptr
	}{
		{"struct ipmi_req", unsafe.Sizeof(ipmiReq{}), 40},
		{"struct ipmi_recv", unsafe.Sizeof(ipmiRecv{}), 48},
		{"struct ipmi_msg", unsafe.Sizeof(ipmiMsg{}), 16},
		{"struct ipmi_system_interface_addr", unsafe.Sizeof(systemInterfaceAddr{}), 8},
		{"struct ipmi_ipmb_addr", unsafe.Sizeof(ipmbAddr{}), 8},
		{"struct ipmi_addr", unsafe.Sizeof(anyAddr{}), 40},
		{"IPMICTL_SEND_COMMAND", ioctlSendCommand, 0x8028690d},
		{"IPMICTL_RECEIVE_MSG_TRUNC", ioctlReceiveMsgTrunc, 0xc030690b},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("%s: %#x, want %#x", s.name, s.got, s.want)
		}
	}
}

func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

func le64(p unsafe.Pointer) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(uintptr(p)))
}

func TestABIBytes(t *testing.T) {
	addrBuf := new([40]byte)
	dataBuf := new([4]byte)
	pa, pd := unsafe.Pointer(&addrBuf[0]), unsafe.Pointer(&dataBuf[0])

	req := ipmiReq{addr: &addrBuf[0], addrLen: 8, msgID: 0x0102030405060708,
		msg: ipmiMsg{netFn: 0x06, cmd: 0x01, dataLen: 0x0203, data: &dataBuf[0]}}
	var want []byte
	want = append(want, le64(pa)...)                        // addr
	want = append(want, 8, 0, 0, 0, 0, 0, 0, 0)             // addr_len, padding
	want = append(want, 8, 7, 6, 5, 4, 3, 2, 1)             // msgid (long)
	want = append(want, 0x06, 0x01, 0x03, 0x02, 0, 0, 0, 0) // netfn, cmd, data_len, padding
	want = append(want, le64(pd)...)                        // data
	if got := bytesOf(&req); !bytes.Equal(got, want) {
		t.Errorf("struct ipmi_req\n got % x\nwant % x", got, want)
	}

	recv := ipmiRecv{recvType: 1, addr: &addrBuf[0], addrLen: 40, msgID: 7,
		msg: ipmiMsg{netFn: 0x07, cmd: 0x01, dataLen: 16, data: &dataBuf[0]}}
	want = want[:0]
	want = append(want, 1, 0, 0, 0, 0, 0, 0, 0)        // recv_type, padding
	want = append(want, le64(pa)...)                   // addr
	want = append(want, 40, 0, 0, 0, 0, 0, 0, 0)       // addr_len, padding
	want = append(want, 7, 0, 0, 0, 0, 0, 0, 0)        // msgid
	want = append(want, 0x07, 0x01, 16, 0, 0, 0, 0, 0) // netfn, cmd, data_len, padding
	want = append(want, le64(pd)...)                   // data
	if got := bytesOf(&recv); !bytes.Equal(got, want) {
		t.Errorf("struct ipmi_recv\n got % x\nwant % x", got, want)
	}

	si := systemInterfaceAddr{addrType: addrTypeSystemInterface, channel: bmcChannel, lun: 2}
	if got, want := bytesOf(&si), []byte{0x0c, 0, 0, 0, 0x0f, 0, 2, 0}; !bytes.Equal(got, want) {
		t.Errorf("struct ipmi_system_interface_addr: % x, want % x", got, want)
	}
	ipmb := ipmbAddr{addrType: addrTypeIPMB, channel: 0, slaveAddr: 0x30, lun: 1}
	if got, want := bytesOf(&ipmb), []byte{0x01, 0, 0, 0, 0, 0, 0x30, 1}; !bytes.Equal(got, want) {
		t.Errorf("struct ipmi_ipmb_addr: % x, want % x", got, want)
	}
	any := anyAddr{addrType: addrTypeIPMB, channel: 7}
	any.data[0] = 0x30
	got := bytesOf(&any)
	if want := []byte{0x01, 0, 0, 0, 7, 0, 0x30}; !bytes.Equal(got[:7], want) || len(got) != 40 {
		t.Errorf("struct ipmi_addr: % x, want prefix % x and 40 bytes", got, want)
	}
}
