package command

import (
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Chassis netFn commands (IPMI v2.0 section 28).
const (
	CmdGetChassisStatus uint8 = 0x01
	CmdChassisControl   uint8 = 0x02
)

// PowerRestorePolicy is what the chassis does when AC power returns.
type PowerRestorePolicy uint8

const (
	PowerRestoreAlwaysOff PowerRestorePolicy = 0 // stay off
	PowerRestorePrevious  PowerRestorePolicy = 1 // restore the state before the loss
	PowerRestoreAlwaysOn  PowerRestorePolicy = 2
	PowerRestoreUnknown   PowerRestorePolicy = 3
)

// String uses ipmitool's "chassis status" names.
func (p PowerRestorePolicy) String() string {
	switch p {
	case PowerRestoreAlwaysOff:
		return "always-off"
	case PowerRestorePrevious:
		return "previous"
	case PowerRestoreAlwaysOn:
		return "always-on"
	}
	return "unknown"
}

// ChassisIdentifyState is the chassis identify (LED) state.
type ChassisIdentifyState uint8

const (
	ChassisIdentifyOff        ChassisIdentifyState = 0
	ChassisIdentifyTemporary  ChassisIdentifyState = 1 // timed on
	ChassisIdentifyIndefinite ChassisIdentifyState = 2
)

// GetChassisStatusRequest has no data.
type GetChassisStatusRequest struct{}

func (*GetChassisStatusRequest) Op() Op                   { return Op{wire.NetFnChassis, CmdGetChassisStatus} }
func (*GetChassisStatusRequest) AppendTo(b []byte) []byte { return b }
func (*GetChassisStatusRequest) Unmarshal([]byte) error   { return nil }

// FrontPanelButtons is the optional fourth byte of Get Chassis Status.
type FrontPanelButtons struct {
	StandbyDisableAllowed    bool // bit 7
	DiagnosticDisableAllowed bool // bit 6
	ResetDisableAllowed      bool // bit 5
	PowerOffDisableAllowed   bool // bit 4
	StandbyDisabled          bool // bit 3
	DiagnosticDisabled       bool // bit 2
	ResetDisabled            bool // bit 1
	PowerOffDisabled         bool // bit 0
}

// GetChassisStatusResponse is the Get Chassis Status response: three bytes,
// optionally a fourth with the front panel button capabilities.
type GetChassisStatusResponse struct {
	// Current power state (byte 1).
	PowerOn           bool
	PowerOverload     bool
	PowerInterlock    bool
	PowerFault        bool // main power subsystem fault
	PowerControlFault bool
	RestorePolicy     PowerRestorePolicy

	// Last power event (byte 2).
	LastPowerOnByCommand   bool // last power on was via an IPMI command
	LastPowerDownFault     bool // last power down caused by a power fault
	LastPowerDownInterlock bool
	LastPowerDownOverload  bool
	LastACFailed           bool

	// Misc chassis state (byte 3).
	IdentifySupported bool // the identify state below is valid
	IdentifyState     ChassisIdentifyState
	CoolingFault      bool // cooling/fan fault detected
	DriveFault        bool
	FrontPanelLockout bool // power off and reset buttons disabled
	Intrusion         bool // chassis intrusion active

	HasFrontPanelButtons bool
	FrontPanelButtons    FrontPanelButtons
}

// chassisPackBits sets bit (7-i) for every true flag in msbFirst.
func chassisPackBits(msbFirst [8]bool) uint8 {
	var v uint8
	for i, set := range msbFirst {
		if set {
			v |= 0x80 >> i
		}
	}
	return v
}

func (r *GetChassisStatusResponse) AppendTo(b []byte) []byte {
	power := chassisPackBits([8]bool{false, false, false,
		r.PowerControlFault, r.PowerFault, r.PowerInterlock, r.PowerOverload, r.PowerOn})
	power |= uint8(r.RestorePolicy&3) << 5
	event := chassisPackBits([8]bool{false, false, false,
		r.LastPowerOnByCommand, r.LastPowerDownFault, r.LastPowerDownInterlock, r.LastPowerDownOverload, r.LastACFailed})
	misc := chassisPackBits([8]bool{false, r.IdentifySupported, false, false,
		r.CoolingFault, r.DriveFault, r.FrontPanelLockout, r.Intrusion})
	misc |= uint8(r.IdentifyState&3) << 4
	b = append(b, power, event, misc)
	if r.HasFrontPanelButtons {
		f := &r.FrontPanelButtons
		b = append(b, chassisPackBits([8]bool{f.StandbyDisableAllowed, f.DiagnosticDisableAllowed,
			f.ResetDisableAllowed, f.PowerOffDisableAllowed, f.StandbyDisabled, f.DiagnosticDisabled,
			f.ResetDisabled, f.PowerOffDisabled}))
	}
	return b
}

func (r *GetChassisStatusResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get chassis status response", data, 3); err != nil {
		return err
	}
	p, e, m := data[0], data[1], data[2]
	*r = GetChassisStatusResponse{
		PowerOn:                p&0x01 != 0,
		PowerOverload:          p&0x02 != 0,
		PowerInterlock:         p&0x04 != 0,
		PowerFault:             p&0x08 != 0,
		PowerControlFault:      p&0x10 != 0,
		RestorePolicy:          PowerRestorePolicy(p >> 5 & 3),
		LastACFailed:           e&0x01 != 0,
		LastPowerDownOverload:  e&0x02 != 0,
		LastPowerDownInterlock: e&0x04 != 0,
		LastPowerDownFault:     e&0x08 != 0,
		LastPowerOnByCommand:   e&0x10 != 0,
		Intrusion:              m&0x01 != 0,
		FrontPanelLockout:      m&0x02 != 0,
		DriveFault:             m&0x04 != 0,
		CoolingFault:           m&0x08 != 0,
		IdentifyState:          ChassisIdentifyState(m >> 4 & 3),
		IdentifySupported:      m&0x40 != 0,
	}
	if len(data) >= 4 {
		f := data[3]
		r.HasFrontPanelButtons = true
		r.FrontPanelButtons = FrontPanelButtons{
			StandbyDisableAllowed:    f&0x80 != 0,
			DiagnosticDisableAllowed: f&0x40 != 0,
			ResetDisableAllowed:      f&0x20 != 0,
			PowerOffDisableAllowed:   f&0x10 != 0,
			StandbyDisabled:          f&0x08 != 0,
			DiagnosticDisabled:       f&0x04 != 0,
			ResetDisabled:            f&0x02 != 0,
			PowerOffDisabled:         f&0x01 != 0,
		}
	}
	return nil
}

// ChassisControlAction is the Chassis Control command code.
type ChassisControlAction uint8

const (
	ChassisPowerDown       ChassisControlAction = 0
	ChassisPowerUp         ChassisControlAction = 1
	ChassisPowerCycle      ChassisControlAction = 2
	ChassisHardReset       ChassisControlAction = 3
	ChassisDiagnosticPulse ChassisControlAction = 4 // pulse diagnostic interrupt (NMI)
	ChassisSoftShutdown    ChassisControlAction = 5 // initiate soft shutdown via ACPI overtemp emulation
)

func (a ChassisControlAction) String() string {
	switch a {
	case ChassisPowerDown:
		return "power down"
	case ChassisPowerUp:
		return "power up"
	case ChassisPowerCycle:
		return "power cycle"
	case ChassisHardReset:
		return "hard reset"
	case ChassisDiagnosticPulse:
		return "diagnostic interrupt"
	case ChassisSoftShutdown:
		return "soft shutdown"
	}
	return fmt.Sprintf("chassis_control_0x%02x", uint8(a))
}

// ChassisControlRequest asks for a power action.
type ChassisControlRequest struct {
	Action ChassisControlAction
}

func (*ChassisControlRequest) Op() Op { return Op{wire.NetFnChassis, CmdChassisControl} }

func (r *ChassisControlRequest) AppendTo(b []byte) []byte { return append(b, uint8(r.Action)&0x0F) }

// Unmarshal rejects action codes above 5, which the spec reserves; a BMC
// answers those with completion code 0xCC.
func (r *ChassisControlRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("chassis control request", data, 1); err != nil {
		return err
	}
	a := ChassisControlAction(data[0] & 0x0F)
	if a > ChassisSoftShutdown {
		return malformed("chassis control request", "reserved action 0x%02x", uint8(a))
	}
	r.Action = a
	return nil
}

// ChassisControlResponse is empty.
type ChassisControlResponse struct{}

func (*ChassisControlResponse) AppendTo(b []byte) []byte { return b }
func (*ChassisControlResponse) Unmarshal([]byte) error   { return nil }
