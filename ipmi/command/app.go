package command

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Application netFn commands of the device-global and messaging families
// (IPMI v2.0 table G-1). The session-setup and bridging commands of the
// same netFn live in session_setup.go and bridge.go.
const (
	CmdGetDeviceID    uint8 = 0x01
	CmdGetSystemGUID  uint8 = 0x37
	CmdGetSessionInfo uint8 = 0x3D
)

// checkFixedLen returns an error wrapping wire.ErrShort when data is shorter
// than want. Longer bodies are accepted: BMCs pad, and later spec revisions
// append fields.
func checkFixedLen(what string, data []byte, want int) error {
	if len(data) < want {
		return short(what, len(data), want)
	}
	return nil
}

// --- Get Device ID (IPMI v2.0 section 20.1) ---

// GetDeviceIDRequest asks a controller for its identity. It has no data.
type GetDeviceIDRequest struct{}

func (*GetDeviceIDRequest) Op() Op                   { return Op{wire.NetFnApp, CmdGetDeviceID} }
func (*GetDeviceIDRequest) AppendTo(b []byte) []byte { return b }
func (*GetDeviceIDRequest) Unmarshal([]byte) error   { return nil }

// Additional Device Support bits (byte 6 of the Get Device ID response).
const (
	DeviceSupportSensor         uint8 = 1 << 0
	DeviceSupportSDRRepository  uint8 = 1 << 1
	DeviceSupportSEL            uint8 = 1 << 2
	DeviceSupportFRUInventory   uint8 = 1 << 3
	DeviceSupportEventReceiver  uint8 = 1 << 4
	DeviceSupportEventGenerator uint8 = 1 << 5
	DeviceSupportBridge         uint8 = 1 << 6
	DeviceSupportChassis        uint8 = 1 << 7
)

// getDeviceIDMinLen is the response length without the optional auxiliary
// firmware revision; getDeviceIDFullLen includes it.
const (
	getDeviceIDMinLen  = 11
	getDeviceIDFullLen = 15
)

// GetDeviceIDResponse is the Get Device ID response.
type GetDeviceIDResponse struct {
	DeviceID           uint8
	DeviceRevision     uint8 // 0-15
	ProvidesDeviceSDRs bool
	// UpdateInProgress is bit 7 of firmware revision 1: firmware, SDR update
	// or self-initialization in progress (ipmitool: "Device Available: no").
	UpdateInProgress bool
	FirmwareMajor    uint8 // 7 bits, binary
	// FirmwareMinor is the raw BCD byte: 0x10 means ".10".
	FirmwareMinor uint8
	// IPMIVersion is the raw BCD byte: low nibble major, high nibble minor
	// (0x02 = 2.0, 0x51 = 1.5).
	IPMIVersion             uint8
	AdditionalDeviceSupport uint8  // DeviceSupport* bits
	ManufacturerID          uint32 // IANA enterprise number, 20 bits
	ProductID               uint16
	// HasAuxFirmwareRevision reports whether the optional four auxiliary
	// firmware revision bytes were present.
	HasAuxFirmwareRevision bool
	AuxFirmwareRevision    [4]byte
}

// FirmwareRevision formats the firmware revision the way ipmitool's
// "mc info" does ("%u.%02x"): the major number in decimal, the BCD minor
// byte as two hex digits, so 2 and 0x10 give "2.10" and 9 and 0x08 give
// "9.08". Like ipmitool it masks the major number with 0x3F.
func (r *GetDeviceIDResponse) FirmwareRevision() string {
	return fmt.Sprintf("%d.%02x", r.FirmwareMajor&0x3F, r.FirmwareMinor)
}

// IPMIVersionString formats the IPMI version like ipmitool ("%x.%x" of the
// low and high nibbles): "2.0", "1.5".
func (r *GetDeviceIDResponse) IPMIVersionString() string {
	return fmt.Sprintf("%x.%x", r.IPMIVersion&0x0F, r.IPMIVersion>>4)
}

func (r *GetDeviceIDResponse) AppendTo(b []byte) []byte {
	rev := r.DeviceRevision & 0x0F
	if r.ProvidesDeviceSDRs {
		rev |= 0x80
	}
	fw1 := r.FirmwareMajor & 0x7F
	if r.UpdateInProgress {
		fw1 |= 0x80
	}
	b = append(b, r.DeviceID, rev, fw1, r.FirmwareMinor, r.IPMIVersion, r.AdditionalDeviceSupport)
	m := r.ManufacturerID & 0x0FFFFF
	b = append(b, byte(m), byte(m>>8), byte(m>>16))
	b = binary.LittleEndian.AppendUint16(b, r.ProductID)
	if r.HasAuxFirmwareRevision {
		b = append(b, r.AuxFirmwareRevision[:]...)
	}
	return b
}

// Unmarshal decodes 11 bytes, or 15 with the auxiliary firmware revision.
// A 12-14 byte body is treated as having no auxiliary revision, as ipmitool
// does.
func (r *GetDeviceIDResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get device id response", data, getDeviceIDMinLen); err != nil {
		return err
	}
	*r = GetDeviceIDResponse{
		DeviceID:                data[0],
		DeviceRevision:          data[1] & 0x0F,
		ProvidesDeviceSDRs:      data[1]&0x80 != 0,
		UpdateInProgress:        data[2]&0x80 != 0,
		FirmwareMajor:           data[2] & 0x7F,
		FirmwareMinor:           data[3],
		IPMIVersion:             data[4],
		AdditionalDeviceSupport: data[5],
		ManufacturerID:          (uint32(data[6]) | uint32(data[7])<<8 | uint32(data[8])<<16) & 0x0FFFFF,
		ProductID:               binary.LittleEndian.Uint16(data[9:11]),
	}
	if len(data) >= getDeviceIDFullLen {
		r.HasAuxFirmwareRevision = true
		copy(r.AuxFirmwareRevision[:], data[11:15])
	}
	return nil
}

// --- Get System GUID (IPMI v2.0 section 22.14, GUID format section 20.8) ---

// GetSystemGUIDRequest asks for the system GUID. It has no data.
type GetSystemGUIDRequest struct{}

func (*GetSystemGUIDRequest) Op() Op                   { return Op{wire.NetFnApp, CmdGetSystemGUID} }
func (*GetSystemGUIDRequest) AppendTo(b []byte) []byte { return b }
func (*GetSystemGUIDRequest) Unmarshal([]byte) error   { return nil }

// GUID holds the 16 GUID bytes exactly in the order the BMC sent them.
//
// Byte order. IPMI v2.0 section 20.8 sends the GUID least significant byte
// first: node (6 bytes, LS first), clock sequence (2, LS first),
// time_hi_and_version, time_mid, time_low (each LS first), i.e. the whole
// RFC 4122 big-endian byte string reversed. Many BMCs ignore this and send
// the RFC 4122 order, or the SMBIOS order (time_low, time_mid and
// time_hi_and_version little-endian, the rest big-endian). ipmitool 1.8.19
// "mc guid" therefore guesses (its GUID_AUTO mode), and String reproduces
// that guess so the exporter prints what an operator sees in ipmitool:
// it tries RFC 4122, then IPMI, then SMBIOS; every encoding whose version
// nibble is 1-5 becomes the candidate, the last such candidate wins, except
// that a time-based (version 1) candidate whose timestamp lies between 1970
// and the current year wins at once. If no encoding has a valid version,
// ipmitool dumps the 16 raw bytes as upper-case hex without dashes.
//
// Example (ipmi_sim configured with guid a123456789abcdefa123456789abcdef):
// the wire bytes a1 23 45 67 89 ab cd ef a1 23 45 67 89 ab cd ef print as
// "efcdab89-6745-23a1-efcd-ab89674523a1" (IPMI encoding, version 2).
type GUID [16]byte

// GUIDEncoding is a byte order for the GUID fields.
type GUIDEncoding uint8

const (
	// GUIDEncodingUnknown is ipmitool's dump mode: no encoding had a valid
	// version nibble.
	GUIDEncodingUnknown GUIDEncoding = iota
	GUIDEncodingRFC4122
	GUIDEncodingIPMI
	GUIDEncodingSMBIOS
)

func (e GUIDEncoding) String() string {
	switch e {
	case GUIDEncodingRFC4122:
		return "rfc4122"
	case GUIDEncodingIPMI:
		return "ipmi"
	case GUIDEncodingSMBIOS:
		return "smbios"
	}
	return "unknown"
}

// guidFields are the RFC 4122 fields of a GUID read in one encoding.
type guidFields struct {
	timeLow, timeMid, timeHiVersion, clockSeq uint64
	node                                      [6]byte
}

func (g GUID) fields(enc GUIDEncoding) guidFields {
	le16 := binary.LittleEndian.Uint16
	be16 := binary.BigEndian.Uint16
	var f guidFields
	switch enc {
	case GUIDEncodingIPMI:
		for i := range f.node {
			f.node[i] = g[5-i]
		}
		f.clockSeq = uint64(le16(g[6:8]))
		f.timeHiVersion = uint64(le16(g[8:10]))
		f.timeMid = uint64(le16(g[10:12]))
		f.timeLow = uint64(binary.LittleEndian.Uint32(g[12:16]))
	case GUIDEncodingRFC4122:
		f.timeLow = uint64(binary.BigEndian.Uint32(g[0:4]))
		f.timeMid = uint64(be16(g[4:6]))
		f.timeHiVersion = uint64(be16(g[6:8]))
		f.clockSeq = uint64(be16(g[8:10]))
		copy(f.node[:], g[10:16])
	case GUIDEncodingSMBIOS:
		f.timeLow = uint64(binary.LittleEndian.Uint32(g[0:4]))
		f.timeMid = uint64(le16(g[4:6]))
		f.timeHiVersion = uint64(le16(g[6:8]))
		f.clockSeq = uint64(be16(g[8:10]))
		copy(f.node[:], g[10:16])
	}
	return f
}

// version is the RFC 4122 version nibble.
func (f *guidFields) version() uint64 { return f.timeHiVersion >> 12 & 0x0F }

// unixSeconds converts the 60-bit count of 100 ns intervals since
// 1582-10-15 to Unix seconds.
func (f *guidFields) unixSeconds() int64 {
	const gregorianToUnix = 12219292800
	t := (f.timeHiVersion&0x0FFF)<<48 | f.timeMid<<32 | f.timeLow
	return int64(t/10_000_000) - gregorianToUnix
}

// DetectEncoding guesses the encoding the way ipmitool 1.8.19 does; now
// bounds the plausible timestamps of time-based GUIDs.
func (g GUID) DetectEncoding(now time.Time) GUIDEncoding {
	detected := GUIDEncodingUnknown
	for _, enc := range [...]GUIDEncoding{GUIDEncodingRFC4122, GUIDEncodingIPMI, GUIDEncodingSMBIOS} {
		f := g.fields(enc)
		v := f.version()
		if v < 1 || v > 5 {
			continue
		}
		detected = enc
		if v == 1 {
			year := time.Unix(f.unixSeconds(), 0).UTC().Year()
			if year >= 1970 && year <= now.UTC().Year() {
				break
			}
		}
	}
	return detected
}

// Format prints the GUID read in the given encoding, in the canonical
// 8-4-4-4-12 lower-case form; GUIDEncodingUnknown gives the 32 upper-case
// hex digits of the raw bytes (ipmitool's dump).
func (g GUID) Format(enc GUIDEncoding) string {
	if enc == GUIDEncodingUnknown || enc > GUIDEncodingSMBIOS {
		return fmt.Sprintf("%X", g[:])
	}
	f := g.fields(enc)
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%x", f.timeLow, f.timeMid, f.timeHiVersion, f.clockSeq, f.node[:])
}

// String prints the GUID as ipmitool 1.8.19 "mc guid" does by default.
func (g GUID) String() string { return g.Format(g.DetectEncoding(time.Now())) }

// GetSystemGUIDResponse is the Get System GUID response.
type GetSystemGUIDResponse struct {
	GUID GUID
}

const guidLen = 16

func (r *GetSystemGUIDResponse) AppendTo(b []byte) []byte { return append(b, r.GUID[:]...) }

// Unmarshal requires exactly 16 bytes: ipmitool rejects any other length,
// and a longer body means the BMC is sending something else.
func (r *GetSystemGUIDResponse) Unmarshal(data []byte) error {
	if len(data) < guidLen {
		return short("get system guid response", len(data), guidLen)
	}
	if len(data) > guidLen {
		return malformed("get system guid response", "%d bytes, want %d", len(data), guidLen)
	}
	copy(r.GUID[:], data)
	return nil
}

// --- Get Session Info (IPMI v2.0 section 22.20) ---

// Session index selectors of Get Session Info; 1..N address the Nth
// active session.
const (
	SessionIndexCurrent  uint8 = 0x00
	SessionIndexByHandle uint8 = 0xFE
	SessionIndexByID     uint8 = 0xFF
)

// GetSessionInfoRequest selects a session by index, handle or ID.
type GetSessionInfoRequest struct {
	SessionIndex  uint8  // SessionIndex* or N
	SessionHandle uint8  // sent only with SessionIndexByHandle
	SessionID     uint32 // sent only with SessionIndexByID
}

func (*GetSessionInfoRequest) Op() Op { return Op{wire.NetFnApp, CmdGetSessionInfo} }

func (r *GetSessionInfoRequest) AppendTo(b []byte) []byte {
	b = append(b, r.SessionIndex)
	switch r.SessionIndex {
	case SessionIndexByHandle:
		b = append(b, r.SessionHandle)
	case SessionIndexByID:
		b = binary.LittleEndian.AppendUint32(b, r.SessionID)
	}
	return b
}

func (r *GetSessionInfoRequest) Unmarshal(data []byte) error {
	const what = "get session info request"
	if err := checkFixedLen(what, data, 1); err != nil {
		return err
	}
	*r = GetSessionInfoRequest{SessionIndex: data[0]}
	switch r.SessionIndex {
	case SessionIndexByHandle:
		if err := checkFixedLen(what, data, 2); err != nil {
			return err
		}
		r.SessionHandle = data[1]
	case SessionIndexByID:
		if err := checkFixedLen(what, data, 5); err != nil {
			return err
		}
		r.SessionID = binary.LittleEndian.Uint32(data[1:5])
	}
	return nil
}

// GetSessionInfoResponse is the Get Session Info response. A response for
// an index with no active session carries only the first three fields.
type GetSessionInfoResponse struct {
	SessionHandle  uint8 // 0 when no session is active at that index
	MaxSessions    uint8 // possible active sessions (slots), 6 bits
	ActiveSessions uint8 // currently active sessions, 6 bits

	// HasSession reports whether the session fields below were present.
	HasSession bool
	UserID     uint8 // 6 bits
	Privilege  wire.PrivilegeLevel
	// ProtocolAux is the session protocol auxiliary data; for LAN channels
	// 0 means an IPMI v1.5 session, 1 an IPMI v2.0/RMCP+ session.
	ProtocolAux uint8
	Channel     uint8
	// ChannelData holds the channel-type specific trailer (for 802.3 LAN:
	// console IP, MAC and port; see LANSession). Owned by the response.
	ChannelData []byte
}

// sessionInfoLANDataLen is the 802.3 LAN trailer: IP (4), MAC (6), port (2).
const sessionInfoLANDataLen = 12

// LANSession decodes an 802.3 LAN trailer: the remote console's IPv4
// address, MAC address and UDP port. ok is false when the trailer is not
// the 12-byte LAN form.
func (r *GetSessionInfoResponse) LANSession() (ip [4]byte, mac [6]byte, port uint16, ok bool) {
	if len(r.ChannelData) != sessionInfoLANDataLen {
		return ip, mac, 0, false
	}
	copy(ip[:], r.ChannelData[0:4])
	copy(mac[:], r.ChannelData[4:10])
	// The port is LS byte first (ipmitool reads it as little-endian).
	return ip, mac, binary.LittleEndian.Uint16(r.ChannelData[10:12]), true
}

func (r *GetSessionInfoResponse) AppendTo(b []byte) []byte {
	b = append(b, r.SessionHandle, r.MaxSessions&0x3F, r.ActiveSessions&0x3F)
	if !r.HasSession {
		return b
	}
	b = append(b, r.UserID&0x3F, uint8(r.Privilege)&0x0F, r.ProtocolAux<<4|r.Channel&0x0F)
	return append(b, r.ChannelData...)
}

func (r *GetSessionInfoResponse) Unmarshal(data []byte) error {
	const what = "get session info response"
	if err := checkFixedLen(what, data, 3); err != nil {
		return err
	}
	channelData := r.ChannelData[:0]
	*r = GetSessionInfoResponse{
		SessionHandle:  data[0],
		MaxSessions:    data[1] & 0x3F,
		ActiveSessions: data[2] & 0x3F,
	}
	if len(data) == 3 {
		return nil
	}
	if err := checkFixedLen(what, data, 6); err != nil {
		return err
	}
	r.HasSession = true
	r.UserID = data[3] & 0x3F
	r.Privilege = wire.PrivilegeLevel(data[4] & 0x0F)
	r.ProtocolAux = data[5] >> 4
	r.Channel = data[5] & 0x0F
	r.ChannelData = append(channelData, data[6:]...)
	return nil
}
