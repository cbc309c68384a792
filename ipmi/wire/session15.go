package wire

import (
	"encoding/binary"
	"fmt"
)

// AuthType is the IPMI v1.5 session authentication type; AuthTypeRMCPPlus
// in the same position marks an IPMI v2.0 session header.
type AuthType uint8

const (
	AuthTypeNone     AuthType = 0x00
	AuthTypeMD2      AuthType = 0x01
	AuthTypeMD5      AuthType = 0x02
	AuthTypeStraight AuthType = 0x04 // straight password / key
	AuthTypeOEM      AuthType = 0x05
	AuthTypeRMCPPlus AuthType = 0x06
)

func (a AuthType) String() string {
	switch a {
	case AuthTypeNone:
		return "none"
	case AuthTypeMD2:
		return "md2"
	case AuthTypeMD5:
		return "md5"
	case AuthTypeStraight:
		return "password"
	case AuthTypeOEM:
		return "oem"
	case AuthTypeRMCPPlus:
		return "rmcp+"
	}
	return fmt.Sprintf("authtype_0x%02x", uint8(a))
}

// Session15Header is the IPMI v1.5 session header (IPMI v2.0 table 13-4).
// AuthCode is present on the wire only when AuthType is not none.
type Session15Header struct {
	AuthType      AuthType
	Sequence      uint32
	SessionID     uint32
	AuthCode      [16]byte
	PayloadLength uint8
}

// Size returns the encoded size of the header.
func (h *Session15Header) Size() int {
	if h.AuthType == AuthTypeNone {
		return 10
	}
	return 26
}

// AppendTo appends the encoded header.
func (h *Session15Header) AppendTo(b []byte) []byte {
	b = append(b, uint8(h.AuthType))
	b = binary.LittleEndian.AppendUint32(b, h.Sequence)
	b = binary.LittleEndian.AppendUint32(b, h.SessionID)
	if h.AuthType != AuthTypeNone {
		b = append(b, h.AuthCode[:]...)
	}
	return append(b, h.PayloadLength)
}

// DecodeSession15Header decodes a v1.5 session header from b (which starts
// after the RMCP header) and returns the payload that follows it.
func DecodeSession15Header(b []byte) (Session15Header, []byte, error) {
	var h Session15Header
	if len(b) < 10 {
		return h, nil, fmt.Errorf("ipmi 1.5 session header: %d bytes: %w", len(b), ErrShort)
	}
	h.AuthType = AuthType(b[0])
	if h.AuthType == AuthTypeRMCPPlus {
		return h, nil, fmt.Errorf("ipmi 1.5 session header: auth type is RMCP+: %w", ErrMalformed)
	}
	h.Sequence = binary.LittleEndian.Uint32(b[1:])
	h.SessionID = binary.LittleEndian.Uint32(b[5:])
	off := 9
	if h.AuthType != AuthTypeNone {
		if len(b) < 26 {
			return h, nil, fmt.Errorf("ipmi 1.5 session header with auth code: %d bytes: %w", len(b), ErrShort)
		}
		copy(h.AuthCode[:], b[9:25])
		off = 25
	}
	h.PayloadLength = b[off]
	off++
	if len(b)-off < int(h.PayloadLength) {
		return h, nil, fmt.Errorf("ipmi 1.5 payload: length %d, have %d: %w", h.PayloadLength, len(b)-off, ErrShort)
	}
	// A legacy pad byte may follow the payload; it is ignored.
	return h, b[off : off+int(h.PayloadLength)], nil
}
