package command

import (
	"encoding/binary"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// SDR repository commands (storage netFn, IPMI v2.0 section 33) and the
// device SDR commands (sensor/event netFn, section 35) that satellite
// controllers and BMCs without a repository answer instead.
const (
	CmdGetSDRRepositoryInfo       uint8 = 0x20 // storage
	CmdReserveSDRRepository       uint8 = 0x22 // storage
	CmdGetSDR                     uint8 = 0x23 // storage
	CmdGetDeviceSDRInfo           uint8 = 0x20 // sensor/event
	CmdGetDeviceSDR               uint8 = 0x21 // sensor/event
	CmdReserveDeviceSDRRepository uint8 = 0x22 // sensor/event
)

// SDRVersion is the SDR/SEL version byte IPMI 1.5 and 2.0 devices report
// (BCD 51h = version 1.5 of the record format).
const SDRVersion = 0x51

// ReadWholeRecord as "bytes to read" asks Get SDR / Get SEL Entry for the
// entire record from the offset on.
const ReadWholeRecord = 0xFF

// FirstRecordID and LastRecordID are the special record IDs of the SDR
// repository and the SEL: 0000h addresses the first record, FFFFh the last
// (and, as a "next record ID", means there is none).
const (
	FirstRecordID uint16 = 0x0000
	LastRecordID  uint16 = 0xFFFF
)

// Timestamp is an IPMI timestamp: seconds since 1970-01-01 UTC, except that
// values up to 0x20000000 count seconds since controller initialization and
// 0xFFFFFFFF means "unspecified" (IPMI v2.0 section 37).
type Timestamp uint32

// TimestampUnspecified is the "no timestamp" value.
const TimestampUnspecified Timestamp = 0xFFFFFFFF

// timestampPreInitMax is the largest value that counts from controller init.
const timestampPreInitMax Timestamp = 0x20000000

// IsUnspecified reports whether t is the "unspecified" value.
func (t Timestamp) IsUnspecified() bool { return t == TimestampUnspecified }

// IsRelative reports whether t counts seconds since controller
// initialization rather than since the epoch.
func (t Timestamp) IsRelative() bool { return t <= timestampPreInitMax }

// SDRRepositorySupport is the operation support byte of Get SDR Repository Info.
type SDRRepositorySupport uint8

// Overflow reports that an Add SDR failed for lack of space.
func (s SDRRepositorySupport) Overflow() bool { return s&0x80 != 0 }

// UpdateModes returns bits 6:5: 0 unspecified, 1 non-modal, 2 modal, 3 both.
func (s SDRRepositorySupport) UpdateModes() uint8 { return uint8(s>>5) & 0x03 }

// DeleteSupported reports Delete SDR support.
func (s SDRRepositorySupport) DeleteSupported() bool { return s&0x08 != 0 }

// PartialAddSupported reports Partial Add SDR support.
func (s SDRRepositorySupport) PartialAddSupported() bool { return s&0x04 != 0 }

// ReserveSupported reports Reserve SDR Repository support.
func (s SDRRepositorySupport) ReserveSupported() bool { return s&0x02 != 0 }

// AllocInfoSupported reports Get SDR Repository Allocation Info support.
func (s SDRRepositorySupport) AllocInfoSupported() bool { return s&0x01 != 0 }

// GetSDRRepositoryInfoRequest asks for the repository's size and timestamps.
type GetSDRRepositoryInfoRequest struct{}

func (GetSDRRepositoryInfoRequest) Op() Op {
	return Op{NetFn: wire.NetFnStorage, Cmd: CmdGetSDRRepositoryInfo}
}
func (GetSDRRepositoryInfoRequest) AppendTo(b []byte) []byte { return b }
func (GetSDRRepositoryInfoRequest) Unmarshal(data []byte) error {
	return sdrNoRequestData("get SDR repository info request", data)
}

// GetSDRRepositoryInfoResponse describes the SDR repository. The exporter
// keeps LastAddition and LastErase to re-walk the repository only when one
// of them changes.
type GetSDRRepositoryInfoResponse struct {
	Version      uint8  // SDRVersion
	RecordCount  uint16 // number of records
	FreeSpace    uint16 // bytes free; 0xFFFF = unspecified
	LastAddition Timestamp
	LastErase    Timestamp
	Support      SDRRepositorySupport
}

const sdrRepositoryInfoLen = 14

func (r *GetSDRRepositoryInfoResponse) AppendTo(b []byte) []byte {
	b = append(b, r.Version)
	b = binary.LittleEndian.AppendUint16(b, r.RecordCount)
	b = binary.LittleEndian.AppendUint16(b, r.FreeSpace)
	b = binary.LittleEndian.AppendUint32(b, uint32(r.LastAddition))
	b = binary.LittleEndian.AppendUint32(b, uint32(r.LastErase))
	return append(b, uint8(r.Support))
}

func (r *GetSDRRepositoryInfoResponse) Unmarshal(data []byte) error {
	if len(data) < sdrRepositoryInfoLen {
		return short("get SDR repository info response", len(data), sdrRepositoryInfoLen)
	}
	*r = GetSDRRepositoryInfoResponse{
		Version:      data[0],
		RecordCount:  binary.LittleEndian.Uint16(data[1:]),
		FreeSpace:    binary.LittleEndian.Uint16(data[3:]),
		LastAddition: Timestamp(binary.LittleEndian.Uint32(data[5:])),
		LastErase:    Timestamp(binary.LittleEndian.Uint32(data[9:])),
		Support:      SDRRepositorySupport(data[13]),
	}
	return nil
}

// ReserveSDRRepositoryRequest obtains a reservation ID for partial Get SDR
// reads. Any change to the repository cancels the reservation (0xC5).
type ReserveSDRRepositoryRequest struct{}

func (ReserveSDRRepositoryRequest) Op() Op {
	return Op{NetFn: wire.NetFnStorage, Cmd: CmdReserveSDRRepository}
}
func (ReserveSDRRepositoryRequest) AppendTo(b []byte) []byte { return b }
func (ReserveSDRRepositoryRequest) Unmarshal(data []byte) error {
	return sdrNoRequestData("reserve SDR repository request", data)
}

// ReservationResponse carries a reservation ID; Reserve SDR Repository,
// Reserve Device SDR Repository and Reserve SEL all answer with one.
type ReservationResponse struct {
	ReservationID uint16
}

func (r *ReservationResponse) AppendTo(b []byte) []byte {
	return binary.LittleEndian.AppendUint16(b, r.ReservationID)
}

func (r *ReservationResponse) Unmarshal(data []byte) error {
	if len(data) < 2 {
		return short("reservation response", len(data), 2)
	}
	r.ReservationID = binary.LittleEndian.Uint16(data)
	return nil
}

// ReserveSDRRepositoryResponse is the answer to ReserveSDRRepositoryRequest.
type ReserveSDRRepositoryResponse = ReservationResponse

// recordRead is the request body shared by Get SDR, Get Device SDR and Get
// SEL Entry: reservation ID, record ID, offset into the record, bytes to read.
type recordRead struct {
	ReservationID uint16
	RecordID      uint16
	Offset        uint8
	Length        uint8 // ReadWholeRecord = the entire record
}

func (r recordRead) appendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, r.ReservationID)
	b = binary.LittleEndian.AppendUint16(b, r.RecordID)
	return append(b, r.Offset, r.Length)
}

func (r *recordRead) unmarshal(what string, data []byte) error {
	if len(data) != 6 {
		if len(data) < 6 {
			return short(what, len(data), 6)
		}
		return malformed(what, "%d bytes, want 6", len(data))
	}
	r.ReservationID = binary.LittleEndian.Uint16(data)
	r.RecordID = binary.LittleEndian.Uint16(data[2:])
	r.Offset = data[4]
	r.Length = data[5]
	return nil
}

// recordData is the response body shared by Get SDR, Get Device SDR and Get
// SEL Entry: the next record ID, then the requested bytes.
type recordData struct {
	NextRecordID uint16
	Data         []byte // copied from the response; reused across Unmarshal calls
}

func (r *recordData) appendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, r.NextRecordID)
	return append(b, r.Data...)
}

func (r *recordData) unmarshal(what string, data []byte) error {
	if len(data) < 2 {
		return short(what, len(data), 2)
	}
	r.NextRecordID = binary.LittleEndian.Uint16(data)
	// Reuse our own buffer: the walk decodes thousands of these per scrape.
	r.Data = append(r.Data[:0], data[2:]...)
	return nil
}

// GetSDRRequest reads Length bytes of record RecordID from Offset.
// ReservationID may be 0 only when reading a whole record from offset 0.
type GetSDRRequest struct {
	ReservationID uint16
	RecordID      uint16
	Offset        uint8
	Length        uint8 // ReadWholeRecord = the entire record
}

func (GetSDRRequest) Op() Op { return Op{NetFn: wire.NetFnStorage, Cmd: CmdGetSDR} }

func (r *GetSDRRequest) AppendTo(b []byte) []byte { return recordRead(*r).appendTo(b) }

func (r *GetSDRRequest) Unmarshal(data []byte) error {
	return (*recordRead)(r).unmarshal("get SDR request", data)
}

// GetSDRResponse is the next record ID and the bytes read. Data is a copy
// that the next Unmarshal into the same value overwrites.
type GetSDRResponse struct {
	NextRecordID uint16
	Data         []byte
}

func (r *GetSDRResponse) AppendTo(b []byte) []byte { return (*recordData)(r).appendTo(b) }

func (r *GetSDRResponse) Unmarshal(data []byte) error {
	return (*recordData)(r).unmarshal("get SDR response", data)
}

// GetDeviceSDRInfoRequest asks a controller for its sensor count, or with
// CountSDRs for its device SDR count. IPMI 1.0 controllers reject the
// optional operation byte, so it is sent only when CountSDRs is set.
type GetDeviceSDRInfoRequest struct {
	CountSDRs bool
}

func (GetDeviceSDRInfoRequest) Op() Op {
	return Op{NetFn: wire.NetFnSensorEvent, Cmd: CmdGetDeviceSDRInfo}
}

func (r *GetDeviceSDRInfoRequest) AppendTo(b []byte) []byte {
	if r.CountSDRs {
		return append(b, 0x01)
	}
	return b
}

func (r *GetDeviceSDRInfoRequest) Unmarshal(data []byte) error {
	switch len(data) {
	case 0:
		r.CountSDRs = false
	case 1:
		r.CountSDRs = data[0]&0x01 != 0
	default:
		return malformed("get device SDR info request", "%d bytes, want 0 or 1", len(data))
	}
	return nil
}

// GetDeviceSDRInfoResponse reports the sensor (or SDR) count of a
// controller. ChangeIndicator is the sensor population change timestamp,
// present when Dynamic is set.
type GetDeviceSDRInfoResponse struct {
	Count           uint8
	Dynamic         bool  // sensor population may change at run time
	LUNsWithSensors uint8 // bit n set: LUN n has sensors
	ChangeIndicator Timestamp
}

func (r *GetDeviceSDRInfoResponse) AppendTo(b []byte) []byte {
	flags := r.LUNsWithSensors & 0x0F
	if r.Dynamic {
		flags |= 0x80
	}
	b = append(b, r.Count, flags)
	if r.Dynamic || r.ChangeIndicator != 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(r.ChangeIndicator))
	}
	return b
}

func (r *GetDeviceSDRInfoResponse) Unmarshal(data []byte) error {
	if len(data) < 2 {
		return short("get device SDR info response", len(data), 2)
	}
	*r = GetDeviceSDRInfoResponse{
		Count:           data[0],
		Dynamic:         data[1]&0x80 != 0,
		LUNsWithSensors: data[1] & 0x0F,
	}
	// Some controllers with a static population still send the four
	// indicator bytes; some dynamic ones omit them. Take them when present.
	if len(data) >= 6 {
		r.ChangeIndicator = Timestamp(binary.LittleEndian.Uint32(data[2:]))
	}
	return nil
}

// GetDeviceSDRRequest is Get SDR for a controller's device SDRs.
type GetDeviceSDRRequest struct {
	ReservationID uint16
	RecordID      uint16
	Offset        uint8
	Length        uint8
}

func (GetDeviceSDRRequest) Op() Op { return Op{NetFn: wire.NetFnSensorEvent, Cmd: CmdGetDeviceSDR} }

func (r *GetDeviceSDRRequest) AppendTo(b []byte) []byte { return recordRead(*r).appendTo(b) }

func (r *GetDeviceSDRRequest) Unmarshal(data []byte) error {
	return (*recordRead)(r).unmarshal("get device SDR request", data)
}

// GetDeviceSDRResponse has the layout of GetSDRResponse.
type GetDeviceSDRResponse struct {
	NextRecordID uint16
	Data         []byte
}

func (r *GetDeviceSDRResponse) AppendTo(b []byte) []byte { return (*recordData)(r).appendTo(b) }

func (r *GetDeviceSDRResponse) Unmarshal(data []byte) error {
	return (*recordData)(r).unmarshal("get device SDR response", data)
}

// ReserveDeviceSDRRepositoryRequest reserves a controller's device SDRs.
type ReserveDeviceSDRRepositoryRequest struct{}

func (ReserveDeviceSDRRepositoryRequest) Op() Op {
	return Op{NetFn: wire.NetFnSensorEvent, Cmd: CmdReserveDeviceSDRRepository}
}
func (ReserveDeviceSDRRepositoryRequest) AppendTo(b []byte) []byte { return b }
func (ReserveDeviceSDRRepositoryRequest) Unmarshal(data []byte) error {
	return sdrNoRequestData("reserve device SDR repository request", data)
}

// ReserveDeviceSDRRepositoryResponse is the answer to
// ReserveDeviceSDRRepositoryRequest.
type ReserveDeviceSDRRepositoryResponse = ReservationResponse

// sdrNoRequestData rejects data for commands that take none, so the
// simulator can answer 0xC7 like a real BMC.
func sdrNoRequestData(what string, data []byte) error {
	if len(data) != 0 {
		return malformed(what, "%d unexpected data bytes", len(data))
	}
	return nil
}
