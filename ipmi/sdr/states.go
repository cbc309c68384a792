package sdr

import "strconv"

// State names, as ipmitool prints them in "sel elist" and "sdr elist"
// (IPMI v2.0 tables 42-2 and 42-3). An offset is a bit number of the state
// bits in Get Sensor Reading and the event offset of a SEL record.

// genericStateNames are the generic event/reading type state sets,
// indexed by event/reading type code, then offset.
var genericStateNames = [...][]string{
	EventTypeThreshold: {
		"Lower Non-critical going low", "Lower Non-critical going high",
		"Lower Critical going low", "Lower Critical going high",
		"Lower Non-recoverable going low", "Lower Non-recoverable going high",
		"Upper Non-critical going low", "Upper Non-critical going high",
		"Upper Critical going low", "Upper Critical going high",
		"Upper Non-recoverable going low", "Upper Non-recoverable going high",
	},
	EventTypeDMIUsage:       {"Transition to Idle", "Transition to Active", "Transition to Busy"},
	EventTypeState:          {"State Deasserted", "State Asserted"},
	EventTypePredictiveFail: {"Predictive Failure Deasserted", "Predictive Failure Asserted"},
	EventTypeLimit:          {"Limit Not Exceeded", "Limit Exceeded"},
	EventTypePerformance:    {"Performance Met", "Performance Lags"},
	EventTypeSeverity: {
		"Transition to OK", "Transition to Non-critical from OK",
		"Transition to Critical from less severe", "Transition to Non-recoverable from less severe",
		"Transition to Non-critical from more severe", "Transition to Critical from Non-recoverable",
		"Transition to Non-recoverable", "Monitor", "Informational",
	},
	EventTypePresence: {"Device Absent", "Device Present"},
	EventTypeEnabled:  {"Device Disabled", "Device Enabled"},
	EventTypeAvailability: {
		"Transition to Running", "Transition to In Test", "Transition to Power Off",
		"Transition to On Line", "Transition to Off Line", "Transition to Off Duty",
		"Transition to Degraded", "Transition to Power Save", "Install Error",
	},
	EventTypeRedundancy: {
		"Fully Redundant", "Redundancy Lost", "Redundancy Degraded",
		"Non-Redundant: Sufficient from Redundant", "Non-Redundant: Sufficient from Insufficient",
		"Non-Redundant: Insufficient Resources", "Redundancy Degraded from Fully Redundant",
		"Redundancy Degraded from Non-Redundant",
	},
	EventTypeACPIPowerState: {"D0 Power State", "D1 Power State", "D2 Power State", "D3 Power State"},
}

// sensorSpecificStateNames are the sensor-specific (event/reading type 6Fh)
// state sets, indexed by sensor type, then offset.
var sensorSpecificStateNames = map[SensorType][]string{
	SensorTypePhysicalSecurity: {
		"General Chassis intrusion", "Drive Bay intrusion", "I/O Card area intrusion",
		"Processor area intrusion", "System unplugged from LAN", "Unauthorized dock",
		"FAN area intrusion",
	},
	SensorTypePlatformSecurity: {
		"Front Panel Lockout violation attempted", "Pre-boot password violation - user password",
		"Pre-boot password violation - setup password", "Pre-boot password violation - network boot password",
		"Other pre-boot password violation", "Out-of-band access password violation",
	},
	SensorTypeProcessor: {
		"IERR", "Thermal Trip", "FRB1/BIST failure", "FRB2/Hang in POST failure",
		"FRB3/Processor startup/init failure", "Configuration Error",
		"SM BIOS Uncorrectable CPU-complex Error", "Presence detected", "Disabled",
		"Terminator presence detected", "Throttled", "Uncorrectable machine check exception",
		"Correctable machine check error",
	},
	SensorTypePowerSupply: {
		"Presence detected", "Failure detected", "Predictive failure", "Power Supply AC lost",
		"AC lost or out-of-range", "AC out-of-range, but present", "Config Error",
		"Power Supply Inactive",
	},
	SensorTypePowerUnit: {
		"Power off/down", "Power cycle", "240VA power down", "Interlock power down", "AC lost",
		"Soft-power control failure", "Failure detected", "Predictive failure",
	},
	SensorTypeMemory: {
		"Correctable ECC", "Uncorrectable ECC", "Parity", "Memory Scrub Failed",
		"Memory Device Disabled", "Correctable ECC logging limit reached", "Presence Detected",
		"Configuration Error", "Spare", "Throttled", "Critical Overtemperature",
	},
	SensorTypeDriveSlot: {
		"Drive Present", "Drive Fault", "Predictive Failure", "Hot Spare", "Parity Check In Progress",
		"In Critical Array", "In Failed Array", "Rebuild In Progress", "Rebuild Aborted",
	},
	SensorTypeSystemFirmwareProgress: {"System Firmware Error", "System Firmware Hang", "System Firmware Progress"},
	SensorTypeEventLoggingDisabled: {
		"Correctable memory error logging disabled", "Event logging disabled", "Log area reset/cleared",
		"All event logging disabled", "Log full", "Log almost full",
		"Correctable machine check error logging disabled",
	},
	SensorTypeWatchdog1: {
		"BIOS Reset", "OS Reset", "OS Shut Down", "OS Power Down", "OS Power Cycle",
		"OS NMI/Diag Interrupt", "OS Expired", "OS pre-timeout Interrupt",
	},
	SensorTypeSystemEvent: {
		"System Reconfigured", "OEM System boot event", "Undetermined system hardware failure",
		"Entry added to auxiliary log", "PEF Action", "Timestamp Clock Sync",
	},
	SensorTypeCriticalInterrupt: {
		"NMI/Diag Interrupt", "Bus Timeout", "I/O Channel check NMI", "Software NMI", "PCI PERR",
		"PCI SERR", "EISA failsafe timeout", "Bus Correctable error", "Bus Uncorrectable error",
		"Fatal NMI", "Bus Fatal Error", "Bus Degraded",
	},
	SensorTypeButtonSwitch: {
		"Power Button pressed", "Sleep Button pressed", "Reset Button pressed", "FRU Latch", "FRU Service",
	},
	SensorTypeChipSet:           {"Soft Power Control Failure", "Thermal Trip"},
	SensorTypeCableInterconnect: {"Connected", "Config Error"},
	SensorTypeSystemBootInitiated: {
		"Initiated by power up", "Initiated by hard reset", "Initiated by warm reset",
		"User requested PXE boot", "Automatic boot to diagnostic", "OS initiated hard reset",
		"OS initiated warm reset", "System Restart",
	},
	SensorTypeBootError: {
		"No bootable media", "Non-bootable disk in drive", "PXE server not found",
		"Invalid boot sector", "Timeout waiting for selection",
	},
	SensorTypeOSBoot: {
		"A: boot completed", "C: boot completed", "PXE boot completed", "Diagnostic boot completed",
		"CD-ROM boot completed", "ROM boot completed", "boot completed - device not specified",
		"Installation started", "Installation completed", "Installation aborted", "Installation failed",
	},
	SensorTypeOSCriticalStop: {
		"Error during system startup", "Run-time critical stop", "OS graceful stop",
		"OS graceful shutdown", "PEF initiated soft shutdown", "Agent not responding",
	},
	SensorTypeSlotConnector: {
		"Fault Status", "Identify Status", "Device Installed", "Ready for Device Installation",
		"Ready for Device Removal", "Slot Power is Off", "Device Removal Request", "Interlock",
		"Slot is Disabled", "Spare Device",
	},
	SensorTypeSystemACPIPowerState: {
		"S0/G0: working", "S1: sleeping with system hw & processor context maintained",
		"S2: sleeping, processor context lost", "S3: sleeping, processor & hw context lost, memory retained",
		"S4: non-volatile sleep/suspend-to-disk", "S5/G2: soft-off", "S4/S5: soft-off",
		"G3: mechanical off", "Sleeping in S1/S2/S3 state", "G1: sleeping", "S5: entered by override",
		"Legacy ON state", "Legacy OFF state", "Unspecified", "Unknown",
	},
	SensorTypeWatchdog2: {
		"Timer expired", "Hard reset", "Power down", "Power cycle", "reserved", "reserved",
		"reserved", "reserved", "Timer interrupt",
	},
	SensorTypePlatformAlert: {
		"Platform generated page", "Platform generated LAN alert", "Platform Event Trap generated",
		"Platform generated SNMP trap, OEM format",
	},
	SensorTypeEntityPresence: {"Present", "Absent", "Disabled"},
	SensorTypeLAN:            {"Heartbeat Lost", "Heartbeat"},
	SensorTypeManagementSubsystem: {
		"Sensor access degraded or unavailable", "Controller access degraded or unavailable",
		"Management controller off-line", "Management controller unavailable", "Sensor failure",
		"FRU failure",
	},
	SensorTypeBattery: {"Low", "Failed", "Presence Detected"},
	SensorTypeSessionAudit: {
		"Session Activated", "Session Deactivated", "Invalid Username or Password",
		"Invalid password disable",
	},
	SensorTypeVersionChange: {
		"Hardware change detected", "Firmware or software change detected",
		"Hardware incompatibility detected", "Firmware or software incompatibility detected",
		"Invalid or unsupported hardware version", "Invalid or unsupported firmware or software version",
		"Hardware change success", "Firmware or software change success",
	},
	SensorTypeFRUState: {
		"Not Installed", "Inactive", "Activation Requested", "Activation in Progress", "Active",
		"Deactivation Requested", "Deactivation in Progress", "Communication lost",
	},
}

// StateName names state offset of a sensor with the given event/reading
// type and sensor type. It returns "" for OEM and unknown states.
func StateName(et EventReadingType, st SensorType, offset uint8) string {
	var names []string
	switch {
	case et.IsSensorSpecific():
		names = sensorSpecificStateNames[st]
	case int(et) < len(genericStateNames):
		names = genericStateNames[et]
	}
	if int(offset) < len(names) {
		return names[offset]
	}
	return ""
}

// StateNames appends the names of the asserted states (bits of states) to
// dst; states without a name are written as "state N".
func StateNames(dst []string, et EventReadingType, st SensorType, states uint16) []string {
	for offset := uint8(0); offset < 15; offset++ {
		if states&(1<<offset) == 0 {
			continue
		}
		name := StateName(et, st, offset)
		if name == "" {
			name = "state " + strconv.Itoa(int(offset))
		}
		dst = append(dst, name)
	}
	return dst
}
