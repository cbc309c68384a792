package inband

import "unsafe"

// The structures of linux/ipmi.h that cross the ioctl boundary, as Go
// structs with the same layout as the C ones on Linux (C long is Go int on
// every Linux ABI Go supports; pointers are pointers, so the garbage
// collector sees the buffers they point to). abi_test.go pins the layout
// on amd64 with byte vectors.

// Address types (IPMI_*_ADDR_TYPE).
const (
	addrTypeSystemInterface = 0x0c // IPMI_SYSTEM_INTERFACE_ADDR_TYPE
	addrTypeIPMB            = 0x01 // IPMI_IPMB_ADDR_TYPE
	addrTypeIPMBBroadcast   = 0x41 // IPMI_IPMB_BROADCAST_ADDR_TYPE
	addrTypeLAN             = 0x04 // IPMI_LAN_ADDR_TYPE
)

// bmcChannel is IPMI_BMC_CHANNEL: the channel number of the system
// interface address.
const bmcChannel = 0x0f

// Receive types (IPMI_*_RECV_TYPE) of struct ipmi_recv.
const (
	recvTypeResponse      = 1 // IPMI_RESPONSE_RECV_TYPE: the answer to one of our requests
	recvTypeAsyncEvent    = 2 // IPMI_ASYNC_EVENT_RECV_TYPE
	recvTypeCommand       = 3 // IPMI_CMD_RECV_TYPE
	recvTypeResponseToRsp = 4 // IPMI_RESPONSE_RESPONSE_TYPE: the kernel's note that a response we sent went out
	recvTypeOEM           = 5 // IPMI_OEM_RECV_TYPE
)

// maxAddrSize is IPMI_MAX_ADDR_SIZE.
const maxAddrSize = 32

// systemInterfaceAddr is struct ipmi_system_interface_addr.
type systemInterfaceAddr struct {
	addrType int32
	channel  int16
	lun      uint8
	_        uint8 // C tail padding
}

// ipmbAddr is struct ipmi_ipmb_addr.
type ipmbAddr struct {
	addrType  int32
	channel   int16
	slaveAddr uint8
	lun       uint8
}

// anyAddr is struct ipmi_addr: room for any address type. The kernel
// writes the responder's address into it on receive.
type anyAddr struct {
	addrType int32
	channel  int16
	data     [maxAddrSize]byte
}

// ipmiMsg is struct ipmi_msg.
type ipmiMsg struct {
	netFn   uint8
	cmd     uint8
	dataLen uint16
	data    *byte
}

// ipmiReq is struct ipmi_req, the argument of IPMICTL_SEND_COMMAND.
type ipmiReq struct {
	addr    *byte
	addrLen uint32
	msgID   int // C long
	msg     ipmiMsg
}

// ipmiRecv is struct ipmi_recv, the argument of IPMICTL_RECEIVE_MSG_TRUNC.
// On entry addrLen and msg.dataLen give the sizes of the buffers; on
// return they give what the kernel wrote.
type ipmiRecv struct {
	recvType int32
	addr     *byte
	addrLen  uint32
	msgID    int // C long
	msg      ipmiMsg
}

// ioctl request numbers, built as the kernel's _IOR/_IOWR macros do
// (asm-generic/ioctl.h: direction in bits 30-31, size in 16-29, type in
// 8-15, number in 0-7). On amd64: IPMICTL_SEND_COMMAND 0x8028690d,
// IPMICTL_RECEIVE_MSG_TRUNC 0xc030690b (abi_test.go).
const (
	iocWrite     = 1
	iocRead      = 2
	ipmiIOCMagic = 'i'

	// IPMICTL_SEND_COMMAND: _IOR(IPMI_IOC_MAGIC, 13, struct ipmi_req).
	ioctlSendCommand = iocRead<<30 | unsafe.Sizeof(ipmiReq{})<<16 | ipmiIOCMagic<<8 | 13
	// IPMICTL_RECEIVE_MSG_TRUNC: _IOWR(IPMI_IOC_MAGIC, 11, struct ipmi_recv).
	ioctlReceiveMsgTrunc = (iocRead|iocWrite)<<30 | unsafe.Sizeof(ipmiRecv{})<<16 | ipmiIOCMagic<<8 | 11
)
