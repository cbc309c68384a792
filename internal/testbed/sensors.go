package testbed

import (
	"fmt"
	"math"
)

// RecordType is the SDR record type that describes a sensor.
type RecordType uint8

// SDR record types used by the simulated BMC.
const (
	FullRecord      RecordType = 0x01
	CompactRecord   RecordType = 0x02
	EventOnlyRecord RecordType = 0x03
	FRULocator      RecordType = 0x11
	MCLocator       RecordType = 0x12
)

// AnalogFormat is the "analog (numeric) data format" of a full sensor record.
type AnalogFormat uint8

// Analog data formats (SDR byte 21 bits 7:6).
const (
	Unsigned       AnalogFormat = 0
	OnesComplement AnalogFormat = 1
	TwosComplement AnalogFormat = 2
)

func (f AnalogFormat) sdrcompName() string {
	switch f {
	case OnesComplement:
		return "1s_complement"
	case TwosComplement:
		return "2s_complement"
	}
	return "unsigned"
}

// Linearization codes from the IPMI spec table (SDR byte 24). sdrcomp's names
// for 8-11 are off by one against the spec, so the generator always writes
// the numeric code.
const (
	LinLinear = 0x00
	LinLn     = 0x01
	LinLog10  = 0x02
	LinLog2   = 0x03
	LinE      = 0x04
	LinExp10  = 0x05
	LinExp2   = 0x06
	LinInv    = 0x07 // 1/x
	LinSqr    = 0x08
	LinCube   = 0x09
	LinSqrt   = 0x0a
	LinCbrt   = 0x0b
)

// Threshold indexes in IPMI bit order (Get Sensor Thresholds / Get Sensor
// Reading byte 3): bit 0 lower non-critical ... bit 5 upper non-recoverable.
const (
	LNC = iota
	LCR
	LNR
	UNC
	UCR
	UNR
)

// ThresholdNames are ipmitool's short names for the six thresholds, indexed
// by LNC..UNR.
var ThresholdNames = [6]string{"lnc", "lcr", "lnr", "unc", "ucr", "unr"}

// Controller addresses of the simulated system.
const (
	BMCAddr       = 0x20 // the BMC (LAN channel, SDR repository, SEL)
	SatelliteAddr = 0x30 // a second controller on IPMB, reached by bridging
)

// Sensor describes one sensor of the simulated BMC: its SDR fields, the raw
// state the .emu gives it, and how the real tools render it. The tests of
// this package check every entry against ipmitool.
type Sensor struct {
	Name      string // SDR ID string
	RecordID  uint16 // SDR record ID (assigned by sdrcomp in file order)
	Record    RecordType
	Owner     uint8 // sensor owner slave address (BMCAddr or SatelliteAddr)
	LUN       uint8
	Number    uint8
	Type      uint8 // sensor type code (0x01 temperature, ...)
	Reading   uint8 // event/reading type code (0x01 threshold, 0x6f sensor-specific, ...)
	EntityID  uint8
	EntityIns uint8

	// Analog part (threshold sensors in full records).
	Format        AnalogFormat
	BaseUnit      uint8 // IPMI unit code (1 degrees C, 4 Volts, ...)
	Percentage    bool
	Linearization uint8
	M, B          int
	BExp, RExp    int
	Raw           uint8   // raw reading the .emu sets
	ThreshMask    uint8   // readable thresholds, bit LNC..UNR
	ThreshRaw     [6]byte // raw thresholds, index LNC..UNR

	// Discrete part: asserted state bits (offsets 0-14).
	States uint16
	// StateMask: the state offsets the sensor supports (SDR assertion mask).
	StateMask uint16

	// Compact records: number of sensors sharing this record (0 or 1 = not
	// shared) on the first sensor of the record; ShareIndex is the position
	// of a sensor within its shared record (0 for the first).
	ShareCount uint8
	ShareIndex uint8

	// Critical marks a discrete sensor whose asserted states are a failure.
	Critical bool

	// Simulated is false for a sensor that has an SDR but no simulated
	// sensor behind it: Get Sensor Reading answers completion code 0xCC.
	Simulated bool
	// Scanning is false for a sensor whose scanning is disabled.
	Scanning bool
	// EventOnly sensors cannot be read at all.
	EventOnly bool

	// IpmitoolUnit is the unit string ipmitool prints ("degrees C", "RPM").
	IpmitoolUnit string
}

// IsThreshold reports whether the sensor is a threshold-based analog sensor.
func (s Sensor) IsThreshold() bool { return s.Reading == 0x01 }

// Readable reports whether Get Sensor Reading returns a valid reading.
func (s Sensor) Readable() bool { return s.Simulated && s.Scanning && !s.EventOnly }

// Key identifies a sensor uniquely in the system: owner, LUN and number.
func (s Sensor) Key() string { return fmt.Sprintf("%02x/%d/%d", s.Owner, s.LUN, s.Number) }

// Convert applies the full-record conversion formula of IPMI v2.0 §36.3 to a
// raw byte: y = L[(M*x + B*10^Bexp) * 10^Rexp].
func (s Sensor) Convert(raw uint8) float64 {
	var x float64
	switch s.Format {
	case OnesComplement:
		v := int8(raw)
		if v < 0 {
			v++ // 1's complement: 0xff is -0, 0xfe is -1, ...
		}
		x = float64(v)
	case TwosComplement:
		x = float64(int8(raw))
	default:
		x = float64(raw)
	}
	y := (float64(s.M)*x + float64(s.B)*math.Pow10(s.BExp)) * math.Pow10(s.RExp)
	switch s.Linearization {
	case LinLn:
		y = math.Log(y)
	case LinLog10:
		y = math.Log10(y)
	case LinLog2:
		y = math.Log2(y)
	case LinE:
		y = math.Exp(y)
	case LinExp10:
		y = math.Pow(10, y)
	case LinExp2:
		y = math.Exp2(y)
	case LinInv:
		y = 1 / y
	case LinSqr:
		y = y * y
	case LinCube:
		y = y * y * y
	case LinSqrt:
		y = math.Sqrt(y)
	case LinCbrt:
		y = math.Cbrt(y)
	}
	return y
}

// Value is the converted reading the sensor is expected to show.
func (s Sensor) Value() float64 { return s.Convert(s.Raw) }

// Threshold returns the converted threshold i (LNC..UNR) and whether the
// sensor has it.
func (s Sensor) Threshold(i int) (float64, bool) {
	if s.ThreshMask&(1<<i) == 0 {
		return 0, false
	}
	return s.Convert(s.ThreshRaw[i]), true
}

// AssertedThresholds returns the threshold comparison bits (Get Sensor
// Reading byte 3) ipmi_sim computes: lower thresholds assert at raw <=
// threshold, upper ones at raw >= threshold, comparing unsigned raw bytes.
func (s Sensor) AssertedThresholds() uint8 {
	var bits uint8
	for i := 0; i < 6; i++ {
		if s.ThreshMask&(1<<i) == 0 {
			continue
		}
		if i < UNC && s.Raw <= s.ThreshRaw[i] || i >= UNC && s.Raw >= s.ThreshRaw[i] {
			bits |= 1 << i
		}
	}
	return bits
}

// IpmitoolStatus is the status column of `ipmitool sdr elist` for a threshold
// sensor: "ok", the most severe asserted threshold ("unr" > "ucr" > "unc",
// "lnr" > "lcr" > "lnc"), or "ns" when no reading is available.
func (s Sensor) IpmitoolStatus() string {
	if !s.Readable() {
		return "ns"
	}
	if !s.IsThreshold() {
		return "ok"
	}
	bits := s.AssertedThresholds()
	for _, i := range []int{UNR, UCR, UNC, LNR, LCR, LNC} {
		if bits&(1<<i) != 0 {
			return ThresholdNames[i]
		}
	}
	return "ok"
}

// Severity summarises the expected health: "ok", "warning" (non-critical),
// "critical" (critical or non-recoverable, or a discrete failure state) or
// "unavailable".
func (s Sensor) Severity() string {
	if !s.Readable() {
		return "unavailable"
	}
	if s.IsThreshold() {
		bits := s.AssertedThresholds()
		switch {
		case bits&(1<<UNR|1<<UCR|1<<LNR|1<<LCR) != 0:
			return "critical"
		case bits&(1<<UNC|1<<LNC) != 0:
			return "warning"
		}
		return "ok"
	}
	if s.Critical {
		return "critical"
	}
	return "ok"
}

// Sensors is the expected sensor table of the simulated system, in SDR
// repository order. Record IDs are filled in by init.
var Sensors []Sensor

// Locator is an MC device locator or FRU device locator record.
type Locator struct {
	Record   RecordType
	Name     string
	Addr     uint8 // MC slave address (MC locator) or access address (FRU locator)
	FRUID    uint8 // FRU device ID (FRU locator)
	EntityID uint8
	EntityIn uint8
	RecordID uint16
}

var (
	mcLocatorBMC = Locator{Record: MCLocator, Name: "BMC", Addr: BMCAddr, EntityID: 0x07, EntityIn: 1}
	fruLocator   = Locator{Record: FRULocator, Name: "Chassis FRU", Addr: BMCAddr, FRUID: 0, EntityID: 0x17, EntityIn: 1}
	mcLocatorSat = Locator{Record: MCLocator, Name: "Riser MC", Addr: SatelliteAddr, EntityID: 0x10, EntityIn: 1}
)

// Base units used in the table.
const (
	unitUnspecified = 0
	unitDegC        = 1
	unitVolts       = 4
	unitAmps        = 5
	unitWatts       = 6
	unitCFM         = 17
	unitRPM         = 18
)

// th builds a raw threshold array from signed values in the order
// lnr, lcr, lnc, unc, ucr, unr (natural reading order) and the format.
func th(f AnalogFormat, lnr, lcr, lnc, unc, ucr, unr int) [6]byte {
	return [6]byte{rawOf(f, lnc), rawOf(f, lcr), rawOf(f, lnr), rawOf(f, unc), rawOf(f, ucr), rawOf(f, unr)}
}

// rawOf encodes a signed integer in the given analog format.
func rawOf(f AnalogFormat, v int) byte {
	if v >= 0 {
		return byte(v)
	}
	if f == OnesComplement {
		return ^byte(-v)
	}
	return byte(int8(v))
}

const (
	allThresh   = 0x3f
	upperThresh = 1<<UNC | 1<<UCR | 1<<UNR
	lowerThresh = 1<<LNC | 1<<LCR | 1<<LNR
)

func analog(name string, num, typ, unit uint8, ipmitoolUnit string, ent, inst uint8, f AnalogFormat, m, b, bexp, rexp int, raw int, mask uint8, thr [6]byte) Sensor {
	return Sensor{
		Name: name, Record: FullRecord, Owner: BMCAddr, Number: num, Type: typ, Reading: 0x01,
		EntityID: ent, EntityIns: inst, Format: f, BaseUnit: unit, M: m, B: b, BExp: bexp, RExp: rexp,
		Raw: rawOf(f, raw), ThreshMask: mask, ThreshRaw: thr, Simulated: true, Scanning: true,
		IpmitoolUnit: ipmitoolUnit,
	}
}

func discrete(name string, num, typ, reading, ent, inst uint8, states, mask uint16, critical bool) Sensor {
	s := Sensor{
		Name: name, Record: FullRecord, Owner: BMCAddr, Number: num, Type: typ, Reading: reading,
		EntityID: ent, EntityIns: inst, States: states, StateMask: mask, Simulated: true, Scanning: true,
		IpmitoolUnit: "discrete", Critical: critical,
	}
	return s
}

func init() {
	U, O, T := Unsigned, OnesComplement, TwosComplement
	const temp, volt, curr, fan, psu, other = 0x01, 0x02, 0x03, 0x04, 0x08, 0x0b
	stdTemp := th(U, 5, 10, 15, 80, 90, 100)
	fanTh := th(U, 5, 10, 20, 200, 220, 240)
	p12 := th(U, 64, 68, 71, 82, 85, 88)
	p5 := th(U, 161, 169, 177, 207, 215, 223)
	cold := th(T, -40, -35, -30, -10, -6, -2)
	s := []Sensor{
		// Temperatures.
		analog("CPU1 Temp", 1, temp, unitDegC, "degrees C", 0x03, 1, U, 1, 0, 0, 0, 45, allThresh, stdTemp),
		analog("CPU2 Temp", 2, temp, unitDegC, "degrees C", 0x03, 2, U, 1, 0, 0, 0, 84, allThresh, stdTemp),
		analog("PCH Temp", 3, temp, unitDegC, "degrees C", 0x07, 1, U, 1, 0, 0, 0, 93, allThresh, stdTemp),
		analog("VR Temp", 4, temp, unitDegC, "degrees C", 0x07, 1, U, 1, 0, 0, 0, 103, allThresh, stdTemp),
		// M=2 B=-10 Rexp=-1: 0.2*raw - 1.
		analog("Inlet Temp", 5, temp, unitDegC, "degrees C", 0x27, 1, U, 2, -10, 0, -1, 130, allThresh, th(U, 10, 20, 30, 180, 205, 230)),
		// M=5 B=3 Bexp=1 Rexp=-1: 0.5*raw + 3.
		analog("Exhaust Temp", 6, temp, unitDegC, "degrees C", 0x17, 1, U, 5, 3, 1, -1, 70, allThresh, th(U, 0, 2, 4, 100, 110, 120)),
		analog("DIMM A Temp", 7, temp, unitDegC, "degrees C", 0x20, 1, U, 1, 0, 0, 0, 40, upperThresh, th(U, 0, 0, 0, 70, 85, 95)),
		analog("DIMM B Temp", 8, temp, unitDegC, "degrees C", 0x20, 2, U, 1, 0, 0, 0, 75, upperThresh, th(U, 0, 0, 0, 70, 85, 95)),
		analog("Cold Plate Temp", 9, temp, unitDegC, "degrees C", 0x1e, 1, T, 1, 0, 0, 0, -18, allThresh, cold),
		analog("Chiller Temp", 10, temp, unitDegC, "degrees C", 0x1e, 2, T, 1, 0, 0, 0, -33, allThresh, cold),
		analog("Outdoor Temp", 11, temp, unitDegC, "degrees C", 0x27, 2, O, 1, 0, 0, 0, -12, allThresh, th(O, -40, -30, -20, -5, -3, -1)),
		// 1's complement, positive, M=5 Rexp=-1.
		analog("Battery Temp", 12, temp, unitDegC, "degrees C", 0x28, 1, O, 5, 0, 0, -1, 54, allThresh, th(O, 0, 4, 10, 90, 100, 110)),
		// SDR only: reading it answers 0xCC.
		unreadable(analog("GPU Temp", 13, temp, unitDegC, "degrees C", 0x0b, 1, U, 1, 0, 0, 0, 0, upperThresh, th(U, 0, 0, 0, 85, 95, 105))),

		// Fans, M=60.
		analog("FAN1", 14, fan, unitRPM, "RPM", 0x1d, 1, U, 60, 0, 0, 0, 100, allThresh, fanTh),
		analog("FAN2", 15, fan, unitRPM, "RPM", 0x1d, 2, U, 60, 0, 0, 0, 95, allThresh, fanTh),
		analog("FAN3", 16, fan, unitRPM, "RPM", 0x1d, 3, U, 60, 0, 0, 0, 18, allThresh, fanTh),
		analog("FAN4", 17, fan, unitRPM, "RPM", 0x1d, 4, U, 60, 0, 0, 0, 9, allThresh, fanTh),
		analog("FAN5", 18, fan, unitRPM, "RPM", 0x1d, 5, U, 60, 0, 0, 0, 3, allThresh, fanTh),
		noScan(analog("FAN6", 19, fan, unitRPM, "RPM", 0x1d, 6, U, 60, 0, 0, 0, 90, allThresh, fanTh)),

		// Voltages.
		analog("P12V", 20, volt, unitVolts, "Volts", 0x07, 1, U, 157, 0, 0, -3, 76, allThresh, p12),
		analog("P5V", 21, volt, unitVolts, "Volts", 0x07, 1, U, 26, 0, 0, -3, 192, allThresh, p5),
		analog("P3V3", 22, volt, unitVolts, "Volts", 0x07, 1, U, 17, 0, 0, -3, 194, allThresh, th(U, 159, 168, 178, 210, 220, 230)),
		analog("P1V8", 23, volt, unitVolts, "Volts", 0x07, 1, U, 10, 0, 0, -3, 180, allThresh, th(U, 150, 158, 166, 194, 202, 210)),
		// B with Bexp: (4*raw + 5*10^2) * 10^-3.
		analog("VCORE", 24, volt, unitVolts, "Volts", 0x03, 1, U, 4, 5, 2, -3, 137, allThresh, th(U, 100, 110, 120, 150, 160, 170)),
		analog("P12V AUX", 25, volt, unitVolts, "Volts", 0x07, 1, U, 157, 0, 0, -3, 83, allThresh, p12),
		analog("P5V STBY", 26, volt, unitVolts, "Volts", 0x07, 1, U, 26, 0, 0, -3, 218, allThresh, p5),
		analog("VBAT", 27, volt, unitVolts, "Volts", 0x28, 1, U, 2, 0, 0, -2, 138, allThresh, th(U, 120, 130, 140, 170, 175, 180)),
		analog("VNEG12", 28, volt, unitVolts, "Volts", 0x07, 1, T, 157, 0, 0, -3, -76, allThresh, th(T, -88, -85, -82, -71, -68, -64)),

		// Currents.
		analog("PSU1 Iout", 29, curr, unitAmps, "Amps", 0x0a, 1, U, 1, 0, 0, -1, 125, upperThresh, th(U, 0, 0, 0, 200, 220, 240)),
		analog("PSU2 Iout", 30, curr, unitAmps, "Amps", 0x0a, 2, U, 1, 0, 0, -1, 0, upperThresh, th(U, 0, 0, 0, 200, 220, 240)),
		analog("BAT Current", 31, curr, unitAmps, "Amps", 0x28, 1, T, 5, 0, 0, -2, -40, allThresh, th(T, -120, -100, -80, -10, -6, -2)),
		analog("Charger Current", 32, curr, unitAmps, "Amps", 0x28, 2, O, 1, 0, 0, -1, -25, 0, [6]byte{}),

		// Power and other units.
		analog("PSU1 Pin", 33, psu, unitWatts, "Watts", 0x0a, 1, U, 4, 0, 0, 0, 100, upperThresh, th(U, 0, 0, 0, 200, 225, 250)),
		analog("Total Power", 34, other, unitWatts, "Watts", 0x17, 1, U, 8, 0, 0, 0, 110, upperThresh, th(U, 0, 0, 0, 100, 120, 140)),
		linearize(analog("Pump Power", 35, other, unitWatts, "Watts", 0x1e, 1, U, 1, 0, 0, 0, 12, upperThresh, th(U, 0, 0, 0, 14, 15, 16)), LinSqr),
		linearize(analog("Airflow", 36, other, unitCFM, "CFM", 0x17, 1, U, 1, 0, 0, -3, 4, 0, [6]byte{}), LinInv),
		percent(analog("Humidity", 37, other, unitUnspecified, "percent", 0x27, 1, U, 1, 0, 0, 0, 45, upperThresh, th(U, 0, 0, 0, 70, 80, 90))),

		// Discrete sensors.
		discrete("PSU1 Status", 38, psu, 0x6f, 0x0a, 1, 1<<0, 0x7f, false),
		discrete("PSU2 Status", 39, psu, 0x6f, 0x0a, 2, 1<<0|1<<1, 0x7f, true),
		discrete("PSU Redundancy", 40, psu, 0x0b, 0x13, 1, 1<<1, 0xff, true),
		discrete("CPU1 Status", 41, 0x07, 0x6f, 0x03, 1, 1<<7, 0x3ff, false),
		discrete("CPU2 Status", 42, 0x07, 0x6f, 0x03, 2, 1<<7|1<<1, 0x3ff, true),
		discrete("Drive0 Present", 43, 0x0d, 0x08, 0x04, 1, 1<<1, 0x03, false),
		discrete("Intrusion", 44, 0x05, 0x6f, 0x17, 1, 0, 0x3f, false),

		// Same sensor number as CPU1 Temp, but on LUN 1.
		onLUN(analog("Aux Temp", 1, temp, unitDegC, "degrees C", 0x07, 2, U, 1, 0, 0, 0, 33, upperThresh, th(U, 0, 0, 0, 60, 70, 80)), 1),

		// Sensors owned by the satellite controller at 0x30 (bridged); their
		// numbers collide with the BMC's on purpose.
		ownedBy(analog("Riser Temp", 1, temp, unitDegC, "degrees C", 0x10, 1, U, 1, 0, 0, 0, 52, allThresh, th(U, 1, 3, 5, 70, 80, 90)), SatelliteAddr),
		ownedBy(analog("Riser 12V", 2, volt, unitVolts, "Volts", 0x10, 1, U, 157, 0, 0, -3, 77, allThresh, p12), SatelliteAddr),
		ownedBy(analog("Riser Fan", 3, fan, unitRPM, "RPM", 0x1d, 7, U, 60, 0, 0, 0, 70, lowerThresh, th(U, 5, 10, 20, 0, 0, 0)), SatelliteAddr),
		ownedBy(discrete("Riser Card", 4, 0x25, 0x6f, 0x10, 1, 1<<0, 0x07, false), SatelliteAddr),

		// Compact records: one shared by four DIMM sensors, one plain.
		compact(discrete("DIMM", 50, 0x0c, 0x6f, 0x20, 1, 1<<6, 0x7f, false), 4, 0),
		compact(discrete("DIMM", 51, 0x0c, 0x6f, 0x20, 2, 1<<6, 0x7f, false), 4, 1),
		compact(discrete("DIMM", 52, 0x0c, 0x6f, 0x20, 3, 1<<6|1<<0, 0x7f, false), 4, 2),
		compact(discrete("DIMM", 53, 0x0c, 0x6f, 0x20, 4, 1<<6, 0x7f, false), 4, 3),
		compact(discrete("ACPI State", 54, 0x22, 0x6f, 0x07, 1, 1<<0, 0x3fff, false), 1, 0),

		// Event-only record.
		eventOnly(discrete("Power Button", 60, 0x14, 0x6f, 0x0c, 1, 0, 0x1f, false)),
	}
	Sensors = s
	assignRecordIDs()
	SELEntries = buildSELEntries()
}

func unreadable(s Sensor) Sensor { s.Simulated = false; return s }
func noScan(s Sensor) Sensor     { s.Scanning = false; return s }
func percent(s Sensor) Sensor    { s.Percentage = true; return s }
func onLUN(s Sensor, lun uint8) Sensor {
	s.LUN = lun
	return s
}
func ownedBy(s Sensor, owner uint8) Sensor {
	s.Owner = owner
	return s
}
func linearize(s Sensor, l uint8) Sensor {
	s.Linearization = l
	return s
}
func compact(s Sensor, share, index uint8) Sensor {
	s.Record = CompactRecord
	s.ShareCount = share
	s.ShareIndex = index
	return s
}
func eventOnly(s Sensor) Sensor {
	s.Record = EventOnlyRecord
	s.EventOnly = true
	return s
}
