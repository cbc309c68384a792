package command_test

import (
	"errors"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestGetChassisStatus(t *testing.T) {
	fresh := func() codec { return &command.GetChassisStatusResponse{} }
	runVectors(t, []vectorCase{
		{
			// ipmi_sim with chassis power off: three bytes, no front panel byte;
			// ipmitool shows everything false/inactive and "always-off".
			name: "ipmi_sim off", vector: "00 00 00", fresh: fresh, canonical: true,
			want: &command.GetChassisStatusResponse{},
		},
		{
			name: "on, restore previous, powered on by command, faults", vector: "21 10 4b", fresh: fresh, canonical: true,
			want: &command.GetChassisStatusResponse{
				PowerOn: true, RestorePolicy: command.PowerRestorePrevious, LastPowerOnByCommand: true,
				IdentifySupported: true, CoolingFault: true, FrontPanelLockout: true, Intrusion: true,
			},
		},
		{
			name: "every flag with front panel byte", vector: "5f 1f 6f ff", fresh: fresh, canonical: true,
			want: &command.GetChassisStatusResponse{
				PowerOn: true, PowerOverload: true, PowerInterlock: true, PowerFault: true, PowerControlFault: true,
				RestorePolicy:        command.PowerRestoreAlwaysOn,
				LastPowerOnByCommand: true, LastPowerDownFault: true, LastPowerDownInterlock: true,
				LastPowerDownOverload: true, LastACFailed: true,
				IdentifySupported: true, IdentifyState: command.ChassisIdentifyIndefinite,
				CoolingFault: true, DriveFault: true, FrontPanelLockout: true, Intrusion: true,
				HasFrontPanelButtons: true,
				FrontPanelButtons: command.FrontPanelButtons{
					StandbyDisableAllowed: true, DiagnosticDisableAllowed: true, ResetDisableAllowed: true,
					PowerOffDisableAllowed: true, StandbyDisabled: true, DiagnosticDisabled: true,
					ResetDisabled: true, PowerOffDisabled: true,
				},
			},
		},
		{
			name: "front panel byte bits are positional", vector: "00 00 00 82", fresh: fresh, canonical: true,
			want: &command.GetChassisStatusResponse{HasFrontPanelButtons: true,
				FrontPanelButtons: command.FrontPanelButtons{StandbyDisableAllowed: true, ResetDisabled: true}},
		},
		{
			name: "reserved bits ignored", vector: "e0 e0 80", fresh: fresh,
			want: &command.GetChassisStatusResponse{RestorePolicy: command.PowerRestoreUnknown},
		},
	})
	runShort(t, "chassis status", "00 00 00", 3, fresh)

	for p, want := range map[command.PowerRestorePolicy]string{
		command.PowerRestoreAlwaysOff: "always-off", command.PowerRestorePrevious: "previous",
		command.PowerRestoreAlwaysOn: "always-on", command.PowerRestoreUnknown: "unknown",
	} {
		if got := p.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", p, got, want)
		}
	}
}

func TestChassisControl(t *testing.T) {
	fresh := func() codec { return &command.ChassisControlRequest{} }
	runVectors(t, []vectorCase{
		{name: "power up", vector: "01", fresh: fresh, canonical: true,
			want: &command.ChassisControlRequest{Action: command.ChassisPowerUp}},
		{name: "soft shutdown", vector: "05", fresh: fresh, canonical: true,
			want: &command.ChassisControlRequest{Action: command.ChassisSoftShutdown}},
		{name: "reserved high nibble ignored", vector: "f2", fresh: fresh,
			want: &command.ChassisControlRequest{Action: command.ChassisPowerCycle}},
		{name: "response", vector: "", fresh: func() codec { return &command.ChassisControlResponse{} },
			want: &command.ChassisControlResponse{}, canonical: true},
	})
	runShort(t, "chassis control", "01", 1, fresh)
	if err := fresh().Unmarshal([]byte{0x06}); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("action 6: err = %v, want ErrMalformed", err)
	}
	if got := command.ChassisHardReset.String(); got != "hard reset" {
		t.Errorf("String = %q", got)
	}
}

// FuzzChassisMessages feeds the chassis decoders; the first byte picks one.
func FuzzChassisMessages(f *testing.F) {
	decoders := []func() codec{
		func() codec { return &command.GetChassisStatusResponse{} },
		func() codec { return &command.ChassisControlRequest{} },
	}
	f.Add([]byte{0, 0x5f, 0x1f, 0x6f, 0xff})
	f.Add([]byte{1, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		roundTrip(t, data[1:], decoders[int(data[0])%len(decoders)])
	})
}
