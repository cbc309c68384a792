package sdr

import (
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// RecordType is the SDR record type byte (IPMI v2.0 table 43-1 and following).
type RecordType uint8

const (
	TypeFullSensor                RecordType = 0x01
	TypeCompactSensor             RecordType = 0x02
	TypeEventOnlySensor           RecordType = 0x03
	TypeEntityAssociation         RecordType = 0x08
	TypeDeviceRelativeEntityAssoc RecordType = 0x09
	TypeGenericDeviceLocator      RecordType = 0x10
	TypeFRUDeviceLocator          RecordType = 0x11
	TypeMCDeviceLocator           RecordType = 0x12
	TypeMCConfirmation            RecordType = 0x13
	TypeBMCMessageChannelInfo     RecordType = 0x14
	TypeOEM                       RecordType = 0xC0
)

var recordTypeNames = map[RecordType]string{
	TypeFullSensor:                "full sensor",
	TypeCompactSensor:             "compact sensor",
	TypeEventOnlySensor:           "event-only sensor",
	TypeEntityAssociation:         "entity association",
	TypeDeviceRelativeEntityAssoc: "device-relative entity association",
	TypeGenericDeviceLocator:      "generic device locator",
	TypeFRUDeviceLocator:          "FRU device locator",
	TypeMCDeviceLocator:           "management controller device locator",
	TypeMCConfirmation:            "management controller confirmation",
	TypeBMCMessageChannelInfo:     "BMC message channel info",
	TypeOEM:                       "OEM",
}

func (t RecordType) String() string {
	if s, ok := recordTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("record type 0x%02x", uint8(t))
}

// HeaderLen is the size of the record header: record ID (2), SDR version,
// record type, record length (of the rest).
const HeaderLen = 5

// Header is what every record starts with. The record type and length are
// implied by the record's Go type and content, so they are not fields.
type Header struct {
	RecordID uint16
	Version  uint8 // command.SDRVersion (51h) for IPMI 1.5/2.0 records
}

// ID returns the record ID.
func (h Header) ID() uint16 { return h.RecordID }

// Record is one decoded SDR.
type Record interface {
	ID() uint16
	Type() RecordType
	// AppendTo appends the whole record, header included, with the
	// record length computed from the content.
	AppendTo(b []byte) []byte
}

// RecordLen returns the total length (header included) of the record at the
// start of b as its header declares it.
func RecordLen(b []byte) (int, error) {
	if len(b) < HeaderLen {
		return 0, fmt.Errorf("sdr: record header: %d bytes, need %d: %w", len(b), HeaderLen, wire.ErrShort)
	}
	return HeaderLen + int(b[4]), nil
}

// ParseRecord decodes the record at the start of b. Bytes after the length
// the header declares are ignored. Unknown and OEM record types decode to
// *UnknownRecord; only a record that is too short for its declared type (or
// for its declared length) is an error.
func ParseRecord(b []byte) (Record, error) {
	n, err := RecordLen(b)
	if err != nil {
		return nil, err
	}
	if len(b) < n {
		return nil, fmt.Errorf("sdr: record 0x%04x: %d bytes, header declares %d: %w",
			le16(b), len(b), n, wire.ErrShort)
	}
	b = b[:n]
	switch RecordType(b[3]) {
	case TypeFullSensor:
		return parseFull(b)
	case TypeCompactSensor:
		return parseCompact(b)
	case TypeEventOnlySensor:
		return parseEventOnly(b)
	case TypeGenericDeviceLocator:
		return parseGenericLocator(b)
	case TypeFRUDeviceLocator:
		return parseFRULocator(b)
	case TypeMCDeviceLocator:
		return parseMCLocator(b)
	}
	return parseUnknown(b), nil
}

// UnknownRecord keeps a record this package does not model, byte for byte.
type UnknownRecord struct {
	Header
	RecordType RecordType
	Body       []byte // the bytes after the header
}

func parseUnknown(b []byte) *UnknownRecord {
	return &UnknownRecord{
		Header:     Header{RecordID: le16(b), Version: b[2]},
		RecordType: RecordType(b[3]),
		Body:       append([]byte(nil), b[HeaderLen:]...),
	}
}

func (r *UnknownRecord) Type() RecordType { return r.RecordType }

func (r *UnknownRecord) AppendTo(b []byte) []byte {
	start, b := appendHeader(b, r.Header, r.RecordType)
	b = append(b, r.Body...)
	return finishRecord(b, start)
}

// appendHeader appends a header with a placeholder length and returns the
// offset where the record starts, for finishRecord.
func appendHeader(b []byte, h Header, t RecordType) (int, []byte) {
	start := len(b)
	return start, append(b, uint8(h.RecordID), uint8(h.RecordID>>8), h.Version, uint8(t), 0)
}

// finishRecord fills in the record length byte of the record at start.
func finishRecord(b []byte, start int) []byte {
	b[start+4] = uint8(len(b) - start - HeaderLen)
	return b
}

// parseHeaderFor checks that record b has at least min bytes (header
// included) for its type, and returns the header.
func parseHeaderFor(b []byte, min int) (Header, error) {
	h := Header{RecordID: le16(b), Version: b[2]}
	if len(b) < min {
		return h, fmt.Errorf("sdr: %s record 0x%04x: %d bytes, need %d: %w",
			RecordType(b[3]), h.RecordID, len(b), min, wire.ErrShort)
	}
	return h, nil
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

// Owner is the controller that owns a sensor: the sensor owner ID and LUN
// bytes of the sensor records, also used for event generators.
type Owner struct {
	// Address is the 7-bit IPMB slave address, or the system software ID
	// when SoftwareID is set.
	Address    uint8
	SoftwareID bool
	Channel    uint8 // 4 bits; 0 = primary IPMB
	LUN        uint8 // 2 bits
}

// DecodeOwner decodes the owner ID byte and the owner LUN byte.
func DecodeOwner(id, lun uint8) Owner {
	return Owner{Address: id >> 1, SoftwareID: id&1 != 0, Channel: lun >> 4, LUN: lun & 0x03}
}

// Bytes returns the owner ID byte and the owner LUN byte.
func (o Owner) Bytes() (id, lun uint8) {
	id = o.Address << 1
	if o.SoftwareID {
		id |= 1
	}
	return id, (o.Channel&0x0F)<<4 | o.LUN&0x03
}

// Target returns where to send Get Sensor Reading for this owner. Sensors
// owned by system software are read through the BMC.
func (o Owner) Target() wire.Target {
	if o.SoftwareID {
		return wire.Target{Addr: wire.BMCSlaveAddress, LUN: o.LUN}
	}
	return wire.Target{Channel: o.Channel, Addr: o.Address << 1, LUN: o.LUN}
}

func (o Owner) String() string {
	if o.SoftwareID {
		return fmt.Sprintf("software ID 0x%02x", o.Address<<1|1)
	}
	return fmt.Sprintf("0x%02x/ch%d/lun%d", o.Address<<1, o.Channel, o.LUN)
}

// Entity is the physical or logical thing a sensor or device belongs to.
type Entity struct {
	ID       EntityID
	Instance uint8 // 7 bits; 60h-7Fh are device-relative
	Logical  bool  // a logical container entity rather than a physical one
}

func decodeEntity(id, instance uint8) Entity {
	return Entity{ID: EntityID(id), Instance: instance & 0x7F, Logical: instance&0x80 != 0}
}

func (e Entity) bytes() (uint8, uint8) {
	inst := e.Instance & 0x7F
	if e.Logical {
		inst |= 0x80
	}
	return uint8(e.ID), inst
}

// String prints the entity as ipmitool does: "ID.instance".
func (e Entity) String() string { return fmt.Sprintf("%d.%d", uint8(e.ID), e.Instance) }

// SensorInit is the sensor initialization byte of Full and Compact records.
type SensorInit uint8

func (s SensorInit) Settable() bool        { return s&0x80 != 0 }
func (s SensorInit) InitScanning() bool    { return s&0x40 != 0 }
func (s SensorInit) InitEvents() bool      { return s&0x20 != 0 }
func (s SensorInit) InitThresholds() bool  { return s&0x10 != 0 }
func (s SensorInit) InitHysteresis() bool  { return s&0x08 != 0 }
func (s SensorInit) InitSensorType() bool  { return s&0x04 != 0 }
func (s SensorInit) EventsEnabled() bool   { return s&0x02 != 0 }
func (s SensorInit) ScanningEnabled() bool { return s&0x01 != 0 }

// SensorCapabilities is the sensor capabilities byte of Full and Compact
// records.
type SensorCapabilities uint8

// Access levels of the hysteresis and threshold support fields.
const (
	AccessNone             = 0
	AccessReadable         = 1
	AccessReadableSettable = 2
	AccessFixedUnreadable  = 3
)

// IgnoreIfEntityAbsent reports that the sensor should be ignored when its
// entity is not present or disabled.
func (c SensorCapabilities) IgnoreIfEntityAbsent() bool { return c&0x80 != 0 }
func (c SensorCapabilities) AutoRearm() bool            { return c&0x40 != 0 }

// Hysteresis returns the hysteresis support (Access* constants).
func (c SensorCapabilities) Hysteresis() uint8 { return uint8(c>>4) & 0x03 }

// ThresholdAccess returns the threshold access support (Access* constants).
func (c SensorCapabilities) ThresholdAccess() uint8 { return uint8(c>>2) & 0x03 }

// EventMessageControl returns bits 1:0: 0 per threshold/state, 1 entire
// sensor only, 2 global disable only, 3 no events from sensor.
func (c SensorCapabilities) EventMessageControl() uint8 { return uint8(c) & 0x03 }

// SensorDirection is the 2-bit sensor direction field.
type SensorDirection uint8

const (
	DirectionUnspecified SensorDirection = 0
	DirectionInput       SensorDirection = 1
	DirectionOutput      SensorDirection = 2
)

// ThresholdMask is a set of thresholds, bit n = Threshold n. It is the
// command package's type, shared so that SDR masks, Get Sensor Thresholds
// and the comparison status of Get Sensor Reading mix freely.
type ThresholdMask = command.ThresholdMask
