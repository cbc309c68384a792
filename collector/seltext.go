package collector

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sel"
)

// The text a sel_events regex is matched against: the Event column of
// FreeIPMI's ipmi-sel, which is what ipmi_exporter matches the regexes
// against. It is the state of event data 1 in FreeIPMI's short wording
// (IPMI v2.0 tables 42-2 and 42-3, with FreeIPMI's capitalization and
// abbreviations), then, separated by " ; ", what event data 2 and 3 say
// when event data 1 flags them: the trigger reading and threshold of
// threshold events in engineering units ("Sensor Reading = 93.00 C ;
// Threshold = 90.00 C"), the previous state or severity, the sensor-specific
// extension codes, OEM codes. The strings are facts taken from FreeIPMI's
// libfreeipmi (spec/ipmi-sensor-and-event-code-tables-spec.c,
// util/ipmi-sensor-and-event-code-tables-util.c, sel/ipmi-sel-string.c);
// package sdr keeps ipmitool's names, which are label values elsewhere.
//
// Where it still differs from FreeIPMI (README, sel-events):
//   - FreeIPMI's vendor interpretations (--interpret-oem-data for Dell,
//     Fujitsu, Intel, Supermicro, ... boards, and the Linux kernel's OEM
//     records) are not applied: those events read as the generic text
//     FreeIPMI prints without them ("OEM Event Offset = 03h", "OEM Event
//     Data2 code = 12h", "OEM defined = ...").
//   - A threshold event's reading is converted only when the SDR is known
//     (see selSensors); otherwise it reads "Sensor Reading = 5Dh" as
//     FreeIPMI without a usable SDR record.
//   - The event-type-logging-disabled event (sensor type 10h, offset 01h)
//     takes its assertion/deassertion word from event data 3's bit 4;
//     FreeIPMI reads an uninitialized variable there.
//
// exporter/selevents_ipmisim_test.go compares the texts with the installed
// FreeIPMI's on ipmi_sim, entry by entry.

// fipmiSep separates the parts of the text, as FreeIPMI's default.
const fipmiSep = " ; "

// fipmiGenericStates are the generic event/reading type state texts
// (types 01h-0Ch), indexed by type, then offset.
var fipmiGenericStates = [...][]string{
	sdr.EventTypeThreshold: {
		"Lower Non-critical - going low", "Lower Non-critical - going high",
		"Lower Critical - going low", "Lower Critical - going high",
		"Lower Non-recoverable - going low", "Lower Non-recoverable - going high",
		"Upper Non-critical - going low", "Upper Non-critical - going high",
		"Upper Critical - going low", "Upper Critical - going high",
		"Upper Non-recoverable - going low", "Upper Non-recoverable - going high",
	},
	sdr.EventTypeDMIUsage:       {"Transition to Idle", "Transition to Active", "Transition to Busy"},
	sdr.EventTypeState:          {"State Deasserted", "State Asserted"},
	sdr.EventTypePredictiveFail: {"Predictive Failure deasserted", "Predictive Failure asserted"},
	sdr.EventTypeLimit:          {"Limit Not Exceeded", "Limit Exceeded"},
	sdr.EventTypePerformance:    {"Performance Met", "Performance Lags"},
	sdr.EventTypeSeverity: {
		"transition to OK", "transition to Non-Critical from OK",
		"transition to Critical from less severe", "transition to Non-recoverable from less severe",
		"transition to Non-Critical from more severe", "transition to Critical from Non-recoverable",
		"transition to Non-recoverable", "Monitor", "Informational",
	},
	sdr.EventTypePresence: {"Device Removed/Device Absent", "Device Inserted/Device Present"},
	sdr.EventTypeEnabled:  {"Device Disabled", "Device Enabled"},
	sdr.EventTypeAvailability: {
		"transition to Running", "transition to In Test", "transition to Power Off",
		"transition to On Line", "transition to Off Line", "transition to Off Duty",
		"transition to Degraded", "transition to Power Save", "Install Error",
	},
	sdr.EventTypeRedundancy: {
		"Fully Redundant", "Redundancy Lost", "Redundancy Degraded",
		"Non-redundant:Sufficient Resources from Redundant",
		"Non-redundant:Sufficient Resources from Insufficient Resources",
		"Non-redundant:Insufficient Resources", "Redundancy Degraded from Fully Redundant",
		"Redundancy Degraded from Non-redundant",
	},
	sdr.EventTypeACPIPowerState: {"D0 Power State", "D1 Power State", "D2 Power State", "D3 Power State"},
}

// fipmiSensorStates are the sensor-specific (event/reading type 6Fh) state
// texts, indexed by sensor type, then offset.
var fipmiSensorStates = map[sdr.SensorType][]string{
	sdr.SensorTypePhysicalSecurity: {
		"General Chassis Intrusion", "Drive Bay intrusion", "I/O Card area intrusion",
		"Processor area intrusion", "LAN Leash Lost", "Unauthorized dock", "FAN area intrusion",
	},
	sdr.SensorTypePlatformSecurity: {
		"Secure Mode Violation attempt", "Pre-boot Password Violation - user password",
		"Pre-boot Password Violation - setup password", "Pre-boot Password Violation - network boot password",
		"Other pre-boot Password Violation", "Out-of-band Access Password Violation",
	},
	sdr.SensorTypeProcessor: {
		"IERR", "Thermal Trip", "FRB1/BIST failure", "FRB2/Hang in POST failure",
		"FRB3/Processor Startup/Initialization failure", "Configuration Error",
		"SM BIOS `Uncorrectable CPU-complex Error'", "Processor Presence detected", "Processor disabled",
		"Terminator Presence Detected", "Processor Automatically Throttled", "Machine Check Exception",
		"Correctable Machine Check Error",
	},
	sdr.SensorTypePowerSupply: {
		"Presence detected", "Power Supply Failure detected", "Predictive Failure",
		"Power Supply input lost (AC/DC)", "Power Supply input lost or out-of-range",
		"Power Supply input out-of-range, but present", "Configuration error", "Power Supply Inactive",
	},
	sdr.SensorTypePowerUnit: {
		"Power Off/Power Down", "Power Cycle", "240VA Power Down", "Interlock Power Down",
		"AC lost/Power input lost", "Soft Power Control Failure", "Power Unit Failure detected",
		"Predictive Failure",
	},
	sdr.SensorTypeMemory: {
		"Correctable memory error", "Uncorrectable memory error", "Parity", "Memory Scrub Failed",
		"Memory Device Disabled", "Correctable memory error logging limit reached", "Presence detected",
		"Configuration error", "Spare", "Memory Automatically Throttled", "Critical Overtemperature",
	},
	sdr.SensorTypeDriveSlot: {
		"Drive Presence", "Drive Fault", "Predictive Failure", "Hot Spare",
		"Consistency Check / Parity Check in progress", "In Critical Array", "In Failed Array",
		"Rebuild/Remap in progress", "Rebuild/Remap Aborted",
	},
	sdr.SensorTypeSystemFirmwareProgress: {"System Firmware Error", "System Firmware Hang", "System Firmware Progress"},
	sdr.SensorTypeEventLoggingDisabled: {
		"Correctable Memory Error Logging Disabled", "Event Type Logging Disabled", "Log Area Reset/Cleared",
		"All Event Logging Disabled", "SEL Full", "SEL Almost Full",
		"Correctable Machine Check Error Logging Disabled",
	},
	sdr.SensorTypeWatchdog1: {
		"BIOS Watchdog Reset", "OS Watchdog Reset", "OS Watchdog Shut Down", "OS Watchdog Power Down",
		"OS Watchdog Power Cycle", "OS Watchdog NMI/Diagnostic Interrupt", "OS Watchdog Expired, status only",
		"OS Watchdog pre-timeout Interrupt, non-NMI",
	},
	sdr.SensorTypeSystemEvent: {
		"System Reconfigured", "OEM System Boot Event", "Undetermined system hardware failure",
		"Entry added to Auxiliary Log", "PEF Action", "Timestamp Clock Synch",
	},
	sdr.SensorTypeCriticalInterrupt: {
		"Front Panel NMI/Diagnostic Interrupt", "Bus Timeout", "I/O channel check NMI", "Software NMI",
		"PCI PERR", "PCI SERR", "EISA Fail Safe Timeout", "Bus Correctable Error", "Bus Uncorrectable Error",
		"Fatal NMI", "Bus Fatal Error", "Bus Degraded",
	},
	sdr.SensorTypeButtonSwitch: {
		"Power Button pressed", "Sleep Button pressed", "Reset Button pressed", "FRU latch open",
		"FRU service request button",
	},
	sdr.SensorTypeChipSet:           {"Soft Power Control Failure", "Thermal Trip"},
	sdr.SensorTypeCableInterconnect: {"Cable/Interconnect is connected", "Configuration Error - Incorrect cable connected"},
	sdr.SensorTypeSystemBootInitiated: {
		"Initiated by power up", "Initiated by hard reset", "Initiated by warm reset", "User requested PXE boot",
		"Automatic boot to diagnostic", "OS / run-time software initiated hard reset",
		"OS / run-time software initiated warm reset", "System Restart",
	},
	sdr.SensorTypeBootError: {
		"No bootable media", "Non-bootable diskette left in drive", "PXE Server not found",
		"Invalid boot sector", "Timeout waiting for user selection of boot source",
	},
	sdr.SensorTypeOSBoot: {
		"A: boot completed", "C: boot completed", "PXE boot completed", "Diagnostic boot completed",
		"CD-ROM boot completed", "ROM boot completed", "boot completed - boot device not specified",
		"Base OS/Hypervisor Installation started", "Base OS/Hypervisor Installation completed",
		"Base OS/Hypervisor Installation aborted", "Base OS/Hypervisor Installation failed",
	},
	sdr.SensorTypeOSCriticalStop: {
		"Critical stop during OS load", "Run-time Critical Stop", "OS Graceful Stop", "OS Graceful Shutdown",
		"Soft Shutdown initiated by PEF", "Agent Not Responding",
	},
	sdr.SensorTypeSlotConnector: {
		"Fault Status asserted", "Identify Status asserted", "Slot/Connector Device installed/attached",
		"Slot/Connector Ready for Device Installation", "Slot/Connector Ready for Device Removal",
		"Slot Power is Off", "Slot/Connector Device Removal Request", "Interlock asserted", "Slot is Disabled",
		"Slot holds spare device",
	},
	sdr.SensorTypeSystemACPIPowerState: {
		"S0/G0", "S1", "S2", "S3", "S4", "S5/G2", "S4/S5 soft-off", "G3/Mechanical Off",
		"Sleeping in an S1, S2, or S3 states", "G1 sleeping", "S5 entered by override", "Legacy ON state",
		"Legacy OFF state", "Unspecified", "Unknown",
	},
	sdr.SensorTypeWatchdog2: {
		"Timer expired, status only", "Hard Reset", "Power Down", "Power Cycle", "reserved", "reserved",
		"reserved", "reserved", "Timer interrupt",
	},
	sdr.SensorTypePlatformAlert: {
		"platform generated page", "platform generated LAN alert", "Platform Event Trap generated",
		"platform generated SNMP trap, OEM format",
	},
	sdr.SensorTypeEntityPresence: {"Entity Present", "Entity Absent", "Entity Disabled"},
	sdr.SensorTypeLAN:            {"LAN Heartbeat Lost", "LAN Heartbeat"},
	sdr.SensorTypeManagementSubsystem: {
		"sensor access degraded or unavailable", "controller access degraded or unavailable",
		"management controller off-line", "management controller unavailable", "sensor failure", "FRU failure",
	},
	sdr.SensorTypeBattery: {"battery low", "battery failed", "battery presence detected"},
	sdr.SensorTypeSessionAudit: {
		"Session Activated", "Session Deactivated", "Invalid Username or Password", "Invalid Password Disable",
	},
	sdr.SensorTypeVersionChange: {
		"Hardware change detected with associated Entity",
		"Firmware or software change detected with associated Entity",
		"Hardware incompatibility detected with associated Entity",
		"Firmware or software incompatibility detected with associated Entity",
		"Entity is of an invalid or unsupported hardware version",
		"Entity contains an invalid or unsupported firmware or software version",
		"Hardware Change detected with associated Entity was successful",
		"Software or F/W Change detected with associated Entity was successful",
	},
	sdr.SensorTypeFRUState: {
		"FRU Not Installed", "FRU Inactive", "FRU Activation Requested", "FRU Activation In Progress",
		"FRU Active", "FRU Deactivation Requested", "FRU Deactivation In Progress", "FRU Communication Lost",
	},
}

// The texts of the sensor-specific event data 2 and 3 extension codes
// FreeIPMI decodes (IPMI v2.0 table 42-3, "Event Data 2/3" columns).
var (
	fipmiFirmwareError = []string{
		"Unspecified",
		"No system memory is physically installed in the system",
		"No usable system memory, all installed memory has experienced an unrecoverable failure",
		"Unrecoverable hard-disk/ATAPI/IDE device failure",
		"Unrecoverable system-board failure",
		"Unrecoverable diskette subsystem failure",
		"Unrecoverable hard-disk controller failure",
		"Unrecoverable PS/2 or USB keyboard failure",
		"Removable boot media not found",
		"Unrecoverable video controller failure",
		"No video device detected",
		"Firmware (BIOS) ROM corruption detected",
		"CPU voltage mismatch (processors that share same supply have mismatched voltage requirements)",
		"CPU speed matching failure",
	}
	// fipmiFirmwareStep serves both the hang and the progress offsets.
	fipmiFirmwareStep = []string{
		"Unspecified", "Memory initialization", "Hard-disk initialization",
		"Secondary processor(s) initialization", "User authentication", "User-initiated system setup",
		"USB resource configuration", "PCI resource configuration", "Option ROM initialization",
		"Video initialization", "Cache initialization", "SM Bus initialization",
		"Keyboard controller initialization", "Embedded controller/management controller initialization",
		"Docking station attachment", "Enabling docking station", "Docking station ejection",
		"Disabling docking station", "Calling operating system wake-up vector",
		"Starting operating system boot process, e.g. calling Unsigned Int 19h",
		"Baseboard or motherboard initialization", "reserved", "Floppy initialization", "Keyboard test",
		"Pointing device test", "Primary processor initialization",
	}
	fipmiAuxLogAction = []string{
		"Log entry action = entry added",
		"Log entry action = entry added because event did not be map to standard IPMI event",
		"Log entry action = entry added along with one or more corresponding SEL entries",
		"Log entry action = log cleared",
		"Log entry action = log disabled",
		"Log entry action = log enabled",
	}
	fipmiAuxLogType = []string{"Log Type = MCA log", "Log Type = OEM1", "Log Type = OEM2"}
	// fipmiFRUStatesLong are the FRU states in FreeIPMI's long wording,
	// which it uses for the previous state of a FRU state event.
	fipmiFRUStatesLong = []string{
		"FRU Not Installed", "FRU Inactive (in standby or `hot spare' state)", "FRU Activation Requested",
		"FRU Activation In Progress", "FRU Active", "FRU Deactivation Requested",
		"FRU Deactivation In Progress", "FRU Communication Lost",
	}
	fipmiClockType = []string{
		"SEL Timestamp Clock updated (Also used when both SEL and SDR Timestamp clocks are linked together)",
		"SDR Timestamp Clock updated",
	}
	fipmiClockPair = []string{"event is first of pair", "event is second of pair"}
	// fipmiPowerStates are the ACPI states of the chip set's soft power
	// control failure, after "Requested power state = " (data 2) or "Power
	// state at time of request = " (data 3, which adds "unknown").
	fipmiPowerStates = []string{
		`S0/G0 "working"`,
		`S1 "sleeping with system h/w & processor context maintained"`,
		`S2 "sleeping, processor context lost"`,
		`S3 "sleeping, processor & h/w context lost, memory retained."`,
		`S4 "non-volatile sleep/suspend-to disk"`,
		`S5/G2 "soft-off"`,
		"S4/S5 soft-off, particular S4/S5 state cannot be determined",
		"G3/Mechanical Off",
		"Sleeping in an S1, S2, or S3 states (used when particular S1, S2, S3 state cannot be determined)",
		"G1 sleeping (S1-S4 state cannot be determined)",
		"S5 entered by override",
		"Legacy ON state",
		"Legacy OFF state",
		"unknown",
	}
	fipmiRestartCause = []string{
		"unknown", "Chassis Control command", "reset via pushbutton", "power-up via power pushbutton",
		"Watchdog expiration", "OEM",
		"automatic power-up on AC being applied due to 'always restore' power restore policy",
		"automatic power-up on AC being applied due to 'restore previous power state' power restore policy",
		"reset via PEF", "power-cycle via PEF", "soft reset (e.g. CTRL-ALT-DEL)",
		"power-up via RTC (system real time clock) wakeup",
	}
	fipmiSlotType = []string{
		"PCI", "Drive Array", "External Peripheral Connector", "Docking", "other standard internal expansion slot",
		"slot associated with entity specified by Entity ID for sensor", "AdvancedTCA", "DIMM/memory device",
		"FAN", "PCI Express", "SCSI (parallel)", "SATA / SAS", "USB",
	}
	// fipmiInterruptType and fipmiTimerUse are the watchdog 2 event data 2
	// nibbles; "" is reserved.
	fipmiInterruptType = [16]string{0: "none", 1: "SMI", 2: "NMI", 3: "Messaging Interrupt", 15: "unspecified"}
	fipmiTimerUse      = [16]string{1: "BIOS FRB2", 2: "BIOS/POST", 3: "OS Load", 4: "SMS/OS", 5: "OEM", 15: "unspecified"}
	fipmiLogicalFRU    = []string{
		"device is not a logical FRU Device",
		"device is logical FRU Device (accessed via FRU commands to mgmt. controller",
	}
	fipmiVersionChange = []string{
		"unspecified",
		"management controller device ID (change in one or more fields from `Get Device ID')",
		"management controller firmware revision",
		"management controller device revision",
		"management controller manufacturer ID",
		"management controller IPMI version",
		"management controller auxiliary firmware ID",
		"management controller firmware boot block",
		"other management controller firmware",
		"system firmware (EFI/BIOS) change",
		"SMBIOS change",
		"operating system change",
		"operating system loader change",
		"service or diagnostic partition change",
		"management software agent change",
		"management software application change",
		"management software middleware change",
		"programmable hardware change (e.g. FPGA)",
		"board/FRU module change (change of a module plugged into associated entity)",
		"board/FRU component change (addition or removal of a replaceable component on the board/FRU that is not tracked as a FRU)",
		"board/FRU replaced with equivalent version",
		"board/FRU replaced with newer version",
		"board/FRU replaced with older version",
		"board/FRU hardware configuration change (e.g. strap, jumper, cable change, etc.)",
	}
	// fipmiFRUCause is the FRU state change cause; "" is reserved.
	fipmiFRUCause = [16]string{
		"Normal State Change", "Change Commanded by software external to FRU",
		"State Change due to operator changing a Handle latch",
		"State Change due to operator pressing the hotswap push button",
		"State Change due to FRU programmatic action", "Communication Lost",
		"Communication Lost due to local failure", "State Change due to unexpected extraction",
		"State Change due to operator intervention/update", "Unable to compute IPMB address",
		"Unexpected Deactivation", 15: "State Change, Cause Unknown",
	}
	fipmiPSUConfigError = []string{
		"Vendor mismatch", "Revision mismatch", "Processor missing or unexpected/unsupported condition",
		"Power Supply rating mismatch", "Voltage rating mismatch",
	}
	fipmiDeactivationCause = []string{
		"Session deactivatation cause unspecified. This value is also used for Session Activated events",
		"Session deactivated by Close Session command",
		"Session deactivated by timeout",
		"Session deactivated by configuration change",
	}
)

// Offsets of table 42-3 that the extension codes depend on.
const (
	offLANLeashLost           = 0x04 // physical security
	offFirmwareError          = 0x00 // system firmware progress
	offFirmwareHang           = 0x01
	offFirmwareProgress       = 0x02
	offMemoryLoggingDisabled  = 0x00 // event logging disabled
	offEventTypeLogging       = 0x01
	offSELAlmostFull          = 0x05
	offMachineCheckLogging    = 0x06
	offAuxLog                 = 0x03 // system event
	offPEFAction              = 0x04
	offClockSync              = 0x05
	offSoftPowerFailure       = 0x00 // chip set
	offSystemRestart          = 0x07 // system boot initiated
	offSensorAccessDegraded   = 0x00 // management subsystem health
	offSensorFailure          = 0x04
	offFRUFailure             = 0x05
	offSessionActivated       = 0x00 // session audit
	offSessionDeactivated     = 0x01
	offPSUConfigError         = 0x06 // power supply
	offMemorySpare            = 0x08 // memory
	selUnspecifiedByte        = 0xFF // event data 2/3 "unspecified"
	selUnspecifiedStateOffset = 0x0F // previous state / severity "unspecified"
)

// selEventText is the entry's text as FreeIPMI's ipmi-sel shows it in the
// Event column (see the top of this file). sensors is the BMC's SDR
// (sdr.Repository.Sensors), nil when unknown: it converts threshold events'
// readings. ok is false for record types ipmi-sel lists no row for.
func selEventText(e sel.Entry, sensors []sdr.SensorInfo) (text string, ok bool) {
	switch v := e.(type) {
	case *sel.SystemEvent:
		return systemEventText(v, sensors), true
	case *sel.OEMTimestamped:
		return oemDataText(v.Data[:]), true
	case *sel.OEMNonTimestamped:
		return oemDataText(v.Data[:]), true
	}
	return "", false
}

// oemDataText is FreeIPMI's OEM record text: the bytes after the
// manufacturer ID (timestamped) or the record type (non-timestamped).
func oemDataText(data []byte) string {
	var b strings.Builder
	b.WriteString("OEM defined = ")
	for i, c := range data {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%02Xh", c)
	}
	return b.String()
}

// eventClass is FreeIPMI's grouping of event/reading types.
type eventClass uint8

const (
	classUnknown eventClass = iota
	classThreshold
	classGeneric
	classSensorSpecific
	classOEM
)

func classOf(et sdr.EventReadingType) eventClass {
	switch {
	case et == sdr.EventTypeThreshold:
		return classThreshold
	case et >= sdr.EventTypeDMIUsage && et <= sdr.EventTypeACPIPowerState:
		return classGeneric
	case et == sdr.EventTypeSensorSpecific:
		return classSensorSpecific
	case et >= sdr.EventTypeOEMFirst && et <= sdr.EventTypeOEMLast:
		return classOEM
	}
	return classUnknown
}

// fipmiState returns the state text of offset, or "".
func fipmiState(et sdr.EventReadingType, st sdr.SensorType, offset uint8) string {
	var names []string
	switch classOf(et) {
	case classThreshold, classGeneric:
		names = fipmiGenericStates[et]
	case classSensorSpecific:
		names = fipmiSensorStates[st]
	}
	if int(offset) < len(names) {
		return names[offset]
	}
	return ""
}

func systemEventText(e *sel.SystemEvent, sensors []sdr.SensorInfo) string {
	d1 := eventData1Text(e)
	d23 := eventData23Text(e, sensors)
	if d23 == "" {
		return d1
	}
	return d1 + fipmiSep + d23
}

func eventData1Text(e *sel.SystemEvent) string {
	off := e.Offset()
	if s := fipmiState(e.EventType, e.SensorType, off); s != "" {
		return s
	}
	if classOf(e.EventType) == classOEM {
		return fmt.Sprintf("OEM Event Offset = %02Xh", off)
	}
	return fmt.Sprintf("Event Offset = %02Xh", off)
}

// eventData23Text joins what event data 2 and 3 say.
func eventData23Text(e *sel.SystemEvent, sensors []sdr.SensorInfo) string {
	if classOf(e.EventType) == classSensorSpecific && e.SensorType == sdr.SensorTypeEventLoggingDisabled &&
		e.Offset() == offMachineCheckLogging && e.Data2Usage() == sel.DataSensorSpecific &&
		e.Data3Usage() == sel.DataSensorSpecific {
		// Data 3 says what data 2 is: data 3's text covers both.
		return eventData3Text(e, sensors)
	}
	d2, d3 := eventData2Text(e, sensors), eventData3Text(e, sensors)
	switch {
	case d2 != "" && d3 != "":
		return d2 + fipmiSep + d3
	case d2 != "":
		return d2
	}
	return d3
}

// eventData2Text is event data 2's text, "" when there is none.
func eventData2Text(e *sel.SystemEvent, sensors []sdr.SensorInfo) string {
	d2 := e.EventData[1]
	raw := fmt.Sprintf("Event Data2 = %02Xh", d2)
	switch classOf(e.EventType) {
	case classThreshold:
		switch e.Data2Usage() {
		case sel.DataTrigger:
			if v, unit, ok := triggerValue(e, sensors, d2); ok {
				return "Sensor Reading = " + v + " " + unit
			}
			return fmt.Sprintf("Sensor Reading = %02Xh", d2)
		case sel.DataSensorSpecific:
			return extensionText(d2, raw, func() (string, bool) { return data2Message(e.SensorType, e.Offset(), d2) })
		case sel.DataOEM:
			return oemCodeText(d2, "OEM Event Data2 code")
		}
		return ""
	case classGeneric, classSensorSpecific:
		switch e.Data2Usage() {
		case sel.DataTrigger:
			if d2 == selUnspecifiedByte {
				return ""
			}
			return previousStateText(e, d2, raw)
		case sel.DataSensorSpecific:
			return extensionText(d2, raw, func() (string, bool) { return data2Message(e.SensorType, e.Offset(), d2) })
		case sel.DataOEM:
			return oemCodeText(d2, "OEM Event Data2 code")
		}
		return ""
	case classOEM:
		if d2 == selUnspecifiedByte || e.Data2Usage() == sel.DataUnspecified {
			return ""
		}
		return fmt.Sprintf("OEM Event Data2 code = %02Xh", d2)
	}
	return raw
}

// eventData3Text is event data 3's text, "" when there is none.
func eventData3Text(e *sel.SystemEvent, sensors []sdr.SensorInfo) string {
	d2, d3 := e.EventData[1], e.EventData[2]
	raw := fmt.Sprintf("Event Data3 = %02Xh", d3)
	switch classOf(e.EventType) {
	case classThreshold:
		switch e.Data3Usage() {
		case sel.DataTrigger:
			if v, unit, ok := triggerValue(e, sensors, d3); ok {
				return "Threshold = " + v + " " + unit
			}
			return fmt.Sprintf("Threshold = %02Xh", d3)
		case sel.DataSensorSpecific:
			return extensionText(d3, raw, func() (string, bool) { return data3Message(e.SensorType, e.Offset(), d2, d3) })
		case sel.DataOEM:
			return oemCodeText(d3, "OEM Event Data3 code")
		}
		return ""
	case classGeneric, classSensorSpecific:
		switch e.Data3Usage() {
		case sel.DataSensorSpecific:
			return extensionText(d3, raw, func() (string, bool) { return data3Message(e.SensorType, e.Offset(), d2, d3) })
		case sel.DataOEM:
			return oemCodeText(d3, "OEM Event Data3 code")
		}
		// 01h is reserved for discrete events' data 3.
		return ""
	case classOEM:
		if d3 == selUnspecifiedByte || e.Data3Usage() == sel.DataUnspecified {
			return ""
		}
		return fmt.Sprintf("OEM Event Data3 code = %02Xh", d3)
	}
	return raw
}

// extensionText is a sensor-specific extension code's text: nothing for
// FFh (unspecified), the decoded message, or raw when there is none.
func extensionText(b uint8, raw string, message func() (string, bool)) string {
	if b == selUnspecifiedByte {
		return ""
	}
	if m, ok := message(); ok {
		return m
	}
	return raw
}

func oemCodeText(b uint8, what string) string {
	if b == selUnspecifiedByte {
		return ""
	}
	return fmt.Sprintf("%s = %02Xh", what, b)
}

// previousStateText is a discrete event's data 2 with previous state
// (bits 3:0) and severity (bits 7:4) offsets. FreeIPMI words the previous
// state by the sensor type's data 2 message for that offset, which few
// sensor types have; the severity by the generic severity states.
func previousStateText(e *sel.SystemEvent, d2 uint8, raw string) string {
	prevOff, sevOff := d2&0x0F, d2>>4
	var prev, sev string
	if prevOff != selUnspecifiedStateOffset {
		if m, ok := data2Message(e.SensorType, e.Offset(), prevOff); ok {
			prev = "Previous State = " + m
		}
	}
	if sevOff != selUnspecifiedStateOffset {
		if names := fipmiGenericStates[sdr.EventTypeSeverity]; int(sevOff) < len(names) {
			sev = "Severity State = " + names[sevOff]
		}
	}
	switch {
	case prev != "" && sev != "":
		return prev + fipmiSep + sev
	case prev != "":
		return prev
	case sev != "":
		return sev
	}
	return raw
}

// pick returns names[i], or false when i is beyond names or names[i] is
// empty (reserved).
func pick(names []string, i uint8) (string, bool) {
	if int(i) < len(names) && names[i] != "" {
		return names[i], true
	}
	return "", false
}

// data2Message is the sensor-specific event data 2 text of sensor type st
// at offset, as FreeIPMI decodes it; false when it has none.
func data2Message(st sdr.SensorType, offset, d2 uint8) (string, bool) {
	n := strconv.Itoa(int(d2))
	switch st {
	case sdr.SensorTypePhysicalSecurity:
		if offset == offLANLeashLost {
			return "Network controller #" + n, true
		}
	case sdr.SensorTypeSystemFirmwareProgress:
		switch offset {
		case offFirmwareError:
			return pick(fipmiFirmwareError, d2)
		case offFirmwareHang, offFirmwareProgress:
			return pick(fipmiFirmwareStep, d2)
		}
	case sdr.SensorTypeEventLoggingDisabled:
		switch offset {
		case offMemoryLoggingDisabled:
			return "Memory module/device #" + n, true
		case offEventTypeLogging:
			return "Event/Reading Type Code #" + n, true
		case offMachineCheckLogging:
			return "Instance ID #" + n, true
		}
	case sdr.SensorTypeSystemEvent:
		switch offset {
		case offAuxLog:
			action, okA := pick(fipmiAuxLogAction, d2&0x0F)
			typ, okT := pick(fipmiAuxLogType, d2>>4)
			switch {
			case okA && okT:
				return action + fipmiSep + typ, true
			case okA:
				return action, true
			case okT:
				return typ, true
			}
		case offPEFAction:
			// FreeIPMI builds the action list but reports it as no
			// message, so the raw "Event Data2 = 01h" is what it prints.
			return "", false
		case offClockSync:
			typ, _ := pick(fipmiClockType, d2&0x0F)
			pair := fipmiClockPair[d2>>7]
			return typ + fipmiSep + pair, true
		}
	case sdr.SensorTypeChipSet:
		if offset == offSoftPowerFailure && int(d2) < len(fipmiPowerStates)-1 {
			return "Requested power state = " + fipmiPowerStates[d2], true
		}
	case sdr.SensorTypeSystemBootInitiated:
		if offset == offSystemRestart {
			return pick(fipmiRestartCause, d2&0x0F)
		}
	case sdr.SensorTypeSlotConnector:
		if t, ok := pick(fipmiSlotType, d2&0x7F); ok {
			return "Slot/Connector Type = " + t, true
		}
	case sdr.SensorTypeWatchdog2:
		use, intr := fipmiTimerUse[d2&0x0F], fipmiInterruptType[d2>>4]
		if use != "" {
			use = "Timer use at expiration = " + use
		} else {
			use = "reserved"
		}
		if intr != "" {
			intr = "Interrupt type = " + intr
		} else {
			intr = "reserved"
		}
		return use + fipmiSep + intr, true
	case sdr.SensorTypeManagementSubsystem:
		switch offset {
		case offSensorAccessDegraded, offSensorFailure:
			return "Sensor Number #" + n, true
		case offFRUFailure:
			bus, lun, logical := d2&0x07, (d2>>3)&0x03, d2>>7
			return fmt.Sprintf("%s%sLUN for Master Write-Read command or FRU Command #%d%sPrivate bus ID #%d",
				fipmiLogicalFRU[logical], fipmiSep, lun, fipmiSep, bus), true
		}
	case sdr.SensorTypeSessionAudit:
		if offset == offSessionActivated {
			if user := d2 & 0x3F; user != 0 {
				return "User ID for user that activated session #" + strconv.Itoa(int(user)), true
			}
			return "User ID for user that activated session = Unspecified", true
		}
	case sdr.SensorTypeVersionChange:
		if t, ok := pick(fipmiVersionChange, d2); ok {
			return "Version change type = " + t, true
		}
	case sdr.SensorTypeFRUState:
		prev, _ := pick(fipmiFRUStatesLong, d2&0x0F)
		if cause := fipmiFRUCause[d2>>4]; cause != "" {
			return "Previous State = " + prev + fipmiSep + "Cause of state change = " + cause, true
		}
		return "Previous State = " + prev + fipmiSep + "reserved", true
	}
	return "", false
}

// data3Message is the sensor-specific event data 3 text of sensor type st
// at offset, as FreeIPMI decodes it; false when it has none.
func data3Message(st sdr.SensorType, offset, d2, d3 uint8) (string, bool) {
	switch st {
	case sdr.SensorTypePowerSupply:
		if offset == offPSUConfigError {
			return pick(fipmiPSUConfigError, d3&0x0F)
		}
	case sdr.SensorTypeMemory:
		if offset == offMemorySpare {
			return "Memory module/device #" + strconv.Itoa(int(d3)), true
		}
	case sdr.SensorTypeEventLoggingDisabled:
		switch offset {
		case offEventTypeLogging:
			// Bit 4 is the direction; FreeIPMI reads it into a variable it
			// then ignores in favour of an uninitialized one, so its text
			// here may vary between builds.
			dir := "deassertion event"
			if d3&0x10 != 0 {
				dir = "assertion event"
			}
			s := fmt.Sprintf("Event Offset #%d%s%s", d3&0x0F, fipmiSep, dir)
			if d3&0x20 != 0 {
				s += fipmiSep + "logging has been disabled for all events of given type"
			}
			return s, true
		case offSELAlmostFull:
			return strconv.Itoa(int(d3)) + "% full", true
		case offMachineCheckLogging:
			what := "Entity Instance Number"
			if d3&0x80 != 0 {
				what = "Vendor-specific Processor Number"
			}
			return what + " = #" + strconv.Itoa(int(d2)), true
		}
	case sdr.SensorTypeChipSet:
		if offset == offSoftPowerFailure && int(d3) < len(fipmiPowerStates) {
			return "Power state at time of request = " + fipmiPowerStates[d3], true
		}
	case sdr.SensorTypeSystemBootInitiated:
		if offset == offSystemRestart {
			return "Channel Number used to deliver command that generated restart #" + strconv.Itoa(int(d3)), true
		}
	case sdr.SensorTypeSlotConnector:
		return "Slot/Connector #" + strconv.Itoa(int(d3)), true
	case sdr.SensorTypeManagementSubsystem:
		if offset == offFRUFailure {
			return "FRU Device ID/Slave Address #" + strconv.Itoa(int(d3)), true
		}
	case sdr.SensorTypeSessionAudit:
		s := "Channel number that session was activated/deactivated = " + strconv.Itoa(int(d3&0x0F))
		if offset == offSessionDeactivated {
			s += fipmiSep + fipmiDeactivationCause[(d3>>4)&0x03]
		}
		return s, true
	}
	return "", false
}

// triggerValue converts a threshold event's trigger reading or threshold
// byte with the generating sensor's SDR record, as FreeIPMI: the first
// sensor with the generator's owner ID byte and the sensor number, a Full
// record of a threshold sensor with an analog reading; the value rounded
// to two decimals, and FreeIPMI's abbreviated unit.
func triggerValue(e *sel.SystemEvent, sensors []sdr.SensorInfo, raw uint8) (value, unit string, ok bool) {
	s := findEventSensor(sensors, e)
	if s == nil || !s.EventType.IsThreshold() {
		return "", "", false
	}
	if _, full := s.Record.(*sdr.FullSensor); !full {
		return "", "", false
	}
	v, ok := fipmiDecode(&s.Conversion, raw)
	if !ok {
		return "", "", false
	}
	return strconv.FormatFloat(fipmiRound2(v), 'f', 2, 64), fipmiUnit(s.Units), true
}

// fipmiDecode converts a raw reading in FreeIPMI's order of floating-point
// operations, ((x*M + B*10^BExp) * 10^RExp, then the linearization), not
// sdr.Conversion's exact one: 85 * 157 * 10^-3 is 13.345000000000001 there
// and prints as 13.35 after FreeIPMI's rounding, 13.34 from the exact
// 13.345. An inverse of 0 stays 0, as there. Formats and linearizations
// FreeIPMI does not decode, and results that are not finite (FreeIPMI
// prints those as C's nan/inf), give false.
func fipmiDecode(c *sdr.Conversion, raw uint8) (float64, bool) {
	var x float64
	switch c.Format {
	case sdr.AnalogUnsigned:
		x = float64(raw)
	case sdr.AnalogOnesComplement:
		if raw&0x80 != 0 {
			raw++
		}
		x = float64(int8(raw))
	case sdr.AnalogTwosComplement:
		x = float64(int8(raw))
	default:
		return 0, false
	}
	v := x * float64(c.M)
	v += float64(c.B) * math.Pow(10, float64(c.BExp))
	v *= math.Pow(10, float64(c.RExp))
	switch c.Linearization {
	case sdr.LinearizationLinear:
	case sdr.LinearizationLn:
		v = math.Log(v)
	case sdr.LinearizationLog10:
		v = math.Log10(v)
	case sdr.LinearizationLog2:
		v = math.Log2(v)
	case sdr.LinearizationE:
		v = math.Exp(v)
	case sdr.LinearizationExp10:
		v = math.Pow(10, v)
	case sdr.LinearizationExp2:
		v = math.Exp2(v)
	case sdr.LinearizationInverse:
		if v != 0 {
			v = 1 / v
		}
	case sdr.LinearizationSqr:
		v = math.Pow(v, 2)
	case sdr.LinearizationCube:
		v = math.Pow(v, 3)
	case sdr.LinearizationSqrt:
		v = math.Sqrt(v)
	case sdr.LinearizationCubeRoot:
		v = math.Cbrt(v)
	default:
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// findEventSensor is FreeIPMI's SDR search for an event's sensor: by owner
// ID byte and number only (channel and LUN are not compared); an event
// from generator 40h, the BMC's address shifted once more (seen on a
// Supermicro board), is looked up as from 20h when nothing matches.
func findEventSensor(sensors []sdr.SensorInfo, e *sel.SystemEvent) *sdr.SensorInfo {
	gen, _ := e.Generator.Bytes()
	if s := findSensorByOwner(sensors, gen, e.SensorNumber); s != nil {
		return s
	}
	if gen == 0x40 {
		return findSensorByOwner(sensors, 0x20, e.SensorNumber)
	}
	return nil
}

func findSensorByOwner(sensors []sdr.SensorInfo, ownerID, number uint8) *sdr.SensorInfo {
	for i := range sensors {
		if id, _ := sensors[i].Owner.Bytes(); id == ownerID && sensors[i].Number == number {
			return &sensors[i]
		}
	}
	return nil
}

// fipmiRound2 is FreeIPMI's rounding of event readings to two decimals:
// the hundredths are truncated, and rounded up only when what is left is
// more than half a hundredth.
func fipmiRound2(d float64) float64 {
	whole := float64(int64(d))
	r := (d - whole) * 100
	rw := float64(int64(r))
	if r-rw > 0.5 {
		return whole + (rw+1)/100
	}
	return whole + rw/100
}

// fipmiUnitAbbrev are FreeIPMI's abbreviated unit names, indexed by unit
// code (IPMI v2.0 table 43-15).
var fipmiUnitAbbrev = [...]string{
	"unspecified", "C", "F", "K", "V", "A", "W", "J", "C", "VA", "nits", "lm", "lux", "cd", "KPA", "PSI",
	"N", "CFM", "RPM", "Hz", "us", "ms", "s", "min", "hr", "day", "wk", "mil", "in", "ft", "cu in", "cu feet",
	"mm", "cm", "m", "cu cm", "cu m", "L", "fl oz", "rad", "sr", "rev", "c", "g", "oz", "lb", "ft lB", "oz in",
	"G", "Gi", "H", "mH", "F", "uF", "ohms", "S", "mol", "Bq", "PPM", "Reserved", "dB", "DbA", "DbC", "Gy",
	"Sv", "color temp deg K", "b", "Kb", "Mb", "Gb", "B", "KB", "MB", "GB", "word", "dword", "qword", "line",
	"hit", "miss", "retry", "reset", "overrun / overflow", "underrun", "collision", "pkts", "msgs", "chars",
	"err", "correctable err", "uncorrectable err", "fatal err", "g",
}

// fipmiRateUnits are FreeIPMI's rate unit names, indexed by rate code.
var fipmiRateUnits = [...]string{"none", "per uS", "per ms", "per s", "per minute", "per hour", "per day"}

// fipmiUnit is the unit text FreeIPMI prints after an event reading
// (abbreviated units: "C", "RPM", "V", "% W", "W per hour", "A / s").
// Combinations FreeIPMI rejects (a code beyond the tables, a modifier unit
// together with a rate) read "unspecified", as there.
func fipmiUnit(u sdr.Units) string {
	const unspecified = "unspecified"
	if int(u.Base) >= len(fipmiUnitAbbrev) || int(u.Modifier) >= len(fipmiUnitAbbrev) ||
		int(u.Rate) >= len(fipmiRateUnits) || u.Relation > sdr.ModifierMultiply ||
		(u.Relation != sdr.ModifierNone && u.Rate != sdr.RateNone) {
		return unspecified
	}
	pct := ""
	if u.Percentage {
		if u.Relation == sdr.ModifierNone && u.Rate == sdr.RateNone && u.Base == sdr.UnitUnspecified {
			return "%"
		}
		pct = "% "
	}
	base := fipmiUnitAbbrev[u.Base]
	switch {
	case u.Rate != sdr.RateNone:
		if u.Base == sdr.UnitRPM && u.Rate == sdr.RateMinute {
			return pct + base // RPM is per minute already
		}
		return pct + base + " " + fipmiRateUnits[u.Rate]
	case u.Relation == sdr.ModifierNone || u.Modifier == sdr.UnitUnspecified:
		return pct + base
	case u.Relation == sdr.ModifierDivide:
		return pct + base + " / " + fipmiUnitAbbrev[u.Modifier]
	}
	return pct + base + " * " + fipmiUnitAbbrev[u.Modifier]
}

// needsSDR reports whether e's text depends on the SDR: a threshold event
// carrying a trigger reading or threshold.
func needsSDR(e sel.Entry) bool {
	se, ok := e.(*sel.SystemEvent)
	return ok && classOf(se.EventType) == classThreshold &&
		(se.Data2Usage() == sel.DataTrigger || se.Data3Usage() == sel.DataTrigger)
}
