package model

import (
	"errors"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// handlerFunc answers one command. ctl is the addressed controller (the
// BMC's own counts for the BMC), lun the addressed LUN.
type handlerFunc func(b *BMC, ctl *controllerDef, lun uint8, data []byte) (wire.CompletionCode, []byte)

// commandSpec is how a command is checked before its handler runs.
type commandSpec struct {
	priv           wire.PrivilegeLevel // minimum session privilege
	minLen, maxLen int                 // request data length bounds
	handle         handlerFunc
}

// bmcCommand returns the spec of a command the BMC answers. Privileges
// follow IPMI v2.0 appendix G (Get System GUID needs no authentication;
// Chassis Control, Get LAN Configuration Parameters and Clear SEL need
// OPERATOR).
func bmcCommand(op command.Op) (commandSpec, bool) {
	user, operator := wire.PrivilegeUser, wire.PrivilegeOperator
	switch op {
	case command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdGetDeviceID}:
		return commandSpec{user, 0, 0, (*BMC).getDeviceID}, true
	case command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdGetSystemGUID}:
		return commandSpec{wire.PrivilegeCallback, 0, 0, (*BMC).getSystemGUID}, true
	case command.Op{NetFn: wire.NetFnChassis, Cmd: command.CmdGetChassisStatus}:
		return commandSpec{user, 0, 0, (*BMC).getChassisStatus}, true
	case command.Op{NetFn: wire.NetFnChassis, Cmd: command.CmdChassisControl}:
		return commandSpec{operator, 1, 1, (*BMC).chassisControl}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSELInfo}:
		return commandSpec{user, 0, 0, (*BMC).getSELInfo}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdReserveSEL}:
		return commandSpec{user, 0, 0, (*BMC).reserveSEL}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSELEntry}:
		return commandSpec{user, 6, 6, (*BMC).getSELEntry}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSDRRepositoryInfo}:
		return commandSpec{user, 0, 0, (*BMC).getSDRRepositoryInfo}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdReserveSDRRepository}:
		return commandSpec{user, 0, 0, (*BMC).reserveSDRRepository}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSDR}:
		return commandSpec{user, 6, 6, (*BMC).getSDR}, true
	case command.Op{NetFn: wire.NetFnTransport, Cmd: command.CmdGetLANConfigParameters}:
		return commandSpec{operator, 4, 4, (*BMC).getLANConfig}, true
	case command.Op{NetFn: wire.NetFnGroupExt, Cmd: command.CmdDCMIGetCapabilities}:
		return commandSpec{user, 2, 2, (*BMC).dcmiGetCapabilities}, true
	case command.Op{NetFn: wire.NetFnGroupExt, Cmd: command.CmdDCMIGetPowerReading}:
		return commandSpec{user, 4, 4, (*BMC).dcmiGetPowerReading}, true
	// Watchdog (watchdog.go), FRU (fru.go), Supermicro OEM (oem.go).
	case command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdGetWatchdogTimer}:
		return commandSpec{user, 0, 0, (*BMC).getWatchdogTimer}, true
	case command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdSetWatchdogTimer}:
		return commandSpec{operator, 6, 6, (*BMC).setWatchdogTimer}, true
	case command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdResetWatchdogTimer}:
		return commandSpec{operator, 0, 0, (*BMC).resetWatchdogTimer}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetFRUInventoryAreaInfo}:
		return commandSpec{user, 1, 1, (*BMC).getFRUInventoryAreaInfo}, true
	case command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdReadFRUData}:
		return commandSpec{user, 4, 4, (*BMC).readFRUData}, true
	case command.Op{NetFn: command.NetFnOEMSupermicro, Cmd: command.CmdSupermicroOEM}:
		return commandSpec{operator, 2, 3, (*BMC).supermicroOEM}, true
	}
	return controllerCommand(op)
}

// controllerCommand returns the spec of a command every controller, the
// BMC and the satellites, answers: its identity and its sensors.
func controllerCommand(op command.Op) (commandSpec, bool) {
	user := wire.PrivilegeUser
	switch op {
	case command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdGetDeviceID}:
		return commandSpec{user, 0, 0, (*BMC).getDeviceID}, true
	case command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetSensorReading}:
		return commandSpec{user, 1, 1, (*BMC).getSensorReading}, true
	case command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetSensorThresholds}:
		return commandSpec{user, 1, 1, (*BMC).getSensorThresholds}, true
	case command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetSensorReadingFactors}:
		return commandSpec{user, 2, 2, (*BMC).getSensorReadingFactors}, true
	case command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetDeviceSDRInfo}:
		return commandSpec{user, 0, 1, (*BMC).getDeviceSDRInfo}, true
	}
	return commandSpec{}, false
}

// Handle executes one non-session command addressed to the controller at
// target (wire.Target{} or address 0x20 = the BMC; another address = a
// satellite controller from the profile, reached via bridging). It returns
// the completion code and the response data after it. An address that is
// neither gets 0xD3 (destination unavailable); see HasController.
func (b *BMC) Handle(target wire.Target, netFn wire.NetFn, cmd uint8, data []byte, priv wire.PrivilegeLevel) (wire.CompletionCode, []byte) {
	op := command.Op{NetFn: netFn, Cmd: cmd}
	var (
		spec commandSpec
		ok   bool
		ctl  *controllerDef
	)
	if target.IsBMC() {
		ctl = &b.p.bmc
		spec, ok = bmcCommand(op)
	} else {
		if ctl = b.p.controller(target.Channel, target.Addr); ctl == nil {
			return wire.CCDestinationUnavailable, nil
		}
		spec, ok = controllerCommand(op)
	}
	if !ok {
		return wire.CCInvalidCommand, nil
	}
	if !privilegeAtLeast(priv, spec.priv) {
		return wire.CCInsufficientPrivilege, nil
	}
	if len(data) < spec.minLen || len(data) > spec.maxLen {
		return wire.CCRequestDataLengthInvalid, nil
	}
	return spec.handle(b, ctl, target.LUN&0x03, data)
}

// privilegeAtLeast orders privilege levels; OEM counts as administrator.
func privilegeAtLeast(have, need wire.PrivilegeLevel) bool {
	rank := func(p wire.PrivilegeLevel) int {
		if p == wire.PrivilegeOEM {
			return int(wire.PrivilegeAdmin)
		}
		if p > wire.PrivilegeOEM {
			return 0
		}
		return int(p)
	}
	return rank(have) >= rank(need)
}

// decodeError maps a request decoding error to a completion code.
func decodeError(err error) wire.CompletionCode {
	if errors.Is(err, wire.ErrShort) {
		return wire.CCRequestDataLengthInvalid
	}
	return wire.CCInvalidDataField
}

// respond appends a response body to a fresh buffer of the right size.
func respond(r command.Response, size int) (wire.CompletionCode, []byte) {
	return wire.CCOK, r.AppendTo(make([]byte, 0, size))
}

func (b *BMC) getDeviceID(ctl *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	return respond(&ctl.device, 15)
}

func (b *BMC) getSystemGUID(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	return respond(&command.GetSystemGUIDResponse{GUID: b.guid}, 16)
}
