package command

import (
	"encoding/binary"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// SEL commands (storage netFn, IPMI v2.0 section 31).
const (
	CmdGetSELInfo  uint8 = 0x40
	CmdReserveSEL  uint8 = 0x42
	CmdGetSELEntry uint8 = 0x43
)

// SELEntryLen is the size of every SEL record.
const SELEntryLen = 16

// SELSupport is the operation support byte of Get SEL Info.
type SELSupport uint8

// Overflow reports that events were dropped because the SEL was full.
func (s SELSupport) Overflow() bool { return s&0x80 != 0 }

// DeleteSupported reports Delete SEL Entry support.
func (s SELSupport) DeleteSupported() bool { return s&0x08 != 0 }

// PartialAddSupported reports Partial Add SEL Entry support.
func (s SELSupport) PartialAddSupported() bool { return s&0x04 != 0 }

// ReserveSupported reports Reserve SEL support.
func (s SELSupport) ReserveSupported() bool { return s&0x02 != 0 }

// AllocInfoSupported reports Get SEL Allocation Info support.
func (s SELSupport) AllocInfoSupported() bool { return s&0x01 != 0 }

// GetSELInfoRequest asks for the SEL's size and timestamps.
type GetSELInfoRequest struct{}

func (GetSELInfoRequest) Op() Op                   { return Op{NetFn: wire.NetFnStorage, Cmd: CmdGetSELInfo} }
func (GetSELInfoRequest) AppendTo(b []byte) []byte { return b }
func (GetSELInfoRequest) Unmarshal(data []byte) error {
	return sdrNoRequestData("get SEL info request", data)
}

// GetSELInfoResponse describes the SEL. LastErase changes when the SEL is
// cleared, which is how an incremental reader notices it must start over.
type GetSELInfoResponse struct {
	Version      uint8  // SDRVersion (51h)
	Entries      uint16 // number of log entries
	FreeSpace    uint16 // bytes free
	LastAddition Timestamp
	LastErase    Timestamp
	Support      SELSupport
}

const selInfoLen = 14

func (r *GetSELInfoResponse) AppendTo(b []byte) []byte {
	b = append(b, r.Version)
	b = binary.LittleEndian.AppendUint16(b, r.Entries)
	b = binary.LittleEndian.AppendUint16(b, r.FreeSpace)
	b = binary.LittleEndian.AppendUint32(b, uint32(r.LastAddition))
	b = binary.LittleEndian.AppendUint32(b, uint32(r.LastErase))
	return append(b, uint8(r.Support))
}

func (r *GetSELInfoResponse) Unmarshal(data []byte) error {
	if len(data) < selInfoLen {
		return short("get SEL info response", len(data), selInfoLen)
	}
	*r = GetSELInfoResponse{
		Version:      data[0],
		Entries:      binary.LittleEndian.Uint16(data[1:]),
		FreeSpace:    binary.LittleEndian.Uint16(data[3:]),
		LastAddition: Timestamp(binary.LittleEndian.Uint32(data[5:])),
		LastErase:    Timestamp(binary.LittleEndian.Uint32(data[9:])),
		Support:      SELSupport(data[13]),
	}
	return nil
}

// ReserveSELRequest obtains a SEL reservation ID. Clearing the SEL or adding
// an entry may cancel it (0xC5).
type ReserveSELRequest struct{}

func (ReserveSELRequest) Op() Op                   { return Op{NetFn: wire.NetFnStorage, Cmd: CmdReserveSEL} }
func (ReserveSELRequest) AppendTo(b []byte) []byte { return b }
func (ReserveSELRequest) Unmarshal(data []byte) error {
	return sdrNoRequestData("reserve SEL request", data)
}

// ReserveSELResponse is the answer to ReserveSELRequest.
type ReserveSELResponse = ReservationResponse

// GetSELEntryRequest reads Length bytes of entry RecordID from Offset.
type GetSELEntryRequest struct {
	ReservationID uint16
	RecordID      uint16 // FirstRecordID, LastRecordID or an ID
	Offset        uint8
	Length        uint8 // ReadWholeRecord = the entire entry
}

func (GetSELEntryRequest) Op() Op { return Op{NetFn: wire.NetFnStorage, Cmd: CmdGetSELEntry} }

func (r *GetSELEntryRequest) AppendTo(b []byte) []byte { return recordRead(*r).appendTo(b) }

func (r *GetSELEntryRequest) Unmarshal(data []byte) error {
	return (*recordRead)(r).unmarshal("get SEL entry request", data)
}

// GetSELEntryResponse is the next record ID and the entry bytes read.
type GetSELEntryResponse struct {
	NextRecordID uint16
	Data         []byte
}

func (r *GetSELEntryResponse) AppendTo(b []byte) []byte { return (*recordData)(r).appendTo(b) }

func (r *GetSELEntryResponse) Unmarshal(data []byte) error {
	return (*recordData)(r).unmarshal("get SEL entry response", data)
}
