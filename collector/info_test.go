package collector

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

var chassisFlags = []string{"drive_fault", "cooling_fault", "power_fault", "power_overload", "intrusion",
	"power_interlock", "power_control_fault", "front_panel_lockout"}

func TestChassis(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorChassis)
	check := func(power float64, set string) {
		t.Helper()
		r, rt := f.scrape(t)
		if rt.total != 1 || rt.counts[opChassisStatus] != 1 {
			t.Errorf("%v, want one Get Chassis Status", rt)
		}
		if got := r.value(t, "ipmi_chassis_power_state"); got != power {
			t.Errorf("power state %v, want %v", got, power)
		}
		for _, flag := range chassisFlags {
			want := 0.0
			if flag == set {
				want = 1
			}
			if got := r.value(t, "ipmi_chassis_"+flag+"_state"); got != want {
				t.Errorf("with %q set: %s %v, want %v", set, flag, got, want)
			}
		}
	}
	check(1, "")
	for _, tc := range []struct {
		flag   string
		faults model.ChassisFaults
	}{
		{"drive_fault", model.ChassisFaults{DriveFault: true}},
		{"cooling_fault", model.ChassisFaults{CoolingFault: true}},
		{"power_fault", model.ChassisFaults{PowerFault: true}},
		{"power_overload", model.ChassisFaults{PowerOverload: true}},
		{"intrusion", model.ChassisFaults{Intrusion: true}},
		{"power_interlock", model.ChassisFaults{PowerInterlock: true}},
		{"power_control_fault", model.ChassisFaults{PowerControlFault: true}},
	} {
		f.bmc.SetChassisFaults(tc.faults)
		check(1, tc.flag)
	}
	f.bmc.SetChassisFaults(model.ChassisFaults{})
	f.bmc.SetPower(false)
	check(0, "")

	// Front panel lockout: the model has no switch for it; answer with a
	// status whose lockout bit is set.
	f.bmc.SetPower(true)
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		if op != opChassisStatus {
			return 0, nil, false, nil
		}
		resp := command.GetChassisStatusResponse{PowerOn: true, FrontPanelLockout: true}
		return wire.CCOK, resp.AppendTo(nil), true, nil
	}
	check(1, "front_panel_lockout")
}

func TestDCMI(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorDCMI)
	f.bmc.SetPowerReading(423)
	r, rt := f.scrape(t)
	if got := r.value(t, "ipmi_dcmi_power_consumption_watts"); got != 423 {
		t.Errorf("power %v, want 423", got)
	}
	if rt.total != 1 {
		t.Errorf("%v, want one Get Power Reading", rt)
	}
	// Measurement not active (host off): no series, collector up.
	f.bmc.SetPower(false)
	r, _ = f.scrape(t)
	if r.has("ipmi_dcmi_power_consumption_watts") || r.up(t, config.CollectorDCMI) != 1 {
		t.Error("inactive measurement: want no power series and ipmi_up 1")
	}
	// A transient failure is not remembered.
	f.bmc.SetPower(true)
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		return wire.CCNodeBusy, nil, op == opDCMIPower, nil
	}
	r, _ = f.scrape(t)
	if r.up(t, config.CollectorDCMI) != 0 {
		t.Error("node busy: want ipmi_up 0")
	}
	f.tr.intercept = nil
	r, rt = f.scrape(t)
	if r.up(t, config.CollectorDCMI) != 1 || rt.total != 1 {
		t.Errorf("after a transient failure: up %v, %v", r.up(t, config.CollectorDCMI), rt)
	}
}

func TestDCMIUnsupported(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorDCMI, config.CollectorChassis)
	r, rt := f.scrape(t)
	// Not a failure: the BMC answered. (ipmi_exporter reports 0 here.)
	if r.up(t, config.CollectorDCMI) != 1 || r.up(t, config.CollectorChassis) != 1 {
		t.Errorf("no DCMI: dcmi up %v, chassis up %v; want 1 and 1",
			r.up(t, config.CollectorDCMI), r.up(t, config.CollectorChassis))
	}
	if r.has("ipmi_dcmi_power_consumption_watts") || rt.counts[opDCMIPower] != 1 {
		t.Errorf("no DCMI: %v", rt)
	}
	// Remembered: no round trip until the retry interval has passed, and
	// no warning logged every scrape.
	var logs bytes.Buffer
	f.target.Logger = log.NewLogfmtLogger(&logs)
	for i := 0; i < 3; i++ {
		f.clock.advance(dcmiRetryInterval / 4)
		r, rt = f.scrape(t)
		if rt.counts[opDCMIPower] != 0 || r.up(t, config.CollectorDCMI) != 1 {
			t.Errorf("remembered unsupported DCMI: %v, up %v", rt, r.up(t, config.CollectorDCMI))
		}
	}
	if strings.Contains(logs.String(), "level=warn") {
		t.Errorf("remembered failures logged as:\n%s", logs.String())
	}
	f.clock.advance(dcmiRetryInterval / 4)
	_, rt = f.scrape(t)
	if rt.counts[opDCMIPower] != 1 {
		t.Errorf("after the retry interval: %v, want Get Power Reading again", rt)
	}
}

func TestBMCInfo(t *testing.T) {
	for _, tc := range []struct {
		profile, firmware, manufacturer, guid string
	}{
		{"dual-socket-1u", "1.73", "Super Micro Computer Inc. (10876)", "4a0b9c2e-5f31-11e9-8647-d663bd873d00"},
		{"edge-node", "5.09", "Super Micro Computer Inc. (10876)", "e1d2c3b4-a596-11ed-8899-aabbcc000000"},
		{"gpu-box", "2.14", "52257", "9c7e1b40-2d3a-11ee-b5a1-3cecef420000"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			f := newFixture(t, loadProfile(t, tc.profile), config.CollectorBMC)
			r, rt := f.scrape(t)
			s := r.series("ipmi_bmc_info")
			if len(s) != 1 || s[0].GetGauge().GetValue() != 1 {
				t.Fatalf("ipmi_bmc_info: %v", s)
			}
			l := labelsOf(s[0])
			// The simulator lacks Get System Info Parameters (0xC1).
			want := map[string]string{"firmware_revision": tc.firmware, "manufacturer_id": tc.manufacturer,
				"system_firmware_version": "N/A", "guid": tc.guid}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("%s = %q, want %q", k, l[k], v)
				}
			}
			if rt.counts[opGetDeviceID] != 1 {
				t.Errorf("first scrape: %v", rt)
			}
			// Cached for deviceInfoTTL.
			f.clock.advance(deviceInfoTTL - time.Second)
			r, rt = f.scrape(t)
			if rt.total != 0 || r.up(t, config.CollectorBMC) != 1 || !r.has("ipmi_bmc_info", "guid", tc.guid) {
				t.Errorf("cached: %v, up %v", rt, r.up(t, config.CollectorBMC))
			}
			f.clock.advance(time.Second)
			_, rt = f.scrape(t)
			if rt.counts[opGetDeviceID] != 1 {
				t.Errorf("after the TTL: %v, want the device ID read again", rt)
			}
		})
	}
}

// systemInfoBMC answers Get System Info Parameters parameter 1 with str in
// the given encoding, split into sets as the specification lays them out.
func systemInfoBMC(f *fixture, encoding uint8, str []byte) {
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, data []byte) (wire.CompletionCode, []byte, bool, error) {
		if op != (command.Op{NetFn: wire.NetFnApp, Cmd: cmdGetSystemInfoParameters}) {
			return 0, nil, false, nil
		}
		var req getSystemInfoRequest
		if err := req.Unmarshal(data); err != nil || req.Parameter != sysInfoParamFirmwareVersion {
			return wire.CCParameterOutOfRange, nil, true, nil
		}
		block := make([]byte, 16)
		if req.Set == 0 {
			block[0], block[1] = encoding, byte(len(str))
			copy(block[2:], str)
		} else {
			from := 14 + 16*(int(req.Set)-1)
			if from >= len(str) {
				return wire.CCParameterOutOfRange, nil, true, nil
			}
			copy(block, str[from:])
		}
		resp := getSystemInfoResponse{Revision: 0x11, Data: append([]byte{req.Set}, block...)}
		return wire.CCOK, resp.AppendTo(nil), true, nil
	}
}

func TestSystemFirmwareVersion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		encoding uint8
		str      []byte
		want     string
	}{
		{"short", 0, []byte("2.6.1"), "2.6.1"},
		{"three sets", 0, []byte("BIOS 3.4a build 2025-11-30 rev 17"), "BIOS 3.4a build 2025-11-30 rev 17"},
		{"exactly one set", 1, []byte("AMI 5.27.0.0021"[:14]), "AMI 5.27.0.002"},
		{"latin-1", 0, []byte("Version 2 \xdf"), "Version 2 ß"},
		{"utf-8", 1, []byte("Versión 3"), "Versión 3"},
		{"unicode unsupported", 2, []byte{0, 'A', 0, 'B'}, "N/A"},
		{"empty", 0, nil, "N/A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorBMC)
			systemInfoBMC(f, tc.encoding, tc.str)
			r, _ := f.scrape(t)
			if got := labelsOf(r.series("ipmi_bmc_info")[0])["system_firmware_version"]; got != tc.want {
				t.Errorf("system_firmware_version %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBMCInfoFailures(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorBMC)
	// No GUID: the info is still there, with an empty guid.
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		return wire.CCInvalidCommand, nil, op == command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdGetSystemGUID}, nil
	}
	r, _ := f.scrape(t)
	if r.up(t, config.CollectorBMC) != 1 || !r.has("ipmi_bmc_info", "guid", "", "firmware_revision", "5.09") {
		t.Errorf("no GUID: %v", r.series("ipmi_bmc_info"))
	}
	// No device ID: the collector fails.
	f = newFixture(t, loadProfile(t, "edge-node"), config.CollectorBMC)
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		return wire.CCNodeBusy, nil, op == opGetDeviceID, nil
	}
	r, _ = f.scrape(t)
	if r.up(t, config.CollectorBMC) != 0 || r.has("ipmi_bmc_info") {
		t.Error("device ID failed: want ipmi_up 0 and no info")
	}
}

const lanChannel3Profile = `
name: lan3
device: {device_id: 0x20, firmware: "1.02", manufacturer_id: 674, product_id: 1, guid: "11111111-2222-1333-8444-555555555555"}
lan: {channel: 3, ip: 172.16.5.9, ip_source: dhcp, netmask: 255.255.240.0, gateway: 172.16.0.1, mac: "02:00:00:00:00:01"}
power: {dcmi: false, watts: 100}
sensors:
  - {name: Temp, number: 0x01, type: temperature, unit: degrees_c, entity: system_board.1, base: 30, min: 0, max: 127}
`

func TestLAN(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile *model.Profile
		probes  int
		want    map[string]string
	}{
		{"dual-socket-1u", loadProfile(t, "dual-socket-1u"), 1, map[string]string{"ip_source": "static",
			"ip": "10.40.0.10", "netmask": "255.255.0.0", "mac": "ac:1f:6b:10:00:00", "gateway_ip": "10.40.0.1"}},
		{"channel 3", parseProfile(t, lanChannel3Profile), 3, map[string]string{"ip_source": "dhcp",
			"ip": "172.16.5.9", "netmask": "255.255.240.0", "mac": "02:00:00:00:00:01", "gateway_ip": "172.16.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.profile, config.CollectorLAN)
			r, rt := f.scrape(t)
			s := r.series("ipmi_bmc_lan_info")
			if len(s) != 1 {
				t.Fatalf("ipmi_bmc_lan_info: %d series (up %v)", len(s), r.up(t, config.CollectorLAN))
			}
			l := labelsOf(s[0])
			for k, v := range tc.want {
				if l[k] != v {
					t.Errorf("%s = %q, want %q", k, l[k], v)
				}
			}
			// Six parameters, after probing for the channel once.
			if got := rt.counts[opGetLANConfig]; got != tc.probes+6 {
				t.Errorf("first scrape: %v, want %d probes + 6", rt, tc.probes)
			}
			_, rt = f.scrape(t)
			if got := rt.counts[opGetLANConfig]; got != 6 || rt.total != 6 {
				t.Errorf("second scrape: %v, want the 6 parameters only", rt)
			}
		})
	}
	t.Run("user privilege", func(t *testing.T) {
		f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorLAN)
		f.tr.priv = wire.PrivilegeUser
		r, rt := f.scrape(t)
		if r.up(t, config.CollectorLAN) != 0 || rt.counts[opGetLANConfig] != 1 {
			t.Errorf("USER session: up %v, %v; want a failure after one request", r.up(t, config.CollectorLAN), rt)
		}
		f.tr.priv = wire.PrivilegeOperator
		r, _ = f.scrape(t)
		if r.up(t, config.CollectorLAN) != 1 {
			t.Error("OPERATOR session: lan collector still failing")
		}
	})
}
