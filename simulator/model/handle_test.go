package model

import (
	"context"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

var (
	bmcTarget = wire.Target{}
	meTarget  = wire.Target{Channel: 6, Addr: 0x2C}
)

func TestPrivileges(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	powerOff := []byte{uint8(command.ChassisPowerDown)}
	lan := (&command.GetLANConfigRequest{Channel: 1, Parameter: command.LANParamIPAddress}).AppendTo(nil)
	tests := []struct {
		name  string
		netFn wire.NetFn
		cmd   uint8
		data  []byte
		priv  wire.PrivilegeLevel
		want  wire.CompletionCode
	}{
		{"chassis control as user", wire.NetFnChassis, command.CmdChassisControl, powerOff, wire.PrivilegeUser, wire.CCInsufficientPrivilege},
		{"chassis control as callback", wire.NetFnChassis, command.CmdChassisControl, powerOff, wire.PrivilegeCallback, wire.CCInsufficientPrivilege},
		{"chassis control as operator", wire.NetFnChassis, command.CmdChassisControl, powerOff, wire.PrivilegeOperator, wire.CCOK},
		{"chassis control as OEM", wire.NetFnChassis, command.CmdChassisControl, powerOff, wire.PrivilegeOEM, wire.CCOK},
		{"LAN config as user", wire.NetFnTransport, command.CmdGetLANConfigParameters, lan, wire.PrivilegeUser, wire.CCInsufficientPrivilege},
		{"LAN config as admin", wire.NetFnTransport, command.CmdGetLANConfigParameters, lan, wire.PrivilegeAdmin, wire.CCOK},
		{"device ID as callback", wire.NetFnApp, command.CmdGetDeviceID, nil, wire.PrivilegeCallback, wire.CCInsufficientPrivilege},
		{"device ID as user", wire.NetFnApp, command.CmdGetDeviceID, nil, wire.PrivilegeUser, wire.CCOK},
		{"system GUID as callback", wire.NetFnApp, command.CmdGetSystemGUID, nil, wire.PrivilegeCallback, wire.CCOK},
		{"sensor reading as callback", wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{1}, wire.PrivilegeCallback, wire.CCInsufficientPrivilege},
		{"sensor reading as user", wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{1}, wire.PrivilegeUser, wire.CCOK},
		{"unknown privilege byte", wire.NetFnApp, command.CmdGetDeviceID, nil, wire.PrivilegeLevel(9), wire.CCInsufficientPrivilege},
	}
	for _, tc := range tests {
		if got := code(b, bmcTarget, tc.netFn, tc.cmd, tc.data, tc.priv); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestBadRequests(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	tests := []struct {
		name  string
		netFn wire.NetFn
		cmd   uint8
		data  []byte
		want  wire.CompletionCode
	}{
		{"unknown command", wire.NetFnApp, 0x99, nil, wire.CCInvalidCommand},
		{"unknown netFn", wire.NetFnFirmware, 0x01, nil, wire.CCInvalidCommand},
		{"response netFn", wire.NetFnApp | 1, command.CmdGetDeviceID, nil, wire.CCInvalidCommand},
		{"device ID with data", wire.NetFnApp, command.CmdGetDeviceID, []byte{0}, wire.CCRequestDataLengthInvalid},
		{"sensor reading without number", wire.NetFnSensorEvent, command.CmdGetSensorReading, nil, wire.CCRequestDataLengthInvalid},
		{"sensor reading with two bytes", wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{1, 2}, wire.CCRequestDataLengthInvalid},
		{"get SDR short", wire.NetFnStorage, command.CmdGetSDR, []byte{0, 0, 0, 0, 0}, wire.CCRequestDataLengthInvalid},
		{"get SEL entry long", wire.NetFnStorage, command.CmdGetSELEntry, make([]byte, 7), wire.CCRequestDataLengthInvalid},
		{"unknown sensor", wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{0xEE}, wire.CCRequestedDataNotPresent},
		{"thresholds of unknown sensor", wire.NetFnSensorEvent, command.CmdGetSensorThresholds, []byte{0xEE}, wire.CCRequestedDataNotPresent},
		{"thresholds of discrete sensor", wire.NetFnSensorEvent, command.CmdGetSensorThresholds, []byte{0x60}, wire.CCCommandIllegalForSensor},
		{"factors of discrete sensor", wire.NetFnSensorEvent, command.CmdGetSensorReadingFactors, []byte{0x60, 0}, wire.CCCommandIllegalForSensor},
		{"reading of event-only sensor", wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{0xCA}, wire.CCRequestedDataNotPresent},
		{"reserved chassis action", wire.NetFnChassis, command.CmdChassisControl, []byte{0x07}, wire.CCInvalidDataField},
		{"DCMI without group ID", wire.NetFnGroupExt, command.CmdDCMIGetPowerReading, []byte{0x00, 1, 0, 0}, wire.CCInvalidDataField},
		{"DCMI unknown parameter", wire.NetFnGroupExt, command.CmdDCMIGetCapabilities, []byte{0xDC, 9}, wire.CCParameterOutOfRange},
		{"DCMI unknown mode", wire.NetFnGroupExt, command.CmdDCMIGetPowerReading, []byte{0xDC, 3, 0, 0}, wire.CCInvalidDataField},
		{"DCMI unsupported period", wire.NetFnGroupExt, command.CmdDCMIGetPowerReading, []byte{0xDC, 2, 7, 0}, wire.CCParameterOutOfRange},
		{"LAN parameter not supported", wire.NetFnTransport, command.CmdGetLANConfigParameters, []byte{1, 20, 0, 0}, command.CCLANParameterNotSupported},
		{"LAN config on another channel", wire.NetFnTransport, command.CmdGetLANConfigParameters, []byte{2, 3, 0, 0}, wire.CCInvalidDataField},
		{"device SDR info with two bytes", wire.NetFnSensorEvent, command.CmdGetDeviceSDRInfo, []byte{1, 1}, wire.CCRequestDataLengthInvalid},
	}
	for _, tc := range tests {
		if got := code(b, bmcTarget, tc.netFn, tc.cmd, tc.data, wire.PrivilegeAdmin); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// A profile without DCMI rejects DCMI commands as unknown.
	edge, _ := newTestBMC(t, "edge-node", 0)
	if cc := code(edge, bmcTarget, wire.NetFnGroupExt, command.CmdDCMIGetCapabilities, []byte{0xDC, 1}, wire.PrivilegeAdmin); cc != wire.CCInvalidCommand {
		t.Errorf("DCMI on edge-node: %s", cc)
	}
}

// FuzzHandle feeds arbitrary commands to every controller address: no
// panic, and completion codes with data only on success.
func FuzzHandle(f *testing.F) {
	p, err := LoadProfile("dual-socket-1u")
	if err != nil {
		f.Fatal(err)
	}
	b, err := New(p, Options{Seed: 1, Clock: func() time.Time { return testEpoch }})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0x2C), uint8(6), uint8(0x04), uint8(0x2D), []byte{0x50})
	f.Add(uint8(0x20), uint8(0), uint8(0x0A), uint8(0x23), []byte{0, 0, 0, 0, 0, 0xFF})
	f.Add(uint8(0x00), uint8(0), uint8(0x2C), uint8(0x02), []byte{0xDC, 2, 0x41, 0})
	f.Add(uint8(0x20), uint8(0), uint8(0x0A), uint8(0x43), []byte{0, 0, 0xFF, 0xFF, 3, 0xFF})
	f.Fuzz(func(t *testing.T, addr, channel, netFn, cmd uint8, data []byte) {
		target := wire.Target{Channel: channel & 0x0F, Addr: addr, LUN: cmd & 3}
		cc, out := b.Handle(target, wire.NetFn(netFn&0x3F), cmd, data, wire.PrivilegeAdmin)
		if cc != wire.CCOK && len(out) != 0 {
			t.Fatalf("completion code %s with %d data bytes", cc, len(out))
		}
	})
}

func TestBridgedSensors(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	// 0x50 is PSU1 In Power at the BMC and ME Total Power at ME.
	var atBMC, atME command.GetSensorReadingResponse
	do(t, b, bmcTarget, &command.GetSensorReadingRequest{Number: 0x50}, &atBMC)
	do(t, b, meTarget, &command.GetSensorReadingRequest{Number: 0x50}, &atME)
	psu, _ := b.Sensor("PSU1 In Power")
	me, _ := b.Sensor("ME Total Power")
	if atBMC.Reading != psu.Raw || atME.Reading != me.Raw || psu.Raw == me.Raw {
		t.Fatalf("BMC 0x50 raw %d (PSU1 %d), ME 0x50 raw %d (ME %d)", atBMC.Reading, psu.Raw, atME.Reading, me.Raw)
	}
	// A BMC sensor is not at ME, nor at another LUN of the BMC.
	if cc := code(b, meTarget, wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{0x01}, wire.PrivilegeUser); cc != wire.CCRequestedDataNotPresent {
		t.Fatalf("CPU1 Temp at ME: %s", cc)
	}
	if cc := code(b, wire.Target{Addr: 0x20, LUN: 1}, wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{0x01}, wire.PrivilegeUser); cc != wire.CCRequestedDataNotPresent {
		t.Fatalf("CPU1 Temp at LUN 1: %s", cc)
	}
	// ME answers its own Get Device ID and thresholds, but not repository
	// or chassis commands.
	var id command.GetDeviceIDResponse
	do(t, b, meTarget, &command.GetDeviceIDRequest{}, &id)
	if id.ManufacturerID != 343 || id.DeviceID != 0x50 || id.FirmwareRevision() != "4.01" {
		t.Fatalf("ME device ID %+v", id)
	}
	var thr command.GetSensorThresholdsResponse
	do(t, b, meTarget, &command.GetSensorThresholdsRequest{Number: 0x50}, &thr)
	for _, c := range []struct {
		netFn wire.NetFn
		cmd   uint8
	}{{wire.NetFnStorage, command.CmdGetSDR}, {wire.NetFnChassis, command.CmdGetChassisStatus}, {wire.NetFnApp, command.CmdGetSystemGUID}} {
		if cc := code(b, meTarget, c.netFn, c.cmd, nil, wire.PrivilegeAdmin); cc != wire.CCInvalidCommand {
			t.Errorf("%s/%#02x at ME: %s", c.netFn, c.cmd, cc)
		}
	}
	// Nobody at 0x30, nor at 0x2C on channel 0.
	for _, tg := range []wire.Target{{Addr: 0x30}, {Addr: 0x2C}} {
		if cc := code(b, tg, wire.NetFnApp, command.CmdGetDeviceID, nil, wire.PrivilegeAdmin); cc != wire.CCDestinationUnavailable || b.HasController(tg) {
			t.Errorf("target %+v: %s", tg, cc)
		}
	}
	if !b.HasController(meTarget) || !b.HasController(wire.Target{Addr: 0x20}) {
		t.Error("HasController misses ME or the BMC")
	}
	// The walk sees ME's MC locator and the sensor's owner.
	repo, err := sdr.ReadRepository(context.Background(), admin(b), sdr.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range repo.Records {
		if l, ok := r.(*sdr.MCDeviceLocator); ok && l.SlaveAddress == 0x2C && l.Channel == 6 && l.Name() == "Intel ME" {
			found = true
		}
	}
	if !found {
		t.Error("no MC device locator for ME")
	}
}

func TestDiscreteStates(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	read := func(n uint8) command.GetSensorReadingResponse {
		var r command.GetSensorReadingResponse
		do(t, b, bmcTarget, &command.GetSensorReadingRequest{Number: n}, &r)
		return r
	}
	if r := read(0x61); r.States != 0x0001 || r.Len != 4 {
		t.Fatalf("PS2 Status initially %+v", r)
	}
	// Input lost plus presence.
	if err := b.SetSensorStates("PS2 Status", 0x0009); err != nil {
		t.Fatal(err)
	}
	if r := read(0x61); r.States != 0x0009 {
		t.Fatalf("PS2 Status after set: %+v", r)
	}
	if s, _ := b.Sensor("PS2 Status"); s.Severity != sdr.DiscreteSeverity(sdr.SensorTypePowerSupply, sdr.EventTypeSensorSpecific, 0x0009) || s.Severity == sdr.Nominal {
		t.Fatalf("PS2 Status severity %s", s.Severity)
	}
	// Each sensor of the shared compact record has its own state. Their
	// names come from the sdr package's sharing rule ("HDD 2" or "HDD2").
	hdd2 := ""
	for _, s := range b.Sensors() {
		if s.Number == 0x72 && s.Owner.IsBMC() {
			hdd2 = s.Name
		}
	}
	if !strings.HasPrefix(hdd2, "HDD") || !strings.HasSuffix(hdd2, "2") {
		t.Fatalf("sensor 0x72 is named %q", hdd2)
	}
	if err := b.SetSensorStates(hdd2, 0x0003); err != nil {
		t.Fatal(err)
	}
	if r := read(0x72); r.States != 0x0003 {
		t.Fatalf("HDD2 %+v", r)
	}
	if r := read(0x71); r.States != 0x0001 {
		t.Fatalf("HDD1 %+v", r)
	}
	// Discrete sensors keep reading while the host is off.
	b.SetPower(false)
	if r := read(0x72); r.ReadingUnavailable || r.States != 0x0003 {
		t.Fatalf("HDD2 with power off %+v", r)
	}
	// Errors.
	if err := b.SetSensorStates("PS2 Status", 0x0100); err == nil {
		t.Error("unsupported state accepted")
	}
	if err := b.SetSensorStates("CPU1 Temp", 1); err == nil {
		t.Error("states on a threshold sensor accepted")
	}
	if err := b.SetSensorValue("PS2 Status", 1); err == nil {
		t.Error("value on a discrete sensor accepted")
	}
	if err := b.SetSensorValue("Nope", 1); err == nil {
		t.Error("unknown sensor accepted")
	}
	if err := b.SetSensorValue("CPU1 Temp", math.NaN()); err == nil {
		t.Error("NaN accepted")
	}
	// Event-only sensors take states (for the control API) but have no reading.
	if err := b.SetSensorStates("Watchdog2", 0x0002); err != nil {
		t.Fatal(err)
	}
}

func TestAbsentAndScanningDisabled(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	absent := []byte{0xBA} // P2-DIMME1 Temp
	cc, data := b.Handle(bmcTarget, wire.NetFnSensorEvent, command.CmdGetSensorReading, absent, wire.PrivilegeUser)
	if cc != wire.CCRequestedDataNotPresent || len(data) != 0 {
		t.Fatalf("absent sensor: %s % x", cc, data)
	}
	b.SetQuirks(Quirks{EmptyReadingForAbsent: true})
	cc, data = b.Handle(bmcTarget, wire.NetFnSensorEvent, command.CmdGetSensorReading, absent, wire.PrivilegeUser)
	if cc != wire.CCOK || data == nil || len(data) != 0 {
		t.Fatalf("absent sensor under quirk: %s % x (nil %v)", cc, data, data == nil)
	}
	var r command.GetSensorReadingResponse
	do(t, b, bmcTarget, &command.GetSensorReadingRequest{Number: 0x21}, &r) // NVMe SSD Temp
	if !r.ScanningDisabled || !r.ReadingUnavailable || r.Reading != 0 {
		t.Fatalf("scanning-disabled sensor %+v", r)
	}
	if s, _ := b.Sensor("NVMe SSD Temp"); s.Available || s.Severity != sdr.Unknown {
		t.Fatalf("snapshot %+v", s)
	}
}

func TestPowerControl(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	status := func() command.GetChassisStatusResponse {
		var s command.GetChassisStatusResponse
		do(t, b, bmcTarget, &command.GetChassisStatusRequest{}, &s)
		return s
	}
	control := func(a command.ChassisControlAction) wire.CompletionCode {
		return code(b, bmcTarget, wire.NetFnChassis, command.CmdChassisControl, []byte{uint8(a)}, wire.PrivilegeOperator)
	}
	if s := status(); !s.PowerOn || s.RestorePolicy != command.PowerRestorePrevious || s.LastPowerOnByCommand {
		t.Fatalf("initial %+v", s)
	}
	if cc := control(command.ChassisPowerDown); cc != wire.CCOK || status().PowerOn || b.PowerOn() {
		t.Fatalf("power down: %s", cc)
	}
	// Off: CPU temperature unavailable, inlet (standby) still read, DCMI inactive.
	var cpu, inlet command.GetSensorReadingResponse
	do(t, b, bmcTarget, &command.GetSensorReadingRequest{Number: 0x01}, &cpu)
	do(t, b, bmcTarget, &command.GetSensorReadingRequest{Number: 0x0D}, &inlet)
	if !cpu.ReadingUnavailable || inlet.ReadingUnavailable {
		t.Fatalf("power off: CPU %+v, inlet %+v", cpu, inlet)
	}
	var pr command.GetPowerReadingResponse
	do(t, b, bmcTarget, &command.GetPowerReadingRequest{Mode: command.DCMIPowerSystemStatistics}, &pr)
	if pr.MeasurementActive || pr.CurrentWatts != 0 {
		t.Fatalf("power reading while off %+v", pr)
	}
	for _, a := range []command.ChassisControlAction{command.ChassisPowerCycle, command.ChassisHardReset, command.ChassisSoftShutdown} {
		if cc := control(a); cc != wire.CCNotSupportedInPresentState {
			t.Errorf("%s while off: %s", a, cc)
		}
	}
	if cc := control(command.ChassisPowerUp); cc != wire.CCOK {
		t.Fatal(cc)
	}
	if s := status(); !s.PowerOn || !s.LastPowerOnByCommand {
		t.Fatalf("after power up %+v", s)
	}
	if cc := control(command.ChassisPowerCycle); cc != wire.CCOK || !status().PowerOn {
		t.Fatalf("power cycle: %s", cc)
	}
	b.SetChassisFaults(ChassisFaults{Intrusion: true, CoolingFault: true, PowerOverload: true})
	if s := status(); !s.Intrusion || !s.CoolingFault || !s.PowerOverload || s.DriveFault || s.PowerFault {
		t.Fatalf("faults %+v", s)
	}
	b.SetPower(false)
	if s := status(); s.PowerOn || s.LastPowerOnByCommand {
		t.Fatalf("SetPower(false) %+v", s)
	}
}

func TestDCMI(t *testing.T) {
	b, clock := newTestBMC(t, "dual-socket-1u", 0)
	var caps command.GetDCMICapabilitiesResponse
	do(t, b, bmcTarget, &command.GetDCMICapabilitiesRequest{Parameter: command.DCMIParamSupportedCapabilities}, &caps)
	sc, err := caps.SupportedCapabilities()
	if err != nil || !sc.PowerManagement || !sc.OOBPrimaryLAN || caps.MajorVersion != 1 || caps.MinorVersion != 5 {
		t.Fatalf("capabilities %+v %+v %v", caps, sc, err)
	}
	do(t, b, bmcTarget, &command.GetDCMICapabilitiesRequest{Parameter: command.DCMIParamMandatoryAttributes}, &caps)
	if ma, err := caps.MandatoryAttributes(); err != nil || ma.SELEntries != 512 || !ma.InletTemperature {
		t.Fatalf("mandatory attributes %+v %v", ma, err)
	}
	do(t, b, bmcTarget, &command.GetDCMICapabilitiesRequest{Parameter: command.DCMIParamManageabilityAccess}, &caps)
	if ma, err := caps.ManageabilityAccess(); err != nil || ma.PrimaryLANChannel != 1 || ma.SecondaryLANChannel != command.DCMIChannelNotAvailable {
		t.Fatalf("manageability access %+v %v", ma, err)
	}
	do(t, b, bmcTarget, &command.GetDCMICapabilitiesRequest{Parameter: command.DCMIParamEnhancedPowerStatistics}, &caps)
	periods, err := caps.EnhancedPowerStatistics()
	if err != nil || len(periods) != 6 || periods[1].Duration() != time.Minute {
		t.Fatalf("periods %v %v", periods, err)
	}
	// watts 310, drift 45, noise 8 in the profile.
	for i := 0; i < 20; i++ {
		clock.t = testEpoch.Add(time.Duration(i) * 53 * time.Second)
		var r command.GetPowerReadingResponse
		do(t, b, bmcTarget, &command.GetPowerReadingRequest{Mode: command.DCMIPowerSystemStatistics}, &r)
		if !r.MeasurementActive || r.StatisticsPeriod() != time.Hour || r.Timestamp != uint32(clock.t.Unix()) {
			t.Fatalf("reading %+v", r)
		}
		if r.MinimumWatts > r.CurrentWatts || r.CurrentWatts > r.MaximumWatts || r.MinimumWatts > r.AverageWatts || r.AverageWatts > r.MaximumWatts {
			t.Fatalf("min/cur/avg/max out of order: %+v", r)
		}
		if r.MinimumWatts < 310-45-8 || r.MaximumWatts > 310+45+8+1 {
			t.Fatalf("reading outside watts±drift±noise: %+v", r)
		}
		// Over an hour the 20-minute drift swings most of its range.
		if r.MaximumWatts-r.MinimumWatts < 60 {
			t.Fatalf("an hour's statistics span only %d W", r.MaximumWatts-r.MinimumWatts)
		}
	}
	var r command.GetPowerReadingResponse
	do(t, b, bmcTarget, &command.GetPowerReadingRequest{Mode: command.DCMIPowerEnhancedStatistics, ModeAttributes: 0x40 | 5}, &r)
	if r.StatisticsPeriod() != 5*time.Minute {
		t.Fatalf("enhanced period %s", r.StatisticsPeriod())
	}
	b.SetPowerReading(1234.4)
	do(t, b, bmcTarget, &command.GetPowerReadingRequest{Mode: command.DCMIPowerSystemStatistics}, &r)
	if r.CurrentWatts != 1234 || r.MinimumWatts != 1234 || r.MaximumWatts != 1234 || r.AverageWatts != 1234 {
		t.Fatalf("fixed reading %+v", r)
	}
	b.SetPowerReading(-1)
	do(t, b, bmcTarget, &command.GetPowerReadingRequest{Mode: command.DCMIPowerSystemStatistics}, &r)
	if r.CurrentWatts == 1234 {
		t.Fatal("SetPowerReading(-1) did not return to the model")
	}
}

func TestLANConfigAndIdentity(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 300)
	get := func(p command.LANParameter) command.GetLANConfigResponse {
		var r command.GetLANConfigResponse
		do(t, b, bmcTarget, &command.GetLANConfigRequest{Channel: 1, Parameter: p}, &r)
		return r
	}
	r := get(command.LANParamIPAddress)
	if ip, err := r.AsIPv4(); err != nil || ip != netip.MustParseAddr("10.40.1.54") || r.Revision != command.LANConfigRevision {
		t.Fatalf("IP %v %v (index 300 on 10.40.0.10)", ip, err)
	}
	r = get(command.LANParamMACAddress)
	if mac, err := r.AsMAC(); err != nil || mac.String() != "ac:1f:6b:10:01:2c" {
		t.Fatalf("MAC %v %v", mac, err)
	}
	r = get(command.LANParamSubnetMask)
	if ip, _ := r.AsIPv4(); ip != netip.MustParseAddr("255.255.0.0") {
		t.Fatalf("mask %v", ip)
	}
	r = get(command.LANParamDefaultGateway)
	if ip, _ := r.AsIPv4(); ip != netip.MustParseAddr("10.40.0.1") {
		t.Fatalf("gateway %v", ip)
	}
	r = get(command.LANParamDefaultGatewayMAC)
	if mac, _ := r.AsMAC(); mac.String() != "00:00:5e:00:01:01" {
		t.Fatalf("gateway MAC %v", mac)
	}
	r = get(command.LANParamIPAddressSource)
	if src, _ := r.AsIPAddressSource(); src != command.LANIPSourceStatic {
		t.Fatalf("source %v", src)
	}
	var rev command.GetLANConfigResponse
	do(t, b, bmcTarget, &command.GetLANConfigRequest{Channel: wire.ChannelPresentIface, Parameter: command.LANParamIPAddress, RevisionOnly: true}, &rev)
	if len(rev.Data) != 0 {
		t.Fatalf("revision-only answer carries % x", rev.Data)
	}

	var id command.GetDeviceIDResponse
	do(t, b, bmcTarget, &command.GetDeviceIDRequest{}, &id)
	if id.ManufacturerID != 10876 || id.ProductID != 0x0953 || id.FirmwareRevision() != "1.73" || id.IPMIVersionString() != "2.0" ||
		!id.HasAuxFirmwareRevision || id.AdditionalDeviceSupport&command.DeviceSupportBridge == 0 ||
		id.AdditionalDeviceSupport&command.DeviceSupportSDRRepository == 0 {
		t.Fatalf("device ID %+v", id)
	}
	var g command.GetSystemGUIDResponse
	do(t, b, bmcTarget, &command.GetSystemGUIDRequest{}, &g)
	// Index 300 = 0x12c added to the node field; ipmitool's detection
	// must read it back in the IPMI byte order.
	if enc := g.GUID.DetectEncoding(testEpoch); enc != command.GUIDEncodingIPMI {
		t.Fatalf("GUID detected as %s", enc)
	}
	if s := g.GUID.Format(command.GUIDEncodingIPMI); s != "4a0b9c2e-5f31-11e9-8647-d663bd873e2c" {
		t.Fatalf("GUID %s", s)
	}
	if g.GUID != b.GUID() || b.IP() != [4]byte{10, 40, 1, 54} {
		t.Fatal("accessors disagree with the wire")
	}
}

// TestGUIDsDetectAsWritten checks every built-in profile's GUID reads back
// in ipmitool as the profile writes it.
func TestGUIDsDetectAsWritten(t *testing.T) {
	for _, name := range ProfileNames() {
		p, err := LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := newTestBMC(t, name, 0)
		g := b.GUID()
		if got := g.Format(g.DetectEncoding(testEpoch)); got != p.Device.GUID {
			t.Errorf("%s: GUID prints as %s, profile says %s", name, got, p.Device.GUID)
		}
	}
}

func TestValuesDeterministic(t *testing.T) {
	a, _ := newTestBMC(t, "gpu-box", 5)
	a2, _ := newTestBMC(t, "gpu-box", 5)
	other, _ := newTestBMC(t, "gpu-box", 6)
	sa, sa2, so := a.Sensors(), a2.Sensors(), other.Sensors()
	differ := 0
	for i := range sa {
		if sa[i].Raw != sa2[i].Raw || sa[i].States != sa2[i].States {
			t.Fatalf("%s: same seed and index, raw %d vs %d", sa[i].Name, sa[i].Raw, sa2[i].Raw)
		}
		if sa[i].Raw != so[i].Raw {
			differ++
		}
	}
	if differ < len(sa)/4 {
		t.Fatalf("only %d of %d sensors differ between fleet indexes 5 and 6", differ, len(sa))
	}
	// Over a day the values stay within base ± drift ± noise and move.
	d := &a.p.sensors[a.p.byName["GPU1 Temp"]]
	lo, hi := math.Inf(1), math.Inf(-1)
	for s := 0; s < 86400; s += 37 {
		v := d.modelValue(a.seed, testEpoch.Add(time.Duration(s)*time.Second))
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if lo < d.base-d.drift-d.noise || hi > d.base+d.drift+d.noise || hi-lo < d.drift {
		t.Fatalf("GPU1 Temp over a day in [%g, %g], base %g drift %g noise %g", lo, hi, d.base, d.drift, d.noise)
	}
}

// TestConcurrentUse runs readers and writers at once (meaningful under -race).
func TestConcurrentUse(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				switch (i + w) % 8 {
				case 0:
					_ = b.SetSensorValue("CPU1 Temp", float64(40+i%50))
				case 1:
					_ = b.SetSensorStates("PS1 Status", uint16(i&1)|1)
				case 2:
					b.BumpSDR()
				case 3:
					_, _ = b.AddSELEntry(SELEntrySpec{Sensor: "Chassis Intru"})
				case 4:
					b.SetPower(i%3 != 0)
				case 5:
					_ = b.Sensors()
				case 6:
					_, _ = sdr.ReadRepository(context.Background(), requester{b: b, priv: wire.PrivilegeUser}, sdr.ReadOptions{ChunkSize: 16})
				case 7:
					b.Handle(bmcTarget, wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{0x01}, wire.PrivilegeUser)
					b.Handle(bmcTarget, wire.NetFnStorage, command.CmdGetSELInfo, nil, wire.PrivilegeUser)
					b.ClearSEL()
				}
			}
		}(w)
	}
	wg.Wait()
}
