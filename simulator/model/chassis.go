package model

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func (b *BMC) getChassisStatus(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	b.mu.Lock()
	f := b.faults
	resp := command.GetChassisStatusResponse{
		PowerOn:              b.powerOn,
		PowerOverload:        f.PowerOverload,
		PowerInterlock:       f.PowerInterlock,
		PowerFault:           f.PowerFault,
		PowerControlFault:    f.PowerControlFault,
		RestorePolicy:        b.p.restore,
		LastPowerOnByCommand: b.poweredByCommand,
		IdentifySupported:    true,
		CoolingFault:         f.CoolingFault,
		DriveFault:           f.DriveFault,
		Intrusion:            f.Intrusion,
	}
	b.mu.Unlock()
	return respond(&resp, 4)
}

// chassisControl applies a power action. Actions that need the host
// running (cycle, reset, diagnostic interrupt, soft shutdown) answer 0xD5
// while it is off, as most BMCs do.
func (b *BMC) chassisControl(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.ChassisControlRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch req.Action {
	case command.ChassisPowerDown:
		b.powerOn = false
	case command.ChassisPowerUp:
		if !b.powerOn {
			b.powerOn, b.poweredByCommand = true, true
		}
	case command.ChassisSoftShutdown:
		if !b.powerOn {
			return wire.CCNotSupportedInPresentState, nil
		}
		b.powerOn = false
	default: // power cycle, hard reset, diagnostic interrupt
		if !b.powerOn {
			return wire.CCNotSupportedInPresentState, nil
		}
		if req.Action != command.ChassisDiagnosticPulse {
			b.poweredByCommand = true
		}
	}
	return wire.CCOK, []byte{}
}
