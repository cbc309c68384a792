// Package sel decodes and encodes System Event Log entries (IPMI v2.0
// section 32), judges and describes them, and reads a SEL incrementally:
// only the entries added since the last read.
package sel

import (
	"encoding/binary"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// RecordType is the SEL record type byte.
type RecordType uint8

const (
	TypeSystemEvent RecordType = 0x02
	// C0h-DFh: OEM timestamped; E0h-FFh: OEM non-timestamped.
	TypeOEMTimestampedFirst    RecordType = 0xC0
	TypeOEMTimestampedLast     RecordType = 0xDF
	TypeOEMNonTimestampedFirst RecordType = 0xE0
)

// IsOEMTimestamped reports the range C0h-DFh.
func (t RecordType) IsOEMTimestamped() bool {
	return t >= TypeOEMTimestampedFirst && t <= TypeOEMTimestampedLast
}

// IsOEMNonTimestamped reports the range E0h-FFh.
func (t RecordType) IsOEMNonTimestamped() bool { return t >= TypeOEMNonTimestampedFirst }

// EntryLen is the size of every SEL entry.
const EntryLen = command.SELEntryLen

// Entry is one decoded SEL entry.
type Entry interface {
	ID() uint16
	Type() RecordType
	// AppendTo appends the 16-byte entry.
	AppendTo(b []byte) []byte
	// Severity judges the entry (see SystemEvent.Severity); OEM and
	// unknown entries are sdr.Unknown.
	Severity() sdr.Severity
	// Description is a one-line text in the style of "ipmitool sel elist".
	Description() string
}

// ParseEntry decodes the 16-byte entry at the start of b; bytes after it
// are ignored. Record types other than 02h and the OEM ranges decode to
// *UnknownEntry.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) < EntryLen {
		return nil, fmt.Errorf("sel: entry: %d bytes, need %d: %w", len(b), EntryLen, wire.ErrShort)
	}
	id, t := binary.LittleEndian.Uint16(b), RecordType(b[2])
	switch {
	case t == TypeSystemEvent:
		return &SystemEvent{
			RecordID:     id,
			Timestamp:    command.Timestamp(binary.LittleEndian.Uint32(b[3:])),
			Generator:    sdr.DecodeOwner(b[7], b[8]),
			EvMRev:       b[9],
			SensorType:   sdr.SensorType(b[10]),
			SensorNumber: b[11],
			Deassertion:  b[12]&0x80 != 0,
			EventType:    sdr.EventReadingType(b[12] & 0x7F),
			EventData:    [3]uint8{b[13], b[14], b[15]},
		}, nil
	case t.IsOEMTimestamped():
		e := &OEMTimestamped{
			RecordID:       id,
			RecordType:     t,
			Timestamp:      command.Timestamp(binary.LittleEndian.Uint32(b[3:])),
			ManufacturerID: uint32(b[7]) | uint32(b[8])<<8 | uint32(b[9])<<16,
		}
		copy(e.Data[:], b[10:16])
		return e, nil
	case t.IsOEMNonTimestamped():
		e := &OEMNonTimestamped{RecordID: id, RecordType: t}
		copy(e.Data[:], b[3:16])
		return e, nil
	}
	e := &UnknownEntry{RecordID: id, RecordType: t}
	copy(e.Data[:], b[3:16])
	return e, nil
}

// EvMRevIPMI2 is the event message format revision of IPMI 1.5 and 2.0
// events (03h marks IPMI 1.0 events).
const EvMRevIPMI2 = 0x04

// SystemEvent is a system event record (type 02h): a sensor event as the
// event receiver logged it.
type SystemEvent struct {
	RecordID  uint16
	Timestamp command.Timestamp
	// Generator is the generator ID: the controller (IPMB slave address,
	// channel, LUN) or the system software ID that sent the event.
	Generator    sdr.Owner
	EvMRev       uint8
	SensorType   sdr.SensorType
	SensorNumber uint8
	Deassertion  bool // event direction: false = assertion
	EventType    sdr.EventReadingType
	// EventData: byte 1 holds the offset (bits 3:0) and what bytes 2 and 3
	// mean (bits 7:6 and 5:4); for threshold events byte 2 is the trigger
	// reading and byte 3 the trigger threshold when so flagged.
	EventData [3]uint8
}

func (e *SystemEvent) ID() uint16       { return e.RecordID }
func (e *SystemEvent) Type() RecordType { return TypeSystemEvent }

func (e *SystemEvent) AppendTo(b []byte) []byte {
	gen, genLUN := e.Generator.Bytes()
	dirType := uint8(e.EventType) & 0x7F
	if e.Deassertion {
		dirType |= 0x80
	}
	b = binary.LittleEndian.AppendUint16(b, e.RecordID)
	b = append(b, uint8(TypeSystemEvent))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Timestamp))
	return append(b, gen, genLUN, e.EvMRev, uint8(e.SensorType), e.SensorNumber, dirType,
		e.EventData[0], e.EventData[1], e.EventData[2])
}

// Offset returns the event offset: the state (bit number) the event is
// about.
func (e *SystemEvent) Offset() uint8 { return e.EventData[0] & 0x0F }

// Event data byte 2 and 3 usage codes (bits 7:6 and 5:4 of byte 1).
const (
	DataUnspecified    = 0
	DataTrigger        = 1 // threshold: trigger reading / threshold; discrete: previous state and severity
	DataOEM            = 2
	DataSensorSpecific = 3 // sensor-specific extension code
)

// Data2Usage returns what event data byte 2 holds (Data* constants).
func (e *SystemEvent) Data2Usage() uint8 { return e.EventData[0] >> 6 }

// Data3Usage returns what event data byte 3 holds (Data* constants).
func (e *SystemEvent) Data3Usage() uint8 { return (e.EventData[0] >> 4) & 0x03 }

// OEMTimestamped is an OEM timestamped record (types C0h-DFh). Its
// description follows ipmitool: "OEM record c0 | 001291 | deadbeef0102".
type OEMTimestamped struct {
	RecordID       uint16
	RecordType     RecordType
	Timestamp      command.Timestamp
	ManufacturerID uint32 // IANA enterprise number, 3 bytes
	Data           [6]uint8
}

func (e *OEMTimestamped) ID() uint16             { return e.RecordID }
func (e *OEMTimestamped) Type() RecordType       { return e.RecordType }
func (e *OEMTimestamped) Severity() sdr.Severity { return sdr.Unknown }

func (e *OEMTimestamped) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, e.RecordID)
	b = append(b, uint8(e.RecordType))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Timestamp))
	b = append(b, uint8(e.ManufacturerID), uint8(e.ManufacturerID>>8), uint8(e.ManufacturerID>>16))
	return append(b, e.Data[:]...)
}

func (e *OEMTimestamped) Description() string {
	return fmt.Sprintf("OEM record %02x | %06x | %x", uint8(e.RecordType), e.ManufacturerID, e.Data[:])
}

// OEMNonTimestamped is an OEM record without timestamp (types E0h-FFh).
type OEMNonTimestamped struct {
	RecordID   uint16
	RecordType RecordType
	Data       [13]uint8
}

func (e *OEMNonTimestamped) ID() uint16             { return e.RecordID }
func (e *OEMNonTimestamped) Type() RecordType       { return e.RecordType }
func (e *OEMNonTimestamped) Severity() sdr.Severity { return sdr.Unknown }

func (e *OEMNonTimestamped) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, e.RecordID)
	b = append(b, uint8(e.RecordType))
	return append(b, e.Data[:]...)
}

func (e *OEMNonTimestamped) Description() string {
	return fmt.Sprintf("OEM record %02x | %x", uint8(e.RecordType), e.Data[:])
}

// UnknownEntry keeps an entry of an undefined record type byte for byte.
type UnknownEntry struct {
	RecordID   uint16
	RecordType RecordType
	Data       [13]uint8
}

func (e *UnknownEntry) ID() uint16             { return e.RecordID }
func (e *UnknownEntry) Type() RecordType       { return e.RecordType }
func (e *UnknownEntry) Severity() sdr.Severity { return sdr.Unknown }

func (e *UnknownEntry) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, e.RecordID)
	b = append(b, uint8(e.RecordType))
	return append(b, e.Data[:]...)
}

func (e *UnknownEntry) Description() string {
	return fmt.Sprintf("Unknown record type %02x | %x", uint8(e.RecordType), e.Data[:])
}
