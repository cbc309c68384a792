package wire

import (
	"encoding/binary"
	"fmt"
)

// RMCP message classes (ASF 2.0 section 3.2.2.1).
const (
	RMCPVersion1   = 0x06
	RMCPSeqNoACK   = 0xFF // IPMI messages never ask for an RMCP ACK
	RMCPClassASF   = 0x06
	RMCPClassIPMI  = 0x07
	RMCPClassOEM   = 0x08
	RMCPClassACK   = 0x80 // bit 7 set: this is an RMCP ACK
	RMCPHeaderSize = 4
)

// RMCPHeader is the 4-byte header of every datagram on port 623.
type RMCPHeader struct {
	Version  uint8
	Sequence uint8
	Class    uint8
}

// IPMIRMCPHeader is the header every IPMI (1.5 and 2.0) datagram starts with.
var IPMIRMCPHeader = RMCPHeader{Version: RMCPVersion1, Sequence: RMCPSeqNoACK, Class: RMCPClassIPMI}

// AppendTo appends the encoded header.
func (h RMCPHeader) AppendTo(b []byte) []byte {
	return append(b, h.Version, 0, h.Sequence, h.Class)
}

// DecodeRMCPHeader decodes the first 4 bytes of b.
func DecodeRMCPHeader(b []byte) (RMCPHeader, error) {
	if len(b) < RMCPHeaderSize {
		return RMCPHeader{}, fmt.Errorf("rmcp header: %d bytes: %w", len(b), ErrShort)
	}
	h := RMCPHeader{Version: b[0], Sequence: b[2], Class: b[3]}
	if h.Version != RMCPVersion1 {
		return h, fmt.Errorf("rmcp header: version 0x%02x: %w", h.Version, ErrMalformed)
	}
	return h, nil
}

// ASF message types used for discovery.
const (
	ASFIANA            = 4542 // Alert Standard Forum enterprise number
	ASFTypePresencePng = 0x80
	ASFTypePresencePog = 0x40
)

// ASFMessage is an ASF presence ping or pong (ASF 2.0 section 3.2.4).
type ASFMessage struct {
	IANA uint32
	Type uint8
	Tag  uint8
	Data []byte // pong: 16 bytes (IANA, OEM, supported entities, interactions, reserved)
}

// AppendTo appends the RMCP header and the ASF message.
func (m *ASFMessage) AppendTo(b []byte) []byte {
	b = RMCPHeader{Version: RMCPVersion1, Sequence: RMCPSeqNoACK, Class: RMCPClassASF}.AppendTo(b)
	b = binary.BigEndian.AppendUint32(b, m.IANA)
	b = append(b, m.Type, m.Tag, 0, uint8(len(m.Data)))
	return append(b, m.Data...)
}

// DecodeASF decodes an ASF message that follows the RMCP header.
// Data aliases b.
func DecodeASF(b []byte) (ASFMessage, error) {
	if len(b) < 8 {
		return ASFMessage{}, fmt.Errorf("asf message: %d bytes: %w", len(b), ErrShort)
	}
	m := ASFMessage{IANA: binary.BigEndian.Uint32(b), Type: b[4], Tag: b[5]}
	n := int(b[7])
	if len(b)-8 < n {
		return m, fmt.Errorf("asf message: data length %d, have %d: %w", n, len(b)-8, ErrShort)
	}
	m.Data = b[8 : 8+n]
	return m, nil
}

// PresencePong is the decoded data of an ASF presence pong.
type PresencePong struct {
	IANA         uint32
	OEM          uint32
	IPMISupport  bool // supported entities bit 7
	ASFVersion1  bool // supported entities low nibble == 1
	Interactions uint8
}

// NewPresencePing builds a presence ping with the given message tag.
func NewPresencePing(tag uint8) ASFMessage {
	return ASFMessage{IANA: ASFIANA, Type: ASFTypePresencePng, Tag: tag}
}

// NewPresencePong builds the pong a BMC that supports IPMI sends.
func NewPresencePong(tag uint8) ASFMessage {
	data := make([]byte, 16)
	binary.BigEndian.PutUint32(data, ASFIANA)
	data[8] = 0x81 // IPMI supported, ASF version 1.0
	return ASFMessage{IANA: ASFIANA, Type: ASFTypePresencePog, Tag: tag, Data: data}
}

// DecodePresencePong interprets the data of a pong.
func DecodePresencePong(m ASFMessage) (PresencePong, error) {
	if m.Type != ASFTypePresencePog {
		return PresencePong{}, fmt.Errorf("asf: type 0x%02x is not a presence pong: %w", m.Type, ErrMalformed)
	}
	if len(m.Data) < 10 {
		return PresencePong{}, fmt.Errorf("asf pong: %d data bytes: %w", len(m.Data), ErrShort)
	}
	return PresencePong{
		IANA:         binary.BigEndian.Uint32(m.Data),
		OEM:          binary.BigEndian.Uint32(m.Data[4:]),
		IPMISupport:  m.Data[8]&0x80 != 0,
		ASFVersion1:  m.Data[8]&0x0F == 1,
		Interactions: m.Data[9],
	}, nil
}
