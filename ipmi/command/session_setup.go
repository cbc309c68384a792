package command

import (
	"encoding/binary"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Session setup commands (app netFn, IPMI v2.0 sections 22.13-22.19 and
// 22.15 for cipher suites).
const (
	CmdGetChannelAuthCapabilities uint8 = 0x38
	CmdGetSessionChallenge        uint8 = 0x39
	CmdActivateSession            uint8 = 0x3A
	CmdSetSessionPrivilegeLevel   uint8 = 0x3B
	CmdCloseSession               uint8 = 0x3C
	CmdGetChannelCipherSuites     uint8 = 0x54
)

// --- Get Channel Authentication Capabilities (section 22.13) ---

// GetChannelAuthCapabilitiesRequest is sent before a session exists.
type GetChannelAuthCapabilitiesRequest struct {
	// Channel is the channel number; wire.ChannelPresentIface (0x0E) means
	// the channel the request arrives on.
	Channel uint8
	// ExtendedData sets bit 7, asking an IPMI v2.0 BMC for the extended
	// capabilities (byte 4 of the response). IPMI v1.5 BMCs may reject it,
	// so clients retry without it.
	ExtendedData bool
	MaxPrivilege wire.PrivilegeLevel
}

func (*GetChannelAuthCapabilitiesRequest) Op() Op {
	return Op{wire.NetFnApp, CmdGetChannelAuthCapabilities}
}

func (r *GetChannelAuthCapabilitiesRequest) AppendTo(b []byte) []byte {
	c := r.Channel & 0x0F
	if r.ExtendedData {
		c |= 0x80
	}
	return append(b, c, uint8(r.MaxPrivilege)&0x0F)
}

func (r *GetChannelAuthCapabilitiesRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("get channel auth capabilities request", data, 2); err != nil {
		return err
	}
	*r = GetChannelAuthCapabilitiesRequest{
		Channel:      data[0] & 0x0F,
		ExtendedData: data[0]&0x80 != 0,
		MaxPrivilege: wire.PrivilegeLevel(data[1] & 0x0F),
	}
	return nil
}

// AuthTypeSupport is the authentication type support bit field: bit n set
// means wire.AuthType n is supported (none, MD2, MD5, straight password,
// OEM at bits 0, 1, 2, 4, 5).
type AuthTypeSupport uint8

// Supports reports whether the bit for auth type a is set.
func (s AuthTypeSupport) Supports(a wire.AuthType) bool {
	return a <= wire.AuthTypeOEM && s&(1<<a) != 0
}

// GetChannelAuthCapabilitiesResponse is the 8-byte response.
type GetChannelAuthCapabilitiesResponse struct {
	Channel uint8
	// ExtendedCapabilities is byte 2 bit 7: the BMC filled in byte 4
	// (IPMI v2.0 extended capabilities).
	ExtendedCapabilities bool
	AuthTypes            AuthTypeSupport // 6 bits
	// KGNonZero: the BMC key (KG) is set to something other than the
	// default all-zero key, so a client must supply it.
	KGNonZero              bool
	PerMessageAuthDisabled bool
	UserLevelAuthDisabled  bool
	NonNullUserNames       bool   // non-null user names enabled
	NullUserNames          bool   // null user names enabled
	AnonymousLogin         bool   // anonymous login (null user, null password) enabled
	SupportsIPMIv15        bool   // byte 4 bit 0 (only with ExtendedCapabilities)
	SupportsIPMIv20        bool   // byte 4 bit 1 (only with ExtendedCapabilities)
	OEMID                  uint32 // IANA number of the OEM auth type, 24 bits
	OEMAuxData             uint8
}

const channelAuthCapabilitiesLen = 8

func (r *GetChannelAuthCapabilitiesResponse) AppendTo(b []byte) []byte {
	b = append(b, r.Channel)
	b1 := uint8(r.AuthTypes) & 0x3F
	if r.ExtendedCapabilities {
		b1 |= 0x80
	}
	var b2 uint8
	for _, bit := range [...]struct {
		set  bool
		mask uint8
	}{
		{r.KGNonZero, 0x20}, {r.PerMessageAuthDisabled, 0x10}, {r.UserLevelAuthDisabled, 0x08},
		{r.NonNullUserNames, 0x04}, {r.NullUserNames, 0x02}, {r.AnonymousLogin, 0x01},
	} {
		if bit.set {
			b2 |= bit.mask
		}
	}
	var b3 uint8
	if r.SupportsIPMIv15 {
		b3 |= 0x01
	}
	if r.SupportsIPMIv20 {
		b3 |= 0x02
	}
	b = append(b, b1, b2, b3, byte(r.OEMID), byte(r.OEMID>>8), byte(r.OEMID>>16))
	return append(b, r.OEMAuxData)
}

func (r *GetChannelAuthCapabilitiesResponse) Unmarshal(data []byte) error {
	// Some BMCs and simulators leave out the last byte (OEM auxiliary
	// data); ipmitool and FreeIPMI accept that, so do we.
	if err := checkFixedLen("get channel auth capabilities response", data, channelAuthCapabilitiesLen-1); err != nil {
		return err
	}
	var aux uint8
	if len(data) >= channelAuthCapabilitiesLen {
		aux = data[7]
	}
	*r = GetChannelAuthCapabilitiesResponse{
		Channel:                data[0],
		ExtendedCapabilities:   data[1]&0x80 != 0,
		AuthTypes:              AuthTypeSupport(data[1] & 0x3F),
		KGNonZero:              data[2]&0x20 != 0,
		PerMessageAuthDisabled: data[2]&0x10 != 0,
		UserLevelAuthDisabled:  data[2]&0x08 != 0,
		NonNullUserNames:       data[2]&0x04 != 0,
		NullUserNames:          data[2]&0x02 != 0,
		AnonymousLogin:         data[2]&0x01 != 0,
		SupportsIPMIv15:        data[3]&0x01 != 0,
		SupportsIPMIv20:        data[3]&0x02 != 0,
		OEMID:                  uint32(data[4]) | uint32(data[5])<<8 | uint32(data[6])<<16,
		OEMAuxData:             aux,
	}
	return nil
}

// --- Get Channel Cipher Suites (section 22.15) ---

// Limits of Get Channel Cipher Suites: each response carries at most 16
// bytes of record data; list indexes run 0..63. A response with fewer than
// 16 bytes is the last one.
const (
	CipherSuiteRecordDataMax uint8 = 16
	CipherSuiteListIndexMax  uint8 = 0x3F
)

// Cipher suite record start bytes and algorithm tags (table 22-18).
const (
	cipherSuiteStartStandard = 0xC0
	cipherSuiteStartOEM      = 0xC1
	cipherSuiteTagMask       = 0xC0
	cipherSuiteTagAuth       = 0x00
	cipherSuiteTagIntegrity  = 0x40
	cipherSuiteTagConf       = 0x80
	cipherSuiteTagStart      = 0xC0 // tag 11b: a start-of-record byte
	cipherSuiteAlgMask       = 0x3F
)

// GetChannelCipherSuitesRequest reads one 16-byte block of the channel's
// cipher suite list.
type GetChannelCipherSuitesRequest struct {
	Channel     uint8 // wire.ChannelPresentIface for "this channel"
	PayloadType wire.PayloadType
	ListIndex   uint8 // 0..63
	// ListByCipherSuite sets bit 7: return cipher suite records (what a
	// client needs) instead of the plain list of supported algorithms.
	ListByCipherSuite bool
}

func (*GetChannelCipherSuitesRequest) Op() Op { return Op{wire.NetFnApp, CmdGetChannelCipherSuites} }

func (r *GetChannelCipherSuitesRequest) AppendTo(b []byte) []byte {
	idx := r.ListIndex & 0x3F
	if r.ListByCipherSuite {
		idx |= 0x80
	}
	return append(b, r.Channel&0x0F, uint8(r.PayloadType)&0x3F, idx)
}

func (r *GetChannelCipherSuitesRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("get channel cipher suites request", data, 3); err != nil {
		return err
	}
	*r = GetChannelCipherSuitesRequest{
		Channel:           data[0] & 0x0F,
		PayloadType:       wire.PayloadType(data[1] & 0x3F),
		ListIndex:         data[2] & 0x3F,
		ListByCipherSuite: data[2]&0x80 != 0,
	}
	return nil
}

// GetChannelCipherSuitesResponse carries one block of record data. Records
// straddle blocks, so a client concatenates the blocks of indexes 0, 1, ...
// until a block is shorter than 16 bytes and parses the result with
// ParseCipherSuiteRecords.
type GetChannelCipherSuitesResponse struct {
	Channel    uint8
	RecordData []byte // owned by the response
}

func (r *GetChannelCipherSuitesResponse) AppendTo(b []byte) []byte {
	return append(append(b, r.Channel), r.RecordData...)
}

func (r *GetChannelCipherSuitesResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get channel cipher suites response", data, 1); err != nil {
		return err
	}
	r.Channel = data[0]
	r.RecordData = append(r.RecordData[:0], data[1:]...)
	return nil
}

// CipherSuiteRecord is one cipher suite as listed by the BMC.
type CipherSuiteRecord struct {
	ID uint8
	// OEM marks a C1h record; OEMIANA is then its 24-bit IANA number.
	OEM     bool
	OEMIANA uint32
	// AuthAlg is the RAKP authentication algorithm number (0 none,
	// 1 HMAC-SHA1, 2 HMAC-MD5, 3 HMAC-SHA256).
	AuthAlg uint8
	// IntegrityAlgs and ConfidentialityAlgs hold algorithm numbers with the
	// tag bits stripped. Records listed by cipher suite normally carry one
	// of each; the format allows more.
	IntegrityAlgs       []uint8
	ConfidentialityAlgs []uint8
}

// ParseCipherSuiteRecords parses concatenated cipher suite record data:
// each record is a start byte (C0h standard, C1h OEM), the suite ID, for
// OEM records a 3-byte IANA number (LS byte first), then algorithm bytes
// whose top two bits tag them as authentication (00b), integrity (01b) or
// confidentiality (10b), up to the next start byte. Every record must carry
// exactly one authentication algorithm.
func ParseCipherSuiteRecords(data []byte) ([]CipherSuiteRecord, error) {
	const what = "cipher suite records"
	var records []CipherSuiteRecord
	for i := 0; i < len(data); {
		start := data[i]
		if start != cipherSuiteStartStandard && start != cipherSuiteStartOEM {
			return records, malformed(what, "byte %d: 0x%02x is not a record start", i, start)
		}
		rec := CipherSuiteRecord{OEM: start == cipherSuiteStartOEM}
		i++
		header := 1
		if rec.OEM {
			header = 4
		}
		if len(data)-i < header {
			return records, fmt.Errorf("%s: record at byte %d cut short: %w", what, i-1, wire.ErrShort)
		}
		rec.ID = data[i]
		if rec.OEM {
			rec.OEMIANA = uint32(data[i+1]) | uint32(data[i+2])<<8 | uint32(data[i+3])<<16
		}
		i += header
		hasAuth := false
		for ; i < len(data) && data[i]&cipherSuiteTagMask != cipherSuiteTagStart; i++ {
			alg := data[i] & cipherSuiteAlgMask
			switch data[i] & cipherSuiteTagMask {
			case cipherSuiteTagAuth:
				if hasAuth {
					return records, malformed(what, "suite %d has two authentication algorithms", rec.ID)
				}
				hasAuth = true
				rec.AuthAlg = alg
			case cipherSuiteTagIntegrity:
				rec.IntegrityAlgs = append(rec.IntegrityAlgs, alg)
			case cipherSuiteTagConf:
				rec.ConfidentialityAlgs = append(rec.ConfidentialityAlgs, alg)
			}
		}
		if !hasAuth {
			return records, malformed(what, "suite %d has no authentication algorithm", rec.ID)
		}
		records = append(records, rec)
	}
	return records, nil
}

// AppendCipherSuiteRecord encodes rec in the record format (the simulator
// side of ParseCipherSuiteRecords).
func AppendCipherSuiteRecord(b []byte, rec *CipherSuiteRecord) []byte {
	if rec.OEM {
		b = append(b, cipherSuiteStartOEM, rec.ID, byte(rec.OEMIANA), byte(rec.OEMIANA>>8), byte(rec.OEMIANA>>16))
	} else {
		b = append(b, cipherSuiteStartStandard, rec.ID)
	}
	b = append(b, cipherSuiteTagAuth|rec.AuthAlg&cipherSuiteAlgMask)
	for _, a := range rec.IntegrityAlgs {
		b = append(b, cipherSuiteTagIntegrity|a&cipherSuiteAlgMask)
	}
	for _, a := range rec.ConfidentialityAlgs {
		b = append(b, cipherSuiteTagConf|a&cipherSuiteAlgMask)
	}
	return b
}

// SupportedAlgorithms is the answer to Get Channel Cipher Suites without
// ListByCipherSuite: the algorithms the channel supports, without suites.
type SupportedAlgorithms struct {
	Auth, Integrity, Confidentiality []uint8
}

// ParseSupportedAlgorithms parses concatenated "list supported algorithms"
// data: tagged algorithm bytes only, no record start bytes.
func ParseSupportedAlgorithms(data []byte) (SupportedAlgorithms, error) {
	var s SupportedAlgorithms
	for i, c := range data {
		alg := c & cipherSuiteAlgMask
		switch c & cipherSuiteTagMask {
		case cipherSuiteTagAuth:
			s.Auth = append(s.Auth, alg)
		case cipherSuiteTagIntegrity:
			s.Integrity = append(s.Integrity, alg)
		case cipherSuiteTagConf:
			s.Confidentiality = append(s.Confidentiality, alg)
		default:
			return s, malformed("supported algorithms", "byte %d: 0x%02x has no algorithm tag", i, c)
		}
	}
	return s, nil
}

// --- Set Session Privilege Level (section 22.18) ---

// SetSessionPrivilegeLevelRequest raises (or queries, with privilege 0)
// the session's operating privilege.
type SetSessionPrivilegeLevelRequest struct {
	// Privilege 0 (wire.PrivilegeHighest) means "no change, return the
	// present level".
	Privilege wire.PrivilegeLevel
}

func (*SetSessionPrivilegeLevelRequest) Op() Op {
	return Op{wire.NetFnApp, CmdSetSessionPrivilegeLevel}
}

func (r *SetSessionPrivilegeLevelRequest) AppendTo(b []byte) []byte {
	return append(b, uint8(r.Privilege)&0x0F)
}

func (r *SetSessionPrivilegeLevelRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("set session privilege level request", data, 1); err != nil {
		return err
	}
	r.Privilege = wire.PrivilegeLevel(data[0] & 0x0F)
	return nil
}

// SetSessionPrivilegeLevelResponse reports the new operating privilege.
type SetSessionPrivilegeLevelResponse struct {
	Privilege wire.PrivilegeLevel
}

func (r *SetSessionPrivilegeLevelResponse) AppendTo(b []byte) []byte {
	return append(b, uint8(r.Privilege)&0x0F)
}

func (r *SetSessionPrivilegeLevelResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("set session privilege level response", data, 1); err != nil {
		return err
	}
	r.Privilege = wire.PrivilegeLevel(data[0] & 0x0F)
	return nil
}

// --- Close Session (section 22.19) ---

// CloseSessionRequest closes a session by ID, or by handle when SessionID
// is 0.
type CloseSessionRequest struct {
	SessionID     uint32
	SessionHandle uint8 // sent only when SessionID is 0
}

func (*CloseSessionRequest) Op() Op { return Op{wire.NetFnApp, CmdCloseSession} }

func (r *CloseSessionRequest) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, r.SessionID)
	if r.SessionID == 0 {
		b = append(b, r.SessionHandle)
	}
	return b
}

func (r *CloseSessionRequest) Unmarshal(data []byte) error {
	const what = "close session request"
	if err := checkFixedLen(what, data, 4); err != nil {
		return err
	}
	*r = CloseSessionRequest{SessionID: binary.LittleEndian.Uint32(data[0:4])}
	if r.SessionID == 0 {
		if err := checkFixedLen(what, data, 5); err != nil {
			return err
		}
		r.SessionHandle = data[4]
	}
	return nil
}

// CloseSessionResponse is empty.
type CloseSessionResponse struct{}

func (*CloseSessionResponse) AppendTo(b []byte) []byte { return b }
func (*CloseSessionResponse) Unmarshal([]byte) error   { return nil }

// --- Get Session Challenge (section 22.16, IPMI v1.5 sessions) ---

// UserNameLen is the fixed user name field of the IPMI v1.5 session setup.
const UserNameLen = 16

// ChallengeLen is the challenge string length.
const ChallengeLen = 16

// GetSessionChallengeRequest starts an IPMI v1.5 session.
type GetSessionChallengeRequest struct {
	AuthType wire.AuthType
	UserName [UserNameLen]byte // NUL padded; all zero for the null user
}

// SetUserName stores name NUL padded; it fails for names over 16 bytes.
func (r *GetSessionChallengeRequest) SetUserName(name string) error {
	if len(name) > UserNameLen {
		return fmt.Errorf("user name of %d bytes exceeds %d", len(name), UserNameLen)
	}
	r.UserName = [UserNameLen]byte{}
	copy(r.UserName[:], name)
	return nil
}

func (*GetSessionChallengeRequest) Op() Op { return Op{wire.NetFnApp, CmdGetSessionChallenge} }

func (r *GetSessionChallengeRequest) AppendTo(b []byte) []byte {
	return append(append(b, uint8(r.AuthType)&0x0F), r.UserName[:]...)
}

func (r *GetSessionChallengeRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("get session challenge request", data, 1+UserNameLen); err != nil {
		return err
	}
	r.AuthType = wire.AuthType(data[0] & 0x0F)
	copy(r.UserName[:], data[1:1+UserNameLen])
	return nil
}

// GetSessionChallengeResponse carries the temporary session ID and the
// challenge the client must echo in Activate Session.
type GetSessionChallengeResponse struct {
	TemporarySessionID uint32
	Challenge          [ChallengeLen]byte
}

func (r *GetSessionChallengeResponse) AppendTo(b []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(b, r.TemporarySessionID), r.Challenge[:]...)
}

func (r *GetSessionChallengeResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get session challenge response", data, 4+ChallengeLen); err != nil {
		return err
	}
	r.TemporarySessionID = binary.LittleEndian.Uint32(data[0:4])
	copy(r.Challenge[:], data[4:4+ChallengeLen])
	return nil
}

// --- Activate Session (section 22.17, IPMI v1.5 sessions) ---

// ActivateSessionRequest activates the IPMI v1.5 session set up by Get
// Session Challenge.
type ActivateSessionRequest struct {
	AuthType           wire.AuthType
	MaxPrivilege       wire.PrivilegeLevel
	Challenge          [ChallengeLen]byte
	InitialOutboundSeq uint32 // the client's first outbound sequence number, non-zero
}

func (*ActivateSessionRequest) Op() Op { return Op{wire.NetFnApp, CmdActivateSession} }

func (r *ActivateSessionRequest) AppendTo(b []byte) []byte {
	b = append(b, uint8(r.AuthType)&0x0F, uint8(r.MaxPrivilege)&0x0F)
	b = append(b, r.Challenge[:]...)
	return binary.LittleEndian.AppendUint32(b, r.InitialOutboundSeq)
}

func (r *ActivateSessionRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("activate session request", data, 2+ChallengeLen+4); err != nil {
		return err
	}
	r.AuthType = wire.AuthType(data[0] & 0x0F)
	r.MaxPrivilege = wire.PrivilegeLevel(data[1] & 0x0F)
	copy(r.Challenge[:], data[2:2+ChallengeLen])
	r.InitialOutboundSeq = binary.LittleEndian.Uint32(data[2+ChallengeLen:])
	return nil
}

// ActivateSessionResponse is the 10-byte Activate Session response.
type ActivateSessionResponse struct {
	AuthType          wire.AuthType // for the rest of the session
	SessionID         uint32
	InitialInboundSeq uint32 // the BMC's first outbound sequence number
	MaxPrivilege      wire.PrivilegeLevel
}

const activateSessionResponseLen = 10

func (r *ActivateSessionResponse) AppendTo(b []byte) []byte {
	b = append(b, uint8(r.AuthType)&0x0F)
	b = binary.LittleEndian.AppendUint32(b, r.SessionID)
	b = binary.LittleEndian.AppendUint32(b, r.InitialInboundSeq)
	return append(b, uint8(r.MaxPrivilege)&0x0F)
}

func (r *ActivateSessionResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("activate session response", data, activateSessionResponseLen); err != nil {
		return err
	}
	*r = ActivateSessionResponse{
		AuthType:          wire.AuthType(data[0] & 0x0F),
		SessionID:         binary.LittleEndian.Uint32(data[1:5]),
		InitialInboundSeq: binary.LittleEndian.Uint32(data[5:9]),
		MaxPrivilege:      wire.PrivilegeLevel(data[9] & 0x0F),
	}
	return nil
}
