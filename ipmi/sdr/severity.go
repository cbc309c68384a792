package sdr

import "fmt"

// Severity is how bad a sensor reading or an event is.
type Severity uint8

const (
	// Unknown: the reading could not be judged (unavailable, scanning
	// disabled, an OEM or uninterpreted state set). FreeIPMI reports
	// these as "N/A", prometheus-ipmi-exporter as NaN.
	Unknown Severity = iota
	Nominal
	Warning
	Critical
	NonRecoverable
)

func (s Severity) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Nominal:
		return "nominal"
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	case NonRecoverable:
		return "non-recoverable"
	}
	return fmt.Sprintf("severity %d", uint8(s))
}

// Worse returns the more severe of s and o; Unknown loses to any judged
// severity.
func (s Severity) Worse(o Severity) Severity {
	if o > s {
		return o
	}
	return s
}

// Discrete sensor severity policy.
//
// Discrete sensors are judged as FreeIPMI 1.6 judges them by default
// (libfreeipmi/interpret, the commented defaults of
// freeipmi_interpret_sensor.conf): each (sensor type, event/reading type)
// pair FreeIPMI interprets has a severity per state offset; a reading with
// no state asserted is Nominal; several asserted states give the worst of
// them. Pairs FreeIPMI does not interpret (OEM types, watchdog 1, LAN, ...)
// are Unknown, as there. FreeIPMI has no "non-recoverable" level for
// discrete sensors, so none appears here.
//
// Generic state sets, where the same severities repeat for every sensor
// type that uses them (N = Nominal, W = Warning, C = Critical):
//
//	07h severity      OK N, non-crit from OK W, crit from less C, non-rec from less C,
//	                  non-crit from more W, crit from non-rec C, non-rec C, monitor W, informational N
//	08h presence      absent C, present N
//	0Ah availability  running N, in test W, power off W, on line W, off line W,
//	                  off duty W, degraded C, power save W, install error C
//	0Bh redundancy    fully redundant N, lost C, degraded W, non-redundant (3 kinds) C,
//	                  degraded from fully redundant W, degraded from non-redundant W
//	02h usage         idle N, active N, busy N
//	04h predictive    deasserted N, asserted C
//	05h limit         not exceeded N, exceeded C
//	06h performance   met N, lags C
//	03h state         deasserted/asserted, per sensor type:
//	                  N/W temperature, voltage, fan, power supply, power unit,
//	                      POST memory resize, system firmware progress, system event
//	                  N/C processor, memory, module/board, boot error, OS critical stop,
//	                      platform alert
//	                  W/N drive slot (asserted = drive present)
//	                  N/N button/switch
//	                  N/W any other sensor type: a generic digital sensor (for example
//	                      Physical Security "Chassis Intru") is nominal when deasserted,
//	                      as ipmitool shows it ("ok"), and asserted is worth a look
//
// Sensor-specific (6Fh) state sets, in offset order:
//
//	physical security     all C
//	platform security     all C
//	processor             IERR C, thermal trip C, FRB1-3 C, config error C, uncorrectable C,
//	                      presence N, disabled C, terminator presence C, throttled W,
//	                      machine check C, correctable machine check W
//	power supply          presence N, failure C, predictive C, input lost C, lost/out of range C,
//	                      out of range C, config error C, inactive W
//	power unit            off N, cycle N, 240VA W, interlock W, AC lost C, soft control C,
//	                      failure C, predictive C
//	memory                correctable W, uncorrectable C, parity C, scrub failed C, disabled C,
//	                      logging limit W, presence N, config error C, spare N, throttled W,
//	                      over-temperature C
//	drive slot            present N, fault C, predictive C, hot spare N, parity check N,
//	                      critical array C, failed array C, rebuild N, rebuild aborted C
//	firmware progress     error C, hang C, progress N
//	event logging         correctable disabled C, type disabled C, cleared N, all disabled C,
//	                      full C, almost full W, MCE logging disabled C
//	system event          reconfigured W, OEM boot N, hardware failure C, aux log N,
//	                      PEF action N, clock sync W
//	critical interrupt    W for software NMI, bus correctable, bus degraded; C otherwise
//	button/switch         buttons N, FRU latch W, FRU service W
//	cable/interconnect    connected N, config error C
//	boot error            C, except timeout waiting for selection W
//	OS boot               completions N, device not specified W, install started/completed N,
//	                      install aborted W, install failed C
//	slot/connector        fault C, identify W, installed N, ready for install/removal N,
//	                      power off N, removal request W, interlock W, disabled W, spare N
//	ACPI power state      S0-legacy off N, unspecified C, unknown C
//	watchdog 2            expired W, reset C, power down C, power cycle C, reserved N, interrupt W
//	entity presence       present N, absent C, disabled C
//	mgmt subsystem health all C
//	battery               low W, failed C, presence N
//	session audit         activated N, deactivated N, invalid user/password W, disabled C
//	version change        change W (2), incompatibility C (2), invalid version C (2), success N (2)
//	FRU state             not installed C, inactive C, activation W (2), active N,
//	                      deactivation W (2), communication lost C

const (
	nom = Nominal
	wrn = Warning
	crt = Critical
)

var (
	severityStates07 = []Severity{nom, wrn, crt, crt, wrn, crt, crt, wrn, nom}
	severityStates08 = []Severity{crt, nom}
	severityStates0A = []Severity{nom, wrn, wrn, wrn, wrn, wrn, crt, wrn, crt}
	severityStates0B = []Severity{nom, crt, wrn, crt, crt, crt, wrn, wrn}
	severityStates02 = []Severity{nom, nom, nom}
	stateNW          = []Severity{nom, wrn}
	stateNC          = []Severity{nom, crt}
	stateWN          = []Severity{wrn, nom}
	stateNN          = []Severity{nom, nom}
)

type severityKey struct {
	sensor SensorType
	event  EventReadingType
}

// discreteSeverities is the table described above.
var discreteSeverities = map[severityKey][]Severity{
	// Generic state sets.
	{SensorTypeTemperature, EventTypeState}:               stateNW,
	{SensorTypeTemperature, EventTypeLimit}:               stateNC,
	{SensorTypeTemperature, EventTypeSeverity}:            severityStates07,
	{SensorTypeVoltage, EventTypeState}:                   stateNW,
	{SensorTypeVoltage, EventTypeLimit}:                   stateNC,
	{SensorTypeVoltage, EventTypePerformance}:             stateNC,
	{SensorTypeVoltage, EventTypeSeverity}:                severityStates07,
	{SensorTypeCurrent, EventTypeSeverity}:                severityStates07,
	{SensorTypeFan, EventTypeState}:                       stateNW,
	{SensorTypeFan, EventTypeSeverity}:                    severityStates07,
	{SensorTypeFan, EventTypePresence}:                    severityStates08,
	{SensorTypeFan, EventTypeAvailability}:                severityStates0A,
	{SensorTypeFan, EventTypeRedundancy}:                  severityStates0B,
	{SensorTypeProcessor, EventTypeState}:                 stateNC,
	{SensorTypePowerSupply, EventTypeState}:               stateNW,
	{SensorTypePowerSupply, EventTypeSeverity}:            severityStates07,
	{SensorTypePowerSupply, EventTypeRedundancy}:          severityStates0B,
	{SensorTypePowerUnit, EventTypeState}:                 stateNW,
	{SensorTypePowerUnit, EventTypeSeverity}:              severityStates07,
	{SensorTypePowerUnit, EventTypePresence}:              severityStates08,
	{SensorTypePowerUnit, EventTypeRedundancy}:            severityStates0B,
	{SensorTypeCoolingDevice, EventTypeRedundancy}:        severityStates0B,
	{SensorTypeMemory, EventTypeState}:                    stateNC,
	{SensorTypeMemory, EventTypeSeverity}:                 severityStates07,
	{SensorTypeMemory, EventTypeRedundancy}:               severityStates0B,
	{SensorTypeDriveSlot, EventTypeState}:                 stateWN,
	{SensorTypeDriveSlot, EventTypePredictiveFail}:        stateNC,
	{SensorTypeDriveSlot, EventTypeSeverity}:              severityStates07,
	{SensorTypeDriveSlot, EventTypePresence}:              severityStates08,
	{SensorTypePOSTMemoryResize, EventTypeState}:          stateNW,
	{SensorTypeSystemFirmwareProgress, EventTypeState}:    stateNW,
	{SensorTypeSystemFirmwareProgress, EventTypePresence}: severityStates08,
	{SensorTypeSystemFirmwareProgress, EventTypeSeverity}: severityStates07,
	{SensorTypeSystemEvent, EventTypeDMIUsage}:            severityStates02,
	{SensorTypeSystemEvent, EventTypeState}:               stateNW,
	{SensorTypeSystemEvent, EventTypeSeverity}:            severityStates07,
	{SensorTypeButtonSwitch, EventTypeState}:              stateNN,
	{SensorTypeButtonSwitch, EventTypeSeverity}:           severityStates07,
	{SensorTypeModuleBoard, EventTypeState}:               stateNC,
	{SensorTypeModuleBoard, EventTypePresence}:            severityStates08,
	{SensorTypeChassis, EventTypeSeverity}:                severityStates07,
	{SensorTypeChipSet, EventTypeSeverity}:                severityStates07,
	{SensorTypeCableInterconnect, EventTypeSeverity}:      severityStates07,
	{SensorTypeBootError, EventTypeState}:                 stateNC,
	{SensorTypeBootError, EventTypeSeverity}:              severityStates07,
	{SensorTypeOSCriticalStop, EventTypeState}:            stateNC,
	{SensorTypeSlotConnector, EventTypeSeverity}:          severityStates07,
	{SensorTypePlatformAlert, EventTypeState}:             stateNC,
	{SensorTypeEntityPresence, EventTypePresence}:         severityStates08,
	{SensorTypeManagementSubsystem, EventTypeSeverity}:    severityStates07,
	{SensorTypeManagementSubsystem, EventTypePresence}:    severityStates08,

	// Sensor-specific state sets.
	{SensorTypePhysicalSecurity, EventTypeSensorSpecific}:       {crt, crt, crt, crt, crt, crt, crt},
	{SensorTypePlatformSecurity, EventTypeSensorSpecific}:       {crt, crt, crt, crt, crt, crt},
	{SensorTypeProcessor, EventTypeSensorSpecific}:              {crt, crt, crt, crt, crt, crt, crt, nom, crt, crt, wrn, crt, wrn},
	{SensorTypePowerSupply, EventTypeSensorSpecific}:            {nom, crt, crt, crt, crt, crt, crt, wrn},
	{SensorTypePowerUnit, EventTypeSensorSpecific}:              {nom, nom, wrn, wrn, crt, crt, crt, crt},
	{SensorTypeMemory, EventTypeSensorSpecific}:                 {wrn, crt, crt, crt, crt, wrn, nom, crt, nom, wrn, crt},
	{SensorTypeDriveSlot, EventTypeSensorSpecific}:              {nom, crt, crt, nom, nom, crt, crt, nom, crt},
	{SensorTypeSystemFirmwareProgress, EventTypeSensorSpecific}: {crt, crt, nom},
	{SensorTypeEventLoggingDisabled, EventTypeSensorSpecific}:   {crt, crt, nom, crt, crt, wrn, crt},
	{SensorTypeSystemEvent, EventTypeSensorSpecific}:            {wrn, nom, crt, nom, nom, wrn},
	{SensorTypeCriticalInterrupt, EventTypeSensorSpecific}:      {crt, crt, crt, wrn, crt, crt, crt, wrn, crt, crt, crt, wrn},
	{SensorTypeButtonSwitch, EventTypeSensorSpecific}:           {nom, nom, nom, wrn, wrn},
	{SensorTypeCableInterconnect, EventTypeSensorSpecific}:      {nom, crt},
	{SensorTypeBootError, EventTypeSensorSpecific}:              {crt, crt, crt, crt, wrn},
	{SensorTypeOSBoot, EventTypeSensorSpecific}:                 {nom, nom, nom, nom, nom, nom, wrn, nom, nom, wrn, crt},
	{SensorTypeSlotConnector, EventTypeSensorSpecific}:          {crt, wrn, nom, nom, nom, nom, wrn, wrn, wrn, nom},
	{SensorTypeSystemACPIPowerState, EventTypeSensorSpecific}:   {nom, nom, nom, nom, nom, nom, nom, nom, nom, nom, nom, nom, nom, crt, crt},
	{SensorTypeWatchdog2, EventTypeSensorSpecific}:              {wrn, crt, crt, crt, nom, nom, nom, nom, wrn},
	{SensorTypeEntityPresence, EventTypeSensorSpecific}:         {nom, crt, crt},
	{SensorTypeManagementSubsystem, EventTypeSensorSpecific}:    {crt, crt, crt, crt, crt, crt},
	{SensorTypeBattery, EventTypeSensorSpecific}:                {wrn, crt, nom},
	{SensorTypeSessionAudit, EventTypeSensorSpecific}:           {nom, nom, wrn, crt},
	{SensorTypeVersionChange, EventTypeSensorSpecific}:          {wrn, wrn, crt, crt, crt, crt, nom, nom},
	{SensorTypeFRUState, EventTypeSensorSpecific}:               {crt, crt, wrn, wrn, nom, wrn, wrn, crt},
}

// StateSeverity returns the severity of one asserted discrete state, and
// false when the (sensor type, event/reading type) pair or the offset is
// not interpreted.
func StateSeverity(st SensorType, et EventReadingType, offset uint8) (Severity, bool) {
	sev, ok := severitiesOf(st, et)
	if !ok || int(offset) >= len(sev) {
		return Unknown, false
	}
	return sev[offset], true
}

// DiscreteSeverity judges the state bits of a discrete sensor reading by
// the policy above. Bits beyond the offsets the state set defines are
// ignored.
func DiscreteSeverity(st SensorType, et EventReadingType, states uint16) Severity {
	sev, ok := severitiesOf(st, et)
	if !ok {
		return Unknown
	}
	worst := Nominal
	for offset, s := range sev {
		if states&(1<<offset) != 0 {
			worst = worst.Worse(s)
		}
	}
	return worst
}

// severitiesOf returns the state severities of a (sensor type,
// event/reading type) pair. A generic digital sensor (03h) of a sensor
// type the table does not list reads deasserted = nominal, asserted =
// warning: its two states mean the same whatever the type.
func severitiesOf(st SensorType, et EventReadingType) ([]Severity, bool) {
	if sev, ok := discreteSeverities[severityKey{st, et}]; ok {
		return sev, true
	}
	if et == EventTypeState {
		return stateNW, true
	}
	return nil, false
}
