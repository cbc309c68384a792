package sdr

import "fmt"

// Unit is a sensor unit type code (IPMI v2.0 table 43-15), used for both the
// base and the modifier unit.
type Unit uint8

// The unit codes sensors most often use.
const (
	UnitUnspecified Unit = 0
	UnitDegreesC    Unit = 1
	UnitDegreesF    Unit = 2
	UnitDegreesK    Unit = 3
	UnitVolts       Unit = 4
	UnitAmps        Unit = 5
	UnitWatts       Unit = 6
	UnitJoules      Unit = 7
	UnitCFM         Unit = 17
	UnitRPM         Unit = 18
	UnitHz          Unit = 19
	UnitSecond      Unit = 22
	UnitMinute      Unit = 23
	UnitHour        Unit = 24
	UnitError       Unit = 88
	UnitGrams       Unit = 92
)

// unitNames are the unit names as ipmitool prints them, indexed by code.
var unitNames = [...]string{
	"unspecified", "degrees C", "degrees F", "degrees K", "Volts", "Amps", "Watts", "Joules",
	"Coulombs", "VA", "Nits", "lumen", "lux", "Candela", "kPa", "PSI",
	"Newton", "CFM", "RPM", "Hz", "microsecond", "millisecond", "second", "minute",
	"hour", "day", "week", "mil", "inches", "feet", "cu in", "cu feet",
	"mm", "cm", "m", "cu cm", "cu m", "liters", "fluid ounce", "radians",
	"steradians", "revolutions", "cycles", "gravities", "ounce", "pound", "ft-lb", "oz-in",
	"gauss", "gilberts", "henry", "millihenry", "farad", "microfarad", "ohms", "siemens",
	"mole", "becquerel", "PPM", "reserved", "Decibels", "DbA", "DbC", "gray",
	"sievert", "color temp deg K", "bit", "kilobit", "megabit", "gigabit", "byte", "kilobyte",
	"megabyte", "gigabyte", "word", "dword", "qword", "line", "hit", "miss",
	"retry", "reset", "overflow", "underrun", "collision", "packets", "messages", "characters",
	"error", "correctable error", "uncorrectable error", "fatal error", "grams",
}

// String returns the unit name as ipmitool prints it; codes beyond the
// table are "invalid", as there.
func (u Unit) String() string {
	if int(u) < len(unitNames) {
		return unitNames[u]
	}
	return "invalid"
}

// AnalogFormat is the analog data format, bits 7:6 of sensor units 1: how
// the raw reading byte is to be read as a number.
type AnalogFormat uint8

const (
	AnalogUnsigned       AnalogFormat = 0
	AnalogOnesComplement AnalogFormat = 1
	AnalogTwosComplement AnalogFormat = 2
	AnalogNone           AnalogFormat = 3 // no analog (numeric) reading
)

func (f AnalogFormat) String() string {
	switch f {
	case AnalogUnsigned:
		return "unsigned"
	case AnalogOnesComplement:
		return "1's complement"
	case AnalogTwosComplement:
		return "2's complement"
	case AnalogNone:
		return "no analog reading"
	}
	return fmt.Sprintf("analog format %d", uint8(f))
}

// RateUnit is bits 5:3 of sensor units 1: the reading is per this time.
type RateUnit uint8

const (
	RateNone        RateUnit = 0
	RateMicrosecond RateUnit = 1
	RateMillisecond RateUnit = 2
	RateSecond      RateUnit = 3
	RateMinute      RateUnit = 4
	RateHour        RateUnit = 5
	RateDay         RateUnit = 6
)

var rateNames = [...]string{"", "us", "ms", "s", "minute", "hour", "day", "reserved"}

func (r RateUnit) String() string { return rateNames[r&0x07] }

// ModifierRelation is bits 2:1 of sensor units 1: how the modifier unit
// combines with the base unit.
type ModifierRelation uint8

const (
	ModifierNone     ModifierRelation = 0
	ModifierDivide   ModifierRelation = 1 // base / modifier
	ModifierMultiply ModifierRelation = 2 // base * modifier
)

// Units is the three sensor units bytes of Full and Compact records.
type Units struct {
	Analog     AnalogFormat
	Rate       RateUnit
	Relation   ModifierRelation
	Percentage bool
	Base       Unit
	Modifier   Unit
}

func decodeUnits(u1, base, mod uint8) Units {
	return Units{
		Analog:     AnalogFormat(u1 >> 6),
		Rate:       RateUnit(u1>>3) & 0x07,
		Relation:   ModifierRelation(u1>>1) & 0x03,
		Percentage: u1&0x01 != 0,
		Base:       Unit(base),
		Modifier:   Unit(mod),
	}
}

func (u Units) bytes() (uint8, uint8, uint8) {
	u1 := uint8(u.Analog&0x03)<<6 | uint8(u.Rate&0x07)<<3 | uint8(u.Relation&0x03)<<1
	if u.Percentage {
		u1 |= 0x01
	}
	return u1, uint8(u.Base), uint8(u.Modifier)
}

// String returns the unit text exactly as ipmitool 1.8.19 prints it:
// "degrees C", "RPM", "Volts", "Watts", "Amps", "percent", "% Volts",
// "Watts*hour", "CFM/minute". The rate unit is not part of it (ipmitool
// ignores it too); see Rate.
func (u Units) String() string {
	pct := ""
	if u.Percentage {
		pct = "% "
	}
	switch u.Relation {
	case ModifierMultiply:
		return pct + u.Base.String() + "*" + u.Modifier.String()
	case ModifierDivide:
		return pct + u.Base.String() + "/" + u.Modifier.String()
	}
	if u.Base == UnitUnspecified && u.Percentage {
		return "percent"
	}
	return pct + u.Base.String()
}
