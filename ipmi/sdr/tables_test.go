package sdr

import (
	"reflect"
	"testing"
)

func TestUnitsString(t *testing.T) {
	for _, c := range []struct {
		u    Units
		want string
	}{
		{Units{Base: UnitDegreesC}, "degrees C"},
		{Units{Base: UnitRPM}, "RPM"},
		{Units{Base: UnitVolts}, "Volts"},
		{Units{Base: UnitWatts}, "Watts"},
		{Units{Base: UnitAmps}, "Amps"},
		{Units{Base: UnitUnspecified, Percentage: true}, "percent"},
		{Units{Base: UnitRPM, Percentage: true}, "% RPM"},
		{Units{Base: UnitWatts, Relation: ModifierMultiply, Modifier: UnitHour}, "Watts*hour"},
		{Units{Base: UnitCFM, Relation: ModifierDivide, Modifier: UnitMinute}, "CFM/minute"},
		{Units{Base: UnitUnspecified, Percentage: true, Relation: ModifierDivide, Modifier: UnitSecond}, "% unspecified/second"},
		{Units{Base: UnitGrams}, "grams"},
		{Units{Base: 93}, "invalid"},
		{Units{Base: UnitVolts, Relation: 3, Modifier: UnitSecond}, "Volts"}, // reserved relation: ipmitool prints the base
		{Units{}, "unspecified"},
	} {
		if got := c.u.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.u, got, c.want)
		}
	}
	u := decodeUnits(0x9B, 6, 24)
	want := Units{Analog: AnalogTwosComplement, Rate: RateSecond, Relation: ModifierDivide, Percentage: true, Base: UnitWatts, Modifier: UnitHour}
	if u != want {
		t.Errorf("decodeUnits = %+v", u)
	}
	if a, b, c := u.bytes(); a != 0x9B || b != 6 || c != 24 {
		t.Errorf("bytes = %#x %d %d", a, b, c)
	}
	if RateMinute.String() != "minute" || RateNone.String() != "" {
		t.Error("RateUnit.String")
	}
	if len(unitNames) != 93 || unitNames[65] != "color temp deg K" || unitNames[70] != "byte" {
		t.Error("unit table misaligned")
	}
}

func TestTypeNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{SensorTypeTemperature.String(), "Temperature"},
		{SensorTypePowerSupply.String(), "Power Supply"},
		{SensorTypeDriveSlot.String(), "Drive Slot"},
		{SensorTypeFRUState.String(), "FRU State"},
		{SensorType(0x2D).String(), "Sensor Type 0x2d"},
		{SensorType(0xC0).String(), "OEM Reserved"},
		{EntitySystemBoard.String(), "System Board"},
		{EntityID(0x1D).String(), "Fan / Cooling Device"},
		{EntityDCMIBaseboard.String(), "Baseboard"},
		{EntityID(0x95).String(), "Chassis-Specific"},
		{EntityID(0xB0).String(), "Board-Set Specific"},
		{EntityID(0xE0).String(), "OEM System Integrator Defined"},
		{EntityID(0x50).String(), "Entity 0x50"},
		{EventTypeThreshold.String(), "threshold"},
		{EventTypeRedundancy.String(), "redundancy"},
		{EventTypeSensorSpecific.String(), "sensor-specific"},
		{EventReadingType(0x72).String(), "OEM 0x72"},
		{EventReadingType(0x20).String(), "event/reading type 0x20"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if len(sensorTypeNames) != 0x2D {
		t.Errorf("sensor type table has %d entries", len(sensorTypeNames))
	}
	if len(entityNames) != 0x43 {
		t.Errorf("entity table has %d entries", len(entityNames))
	}
	for _, c := range []struct {
		e                                           EventReadingType
		threshold, generic, specific, oem, discrete bool
	}{
		{EventTypeThreshold, true, false, false, false, false},
		{EventTypeDMIUsage, false, true, false, false, true},
		{EventTypeACPIPowerState, false, true, false, false, true},
		{EventReadingType(0x0D), false, false, false, false, false},
		{EventTypeSensorSpecific, false, false, true, false, true},
		{EventTypeOEMFirst, false, false, false, true, true},
		{EventTypeOEMLast, false, false, false, true, true},
		{EventTypeUnspecified, false, false, false, false, false},
	} {
		if c.e.IsThreshold() != c.threshold || c.e.IsGeneric() != c.generic || c.e.IsSensorSpecific() != c.specific ||
			c.e.IsOEM() != c.oem || c.e.IsDiscrete() != c.discrete {
			t.Errorf("classification of %#x wrong", uint8(c.e))
		}
	}
}

func TestStateNames(t *testing.T) {
	for _, c := range []struct {
		et     EventReadingType
		st     SensorType
		offset uint8
		want   string
	}{
		{EventTypeThreshold, SensorTypeTemperature, 9, "Upper Critical going high"},
		{EventTypeRedundancy, SensorTypeFan, 1, "Redundancy Lost"},
		{EventTypePresence, SensorTypeOtherFRU, 1, "Device Present"},
		{EventTypeSensorSpecific, SensorTypePowerSupply, 1, "Failure detected"},
		{EventTypeSensorSpecific, SensorTypePowerSupply, 7, "Power Supply Inactive"},
		{EventTypeSensorSpecific, SensorTypeMemory, 10, "Critical Overtemperature"},
		{EventTypeSensorSpecific, SensorTypeSystemACPIPowerState, 14, "Unknown"},
		{EventTypeSensorSpecific, SensorTypeSessionAudit, 2, "Invalid Username or Password"},
		{EventTypeSensorSpecific, SensorTypePowerSupply, 8, ""},
		{EventTypeSensorSpecific, SensorType(0xC1), 0, ""},
		{EventReadingType(0x70), SensorTypeTemperature, 0, ""},
	} {
		if got := StateName(c.et, c.st, c.offset); got != c.want {
			t.Errorf("StateName(%#x, %#x, %d) = %q, want %q", uint8(c.et), uint8(c.st), c.offset, got, c.want)
		}
	}
	got := StateNames(nil, EventTypeSensorSpecific, SensorTypePowerSupply, 0x0103)
	want := []string{"Presence detected", "Failure detected", "state 8"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StateNames = %q", got)
	}
	if ThresholdStateName(UpperCritical) != "At or Above (>=) Upper Critical Threshold" || ThresholdStateName(9) != "" {
		t.Error("ThresholdStateName")
	}
}

func TestThresholdNames(t *testing.T) {
	if UpperNonRecoverable.String() != "upper non-recoverable" || LowerCritical.Abbrev() != "lcr" ||
		Threshold(7).String() != "threshold 7" || Threshold(7).Abbrev() != "?" {
		t.Error("Threshold names")
	}
	if !UpperNonCritical.IsUpper() || LowerNonRecoverable.IsUpper() {
		t.Error("IsUpper")
	}
	if UpperCritical.Mask() != 0x10 {
		t.Error("Mask")
	}
	if AllThresholdsInOrder[0] != LowerNonRecoverable || AllThresholdsInOrder[5] != UpperNonRecoverable {
		t.Error("order")
	}
}
