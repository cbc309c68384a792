package sdr

import "fmt"

// SensorType is the sensor type code (IPMI v2.0 table 42-3).
type SensorType uint8

const (
	SensorTypeTemperature            SensorType = 0x01
	SensorTypeVoltage                SensorType = 0x02
	SensorTypeCurrent                SensorType = 0x03
	SensorTypeFan                    SensorType = 0x04
	SensorTypePhysicalSecurity       SensorType = 0x05
	SensorTypePlatformSecurity       SensorType = 0x06
	SensorTypeProcessor              SensorType = 0x07
	SensorTypePowerSupply            SensorType = 0x08
	SensorTypePowerUnit              SensorType = 0x09
	SensorTypeCoolingDevice          SensorType = 0x0A
	SensorTypeOtherUnits             SensorType = 0x0B
	SensorTypeMemory                 SensorType = 0x0C
	SensorTypeDriveSlot              SensorType = 0x0D
	SensorTypePOSTMemoryResize       SensorType = 0x0E
	SensorTypeSystemFirmwareProgress SensorType = 0x0F
	SensorTypeEventLoggingDisabled   SensorType = 0x10
	SensorTypeWatchdog1              SensorType = 0x11
	SensorTypeSystemEvent            SensorType = 0x12
	SensorTypeCriticalInterrupt      SensorType = 0x13
	SensorTypeButtonSwitch           SensorType = 0x14
	SensorTypeModuleBoard            SensorType = 0x15
	SensorTypeMicrocontroller        SensorType = 0x16
	SensorTypeAddInCard              SensorType = 0x17
	SensorTypeChassis                SensorType = 0x18
	SensorTypeChipSet                SensorType = 0x19
	SensorTypeOtherFRU               SensorType = 0x1A
	SensorTypeCableInterconnect      SensorType = 0x1B
	SensorTypeTerminator             SensorType = 0x1C
	SensorTypeSystemBootInitiated    SensorType = 0x1D
	SensorTypeBootError              SensorType = 0x1E
	SensorTypeOSBoot                 SensorType = 0x1F
	SensorTypeOSCriticalStop         SensorType = 0x20
	SensorTypeSlotConnector          SensorType = 0x21
	SensorTypeSystemACPIPowerState   SensorType = 0x22
	SensorTypeWatchdog2              SensorType = 0x23
	SensorTypePlatformAlert          SensorType = 0x24
	SensorTypeEntityPresence         SensorType = 0x25
	SensorTypeMonitorASIC            SensorType = 0x26
	SensorTypeLAN                    SensorType = 0x27
	SensorTypeManagementSubsystem    SensorType = 0x28
	SensorTypeBattery                SensorType = 0x29
	SensorTypeSessionAudit           SensorType = 0x2A
	SensorTypeVersionChange          SensorType = 0x2B
	SensorTypeFRUState               SensorType = 0x2C
)

// sensorTypeNames are FreeIPMI's names (so that labels match what
// prometheus-ipmi-exporter shows), indexed by code.
var sensorTypeNames = [...]string{
	"Reserved", "Temperature", "Voltage", "Current", "Fan", "Physical Security",
	"Platform Security Violation Attempt", "Processor", "Power Supply", "Power Unit",
	"Cooling Device", "Other Units Based Sensor", "Memory", "Drive Slot", "POST Memory Resize",
	"System Firmware Progress", "Event Logging Disabled", "Watchdog 1", "System Event",
	"Critical Interrupt", "Button/Switch", "Module/Board", "Microcontroller/Coprocessor",
	"Add In Card", "Chassis", "Chip Set", "Other Fru", "Cable/Interconnect", "Terminator",
	"System Boot Initiated", "Boot Error", "OS Boot", "OS Critical Stop", "Slot/Connector",
	"System ACPI Power State", "Watchdog 2", "Platform Alert", "Entity Presence",
	"Monitor ASIC/IC", "LAN", "Management Subsystem Health", "Battery", "Session Audit",
	"Version Change", "FRU State",
}

// IsOEM reports whether t is in the OEM range C0h-FFh.
func (t SensorType) IsOEM() bool { return t >= 0xC0 }

func (t SensorType) String() string {
	if int(t) < len(sensorTypeNames) {
		return sensorTypeNames[t]
	}
	if t.IsOEM() {
		return "OEM Reserved"
	}
	return fmt.Sprintf("Sensor Type 0x%02x", uint8(t))
}

// EventReadingType is the event/reading type code (IPMI v2.0 table 42-1):
// whether a sensor is threshold-based, uses one of the generic discrete
// state sets, the sensor-type-specific set, or an OEM set.
type EventReadingType uint8

const (
	EventTypeUnspecified     EventReadingType = 0x00
	EventTypeThreshold       EventReadingType = 0x01
	EventTypeDMIUsage        EventReadingType = 0x02
	EventTypeState           EventReadingType = 0x03 // state deasserted/asserted
	EventTypePredictiveFail  EventReadingType = 0x04
	EventTypeLimit           EventReadingType = 0x05
	EventTypePerformance     EventReadingType = 0x06
	EventTypeSeverity        EventReadingType = 0x07
	EventTypePresence        EventReadingType = 0x08 // device removed/absent, inserted/present
	EventTypeEnabled         EventReadingType = 0x09
	EventTypeAvailability    EventReadingType = 0x0A
	EventTypeRedundancy      EventReadingType = 0x0B
	EventTypeACPIPowerState  EventReadingType = 0x0C
	EventTypeSensorSpecific  EventReadingType = 0x6F
	EventTypeOEMFirst        EventReadingType = 0x70
	EventTypeOEMLast         EventReadingType = 0x7F
	eventTypeGenericLastCode                  = EventTypeACPIPowerState
)

// IsThreshold reports a threshold-based sensor.
func (e EventReadingType) IsThreshold() bool { return e == EventTypeThreshold }

// IsGeneric reports one of the generic discrete state sets (02h-0Ch).
func (e EventReadingType) IsGeneric() bool {
	return e >= EventTypeDMIUsage && e <= eventTypeGenericLastCode
}

// IsSensorSpecific reports the sensor-type-specific state set (6Fh).
func (e EventReadingType) IsSensorSpecific() bool { return e == EventTypeSensorSpecific }

// IsOEM reports an OEM state set (70h-7Fh).
func (e EventReadingType) IsOEM() bool { return e >= EventTypeOEMFirst && e <= EventTypeOEMLast }

// IsDiscrete reports a discrete (not threshold) sensor.
func (e EventReadingType) IsDiscrete() bool {
	return e.IsGeneric() || e.IsSensorSpecific() || e.IsOEM()
}

var eventTypeNames = [...]string{
	"unspecified", "threshold", "DMI usage state", "digital discrete state",
	"predictive failure", "limit", "performance", "severity", "device presence",
	"device enabled", "availability state", "redundancy", "ACPI device power state",
}

func (e EventReadingType) String() string {
	switch {
	case int(e) < len(eventTypeNames):
		return eventTypeNames[e]
	case e.IsSensorSpecific():
		return "sensor-specific"
	case e.IsOEM():
		return fmt.Sprintf("OEM 0x%02x", uint8(e))
	}
	return fmt.Sprintf("event/reading type 0x%02x", uint8(e))
}

// EntityID is an entity ID code (IPMI v2.0 table 43-13).
type EntityID uint8

const (
	EntityUnspecified   EntityID = 0x00
	EntityProcessor     EntityID = 0x03
	EntityDiskBay       EntityID = 0x04
	EntitySystemBoard   EntityID = 0x07
	EntityMemoryModule  EntityID = 0x08
	EntityPowerSupply   EntityID = 0x0A
	EntityAddInCard     EntityID = 0x0B
	EntityFrontPanel    EntityID = 0x0C
	EntitySystemChassis EntityID = 0x17
	EntityFan           EntityID = 0x1D
	EntityMemoryDevice  EntityID = 0x20
	EntityBIOS          EntityID = 0x22
	EntityBattery       EntityID = 0x28
	EntityMgmtFirmware  EntityID = 0x2E
	EntityAirInlet      EntityID = 0x37
	EntityDCMIAirInlet  EntityID = 0x40
	EntityDCMIProcessor EntityID = 0x41
	EntityDCMIBaseboard EntityID = 0x42
)

// entityNames are the spec's entity names, indexed by code.
var entityNames = [...]string{
	0x00: "Unspecified",
	0x01: "Other",
	0x02: "Unknown",
	0x03: "Processor",
	0x04: "Disk or Disk Bay",
	0x05: "Peripheral Bay",
	0x06: "System Management Module",
	0x07: "System Board",
	0x08: "Memory Module",
	0x09: "Processor Module",
	0x0A: "Power Supply",
	0x0B: "Add-in Card",
	0x0C: "Front Panel Board",
	0x0D: "Back Panel Board",
	0x0E: "Power System Board",
	0x0F: "Drive Backplane",
	0x10: "System Internal Expansion Board",
	0x11: "Other System Board",
	0x12: "Processor Board",
	0x13: "Power Unit / Power Domain",
	0x14: "Power Module / DC-to-DC Converter",
	0x15: "Power Management / Power Distribution Board",
	0x16: "Chassis Back Panel Board",
	0x17: "System Chassis",
	0x18: "Sub-Chassis",
	0x19: "Other Chassis Board",
	0x1A: "Disk Drive Bay",
	0x1B: "Peripheral Bay",
	0x1C: "Device Bay",
	0x1D: "Fan / Cooling Device",
	0x1E: "Cooling Unit / Cooling Domain",
	0x1F: "Cable / Interconnect",
	0x20: "Memory Device",
	0x21: "System Management Software",
	0x22: "System Firmware",
	0x23: "Operating System",
	0x24: "System Bus",
	0x25: "Group",
	0x26: "Remote Management Communication Device",
	0x27: "External Environment",
	0x28: "Battery",
	0x29: "Processing Blade",
	0x2A: "Connectivity Switch",
	0x2B: "Processor/Memory Module",
	0x2C: "I/O Module",
	0x2D: "Processor/IO Module",
	0x2E: "Management Controller Firmware",
	0x2F: "IPMI Channel",
	0x30: "PCI Bus",
	0x31: "PCI Express Bus",
	0x32: "SCSI Bus (parallel)",
	0x33: "SATA/SAS Bus",
	0x34: "Processor/Front-Side Bus",
	0x35: "Real Time Clock (RTC)",
	0x36: "Reserved",
	0x37: "Air Inlet",
	0x38: "Reserved", 0x39: "Reserved", 0x3A: "Reserved", 0x3B: "Reserved",
	0x3C: "Reserved", 0x3D: "Reserved", 0x3E: "Reserved", 0x3F: "Reserved",
	0x40: "Air Inlet",
	0x41: "Processor",
	0x42: "Baseboard",
}

func (e EntityID) String() string {
	switch {
	case int(e) < len(entityNames):
		return entityNames[e]
	case e >= 0x90 && e <= 0xAF:
		return "Chassis-Specific"
	case e >= 0xB0 && e <= 0xCF:
		return "Board-Set Specific"
	case e >= 0xD0:
		return "OEM System Integrator Defined"
	}
	return fmt.Sprintf("Entity 0x%02x", uint8(e))
}
