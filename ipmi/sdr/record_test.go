package sdr

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Byte vectors of one record of each type, written out by hand from the
// IPMI v2.0 tables 43-1, 43-2, 43-3, 43-7, 43-8 and 43-9.
var (
	fullCPUTempBytes = []byte{
		0x01, 0x00, 0x51, 0x01, 0x33, // ID 1, v51, full, 51 bytes follow
		0x20, 0x00, 0x30, // owner BMC, LUN 0, sensor 30h
		0x03, 0x01, // entity processor.1
		0x67, 0x68, // init, capabilities (auto re-arm, hysteresis and thresholds settable)
		0x01, 0x01, // temperature, threshold
		0x95, 0x7A, 0x95, 0x7A, // assertion / deassertion masks
		0x3F, 0x38, // readable all, settable upper three
		0x00, 0x01, 0x00, // unsigned, degrees C
		0x00,                               // linear
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // M=1, B=0, exponents 0
		0x01,                         // nominal reading specified
		0x28, 0x50, 0x0A, 0x7F, 0x00, // nominal 40, normal max 80, normal min 10, sensor max 127, min 0
		0x5F, 0x5A, 0x55, 0x00, 0x05, 0x0A, // UNR 95, UC 90, UNC 85, LNR 0, LC 5, LNC 10
		0x02, 0x02, // hysteresis
		0x00, 0x00, 0x00, // reserved, OEM
		0xC8, 'C', 'P', 'U', ' ', 'T', 'e', 'm', 'p',
	}
	fullCPUTemp = &FullSensor{
		Header:           Header{RecordID: 1, Version: 0x51},
		Owner:            Owner{Address: 0x10},
		Number:           0x30,
		Entity:           Entity{ID: EntityProcessor, Instance: 1},
		Init:             0x67,
		Capabilities:     0x68,
		SensorType:       SensorTypeTemperature,
		EventType:        EventTypeThreshold,
		AssertionMask:    0x7A95,
		DeassertionMask:  0x7A95,
		ReadingMask:      0x383F,
		Units:            Units{Base: UnitDegreesC},
		Factors:          command.ReadingFactors{M: 1},
		NominalSpecified: true,
		NominalReading:   40, NormalMax: 80, NormalMin: 10, SensorMax: 127,
		ThresholdRaw:       [6]uint8{LowerNonCritical: 10, LowerCritical: 5, UpperNonCritical: 85, UpperCritical: 90, UpperNonRecoverable: 95},
		PositiveHysteresis: 2, NegativeHysteresis: 2,
		IDString: IDString{Type: IDString8BitASCII, Data: []byte("CPU Temp")},
	}

	compactPSUBytes = []byte{
		0x02, 0x00, 0x51, 0x02, 0x1E,
		0x20, 0x00, 0x40, // owner BMC, sensor 40h
		0x0A, 0x01, // power supply.1
		0x63, 0x40,
		0x08, 0x6F, // power supply, sensor-specific
		0x0F, 0x00, 0x00, 0x00, 0xFF, 0x00, // masks
		0xC0, 0x00, 0x00, // no analog reading
		0x12, 0x80, // alpha modifier, 2 sensors; entity instance increments, offset 0
		0x00, 0x00, // hysteresis
		0x00, 0x00, 0x00, 0x00, // reserved, OEM
		0xC3, 'P', 'S', 'U',
	}
	compactPSU = &CompactSensor{
		Header:        Header{RecordID: 2, Version: 0x51},
		Owner:         Owner{Address: 0x10},
		Number:        0x40,
		Entity:        Entity{ID: EntityPowerSupply, Instance: 1},
		Init:          0x63,
		Capabilities:  0x40,
		SensorType:    SensorTypePowerSupply,
		EventType:     EventTypeSensorSpecific,
		AssertionMask: 0x000F,
		ReadingMask:   0x00FF,
		Units:         Units{Analog: AnalogNone},
		Sharing:       Sharing{ModifierType: ModifierAlpha, Count: 2, EntityInstanceIncrements: true},
		IDString:      IDString{Type: IDString8BitASCII, Data: []byte("PSU")},
	}

	eventOnlyBytes = []byte{
		0x03, 0x00, 0x51, 0x03, 0x12,
		0x20, 0x00, 0x50, 0x07, 0x01,
		0x12, 0x6F, // system event, sensor-specific
		0x00, 0x00, 0x00, 0x00,
		0xC6, 'E', 'v', 'e', 'n', 't', 's',
	}
	eventOnly = &EventOnlySensor{
		Header:     Header{RecordID: 3, Version: 0x51},
		Owner:      Owner{Address: 0x10},
		Number:     0x50,
		Entity:     Entity{ID: EntitySystemBoard, Instance: 1},
		SensorType: SensorTypeSystemEvent,
		EventType:  EventTypeSensorSpecific,
		IDString:   IDString{Type: IDString8BitASCII, Data: []byte("Events")},
	}

	genericLocatorBytes = []byte{
		0x04, 0x00, 0x51, 0x10, 0x0F,
		0x20,       // access via the BMC
		0xA1,       // device A0h, channel MS bit 1
		0x4B,       // channel LS bits 010, LUN 1, private bus 3
		0x01, 0x00, // address span 1, reserved
		0x10, 0x00, // device type EEPROM, modifier
		0x07, 0x01, 0x00,
		0xC4, 'S', 'E', 'E', 'P',
	}
	genericLocator = &GenericDeviceLocator{
		Header:        Header{RecordID: 4, Version: 0x51},
		AccessAddress: 0x20, SlaveAddress: 0xA0, Channel: 10, AccessLUN: 1, PrivateBus: 3, AddressSpan: 1,
		DeviceType: 0x10,
		Entity:     Entity{ID: EntitySystemBoard, Instance: 1},
		IDString:   IDString{Type: IDString8BitASCII, Data: []byte("SEEP")},
	}

	fruLocatorBytes = []byte{
		0x05, 0x00, 0x51, 0x11, 0x12,
		0x20, 0x00, 0x80, 0x00, 0x00, // via BMC, FRU 0, logical, channel 0
		0x10, 0x00, 0x07, 0x01, 0x00,
		0xC7, 'B', 'M', 'C', ' ', 'F', 'R', 'U',
	}
	fruLocator = &FRUDeviceLocator{
		Header:        Header{RecordID: 5, Version: 0x51},
		AccessAddress: 0x20, Logical: true, DeviceType: 0x10,
		Entity:   Entity{ID: EntitySystemBoard, Instance: 1},
		IDString: IDString{Type: IDString8BitASCII, Data: []byte("BMC FRU")},
	}

	mcLocatorBytes = []byte{
		0x06, 0x00, 0x51, 0x12, 0x0E,
		0x20, 0x00, 0x00, 0xBF, 0x00, 0x00, 0x00,
		0x2E, 0x01, 0x00,
		0xC3, 'B', 'M', 'C',
	}
	mcLocator = &MCDeviceLocator{
		Header:       Header{RecordID: 6, Version: 0x51},
		SlaveAddress: 0x20, Capabilities: 0xBF,
		Entity:   Entity{ID: EntityMgmtFirmware, Instance: 1},
		IDString: IDString{Type: IDString8BitASCII, Data: []byte("BMC")},
	}

	oemBytes = []byte{0x07, 0x00, 0x51, 0xC0, 0x05, 0x57, 0x01, 0x00, 0xAA, 0xBB}
	oem      = &UnknownRecord{
		Header: Header{RecordID: 7, Version: 0x51}, RecordType: TypeOEM,
		Body: []byte{0x57, 0x01, 0x00, 0xAA, 0xBB},
	}
)

func TestRecordVectors(t *testing.T) {
	for _, c := range []struct {
		name string
		wire []byte
		want Record
	}{
		{"full", fullCPUTempBytes, fullCPUTemp},
		{"compact", compactPSUBytes, compactPSU},
		{"event-only", eventOnlyBytes, eventOnly},
		{"generic device locator", genericLocatorBytes, genericLocator},
		{"FRU device locator", fruLocatorBytes, fruLocator},
		{"MC device locator", mcLocatorBytes, mcLocator},
		{"OEM", oemBytes, oem},
		{"entity association (unmodelled)", []byte{0x08, 0x00, 0x51, 0x08, 0x02, 0x17, 0x01},
			&UnknownRecord{Header: Header{RecordID: 8, Version: 0x51}, RecordType: TypeEntityAssociation, Body: []byte{0x17, 0x01}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRecord(c.wire)
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("ParseRecord =\n%+v\nwant\n%+v", got, c.want)
			}
			if enc := c.want.AppendTo(nil); !bytes.Equal(enc, c.wire) {
				t.Errorf("AppendTo =\n% x\nwant\n% x", enc, c.wire)
			}
			if got.ID() != le16(c.wire) || uint8(got.Type()) != c.wire[3] {
				t.Errorf("ID/Type = %d/%v", got.ID(), got.Type())
			}
			// Trailing bytes after the declared length are ignored.
			again, err := ParseRecord(append(append([]byte(nil), c.wire...), 0xEE, 0xEE))
			if err != nil || !reflect.DeepEqual(again, c.want) {
				t.Errorf("with trailing bytes: %+v, %v", again, err)
			}
		})
	}
}

func TestRecordAccessors(t *testing.T) {
	if got := fullCPUTemp.Name(); got != "CPU Temp" {
		t.Errorf("Name = %q", got)
	}
	th := fullCPUTemp.Thresholds()
	if th.Readable != command.AllThresholds || th.Settable != command.UpperNonCritical|command.UpperCritical|command.UpperNonRecoverable {
		t.Errorf("masks = %v/%v", th.Readable, th.Settable)
	}
	if got := compactPSU.Names(); !reflect.DeepEqual(got, []string{"PSU A", "PSU B"}) {
		t.Errorf("Names = %q", got)
	}
	if got := eventOnly.Names(); !reflect.DeepEqual(got, []string{"Events"}) {
		t.Errorf("event-only Names = %q", got)
	}
	if genericLocator.Name() != "SEEP" || fruLocator.Name() != "BMC FRU" || mcLocator.Name() != "BMC" {
		t.Error("locator names")
	}
	caps := mcLocator.Capabilities
	if !caps.ChassisDevice() || caps.Bridge() || !caps.IPMBEventGenerator() || !caps.IPMBEventReceiver() ||
		!caps.FRUInventory() || !caps.SELDevice() || !caps.SDRRepository() || !caps.SensorDevice() {
		t.Error("MC capabilities 0xBF")
	}
	c := fullCPUTemp.Capabilities
	if !c.AutoRearm() || c.IgnoreIfEntityAbsent() || c.Hysteresis() != AccessReadableSettable ||
		c.ThresholdAccess() != AccessReadableSettable || c.EventMessageControl() != 0 {
		t.Error("sensor capabilities 0x68")
	}
	in := SensorInit(0x67)
	if in.Settable() || !in.InitScanning() || !in.InitEvents() || in.InitThresholds() || in.InitHysteresis() ||
		!in.InitSensorType() || !in.EventsEnabled() || !in.ScanningEnabled() {
		t.Error("sensor init 0x67")
	}
}

func TestFullThresholdsNeedAccess(t *testing.T) {
	f := *fullCPUTemp
	f.Capabilities = 0x40 // threshold access: none
	if th := f.Thresholds(); th.Readable != 0 {
		t.Errorf("no threshold access, readable %v", th.Readable)
	}
	f = *fullCPUTemp
	f.EventType = EventTypeSensorSpecific
	if th := f.Thresholds(); th.Readable != 0 {
		t.Errorf("discrete sensor has thresholds %v", th.Readable)
	}
}

func TestParseRecordBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		wire []byte
		want error
	}{
		{"empty", nil, wire.ErrShort},
		{"header only 4 bytes", []byte{1, 0, 0x51, 1}, wire.ErrShort},
		{"declared length beyond data", []byte{1, 0, 0x51, 0xC0, 4, 1, 2}, wire.ErrShort},
		{"full record too short for its type", append([]byte{1, 0, 0x51, 0x01, 0x10}, make([]byte, 0x10)...), wire.ErrShort},
		{"compact too short", append([]byte{1, 0, 0x51, 0x02, 0x10}, make([]byte, 0x10)...), wire.ErrShort},
		{"event-only too short", append([]byte{1, 0, 0x51, 0x03, 0x05}, make([]byte, 5)...), wire.ErrShort},
		{"GDL too short", append([]byte{1, 0, 0x51, 0x10, 0x05}, make([]byte, 5)...), wire.ErrShort},
		{"FRU DL too short", append([]byte{1, 0, 0x51, 0x11, 0x05}, make([]byte, 5)...), wire.ErrShort},
		{"MC DL too short", append([]byte{1, 0, 0x51, 0x12, 0x05}, make([]byte, 5)...), wire.ErrShort},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseRecord(c.wire); !errors.Is(err, c.want) {
				t.Errorf("ParseRecord(% x) = %v, want %v", c.wire, err, c.want)
			}
		})
	}
}

// TestIDStringLongerThanRecord checks the lenient handling of a type/length
// byte that claims more bytes than the record holds.
func TestIDStringLongerThanRecord(t *testing.T) {
	b := append([]byte(nil), mcLocatorBytes...)
	b[15] = 0xC8 // claims 8 bytes, 3 present
	rec, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.(*MCDeviceLocator).Name(); got != "BMC" {
		t.Errorf("Name = %q", got)
	}
}

func TestOwnerAndEntity(t *testing.T) {
	for _, c := range []struct {
		id, lun uint8
		want    Owner
		target  wire.Target
		str     string
	}{
		{0x20, 0x00, Owner{Address: 0x10}, wire.Target{Addr: 0x20}, "0x20/ch0/lun0"},
		{0x2C, 0x71, Owner{Address: 0x16, Channel: 7, LUN: 1}, wire.Target{Channel: 7, Addr: 0x2C, LUN: 1}, "0x2c/ch7/lun1"},
		{0x41, 0x02, Owner{Address: 0x20, SoftwareID: true, LUN: 2}, wire.Target{Addr: 0x20, LUN: 2}, "software ID 0x41"},
	} {
		o := DecodeOwner(c.id, c.lun)
		if o != c.want {
			t.Errorf("DecodeOwner(%#x,%#x) = %+v", c.id, c.lun, o)
		}
		if id, lun := o.Bytes(); id != c.id || lun != c.lun {
			t.Errorf("Bytes = %#x %#x", id, lun)
		}
		if o.Target() != c.target {
			t.Errorf("Target = %+v, want %+v", o.Target(), c.target)
		}
		if o.String() != c.str {
			t.Errorf("String = %q", o.String())
		}
	}
	if !DecodeOwner(0x20, 0).Target().IsBMC() || DecodeOwner(0x2C, 0).Target().IsBMC() {
		t.Error("IsBMC")
	}
	e := decodeEntity(0x07, 0x81)
	if e != (Entity{ID: 7, Instance: 1, Logical: true}) || e.String() != "7.1" {
		t.Errorf("entity %+v %s", e, e)
	}
	if id, inst := e.bytes(); id != 7 || inst != 0x81 {
		t.Errorf("entity bytes %#x %#x", id, inst)
	}
}

func TestRecordTypeString(t *testing.T) {
	if TypeFullSensor.String() != "full sensor" || RecordType(0x55).String() != "record type 0x55" {
		t.Error(TypeFullSensor.String(), RecordType(0x55).String())
	}
}

// fuzzRecordRoundTrip parses b; when that works, encoding and parsing again
// must give the same record.
func fuzzRecordRoundTrip(t *testing.T, b []byte) {
	rec, err := ParseRecord(b)
	if err != nil {
		if !errors.Is(err, wire.ErrShort) && !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("error %v wraps neither ErrShort nor ErrMalformed", err)
		}
		return
	}
	enc := rec.AppendTo(nil)
	if n, _ := RecordLen(enc); n != len(enc) {
		t.Fatalf("encoded length byte says %d, record is %d", n, len(enc))
	}
	again, err := ParseRecord(enc)
	if err != nil {
		t.Fatalf("re-parsing % x: %v", enc, err)
	}
	if !reflect.DeepEqual(rec, again) {
		t.Fatalf("parse(encode(x)) =\n%+v\nwant\n%+v", again, rec)
	}
	// Names must not panic whatever the bytes.
	if s, ok := rec.(interface{ Name() string }); ok {
		_ = s.Name()
	}
	_ = AppendSensorInfos(nil, rec)
}

func FuzzParseRecord(f *testing.F) {
	for _, b := range [][]byte{fullCPUTempBytes, compactPSUBytes, eventOnlyBytes, genericLocatorBytes,
		fruLocatorBytes, mcLocatorBytes, oemBytes, {1, 0, 0x51, 0x01, 0}} {
		f.Add(b)
	}
	f.Fuzz(fuzzRecordRoundTrip)
}

// fuzzTyped builds a record of type typ around body, so that each decoder
// gets fuzzed past the header check.
func fuzzTyped(f *testing.F, typ RecordType, seed []byte) {
	f.Add(seed[HeaderLen:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 255 {
			body = body[:255]
		}
		b := append([]byte{0x10, 0x00, 0x51, uint8(typ), uint8(len(body))}, body...)
		fuzzRecordRoundTrip(t, b)
	})
}

func FuzzFullSensor(f *testing.F)      { fuzzTyped(f, TypeFullSensor, fullCPUTempBytes) }
func FuzzCompactSensor(f *testing.F)   { fuzzTyped(f, TypeCompactSensor, compactPSUBytes) }
func FuzzEventOnlySensor(f *testing.F) { fuzzTyped(f, TypeEventOnlySensor, eventOnlyBytes) }
func FuzzGenericDeviceLocator(f *testing.F) {
	fuzzTyped(f, TypeGenericDeviceLocator, genericLocatorBytes)
}
func FuzzFRUDeviceLocator(f *testing.F) { fuzzTyped(f, TypeFRUDeviceLocator, fruLocatorBytes) }
func FuzzMCDeviceLocator(f *testing.F)  { fuzzTyped(f, TypeMCDeviceLocator, mcLocatorBytes) }
