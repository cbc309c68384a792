package wire

import "fmt"

// Packet is a classified datagram: the RMCP header and, depending on the
// class and auth type, exactly one of ASF, V15 or V2 set. Payload and
// Trailer alias the input buffer.
type Packet struct {
	RMCP RMCPHeader
	ASF  *ASFMessage
	V15  *Session15Header
	V2   *SessionV2Header
	// Payload is the session payload (for V15 the IPMI message; for V2 the
	// possibly encrypted payload).
	Payload []byte
	// Trailer is what follows a V2 payload: integrity pad, pad length, next
	// header and AuthCode, when the payload is authenticated.
	Trailer []byte
}

// ParsePacket classifies and decodes one datagram. The returned structs are
// freshly allocated; the hot path in the session layer decodes the headers
// directly with DecodeSessionV2Header instead.
func ParsePacket(b []byte) (Packet, error) {
	var p Packet
	h, err := DecodeRMCPHeader(b)
	if err != nil {
		return p, err
	}
	p.RMCP = h
	body := b[RMCPHeaderSize:]
	switch h.Class {
	case RMCPClassASF:
		m, err := DecodeASF(body)
		if err != nil {
			return p, err
		}
		p.ASF = &m
		return p, nil
	case RMCPClassIPMI:
		if len(body) < 1 {
			return p, fmt.Errorf("ipmi session header: %w", ErrShort)
		}
		if AuthType(body[0]) == AuthTypeRMCPPlus {
			v2, payload, rest, err := DecodeSessionV2Header(body)
			if err != nil {
				return p, err
			}
			p.V2, p.Payload, p.Trailer = &v2, payload, rest
			return p, nil
		}
		v15, payload, err := DecodeSession15Header(body)
		if err != nil {
			return p, err
		}
		p.V15, p.Payload = &v15, payload
		return p, nil
	}
	return p, fmt.Errorf("rmcp class 0x%02x: %w", h.Class, ErrMalformed)
}
