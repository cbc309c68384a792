package wire

import (
	"encoding/binary"
	"fmt"
)

// RMCP+ status codes carried in Open Session and RAKP responses
// (IPMI v2.0 table 13-15).
type RAKPStatus uint8

const (
	RAKPStatusOK                        RAKPStatus = 0x00
	RAKPStatusInsufficientResources     RAKPStatus = 0x01
	RAKPStatusInvalidSessionID          RAKPStatus = 0x02
	RAKPStatusInvalidPayloadType        RAKPStatus = 0x03
	RAKPStatusInvalidAuthAlgorithm      RAKPStatus = 0x04
	RAKPStatusInvalidIntegrityAlgorithm RAKPStatus = 0x05
	RAKPStatusNoMatchingAuthPayload     RAKPStatus = 0x06
	RAKPStatusNoMatchingIntegrity       RAKPStatus = 0x07
	RAKPStatusInactiveSessionID         RAKPStatus = 0x08
	RAKPStatusInvalidRole               RAKPStatus = 0x09
	RAKPStatusUnauthorizedRole          RAKPStatus = 0x0A
	RAKPStatusNoResourcesForRole        RAKPStatus = 0x0B
	RAKPStatusInvalidNameLength         RAKPStatus = 0x0C
	RAKPStatusUnauthorizedName          RAKPStatus = 0x0D
	RAKPStatusUnauthorizedGUID          RAKPStatus = 0x0E
	RAKPStatusInvalidIntegrityCheck     RAKPStatus = 0x0F
	RAKPStatusInvalidConfidentiality    RAKPStatus = 0x10
	RAKPStatusNoCipherSuiteMatch        RAKPStatus = 0x11
	RAKPStatusIllegalParameter          RAKPStatus = 0x12
)

var rakpStatusNames = [...]string{
	"no errors",
	"insufficient resources to create a session",
	"invalid session ID",
	"invalid payload type",
	"invalid authentication algorithm",
	"invalid integrity algorithm",
	"no matching authentication payload",
	"no matching integrity payload",
	"inactive session ID",
	"invalid role",
	"unauthorized role or privilege level requested",
	"insufficient resources to create a session at the requested role",
	"invalid name length",
	"unauthorized name",
	"unauthorized GUID",
	"invalid integrity check value",
	"invalid confidentiality algorithm",
	"no cipher suite match with proposed security algorithms",
	"illegal or unrecognized parameter",
}

func (s RAKPStatus) String() string {
	if int(s) < len(rakpStatusNames) {
		return fmt.Sprintf("0x%02x (%s)", uint8(s), rakpStatusNames[s])
	}
	return fmt.Sprintf("0x%02x", uint8(s))
}

// Algorithm payload types inside Open Session messages.
const (
	algPayloadAuth       = 0x00
	algPayloadIntegrity  = 0x01
	algPayloadConfidence = 0x02
)

// OpenSessionRequest is the RMCP+ Open Session Request (table 13-9).
type OpenSessionRequest struct {
	Tag                      uint8
	MaxPrivilege             PrivilegeLevel // 0 = highest matching the proposed algorithms
	ConsoleSessionID         uint32
	AuthAlgorithm            uint8
	IntegrityAlgorithm       uint8
	ConfidentialityAlgorithm uint8
}

func appendAlgPayload(b []byte, kind, alg uint8) []byte {
	return append(b, kind, 0, 0, 8, alg&0x3F, 0, 0, 0)
}

// AppendTo appends the 32-byte request.
func (m *OpenSessionRequest) AppendTo(b []byte) []byte {
	b = append(b, m.Tag, uint8(m.MaxPrivilege)&0x0F, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, m.ConsoleSessionID)
	b = appendAlgPayload(b, algPayloadAuth, m.AuthAlgorithm)
	b = appendAlgPayload(b, algPayloadIntegrity, m.IntegrityAlgorithm)
	return appendAlgPayload(b, algPayloadConfidence, m.ConfidentialityAlgorithm)
}

// decodeAlgPayload reads one 8-byte algorithm payload of the expected kind.
// A payload length of 0 (a "wildcard" proposal) yields alg 0.
func decodeAlgPayload(b []byte, kind uint8) (uint8, error) {
	if b[0] != kind {
		return 0, fmt.Errorf("algorithm payload type 0x%02x, want 0x%02x: %w", b[0], kind, ErrMalformed)
	}
	if b[3] == 0 {
		return 0, nil
	}
	if b[3] != 8 {
		return 0, fmt.Errorf("algorithm payload length %d: %w", b[3], ErrMalformed)
	}
	return b[4] & 0x3F, nil
}

// Unmarshal decodes an Open Session Request.
func (m *OpenSessionRequest) Unmarshal(b []byte) error {
	if len(b) < 32 {
		return fmt.Errorf("open session request: %d bytes: %w", len(b), ErrShort)
	}
	m.Tag = b[0]
	m.MaxPrivilege = PrivilegeLevel(b[1] & 0x0F)
	m.ConsoleSessionID = binary.LittleEndian.Uint32(b[4:])
	var err error
	if m.AuthAlgorithm, err = decodeAlgPayload(b[8:16], algPayloadAuth); err != nil {
		return fmt.Errorf("open session request: %w", err)
	}
	if m.IntegrityAlgorithm, err = decodeAlgPayload(b[16:24], algPayloadIntegrity); err != nil {
		return fmt.Errorf("open session request: %w", err)
	}
	if m.ConfidentialityAlgorithm, err = decodeAlgPayload(b[24:32], algPayloadConfidence); err != nil {
		return fmt.Errorf("open session request: %w", err)
	}
	return nil
}

// OpenSessionResponse is the RMCP+ Open Session Response (table 13-10).
// On a non-zero Status, BMCs may truncate the message after the console
// session ID; Unmarshal accepts that.
type OpenSessionResponse struct {
	Tag                      uint8
	Status                   RAKPStatus
	MaxPrivilege             PrivilegeLevel
	ConsoleSessionID         uint32
	BMCSessionID             uint32
	AuthAlgorithm            uint8
	IntegrityAlgorithm       uint8
	ConfidentialityAlgorithm uint8
}

// AppendTo appends the response (36 bytes, or 8 on error).
func (m *OpenSessionResponse) AppendTo(b []byte) []byte {
	b = append(b, m.Tag, uint8(m.Status), uint8(m.MaxPrivilege), 0)
	b = binary.LittleEndian.AppendUint32(b, m.ConsoleSessionID)
	if m.Status != RAKPStatusOK {
		return b
	}
	b = binary.LittleEndian.AppendUint32(b, m.BMCSessionID)
	b = appendAlgPayload(b, algPayloadAuth, m.AuthAlgorithm)
	b = appendAlgPayload(b, algPayloadIntegrity, m.IntegrityAlgorithm)
	return appendAlgPayload(b, algPayloadConfidence, m.ConfidentialityAlgorithm)
}

// Unmarshal decodes an Open Session Response.
func (m *OpenSessionResponse) Unmarshal(b []byte) error {
	if len(b) < 2 {
		return fmt.Errorf("open session response: %d bytes: %w", len(b), ErrShort)
	}
	*m = OpenSessionResponse{Tag: b[0], Status: RAKPStatus(b[1])}
	if m.Status != RAKPStatusOK {
		if len(b) >= 8 {
			m.MaxPrivilege = PrivilegeLevel(b[2] & 0x0F)
			m.ConsoleSessionID = binary.LittleEndian.Uint32(b[4:])
		}
		return nil
	}
	if len(b) < 36 {
		return fmt.Errorf("open session response: %d bytes: %w", len(b), ErrShort)
	}
	m.MaxPrivilege = PrivilegeLevel(b[2] & 0x0F)
	m.ConsoleSessionID = binary.LittleEndian.Uint32(b[4:])
	m.BMCSessionID = binary.LittleEndian.Uint32(b[8:])
	var err error
	if m.AuthAlgorithm, err = decodeAlgPayload(b[12:20], algPayloadAuth); err != nil {
		return fmt.Errorf("open session response: %w", err)
	}
	if m.IntegrityAlgorithm, err = decodeAlgPayload(b[20:28], algPayloadIntegrity); err != nil {
		return fmt.Errorf("open session response: %w", err)
	}
	if m.ConfidentialityAlgorithm, err = decodeAlgPayload(b[28:36], algPayloadConfidence); err != nil {
		return fmt.Errorf("open session response: %w", err)
	}
	return nil
}

// RAKP1 is RAKP Message 1, console to BMC (table 13-11).
type RAKP1 struct {
	Tag           uint8
	BMCSessionID  uint32
	ConsoleRandom [16]byte
	Role          uint8 // privilege in bits 3:0, bit 4 set = name-only lookup
	Username      string
}

// RoleNameOnlyLookup is the Role bit that asks the BMC to look the user up
// by name only (rather than by name and privilege).
const RoleNameOnlyLookup = 0x10

// MaxUsernameLength is the longest user name RMCP+ carries.
const MaxUsernameLength = 16

// AppendTo appends the message.
func (m *RAKP1) AppendTo(b []byte) []byte {
	b = append(b, m.Tag, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, m.BMCSessionID)
	b = append(b, m.ConsoleRandom[:]...)
	b = append(b, m.Role, 0, 0, uint8(len(m.Username)))
	return append(b, m.Username...)
}

// Unmarshal decodes RAKP1.
func (m *RAKP1) Unmarshal(b []byte) error {
	if len(b) < 28 {
		return fmt.Errorf("rakp1: %d bytes: %w", len(b), ErrShort)
	}
	m.Tag = b[0]
	m.BMCSessionID = binary.LittleEndian.Uint32(b[4:])
	copy(m.ConsoleRandom[:], b[8:24])
	m.Role = b[24]
	n := int(b[27])
	if n > MaxUsernameLength {
		return fmt.Errorf("rakp1: user name length %d: %w", n, ErrMalformed)
	}
	if len(b) < 28+n {
		return fmt.Errorf("rakp1: user name length %d, have %d: %w", n, len(b)-28, ErrShort)
	}
	m.Username = string(b[28 : 28+n])
	return nil
}

// RAKP2 is RAKP Message 2, BMC to console (table 13-12).
type RAKP2 struct {
	Tag              uint8
	Status           RAKPStatus
	ConsoleSessionID uint32
	BMCRandom        [16]byte
	BMCGUID          [16]byte
	AuthCode         []byte // key exchange auth code; length depends on the auth algorithm
}

// AppendTo appends the message (only tag, status and session ID on error).
func (m *RAKP2) AppendTo(b []byte) []byte {
	b = append(b, m.Tag, uint8(m.Status), 0, 0)
	b = binary.LittleEndian.AppendUint32(b, m.ConsoleSessionID)
	if m.Status != RAKPStatusOK {
		return b
	}
	b = append(b, m.BMCRandom[:]...)
	b = append(b, m.BMCGUID[:]...)
	return append(b, m.AuthCode...)
}

// Unmarshal decodes RAKP2. AuthCode is copied.
func (m *RAKP2) Unmarshal(b []byte) error {
	if len(b) < 2 {
		return fmt.Errorf("rakp2: %d bytes: %w", len(b), ErrShort)
	}
	*m = RAKP2{Tag: b[0], Status: RAKPStatus(b[1])}
	if len(b) >= 8 {
		m.ConsoleSessionID = binary.LittleEndian.Uint32(b[4:])
	}
	if m.Status != RAKPStatusOK {
		return nil
	}
	if len(b) < 40 {
		return fmt.Errorf("rakp2: %d bytes: %w", len(b), ErrShort)
	}
	copy(m.BMCRandom[:], b[8:24])
	copy(m.BMCGUID[:], b[24:40])
	m.AuthCode = append([]byte(nil), b[40:]...)
	return nil
}

// RAKP3 is RAKP Message 3, console to BMC (table 13-13).
type RAKP3 struct {
	Tag          uint8
	Status       RAKPStatus
	BMCSessionID uint32
	AuthCode     []byte
}

// AppendTo appends the message.
func (m *RAKP3) AppendTo(b []byte) []byte {
	b = append(b, m.Tag, uint8(m.Status), 0, 0)
	b = binary.LittleEndian.AppendUint32(b, m.BMCSessionID)
	return append(b, m.AuthCode...)
}

// Unmarshal decodes RAKP3. AuthCode is copied.
func (m *RAKP3) Unmarshal(b []byte) error {
	if len(b) < 8 {
		return fmt.Errorf("rakp3: %d bytes: %w", len(b), ErrShort)
	}
	*m = RAKP3{Tag: b[0], Status: RAKPStatus(b[1]), BMCSessionID: binary.LittleEndian.Uint32(b[4:])}
	m.AuthCode = append([]byte(nil), b[8:]...)
	return nil
}

// RAKP4 is RAKP Message 4, BMC to console (table 13-14).
type RAKP4 struct {
	Tag              uint8
	Status           RAKPStatus
	ConsoleSessionID uint32
	IntegrityCheck   []byte
}

// AppendTo appends the message.
func (m *RAKP4) AppendTo(b []byte) []byte {
	b = append(b, m.Tag, uint8(m.Status), 0, 0)
	b = binary.LittleEndian.AppendUint32(b, m.ConsoleSessionID)
	return append(b, m.IntegrityCheck...)
}

// Unmarshal decodes RAKP4. IntegrityCheck is copied.
func (m *RAKP4) Unmarshal(b []byte) error {
	if len(b) < 2 {
		return fmt.Errorf("rakp4: %d bytes: %w", len(b), ErrShort)
	}
	*m = RAKP4{Tag: b[0], Status: RAKPStatus(b[1])}
	if len(b) >= 8 {
		m.ConsoleSessionID = binary.LittleEndian.Uint32(b[4:])
	} else if m.Status == RAKPStatusOK {
		return fmt.Errorf("rakp4: %d bytes: %w", len(b), ErrShort)
	}
	if len(b) > 8 {
		m.IntegrityCheck = append([]byte(nil), b[8:]...)
	}
	return nil
}
