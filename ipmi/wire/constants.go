package wire

import (
	"errors"
	"fmt"
)

// NetFn is an IPMI network function code as sent in a request (even value).
// The response carries NetFn|1.
type NetFn uint8

// Request network functions (IPMI v2.0 table 5-1, DCMI group extension).
const (
	NetFnChassis     NetFn = 0x00
	NetFnBridge      NetFn = 0x02
	NetFnSensorEvent NetFn = 0x04
	NetFnApp         NetFn = 0x06
	NetFnFirmware    NetFn = 0x08
	NetFnStorage     NetFn = 0x0A
	NetFnTransport   NetFn = 0x0C
	NetFnGroupExt    NetFn = 0x2C // DCMI and other group extensions; first data byte is the group ID
	NetFnOEMGroup    NetFn = 0x2E
)

// Response returns the response network function for a request NetFn.
func (n NetFn) Response() NetFn { return n | 1 }

// IsResponse reports whether n is a response (odd) network function.
func (n NetFn) IsResponse() bool { return n&1 == 1 }

func (n NetFn) String() string {
	switch n &^ 1 {
	case NetFnChassis:
		return "chassis"
	case NetFnBridge:
		return "bridge"
	case NetFnSensorEvent:
		return "sensor_event"
	case NetFnApp:
		return "app"
	case NetFnFirmware:
		return "firmware"
	case NetFnStorage:
		return "storage"
	case NetFnTransport:
		return "transport"
	case NetFnGroupExt:
		return "group_ext"
	case NetFnOEMGroup:
		return "oem_group"
	}
	return fmt.Sprintf("netfn_0x%02x", uint8(n))
}

// DCMIGroupID is the defining-body code that starts every DCMI request and
// response (DCMI v1.5 section 6.1).
const DCMIGroupID = 0xDC

// Standard slave addresses and LUNs.
const (
	BMCSlaveAddress      = 0x20 // the BMC's IPMB address
	RemoteConsoleSWID    = 0x81 // rqAddr used by remote console software (ipmitool uses 0x81)
	LUNBMC               = 0x00
	ChannelPrimaryIPMB   = 0x00
	ChannelPresentIface  = 0x0E // "this channel" in Get Channel Authentication Capabilities etc.
	BroadcastSlaveAddres = 0x00
)

// CompletionCode is the first byte of every IPMI response.
type CompletionCode uint8

// Generic completion codes (IPMI v2.0 table 5-2) and the few command-specific
// ones the client branches on.
const (
	CCOK                           CompletionCode = 0x00
	CCNodeBusy                     CompletionCode = 0xC0
	CCInvalidCommand               CompletionCode = 0xC1
	CCInvalidCommandForLUN         CompletionCode = 0xC2
	CCTimeout                      CompletionCode = 0xC3
	CCOutOfSpace                   CompletionCode = 0xC4
	CCReservationCanceled          CompletionCode = 0xC5
	CCRequestDataTruncated         CompletionCode = 0xC6
	CCRequestDataLengthInvalid     CompletionCode = 0xC7
	CCRequestDataFieldLengthLimit  CompletionCode = 0xC8
	CCParameterOutOfRange          CompletionCode = 0xC9
	CCCannotReturnRequestedBytes   CompletionCode = 0xCA
	CCRequestedDataNotPresent      CompletionCode = 0xCB
	CCInvalidDataField             CompletionCode = 0xCC
	CCCommandIllegalForSensor      CompletionCode = 0xCD
	CCResponseNotProvided          CompletionCode = 0xCE
	CCDuplicateRequest             CompletionCode = 0xCF
	CCSDRRepositoryInUpdate        CompletionCode = 0xD0
	CCFirmwareUpdateMode           CompletionCode = 0xD1
	CCBMCInitializing              CompletionCode = 0xD2
	CCDestinationUnavailable       CompletionCode = 0xD3
	CCInsufficientPrivilege        CompletionCode = 0xD4
	CCNotSupportedInPresentState   CompletionCode = 0xD5
	CCSubFunctionDisabled          CompletionCode = 0xD6
	CCUnspecified                  CompletionCode = 0xFF
	CCInvalidSessionIDInRequest    CompletionCode = 0x87 // Activate Session / Close Session specific
	CCSessionCommandNotImplemented CompletionCode = 0x81
)

var ccNames = map[CompletionCode]string{
	CCOK:                          "command completed normally",
	CCNodeBusy:                    "node busy",
	CCInvalidCommand:              "invalid command",
	CCInvalidCommandForLUN:        "command invalid for given LUN",
	CCTimeout:                     "timeout while processing command",
	CCOutOfSpace:                  "out of space",
	CCReservationCanceled:         "reservation canceled or invalid reservation ID",
	CCRequestDataTruncated:        "request data truncated",
	CCRequestDataLengthInvalid:    "request data length invalid",
	CCRequestDataFieldLengthLimit: "request data field length limit exceeded",
	CCParameterOutOfRange:         "parameter out of range",
	CCCannotReturnRequestedBytes:  "cannot return number of requested data bytes",
	CCRequestedDataNotPresent:     "requested sensor, data, or record not present",
	CCInvalidDataField:            "invalid data field in request",
	CCCommandIllegalForSensor:     "command illegal for specified sensor or record type",
	CCResponseNotProvided:         "command response could not be provided",
	CCDuplicateRequest:            "cannot execute duplicated request",
	CCSDRRepositoryInUpdate:       "SDR repository in update mode",
	CCFirmwareUpdateMode:          "device in firmware update mode",
	CCBMCInitializing:             "BMC initialization in progress",
	CCDestinationUnavailable:      "destination unavailable",
	CCInsufficientPrivilege:       "insufficient privilege level",
	CCNotSupportedInPresentState:  "command not supported in present state",
	CCSubFunctionDisabled:         "sub-function disabled or unavailable",
	CCUnspecified:                 "unspecified error",
}

func (c CompletionCode) String() string {
	if s, ok := ccNames[c]; ok {
		return fmt.Sprintf("0x%02x (%s)", uint8(c), s)
	}
	return fmt.Sprintf("0x%02x", uint8(c))
}

// CompletionCodeError is returned when a BMC answers a command with a
// completion code other than CCOK. Callers branch on Code, for example with
// IsCompletionCode(err, CCReservationCanceled).
type CompletionCodeError struct {
	NetFn   NetFn
	Command uint8
	Code    CompletionCode
}

func (e *CompletionCodeError) Error() string {
	return fmt.Sprintf("ipmi: %s command 0x%02x: completion code %s", e.NetFn&^1, e.Command, e.Code)
}

// IsCompletionCode reports whether err (or anything it wraps) is a
// CompletionCodeError with the given code.
func IsCompletionCode(err error, code CompletionCode) bool {
	var ce *CompletionCodeError
	return errors.As(err, &ce) && ce.Code == code
}

// Decoding errors. Every decoder error wraps one of these.
var (
	ErrShort     = errors.New("ipmi wire: message too short")
	ErrMalformed = errors.New("ipmi wire: malformed message")
	ErrChecksum  = errors.New("ipmi wire: checksum mismatch")
)

// PrivilegeLevel is an IPMI session privilege level.
type PrivilegeLevel uint8

const (
	PrivilegeHighest  PrivilegeLevel = 0x00 // "highest level matching proposed algorithms" in Open Session
	PrivilegeCallback PrivilegeLevel = 0x01
	PrivilegeUser     PrivilegeLevel = 0x02
	PrivilegeOperator PrivilegeLevel = 0x03
	PrivilegeAdmin    PrivilegeLevel = 0x04
	PrivilegeOEM      PrivilegeLevel = 0x05
)

func (p PrivilegeLevel) String() string {
	switch p {
	case PrivilegeHighest:
		return "highest"
	case PrivilegeCallback:
		return "callback"
	case PrivilegeUser:
		return "user"
	case PrivilegeOperator:
		return "operator"
	case PrivilegeAdmin:
		return "administrator"
	case PrivilegeOEM:
		return "oem"
	}
	return fmt.Sprintf("privilege_0x%02x", uint8(p))
}

// ParsePrivilegeLevel accepts the names used by ipmitool, FreeIPMI and
// ipmi_exporter configs (case-insensitive): user, operator, admin/administrator.
func ParsePrivilegeLevel(s string) (PrivilegeLevel, error) {
	switch toLower(s) {
	case "user":
		return PrivilegeUser, nil
	case "operator":
		return PrivilegeOperator, nil
	case "admin", "administrator":
		return PrivilegeAdmin, nil
	case "callback":
		return PrivilegeCallback, nil
	}
	return 0, fmt.Errorf("unknown privilege level %q (want user, operator or admin)", s)
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Target addresses a controller behind the BMC for bridged requests
// (Send Message encapsulation, IPMI v2.0 section 6.13). The zero value and
// any Target with Addr == BMCSlaveAddress, Channel 0 address the BMC itself.
type Target struct {
	Channel uint8 // channel number the controller sits on (0 = primary IPMB)
	Addr    uint8 // 8-bit slave address (as in the SDR owner ID byte, i.e. 7-bit address << 1)
	LUN     uint8 // 0-3
}

// IsBMC reports whether t addresses the BMC directly (no bridging needed).
func (t Target) IsBMC() bool {
	return (t.Addr == 0 || t.Addr == BMCSlaveAddress) && t.Channel == 0
}
