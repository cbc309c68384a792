package model

import (
	"context"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/fru"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestWatchdog(t *testing.T) {
	b, clock := newTestBMC(t, "dual-socket-1u", 0)
	var got command.GetWatchdogTimerResponse
	do(t, b, wire.Target{}, &command.GetWatchdogTimerRequest{}, &got)
	if got.Running || got.Use != command.WatchdogUseSMSOS || got.PresentCountdown != 0 {
		t.Fatalf("after power-on: %+v", got)
	}
	// Reset before Set answers 80h on a real BMC; here Get initialized
	// it, as the power-on defaults count as set.
	set := command.SetWatchdogTimerRequest{WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseSMSOS,
		Action: command.WatchdogActionHardReset, Interrupt: command.WatchdogInterruptNMI, PretimeoutInterval: 10, InitialCountdown: 3000}}
	do(t, b, wire.Target{}, &set, &command.SetWatchdogTimerResponse{})
	do(t, b, wire.Target{}, &command.ResetWatchdogTimerRequest{}, &command.ResetWatchdogTimerResponse{})
	clock.t = clock.t.Add(12500 * time.Millisecond)
	do(t, b, wire.Target{}, &command.GetWatchdogTimerRequest{}, &got)
	if !got.Running || got.PresentCountdown != 2875 || got.Action != command.WatchdogActionHardReset || got.PretimeoutInterval != 10 {
		t.Fatalf("running: %+v", got)
	}
	clock.t = clock.t.Add(300 * time.Second)
	do(t, b, wire.Target{}, &command.GetWatchdogTimerRequest{}, &got)
	if got.Running || got.PresentCountdown != 0 || !got.Expired.Expired(command.WatchdogUseSMSOS) {
		t.Fatalf("expired: %+v", got)
	}
	// Clearing the flag, and a pre-timeout longer than the timeout.
	set.ClearExpired = 1 << command.WatchdogUseSMSOS
	do(t, b, wire.Target{}, &set, &command.SetWatchdogTimerResponse{})
	do(t, b, wire.Target{}, &command.GetWatchdogTimerRequest{}, &got)
	if got.Expired != 0 || got.PresentCountdown != 3000 {
		t.Fatalf("after clear: %+v", got)
	}
	bad := set
	bad.InitialCountdown = 50
	if cc := code(b, wire.Target{}, wire.NetFnApp, command.CmdSetWatchdogTimer, bad.AppendTo(nil), wire.PrivilegeAdmin); cc != wire.CCInvalidDataField {
		t.Errorf("pre-timeout past timeout: %v", cc)
	}
	if cc := code(b, wire.Target{}, wire.NetFnApp, command.CmdSetWatchdogTimer, set.AppendTo(nil), wire.PrivilegeUser); cc != wire.CCInsufficientPrivilege {
		t.Errorf("set as user: %v", cc)
	}
	fresh, _ := newTestBMC(t, "dual-socket-1u", 1)
	if cc := code(fresh, wire.Target{}, wire.NetFnApp, command.CmdResetWatchdogTimer, nil, wire.PrivilegeAdmin); cc != command.CCWatchdogNotInitialized {
		t.Errorf("reset before set: %v", cc)
	}
}

func TestSupermicroLANMode(t *testing.T) {
	sm, _ := newTestBMC(t, "dual-socket-1u", 0)
	var got command.GetSupermicroLANModeResponse
	do(t, sm, wire.Target{}, &command.GetSupermicroLANModeRequest{}, &got)
	if got.Mode != command.SupermicroLANDedicated || got.Extra != 0 {
		t.Fatalf("default: %+v", got)
	}
	do(t, sm, wire.Target{}, &command.SetSupermicroLANModeRequest{Mode: command.SupermicroLANFailover}, &command.SetWatchdogTimerResponse{})
	do(t, sm, wire.Target{}, &command.GetSupermicroLANModeRequest{}, &got)
	if got.Mode != command.SupermicroLANFailover {
		t.Fatalf("after set: %+v", got)
	}
	if cc := code(sm, wire.Target{}, command.NetFnOEMSupermicro, command.CmdSupermicroOEM, []byte{0x0c, 0x01, 0x07}, wire.PrivilegeAdmin); cc != wire.CCInvalidDataField {
		t.Errorf("mode 7: %v", cc)
	}
	if cc := code(sm, wire.Target{}, command.NetFnOEMSupermicro, command.CmdSupermicroOEM, []byte{0x0d, 0x00}, wire.PrivilegeAdmin); cc != wire.CCInvalidCommand {
		t.Errorf("other sub-function: %v", cc)
	}
	other, _ := newTestBMC(t, "gpu-box", 0)
	if cc := code(other, wire.Target{}, command.NetFnOEMSupermicro, command.CmdSupermicroOEM, []byte{0x0c, 0x00}, wire.PrivilegeAdmin); cc != wire.CCInvalidCommand {
		t.Errorf("non-Supermicro BMC: %v", cc)
	}
}

func TestFRUDevices(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 42)
	ctx := context.Background()
	info, err := fru.Read(ctx, admin(b), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Problems) != 0 {
		t.Fatalf("problems: %v", info.Problems)
	}
	if info.Chassis == nil || fru.ChassisTypeName(info.Chassis.Type) != "Rack Mount Chassis" || info.Chassis.Serial.String() != "CHS-000042" {
		t.Errorf("chassis %+v", info.Chassis)
	}
	if info.Board.Product.String() != "Builtin FRU" || info.Board.Serial.String() != "BRD00-000042" ||
		!info.Board.MfgDate.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("board %+v", info.Board)
	}
	if info.Product.Serial.String() != "SN00-000042" || info.Product.Manufacturer.String() != "IPMI Fleet" {
		t.Errorf("product %+v", info.Product)
	}
	ps, err := fru.Read(ctx, admin(b), 2)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Chassis != nil || ps.Product.Name.String() != "PS2 FRU" {
		t.Errorf("PS2: %+v %+v", ps.Chassis, ps.Product)
	}
	if _, err := fru.Read(ctx, admin(b), 9); ccOf(err) != wire.CCRequestedDataNotPresent {
		t.Errorf("absent device: %v", err)
	}
	if cc := code(b, wire.Target{}, wire.NetFnStorage, command.CmdReadFRUData, []byte{0, 0, 0, 200}, wire.PrivilegeUser); cc != wire.CCCannotReturnRequestedBytes {
		t.Errorf("read of 200 bytes: %v", cc)
	}

	// A profile's inventory overrides the defaults.
	y, _ := newYAMLBMC(t, `
name: inv
device: {manufacturer_id: 343, guid: "4a0b9c2e-5f31-11e9-8647-d663bd873d00"}
frus:
  - name: Sys
    device_id: 0
    entity: system_board.1
    inventory: {product_name: R1000, asset_tag: RACK-7, chassis_type: 0x11, board_mfg_date: 2020-05-06T07:08:00Z}
`)
	inv, err := fru.Read(ctx, admin(y), 0)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Product.Name.String() != "R1000" || inv.Product.AssetTag.String() != "RACK-7" || inv.Chassis.Type != 0x11 ||
		!inv.Board.MfgDate.Equal(time.Date(2020, 5, 6, 7, 8, 0, 0, time.UTC)) {
		t.Errorf("inventory: %+v %+v %+v", inv.Chassis, inv.Board, inv.Product)
	}
}
