package sdr

import (
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

func TestThresholdStatusSeverity(t *testing.T) {
	for _, c := range []struct {
		status ThresholdMask
		want   Severity
	}{
		{0, Nominal},
		{command.LowerNonCritical, Warning},
		{command.UpperNonCritical, Warning},
		{command.LowerNonCritical | command.LowerCritical, Critical},
		{command.UpperNonCritical | command.UpperCritical, Critical},
		{command.UpperNonCritical | command.UpperCritical | command.UpperNonRecoverable, NonRecoverable},
		{command.LowerNonRecoverable, NonRecoverable},
	} {
		if got := ThresholdStatusSeverity(c.status); got != c.want {
			t.Errorf("ThresholdStatusSeverity(%#x) = %v, want %v", uint8(c.status), got, c.want)
		}
	}
	for th, want := range map[Threshold]Severity{
		LowerNonCritical: Warning, UpperCritical: Critical, UpperNonRecoverable: NonRecoverable, Threshold(9): Unknown,
	} {
		if got := th.Severity(); got != want {
			t.Errorf("%v.Severity() = %v", th, got)
		}
	}
}

func TestDiscreteSeverity(t *testing.T) {
	for _, c := range []struct {
		name   string
		st     SensorType
		et     EventReadingType
		states uint16
		want   Severity
	}{
		{"PSU presence only", SensorTypePowerSupply, EventTypeSensorSpecific, 0x0001, Nominal},
		{"PSU failure detected", SensorTypePowerSupply, EventTypeSensorSpecific, 0x0003, Critical},
		{"PSU inactive", SensorTypePowerSupply, EventTypeSensorSpecific, 0x0080, Warning},
		{"no state asserted", SensorTypePowerSupply, EventTypeSensorSpecific, 0, Nominal},
		{"fan redundancy lost", SensorTypeFan, EventTypeRedundancy, 0x0002, Critical},
		{"PSU redundancy degraded", SensorTypePowerSupply, EventTypeRedundancy, 0x0004, Warning},
		{"fully redundant", SensorTypeCoolingDevice, EventTypeRedundancy, 0x0001, Nominal},
		{"drive present", SensorTypeDriveSlot, EventTypeSensorSpecific, 0x0001, Nominal},
		{"drive fault", SensorTypeDriveSlot, EventTypeSensorSpecific, 0x0003, Critical},
		{"drive slot state deasserted is a warning", SensorTypeDriveSlot, EventTypeState, 0x0001, Warning},
		{"processor presence", SensorTypeProcessor, EventTypeSensorSpecific, 0x0080, Nominal},
		{"processor throttled", SensorTypeProcessor, EventTypeSensorSpecific, 0x0480, Warning},
		{"processor IERR", SensorTypeProcessor, EventTypeSensorSpecific, 0x0081, Critical},
		{"entity absent", SensorTypeEntityPresence, EventTypeSensorSpecific, 0x0002, Critical},
		{"memory correctable ECC", SensorTypeMemory, EventTypeSensorSpecific, 0x0001, Warning},
		{"chassis intrusion", SensorTypePhysicalSecurity, EventTypeSensorSpecific, 0x0001, Critical},
		{"temperature limit exceeded", SensorTypeTemperature, EventTypeLimit, 0x0002, Critical},
		{"severity: to non-recoverable", SensorTypeCurrent, EventTypeSeverity, 0x0040, Critical},
		{"severity: monitor", SensorTypeCurrent, EventTypeSeverity, 0x0080, Warning},
		{"fan absent", SensorTypeFan, EventTypePresence, 0x0001, Critical},
		{"fan present", SensorTypeFan, EventTypePresence, 0x0002, Nominal},
		{"button pressed", SensorTypeButtonSwitch, EventTypeState, 0x0002, Nominal},
		{"battery low", SensorTypeBattery, EventTypeSensorSpecific, 0x0001, Warning},
		{"watchdog 2 hard reset", SensorTypeWatchdog2, EventTypeSensorSpecific, 0x0002, Critical},
		{"ACPI S0", SensorTypeSystemACPIPowerState, EventTypeSensorSpecific, 0x0001, Nominal},
		{"bits beyond the set are ignored", SensorTypeBattery, EventTypeSensorSpecific, 0x4004, Nominal},
		{"uninterpreted pair: watchdog 1", SensorTypeWatchdog1, EventTypeSensorSpecific, 0x0001, Unknown},
		{"uninterpreted pair: generic presence on a temperature", SensorTypeTemperature, EventTypePresence, 0x0001, Unknown},
		{"OEM event type", SensorTypePowerSupply, EventReadingType(0x70), 0x0001, Unknown},
		{"OEM sensor type", SensorType(0xC0), EventTypeSensorSpecific, 0x0001, Unknown},
		// A generic digital sensor of a type the table does not list
		// (Physical Security "Chassis Intru", OEM types): deasserted is
		// nominal, as ipmitool shows it, whether the BMC sets offset 0 or
		// no bit at all.
		{"digital: chassis intrusion deasserted", SensorTypePhysicalSecurity, EventTypeState, 0x0001, Nominal},
		{"digital: no bit set", SensorTypePhysicalSecurity, EventTypeState, 0, Nominal},
		{"digital: chassis intrusion asserted", SensorTypePhysicalSecurity, EventTypeState, 0x0002, Warning},
		{"digital: OEM sensor type deasserted", SensorType(0xC0), EventTypeState, 0x0001, Nominal},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := DiscreteSeverity(c.st, c.et, c.states); got != c.want {
				t.Errorf("DiscreteSeverity = %v, want %v", got, c.want)
			}
		})
	}
	if s, ok := StateSeverity(SensorTypePowerSupply, EventTypeSensorSpecific, 1); !ok || s != Critical {
		t.Errorf("StateSeverity PSU failure = %v %v", s, ok)
	}
	if _, ok := StateSeverity(SensorTypePowerSupply, EventTypeSensorSpecific, 12); ok {
		t.Error("StateSeverity beyond the set")
	}
}

// TestSeverityTableMatchesNames catches offsets added to one table and not
// the other: every interpreted sensor-specific set must have as many
// severities as it has state names.
func TestSeverityTableMatchesNames(t *testing.T) {
	for key, sev := range discreteSeverities {
		var names []string
		if key.event.IsSensorSpecific() {
			names = sensorSpecificStateNames[key.sensor]
		} else {
			names = genericStateNames[key.event]
		}
		if len(names) != len(sev) {
			t.Errorf("%v/%v: %d severities, %d state names", key.sensor, key.event, len(sev), len(names))
		}
	}
}

func TestSeverityOrder(t *testing.T) {
	if Unknown.Worse(Nominal) != Nominal || Warning.Worse(Critical) != Critical || NonRecoverable.Worse(Warning) != NonRecoverable {
		t.Error("Worse")
	}
	for s, want := range map[Severity]string{Unknown: "unknown", Nominal: "nominal", Warning: "warning",
		Critical: "critical", NonRecoverable: "non-recoverable", Severity(9): "severity 9"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
}
