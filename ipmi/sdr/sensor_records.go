package sdr

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

// Minimum record sizes (header included) up to and including the ID string
// type/length byte.
const (
	fullMinLen      = 48
	compactMinLen   = 32
	eventOnlyMinLen = 17
)

// FullSensor is a Full Sensor Record (type 01h, IPMI v2.0 table 43-1): a
// sensor with conversion factors, thresholds and analog characteristics.
type FullSensor struct {
	Header
	Owner        Owner
	Number       uint8
	Entity       Entity
	Init         SensorInit
	Capabilities SensorCapabilities
	SensorType   SensorType
	EventType    EventReadingType
	// AssertionMask and DeassertionMask are the event masks; for threshold
	// sensors bits 14:12 also carry the lower/upper threshold reading masks.
	AssertionMask   uint16
	DeassertionMask uint16
	// ReadingMask is the discrete reading mask, or for threshold sensors
	// the readable (bits 5:0) and settable (bits 13:8) threshold masks.
	ReadingMask   uint16
	Units         Units
	Linearization Linearization
	Factors       command.ReadingFactors // M, B, exponents, tolerance, accuracy, direction
	// Analog characteristic flags: which of the nominal/normal readings
	// below are specified.
	NominalSpecified   bool
	NormalMaxSpecified bool
	NormalMinSpecified bool
	NominalReading     uint8
	NormalMax          uint8
	NormalMin          uint8
	SensorMax          uint8
	SensorMin          uint8
	// ThresholdRaw holds the raw thresholds, indexed by Threshold.
	ThresholdRaw       [thresholdCount]uint8
	PositiveHysteresis uint8
	NegativeHysteresis uint8
	OEM                uint8
	IDString           IDString
}

func (*FullSensor) Type() RecordType { return TypeFullSensor }

// Name returns the decoded sensor ID string.
func (f *FullSensor) Name() string { return f.IDString.String() }

// Conversion returns the reading conversion the record describes.
func (f *FullSensor) Conversion() Conversion {
	return newConversion(f.Units.Analog, f.Linearization, f.Factors)
}

// Thresholds returns the record's thresholds with the readable and settable
// masks. Threshold sensors whose threshold access is "none" have none.
func (f *FullSensor) Thresholds() Thresholds {
	if !f.EventType.IsThreshold() || f.Capabilities.ThresholdAccess() == AccessNone {
		return Thresholds{}
	}
	return Thresholds{
		Readable: ThresholdMask(f.ReadingMask) & command.AllThresholds,
		Settable: ThresholdMask(f.ReadingMask>>8) & command.AllThresholds,
		Raw:      f.ThresholdRaw,
	}
}

func parseFull(b []byte) (*FullSensor, error) {
	h, err := parseHeaderFor(b, fullMinLen)
	if err != nil {
		return nil, err
	}
	factors, _ := command.DecodeReadingFactors(b[24:30]) // length checked above
	f := &FullSensor{
		Header:             h,
		Owner:              DecodeOwner(b[5], b[6]),
		Number:             b[7],
		Entity:             decodeEntity(b[8], b[9]),
		Init:               SensorInit(b[10]),
		Capabilities:       SensorCapabilities(b[11]),
		SensorType:         SensorType(b[12]),
		EventType:          EventReadingType(b[13]),
		AssertionMask:      le16(b[14:]),
		DeassertionMask:    le16(b[16:]),
		ReadingMask:        le16(b[18:]),
		Units:              decodeUnits(b[20], b[21], b[22]),
		Linearization:      Linearization(b[23] & 0x7F),
		Factors:            factors,
		NominalSpecified:   b[30]&0x01 != 0,
		NormalMaxSpecified: b[30]&0x02 != 0,
		NormalMinSpecified: b[30]&0x04 != 0,
		NominalReading:     b[31],
		NormalMax:          b[32],
		NormalMin:          b[33],
		SensorMax:          b[34],
		SensorMin:          b[35],
		PositiveHysteresis: b[42],
		NegativeHysteresis: b[43],
		OEM:                b[46],
		IDString:           decodeIDString(b[47], b[48:]),
	}
	// The record stores them from upper non-recoverable down.
	f.ThresholdRaw[UpperNonRecoverable] = b[36]
	f.ThresholdRaw[UpperCritical] = b[37]
	f.ThresholdRaw[UpperNonCritical] = b[38]
	f.ThresholdRaw[LowerNonRecoverable] = b[39]
	f.ThresholdRaw[LowerCritical] = b[40]
	f.ThresholdRaw[LowerNonCritical] = b[41]
	return f, nil
}

func (f *FullSensor) AppendTo(b []byte) []byte {
	start, b := appendHeader(b, f.Header, TypeFullSensor)
	ownerID, ownerLUN := f.Owner.Bytes()
	entID, entInst := f.Entity.bytes()
	u1, u2, u3 := f.Units.bytes()
	b = append(b, ownerID, ownerLUN, f.Number, entID, entInst,
		uint8(f.Init), uint8(f.Capabilities), uint8(f.SensorType), uint8(f.EventType))
	b = appendLE16(b, f.AssertionMask)
	b = appendLE16(b, f.DeassertionMask)
	b = appendLE16(b, f.ReadingMask)
	b = append(b, u1, u2, u3, uint8(f.Linearization&0x7F))
	b = f.Factors.AppendTo(b)
	var flags uint8
	if f.NominalSpecified {
		flags |= 0x01
	}
	if f.NormalMaxSpecified {
		flags |= 0x02
	}
	if f.NormalMinSpecified {
		flags |= 0x04
	}
	b = append(b, flags, f.NominalReading, f.NormalMax, f.NormalMin, f.SensorMax, f.SensorMin,
		f.ThresholdRaw[UpperNonRecoverable], f.ThresholdRaw[UpperCritical], f.ThresholdRaw[UpperNonCritical],
		f.ThresholdRaw[LowerNonRecoverable], f.ThresholdRaw[LowerCritical], f.ThresholdRaw[LowerNonCritical],
		f.PositiveHysteresis, f.NegativeHysteresis, 0, 0, f.OEM)
	b = f.IDString.appendTo(b)
	return finishRecord(b, start)
}

// CompactSensor is a Compact Sensor Record (type 02h, IPMI v2.0 table
// 43-2): no conversion factors or thresholds, and possibly shared by
// several sensors with consecutive numbers.
type CompactSensor struct {
	Header
	Owner              Owner
	Number             uint8 // of the first sensor when shared
	Entity             Entity
	Init               SensorInit
	Capabilities       SensorCapabilities
	SensorType         SensorType
	EventType          EventReadingType
	AssertionMask      uint16
	DeassertionMask    uint16
	ReadingMask        uint16
	Units              Units
	Sharing            Sharing
	PositiveHysteresis uint8
	NegativeHysteresis uint8
	OEM                uint8
	IDString           IDString
}

func (*CompactSensor) Type() RecordType { return TypeCompactSensor }

// Name returns the decoded ID string of the first sensor; see Names.
func (c *CompactSensor) Name() string { return c.IDString.String() }

// Names returns one name per shared sensor.
func (c *CompactSensor) Names() []string { return sharedNames(c.IDString, c.Sharing) }

func parseCompact(b []byte) (*CompactSensor, error) {
	h, err := parseHeaderFor(b, compactMinLen)
	if err != nil {
		return nil, err
	}
	return &CompactSensor{
		Header:             h,
		Owner:              DecodeOwner(b[5], b[6]),
		Number:             b[7],
		Entity:             decodeEntity(b[8], b[9]),
		Init:               SensorInit(b[10]),
		Capabilities:       SensorCapabilities(b[11]),
		SensorType:         SensorType(b[12]),
		EventType:          EventReadingType(b[13]),
		AssertionMask:      le16(b[14:]),
		DeassertionMask:    le16(b[16:]),
		ReadingMask:        le16(b[18:]),
		Units:              decodeUnits(b[20], b[21], b[22]),
		Sharing:            decodeSharing(b[23], b[24]),
		PositiveHysteresis: b[25],
		NegativeHysteresis: b[26],
		OEM:                b[30],
		IDString:           decodeIDString(b[31], b[32:]),
	}, nil
}

func (c *CompactSensor) AppendTo(b []byte) []byte {
	start, b := appendHeader(b, c.Header, TypeCompactSensor)
	ownerID, ownerLUN := c.Owner.Bytes()
	entID, entInst := c.Entity.bytes()
	u1, u2, u3 := c.Units.bytes()
	s0, s1 := c.Sharing.bytes()
	b = append(b, ownerID, ownerLUN, c.Number, entID, entInst,
		uint8(c.Init), uint8(c.Capabilities), uint8(c.SensorType), uint8(c.EventType))
	b = appendLE16(b, c.AssertionMask)
	b = appendLE16(b, c.DeassertionMask)
	b = appendLE16(b, c.ReadingMask)
	b = append(b, u1, u2, u3, s0, s1, c.PositiveHysteresis, c.NegativeHysteresis, 0, 0, 0, c.OEM)
	b = c.IDString.appendTo(b)
	return finishRecord(b, start)
}

// EventOnlySensor is an Event-Only Record (type 03h, IPMI v2.0 table
// 43-3): a sensor that only generates events and cannot be read.
type EventOnlySensor struct {
	Header
	Owner      Owner
	Number     uint8
	Entity     Entity
	SensorType SensorType
	EventType  EventReadingType
	Sharing    Sharing
	OEM        uint8
	IDString   IDString
}

func (*EventOnlySensor) Type() RecordType { return TypeEventOnlySensor }

// Name returns the decoded ID string of the first sensor; see Names.
func (e *EventOnlySensor) Name() string { return e.IDString.String() }

// Names returns one name per shared sensor.
func (e *EventOnlySensor) Names() []string { return sharedNames(e.IDString, e.Sharing) }

func parseEventOnly(b []byte) (*EventOnlySensor, error) {
	h, err := parseHeaderFor(b, eventOnlyMinLen)
	if err != nil {
		return nil, err
	}
	return &EventOnlySensor{
		Header:     h,
		Owner:      DecodeOwner(b[5], b[6]),
		Number:     b[7],
		Entity:     decodeEntity(b[8], b[9]),
		SensorType: SensorType(b[10]),
		EventType:  EventReadingType(b[11]),
		Sharing:    decodeSharing(b[12], b[13]),
		OEM:        b[15],
		IDString:   decodeIDString(b[16], b[17:]),
	}, nil
}

func (e *EventOnlySensor) AppendTo(b []byte) []byte {
	start, b := appendHeader(b, e.Header, TypeEventOnlySensor)
	ownerID, ownerLUN := e.Owner.Bytes()
	entID, entInst := e.Entity.bytes()
	s0, s1 := e.Sharing.bytes()
	b = append(b, ownerID, ownerLUN, e.Number, entID, entInst,
		uint8(e.SensorType), uint8(e.EventType), s0, s1, 0, e.OEM)
	b = e.IDString.appendTo(b)
	return finishRecord(b, start)
}

func sharedNames(id IDString, s Sharing) []string {
	base := id.String()
	names := make([]string, s.N())
	for i := range names {
		names[i] = s.Name(base, i)
	}
	return names
}

func appendLE16(b []byte, v uint16) []byte { return append(b, uint8(v), uint8(v>>8)) }
