package command

import (
	"encoding/binary"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// BMC watchdog timer commands (app netFn, IPMI v2.0 section 27).
const (
	CmdResetWatchdogTimer uint8 = 0x22
	CmdSetWatchdogTimer   uint8 = 0x24
	CmdGetWatchdogTimer   uint8 = 0x25
)

// WatchdogTimerUse is what the watchdog is guarding (byte 1, bits 2:0).
type WatchdogTimerUse uint8

const (
	WatchdogUseReserved WatchdogTimerUse = 0
	WatchdogUseBIOSFRB2 WatchdogTimerUse = 1
	WatchdogUseBIOSPOST WatchdogTimerUse = 2
	WatchdogUseOSLoad   WatchdogTimerUse = 3
	WatchdogUseSMSOS    WatchdogTimerUse = 4
	WatchdogUseOEM      WatchdogTimerUse = 5
)

// String uses FreeIPMI bmc-watchdog's names, which ipmi_exporter puts in
// its name label.
func (u WatchdogTimerUse) String() string {
	switch u {
	case WatchdogUseBIOSFRB2:
		return "BIOS FRB2"
	case WatchdogUseBIOSPOST:
		return "BIOS POST"
	case WatchdogUseOSLoad:
		return "OS LOAD"
	case WatchdogUseSMSOS:
		return "SMS/OS"
	case WatchdogUseOEM:
		return "OEM"
	}
	return "Reserved"
}

// WatchdogTimeoutAction is what the BMC does when the countdown reaches
// zero (byte 2, bits 2:0).
type WatchdogTimeoutAction uint8

const (
	WatchdogActionNone       WatchdogTimeoutAction = 0
	WatchdogActionHardReset  WatchdogTimeoutAction = 1
	WatchdogActionPowerDown  WatchdogTimeoutAction = 2
	WatchdogActionPowerCycle WatchdogTimeoutAction = 3
)

// String uses FreeIPMI bmc-watchdog's names.
func (a WatchdogTimeoutAction) String() string {
	switch a {
	case WatchdogActionNone:
		return "None"
	case WatchdogActionHardReset:
		return "Hard Reset"
	case WatchdogActionPowerDown:
		return "Power Down"
	case WatchdogActionPowerCycle:
		return "Power Cycle"
	}
	return "Reserved"
}

// WatchdogPretimeoutInterrupt is raised the pre-timeout interval before
// the timeout (byte 2, bits 6:4).
type WatchdogPretimeoutInterrupt uint8

const (
	WatchdogInterruptNone      WatchdogPretimeoutInterrupt = 0
	WatchdogInterruptSMI       WatchdogPretimeoutInterrupt = 1
	WatchdogInterruptNMI       WatchdogPretimeoutInterrupt = 2
	WatchdogInterruptMessaging WatchdogPretimeoutInterrupt = 3
)

// String uses FreeIPMI bmc-watchdog's names.
func (i WatchdogPretimeoutInterrupt) String() string {
	switch i {
	case WatchdogInterruptNone:
		return "None"
	case WatchdogInterruptSMI:
		return "SMI"
	case WatchdogInterruptNMI:
		return "NMI / Diagnostic Interrupt"
	case WatchdogInterruptMessaging:
		return "Messaging Interrupt"
	}
	return "Reserved"
}

// WatchdogExpirationFlags are the timer use expiration flags (byte 4): bit
// n set means a timeout happened while the timer use was n.
type WatchdogExpirationFlags uint8

// Expired reports the flag of one timer use.
func (f WatchdogExpirationFlags) Expired(u WatchdogTimerUse) bool {
	return u >= WatchdogUseBIOSFRB2 && u <= WatchdogUseOEM && f&(1<<u) != 0
}

// WatchdogConfig is the part Set and Get Watchdog Timer share.
type WatchdogConfig struct {
	Use                WatchdogTimerUse
	DontLog            bool // byte 1 bit 7: no SEL entry on timeout
	Action             WatchdogTimeoutAction
	Interrupt          WatchdogPretimeoutInterrupt
	PretimeoutInterval uint8  // seconds
	InitialCountdown   uint16 // 100 ms units
}

func (c *WatchdogConfig) useByte() uint8 {
	b := uint8(c.Use) & 0x07
	if c.DontLog {
		b |= 0x80
	}
	return b
}

func (c *WatchdogConfig) actionByte() uint8 {
	return uint8(c.Action)&0x07 | (uint8(c.Interrupt)&0x07)<<4
}

func (c *WatchdogConfig) setBytes(use, action uint8) {
	c.Use = WatchdogTimerUse(use & 0x07)
	c.DontLog = use&0x80 != 0
	c.Action = WatchdogTimeoutAction(action & 0x07)
	c.Interrupt = WatchdogPretimeoutInterrupt(action >> 4 & 0x07)
}

// GetWatchdogTimerRequest has no data.
type GetWatchdogTimerRequest struct{}

func (*GetWatchdogTimerRequest) Op() Op                   { return Op{wire.NetFnApp, CmdGetWatchdogTimer} }
func (*GetWatchdogTimerRequest) AppendTo(b []byte) []byte { return b }
func (*GetWatchdogTimerRequest) Unmarshal([]byte) error   { return nil }

// watchdogGetLen is the size of the Get Watchdog Timer response.
const watchdogGetLen = 8

// GetWatchdogTimerResponse is the watchdog's configuration and state.
type GetWatchdogTimerResponse struct {
	WatchdogConfig
	Running          bool // byte 1 bit 6: the timer is started
	Expired          WatchdogExpirationFlags
	PresentCountdown uint16 // 100 ms units
	// NoPresentCountdown: the reply ended before the present countdown
	// (6 data bytes: ipmi_sim 2.0.33 sends it so; docs/bmc-quirks.md).
	NoPresentCountdown bool
}

func (r *GetWatchdogTimerResponse) AppendTo(b []byte) []byte {
	use := r.useByte()
	if r.Running {
		use |= 0x40
	}
	b = append(b, use, r.actionByte(), r.PretimeoutInterval, uint8(r.Expired)&0x3E)
	b = binary.LittleEndian.AppendUint16(b, r.InitialCountdown)
	if r.NoPresentCountdown {
		return b
	}
	return binary.LittleEndian.AppendUint16(b, r.PresentCountdown)
}

// Unmarshal ignores reserved bits; bytes past the eighth are ignored. A
// reply without the present countdown (6 bytes) sets NoPresentCountdown.
func (r *GetWatchdogTimerResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get watchdog timer response", data, watchdogGetLen-2); err != nil {
		return err
	}
	*r = GetWatchdogTimerResponse{
		Running:            data[0]&0x40 != 0,
		Expired:            WatchdogExpirationFlags(data[3] & 0x3E),
		NoPresentCountdown: len(data) < watchdogGetLen,
	}
	if !r.NoPresentCountdown {
		r.PresentCountdown = binary.LittleEndian.Uint16(data[6:])
	}
	r.setBytes(data[0], data[1])
	r.PretimeoutInterval = data[2]
	r.InitialCountdown = binary.LittleEndian.Uint16(data[4:])
	return nil
}

// SetWatchdogTimerRequest configures (and with DontStop, keeps running)
// the watchdog.
type SetWatchdogTimerRequest struct {
	WatchdogConfig
	DontStop bool // byte 1 bit 6: do not stop a running timer
	// ClearExpired clears the expiration flags set in it.
	ClearExpired WatchdogExpirationFlags
}

func (*SetWatchdogTimerRequest) Op() Op { return Op{wire.NetFnApp, CmdSetWatchdogTimer} }

func (r *SetWatchdogTimerRequest) AppendTo(b []byte) []byte {
	use := r.useByte()
	if r.DontStop {
		use |= 0x40
	}
	b = append(b, use, r.actionByte(), r.PretimeoutInterval, uint8(r.ClearExpired)&0x3E)
	return binary.LittleEndian.AppendUint16(b, r.InitialCountdown)
}

func (r *SetWatchdogTimerRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("set watchdog timer request", data, 6); err != nil {
		return err
	}
	*r = SetWatchdogTimerRequest{
		DontStop:     data[0]&0x40 != 0,
		ClearExpired: WatchdogExpirationFlags(data[3] & 0x3E),
	}
	r.setBytes(data[0], data[1])
	r.PretimeoutInterval = data[2]
	r.InitialCountdown = binary.LittleEndian.Uint16(data[4:])
	return nil
}

// SetWatchdogTimerResponse is empty.
type SetWatchdogTimerResponse struct{}

func (*SetWatchdogTimerResponse) AppendTo(b []byte) []byte { return b }
func (*SetWatchdogTimerResponse) Unmarshal([]byte) error   { return nil }

// ResetWatchdogTimerRequest (re)starts the countdown from the initial
// value. It has no data.
type ResetWatchdogTimerRequest struct{}

func (*ResetWatchdogTimerRequest) Op() Op                   { return Op{wire.NetFnApp, CmdResetWatchdogTimer} }
func (*ResetWatchdogTimerRequest) AppendTo(b []byte) []byte { return b }
func (*ResetWatchdogTimerRequest) Unmarshal([]byte) error   { return nil }

// ResetWatchdogTimerResponse is empty.
type ResetWatchdogTimerResponse struct{}

func (*ResetWatchdogTimerResponse) AppendTo(b []byte) []byte { return b }
func (*ResetWatchdogTimerResponse) Unmarshal([]byte) error   { return nil }

// CCWatchdogNotInitialized is Reset Watchdog Timer's "attempt to start an
// un-initialized watchdog" completion code.
const CCWatchdogNotInitialized wire.CompletionCode = 0x80
