package wire

import (
	"encoding/binary"
	"fmt"
)

// PayloadType is the RMCP+ payload type (IPMI v2.0 table 13-16), bits 5:0
// of the payload type byte.
type PayloadType uint8

const (
	PayloadIPMI             PayloadType = 0x00
	PayloadSOL              PayloadType = 0x01
	PayloadOEMExplicit      PayloadType = 0x02
	PayloadOpenSessionReq   PayloadType = 0x10
	PayloadOpenSessionResp  PayloadType = 0x11
	PayloadRAKP1            PayloadType = 0x12
	PayloadRAKP2            PayloadType = 0x13
	PayloadRAKP3            PayloadType = 0x14
	PayloadRAKP4            PayloadType = 0x15
	payloadEncryptedBit                 = 0x80
	payloadAuthenticatedBit             = 0x40
)

func (p PayloadType) String() string {
	switch p {
	case PayloadIPMI:
		return "ipmi"
	case PayloadSOL:
		return "sol"
	case PayloadOEMExplicit:
		return "oem"
	case PayloadOpenSessionReq:
		return "open_session_request"
	case PayloadOpenSessionResp:
		return "open_session_response"
	case PayloadRAKP1:
		return "rakp1"
	case PayloadRAKP2:
		return "rakp2"
	case PayloadRAKP3:
		return "rakp3"
	case PayloadRAKP4:
		return "rakp4"
	}
	return fmt.Sprintf("payload_0x%02x", uint8(p))
}

// SessionV2Header is the RMCP+ session header (IPMI v2.0 table 13-8).
// The auth type byte (0x06) is implied.
type SessionV2Header struct {
	PayloadType   PayloadType
	Encrypted     bool
	Authenticated bool
	OEMIANA       uint32 // only for PayloadOEMExplicit
	OEMPayloadID  uint16 // only for PayloadOEMExplicit
	SessionID     uint32
	Sequence      uint32
	PayloadLength uint16
}

// Size returns the encoded size of the header including the auth type byte.
func (h *SessionV2Header) Size() int {
	if h.PayloadType == PayloadOEMExplicit {
		return 18
	}
	return 12
}

// AppendTo appends the header, starting with the auth type byte 0x06.
func (h *SessionV2Header) AppendTo(b []byte) []byte {
	pt := uint8(h.PayloadType) & 0x3F
	if h.Encrypted {
		pt |= payloadEncryptedBit
	}
	if h.Authenticated {
		pt |= payloadAuthenticatedBit
	}
	b = append(b, uint8(AuthTypeRMCPPlus), pt)
	if h.PayloadType == PayloadOEMExplicit {
		b = binary.LittleEndian.AppendUint32(b, h.OEMIANA)
		b = binary.LittleEndian.AppendUint16(b, h.OEMPayloadID)
	}
	b = binary.LittleEndian.AppendUint32(b, h.SessionID)
	b = binary.LittleEndian.AppendUint32(b, h.Sequence)
	return binary.LittleEndian.AppendUint16(b, h.PayloadLength)
}

// DecodeSessionV2Header decodes an RMCP+ session header from b, which
// starts at the auth type byte (right after the RMCP header). It returns
// the header and the payload (aliasing b); what follows the payload is the
// integrity trailer, rest.
func DecodeSessionV2Header(b []byte) (h SessionV2Header, payload, rest []byte, err error) {
	if len(b) < 12 {
		return h, nil, nil, fmt.Errorf("rmcp+ session header: %d bytes: %w", len(b), ErrShort)
	}
	if AuthType(b[0]) != AuthTypeRMCPPlus {
		return h, nil, nil, fmt.Errorf("rmcp+ session header: auth type 0x%02x: %w", b[0], ErrMalformed)
	}
	h.PayloadType = PayloadType(b[1] & 0x3F)
	h.Encrypted = b[1]&payloadEncryptedBit != 0
	h.Authenticated = b[1]&payloadAuthenticatedBit != 0
	off := 2
	if h.PayloadType == PayloadOEMExplicit {
		if len(b) < 18 {
			return h, nil, nil, fmt.Errorf("rmcp+ OEM session header: %d bytes: %w", len(b), ErrShort)
		}
		h.OEMIANA = binary.LittleEndian.Uint32(b[2:])
		h.OEMPayloadID = binary.LittleEndian.Uint16(b[6:])
		off = 8
	}
	h.SessionID = binary.LittleEndian.Uint32(b[off:])
	h.Sequence = binary.LittleEndian.Uint32(b[off+4:])
	h.PayloadLength = binary.LittleEndian.Uint16(b[off+8:])
	off += 10
	if len(b)-off < int(h.PayloadLength) {
		return h, nil, nil, fmt.Errorf("rmcp+ payload: length %d, have %d: %w", h.PayloadLength, len(b)-off, ErrShort)
	}
	return h, b[off : off+int(h.PayloadLength)], b[off+int(h.PayloadLength):], nil
}

// NextHeaderRMCPPlus is the "next header" byte of the integrity trailer.
const NextHeaderRMCPPlus = 0x07

// AppendIntegrityPad appends the RMCP+ integrity pad, pad length and next
// header to a packet whose session part (from the auth type byte) starts at
// b[sessionStart:], so that the signed region is a multiple of 4 bytes
// (IPMI v2.0 section 13.28.4). The AuthCode is appended by the caller.
func AppendIntegrityPad(b []byte, sessionStart int) []byte {
	n := (len(b) - sessionStart + 2) % 4
	pad := 0
	if n != 0 {
		pad = 4 - n
	}
	for i := 0; i < pad; i++ {
		b = append(b, 0xFF)
	}
	return append(b, uint8(pad), NextHeaderRMCPPlus)
}

// CheckIntegrityTrailer validates the trailer that follows an authenticated
// payload: pad bytes, pad length and next header, followed by authCodeLen
// bytes of AuthCode. It returns the AuthCode (aliasing rest).
func CheckIntegrityTrailer(rest []byte, authCodeLen int) ([]byte, error) {
	if len(rest) < authCodeLen+2 {
		return nil, fmt.Errorf("rmcp+ integrity trailer: %d bytes, need %d: %w", len(rest), authCodeLen+2, ErrShort)
	}
	body := rest[:len(rest)-authCodeLen]
	padLen := int(body[len(body)-2])
	if body[len(body)-1] != NextHeaderRMCPPlus {
		return nil, fmt.Errorf("rmcp+ integrity trailer: next header 0x%02x: %w", body[len(body)-1], ErrMalformed)
	}
	if padLen != len(body)-2 {
		return nil, fmt.Errorf("rmcp+ integrity trailer: pad length %d, found %d pad bytes: %w", padLen, len(body)-2, ErrMalformed)
	}
	return rest[len(rest)-authCodeLen:], nil
}
