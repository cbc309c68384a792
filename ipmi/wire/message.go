package wire

import "fmt"

// Checksum returns the IPMI 2's-complement checksum of b: the byte that
// makes the sum of b and the checksum zero modulo 256.
func Checksum(b []byte) uint8 {
	var s uint8
	for _, c := range b {
		s += c
	}
	return -s
}

// MessageHeaderSize is the size of an IPMI LAN message without data: six
// header bytes (rsAddr..cmd) and the trailing checksum.
const MessageHeaderSize = 7

// Message is an IPMI LAN (IPMB-format) message as carried in an IPMI
// session payload (IPMI v2.0 section 13.8).
//
// For a request RsAddr is the responder (the BMC, 0x20), RqAddr the remote
// console's software ID (0x81). A response swaps the roles: its first byte
// is the requester's address. This struct keeps the on-wire order and names
// the fields by position, so the same type serves both directions.
type Message struct {
	// Byte 0: rsAddr in a request, rqAddr in a response.
	DestAddr uint8
	NetFn    NetFn
	DestLUN  uint8
	// Byte 3: rqAddr in a request, rsAddr in a response.
	SrcAddr uint8
	Seq     uint8 // rqSeq, 6 bits
	SrcLUN  uint8
	Cmd     uint8
	// Data is the request data, or for a response the completion code
	// followed by the response data. It aliases the decoded buffer.
	Data []byte
}

// AppendTo appends the encoded message with both checksums.
func (m *Message) AppendTo(b []byte) []byte {
	start := len(b)
	b = append(b, m.DestAddr, uint8(m.NetFn)<<2|m.DestLUN&3)
	b = append(b, Checksum(b[start:start+2]))
	mid := len(b)
	b = append(b, m.SrcAddr, (m.Seq&0x3F)<<2|m.SrcLUN&3, m.Cmd)
	b = append(b, m.Data...)
	return append(b, Checksum(b[mid:]))
}

// DecodeMessage decodes an IPMI LAN message, verifying both checksums.
// Data aliases b.
func DecodeMessage(b []byte) (Message, error) {
	if len(b) < MessageHeaderSize {
		return Message{}, fmt.Errorf("ipmi message: %d bytes: %w", len(b), ErrShort)
	}
	if Checksum(b[:2]) != b[2] {
		return Message{}, fmt.Errorf("ipmi message header: %w", ErrChecksum)
	}
	if Checksum(b[3:len(b)-1]) != b[len(b)-1] {
		return Message{}, fmt.Errorf("ipmi message data: %w", ErrChecksum)
	}
	return DecodeMessageUnchecked(b)
}

// DecodeMessageUnchecked decodes an IPMI LAN message without verifying its
// checksums, for a message whose every byte an RMCP+ integrity check
// value already verified (some BMCs send wrong checksums: FreeIPMI's
// nochecksumcheck workaround). Data aliases b.
func DecodeMessageUnchecked(b []byte) (Message, error) {
	if len(b) < MessageHeaderSize {
		return Message{}, fmt.Errorf("ipmi message: %d bytes: %w", len(b), ErrShort)
	}
	return Message{
		DestAddr: b[0],
		NetFn:    NetFn(b[1] >> 2),
		DestLUN:  b[1] & 3,
		SrcAddr:  b[3],
		Seq:      b[4] >> 2,
		SrcLUN:   b[4] & 3,
		Cmd:      b[5],
		Data:     b[6 : len(b)-1],
	}, nil
}
