package command_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestGetDCMICapabilities(t *testing.T) {
	freshReq := func() codec { return &command.GetDCMICapabilitiesRequest{} }
	runVectors(t, []vectorCase{
		// ipmitool "dcmi discover" sends dc 01 first.
		{name: "supported capabilities", vector: "dc 01", fresh: freshReq, canonical: true,
			want: &command.GetDCMICapabilitiesRequest{Parameter: command.DCMIParamSupportedCapabilities}},
		{name: "enhanced power statistics", vector: "dc 05", fresh: freshReq, canonical: true,
			want: &command.GetDCMICapabilitiesRequest{Parameter: command.DCMIParamEnhancedPowerStatistics}},
	})
	runShort(t, "dcmi caps request", "dc 01", 2, freshReq)
	if err := freshReq().Unmarshal([]byte{0xdd, 0x01}); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("wrong group id: err = %v", err)
	}

	fresh := func() codec { return &command.GetDCMICapabilitiesResponse{} }
	runVectors(t, []vectorCase{
		{
			name: "dcmi 1.5 parameter 1", vector: "dc 01 05 02 00 01 19", fresh: fresh, canonical: true,
			want: &command.GetDCMICapabilitiesResponse{MajorVersion: 1, MinorVersion: 5, ParameterRevision: 2,
				Data: hexBytes(t, "00 01 19")},
		},
		{
			name: "header only", vector: "dc 01 00 01", fresh: fresh, canonical: true,
			want: &command.GetDCMICapabilitiesResponse{MajorVersion: 1, ParameterRevision: 1},
		},
	})
	runShort(t, "dcmi caps response", "dc 01 05 02", 4, fresh)
	if err := fresh().Unmarshal(hexBytes(t, "00 01 05 02")); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("wrong group id: err = %v", err)
	}
}

func dcmiCaps(t *testing.T, vector string) *command.GetDCMICapabilitiesResponse {
	t.Helper()
	var r command.GetDCMICapabilitiesResponse
	if err := r.Unmarshal(hexBytes(t, vector)); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestDCMICapabilityParameters(t *testing.T) {
	// Parameter 1: power management; KCS, primary LAN and SOL.
	caps, err := dcmiCaps(t, "dc 01 05 02 00 01 19").SupportedCapabilities()
	if err != nil {
		t.Fatal(err)
	}
	wantCaps := command.DCMISupportedCapabilities{PowerManagement: true, InBandKCS: true, OOBPrimaryLAN: true, SOL: true}
	if caps != wantCaps {
		t.Errorf("SupportedCapabilities = %+v, want %+v", caps, wantCaps)
	}
	if enc := command.AppendDCMISupportedCapabilities(nil, &wantCaps); !reflect.DeepEqual(enc, hexBytes(t, "00 01 19")) {
		t.Errorf("AppendDCMISupportedCapabilities = %x", enc)
	}
	all := command.DCMISupportedCapabilities{Identification: true, SELLogging: true, ChassisPower: true,
		TemperatureMonitor: true, PowerManagement: true, InBandKCS: true, OOBSerialTMODE: true,
		OOBSecondaryLAN: true, OOBPrimaryLAN: true, SOL: true, VLAN: true}
	if enc := command.AppendDCMISupportedCapabilities(nil, &all); !reflect.DeepEqual(enc, hexBytes(t, "0f 01 3f")) {
		t.Errorf("all capabilities encode as %x", enc)
	}
	if _, err := dcmiCaps(t, "dc 01 05 02 00 01").SupportedCapabilities(); !errors.Is(err, wire.ErrShort) {
		t.Errorf("2-byte parameter 1: err = %v", err)
	}

	// Parameter 2: 0x0fff SEL entries with rollover, GUID + asset tag,
	// inlet and baseboard temperature, sampled every 10 s.
	attrs, err := dcmiCaps(t, "dc 01 05 02 ff 8f 05 05 0a").MandatoryAttributes()
	if err != nil {
		t.Fatal(err)
	}
	wantAttrs := command.DCMIMandatoryAttributes{SELEntries: 0x0fff, SELAutoRollover: true, GUIDSupport: true,
		AssetTagSupport: true, InletTemperature: true, BaseboardTemperature: true, TemperatureSampling: 10}
	if attrs != wantAttrs {
		t.Errorf("MandatoryAttributes = %+v, want %+v", attrs, wantAttrs)
	}
	attrs, err = dcmiCaps(t, "dc 01 00 01 00 70 02 02").MandatoryAttributes() // DCMI 1.0: 4 bytes
	if err != nil {
		t.Fatal(err)
	}
	if want := (command.DCMIMandatoryAttributes{SELFlushOnRollover: true, SELRecordFlush: true,
		DHCPHostNameSupport: true, ProcessorTemperature: true}); attrs != want {
		t.Errorf("DCMI 1.0 MandatoryAttributes = %+v, want %+v", attrs, want)
	}

	// Parameter 3: power management on the BMC (ipmitool: 0x40 = "20h").
	opt, err := dcmiCaps(t, "dc 01 05 02 40 12").OptionalAttributes()
	if err != nil {
		t.Fatal(err)
	}
	if want := (command.DCMIOptionalAttributes{PowerMgmtDeviceAddr: 0x40, PowerMgmtChannel: 1, PowerMgmtRevision: 2}); opt != want {
		t.Errorf("OptionalAttributes = %+v, want %+v", opt, want)
	}

	// Parameter 4: primary LAN channel 1, no secondary, serial channel 2.
	access, err := dcmiCaps(t, "dc 01 05 02 01 ff 02").ManageabilityAccess()
	if err != nil {
		t.Fatal(err)
	}
	if want := (command.DCMIManageabilityAccess{PrimaryLANChannel: 1,
		SecondaryLANChannel: command.DCMIChannelNotAvailable, SerialChannel: 2}); access != want {
		t.Errorf("ManageabilityAccess = %+v, want %+v", access, want)
	}

	// Parameter 5: 30 s, 5 min, 1 h, 1 day.
	periods, err := dcmiCaps(t, "dc 01 05 02 04 1e 45 81 c1").EnhancedPowerStatistics()
	if err != nil {
		t.Fatal(err)
	}
	wantPeriods := []time.Duration{30 * time.Second, 5 * time.Minute, time.Hour, 24 * time.Hour}
	if len(periods) != len(wantPeriods) {
		t.Fatalf("periods = %v", periods)
	}
	for i, p := range periods {
		if p.Duration() != wantPeriods[i] {
			t.Errorf("period %d = %v, want %v", i, p.Duration(), wantPeriods[i])
		}
	}
	if _, err := dcmiCaps(t, "dc 01 05 02 04 1e 45").EnhancedPowerStatistics(); !errors.Is(err, wire.ErrShort) {
		t.Errorf("count beyond data: err = %v", err)
	}
	for _, tc := range []struct {
		name string
		fn   func(*command.GetDCMICapabilitiesResponse) error
	}{
		{"mandatory", func(r *command.GetDCMICapabilitiesResponse) error { _, err := r.MandatoryAttributes(); return err }},
		{"optional", func(r *command.GetDCMICapabilitiesResponse) error { _, err := r.OptionalAttributes(); return err }},
		{"access", func(r *command.GetDCMICapabilitiesResponse) error { _, err := r.ManageabilityAccess(); return err }},
		{"enhanced", func(r *command.GetDCMICapabilitiesResponse) error { _, err := r.EnhancedPowerStatistics(); return err }},
	} {
		if err := tc.fn(dcmiCaps(t, "dc 01 05 02")); !errors.Is(err, wire.ErrShort) {
			t.Errorf("%s with no data: err = %v", tc.name, err)
		}
	}
}

func TestGetPowerReading(t *testing.T) {
	freshReq := func() codec { return &command.GetPowerReadingRequest{} }
	runVectors(t, []vectorCase{
		// ipmitool "dcmi power reading" sends exactly these bytes.
		{name: "system power statistics", vector: "dc 01 00 00", fresh: freshReq, canonical: true,
			want: &command.GetPowerReadingRequest{Mode: command.DCMIPowerSystemStatistics}},
		{name: "enhanced, 5 minutes", vector: "dc 02 45 00", fresh: freshReq, canonical: true,
			want: &command.GetPowerReadingRequest{Mode: command.DCMIPowerEnhancedStatistics, ModeAttributes: 0x45}},
	})
	runShort(t, "power reading request", "dc 01 00 00", 4, freshReq)

	fresh := func() codec { return &command.GetPowerReadingResponse{} }
	// 140 W now, 90 min, 500 max, 135 average, at 0x655b5ea0, over 1 s, active.
	const active = "dc 8c 00 5a 00 f4 01 87 00 a0 5e 5b 65 e8 03 00 00 40"
	runVectors(t, []vectorCase{
		{name: "active", vector: active, fresh: fresh, canonical: true,
			want: &command.GetPowerReadingResponse{CurrentWatts: 140, MinimumWatts: 90, MaximumWatts: 500,
				AverageWatts: 135, Timestamp: 0x655b5ea0, StatisticsPeriodMillis: 1000, MeasurementActive: true}},
		{name: "not active, reserved state bits", vector: "dc 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 bf",
			fresh: fresh, want: &command.GetPowerReadingResponse{}},
	})
	runShort(t, "power reading response", active, 18, fresh)
	bad := hexBytes(t, active)
	bad[0] = 0x00
	if err := fresh().Unmarshal(bad); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("wrong group id: err = %v", err)
	}
	r := command.GetPowerReadingResponse{StatisticsPeriodMillis: 1500}
	if got := r.StatisticsPeriod(); got != 1500*time.Millisecond {
		t.Errorf("StatisticsPeriod = %v", got)
	}
}

// FuzzDCMIMessages feeds the DCMI decoders and parameter accessors; the
// first byte picks the decoder.
func FuzzDCMIMessages(f *testing.F) {
	decoders := []func() codec{
		func() codec { return &command.GetDCMICapabilitiesRequest{} },
		func() codec { return &command.GetDCMICapabilitiesResponse{} },
		func() codec { return &command.GetPowerReadingRequest{} },
		func() codec { return &command.GetPowerReadingResponse{} },
	}
	for i, seed := range []string{"dc 01", "dc 01 05 02 04 1e 45 81 c1", "dc 01 00 00",
		"dc 8c 00 5a 00 f4 01 87 00 a0 5e 5b 65 e8 03 00 00 40"} {
		f.Add(append([]byte{byte(i)}, hexBytes(f, seed)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		roundTrip(t, data[1:], decoders[int(data[0])%len(decoders)])
		var r command.GetDCMICapabilitiesResponse
		if r.Unmarshal(data[1:]) != nil {
			return
		}
		for _, err := range []error{
			func() error { _, err := r.SupportedCapabilities(); return err }(),
			func() error { _, err := r.MandatoryAttributes(); return err }(),
			func() error { _, err := r.OptionalAttributes(); return err }(),
			func() error { _, err := r.ManageabilityAccess(); return err }(),
			func() error { _, err := r.EnhancedPowerStatistics(); return err }(),
		} {
			if err != nil && !errors.Is(err, wire.ErrShort) {
				t.Fatalf("accessor error %v is not ErrShort", err)
			}
		}
	})
}
