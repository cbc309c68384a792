package model

import (
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/profiles"
)

// minimalProfile is the smallest useful profile; tests append sections.
const minimalProfile = `
name: minimal
device: {guid: "00000000-0000-1000-8000-000000000000"}
sensors:
  - {name: Temp, number: 1, type: temperature, unit: degrees_c, base: 30, min: 0, max: 127, thresholds: {uc: 80}}
`

func TestParseProfileStrict(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level field", minimalProfile + "bogus: 1\n", "bogus"},
		{"unknown sensor field", strings.Replace(minimalProfile, "base: 30", "base: 30, colour: red", 1), "colour"},
		{"no name", strings.Replace(minimalProfile, "name: minimal", "", 1), "no name"},
		{"bad guid", strings.Replace(minimalProfile, `"00000000-0000-1000-8000-000000000000"`, "nope", 1), "guid"},
		{"name too long", strings.Replace(minimalProfile, "name: Temp,", "name: A Very Long Sensor Name,", 1), "more than 16"},
		{"unknown type", strings.Replace(minimalProfile, "type: temperature", "type: flux", 1), "sensor type"},
		{"unknown unit", strings.Replace(minimalProfile, "degrees_c", "furlongs", 1), "unit"},
		{"base out of range", strings.Replace(minimalProfile, "base: 30", "base: 300", 1), "base"},
		{"threshold out of range", strings.Replace(minimalProfile, "uc: 80", "uc: 200", 1), "threshold"},
		{"empty range", strings.Replace(minimalProfile, "max: 127", "max: 0", 1), "min"},
		{"duplicate number", minimalProfile + "  - {name: Temp2, number: 1, type: temperature, unit: degrees_c, min: 0, max: 127}\n", "0x01"},
		{"duplicate name", minimalProfile + "  - {name: Temp, number: 2, type: temperature, unit: degrees_c, min: 0, max: 127}\n", "used twice"},
		{"reserved number", minimalProfile + "  - {name: T2, number: 0xff, type: temperature, unit: degrees_c, min: 0, max: 127}\n", "reserved"},
		{"undeclared owner", minimalProfile + "  - {name: T2, number: 2, type: temperature, unit: degrees_c, min: 0, max: 127, owner: {address: 0x2c}}\n", "not in controllers"},
		{"odd owner address", minimalProfile + "  - {name: T2, number: 2, type: temperature, unit: degrees_c, min: 0, max: 127, owner: {address: 0x2d}}\n", "even"},
		{"compact threshold", minimalProfile + "  - {name: T2, number: 2, type: temperature, unit: degrees_c, min: 0, max: 127, record: compact}\n", "compact"},
		{"share on full", minimalProfile + "  - {name: D, number: 2, type: drive_slot, states: [0], share_count: 2}\n", "share_count"},
		{"state beyond 14", minimalProfile + "  - {name: D, number: 2, type: drive_slot, states: [15]}\n", "above 14"},
		{"state not supported", minimalProfile + "  - {name: D, number: 2, type: drive_slot, states: [1], supported_states: [0]}\n", "supported"},
		{"bad record kind", minimalProfile + "  - {name: D, number: 2, type: drive_slot, record: partial}\n", "record"},
		{"bad factors", strings.Replace(minimalProfile, "thresholds: {uc: 80}", "factors: {m: 600}", 1), "factors"},
		{"factors miss the range", strings.Replace(minimalProfile, "thresholds: {uc: 80}", "factors: {m: 1, r_exp: -1}", 1), "represent"},
		{"two documents", minimalProfile + "---\nname: x\n", "more than one"},
		{"bad sel sensor", minimalProfile + "sel: {entries: [{sensor: Nope}]}\n", "Nope"},
		{"sel over capacity", minimalProfile + "sel: {capacity: 1, entries: [{sensor: Temp}, {sensor: Temp}]}\n", "capacity"},
		{"bad ip", minimalProfile + "lan: {ip: 10.0.0}\n", "ip"},
		{"bad lan channel", minimalProfile + "lan: {channel: 15}\n", "channel"},
		{"bad restore policy", minimalProfile + "chassis: {restore_policy: sometimes}\n", "restore_policy"},
		{"controller at bmc", minimalProfile + "controllers: [{name: X, address: 0x20}]\n", "BMC itself"},
		{"bad entity", strings.Replace(minimalProfile, "base: 30", "base: 30, entity: warp_core.1", 1), "entity"},
		{"negative noise", strings.Replace(minimalProfile, "base: 30", "base: 30, noise: -1", 1), "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := ParseProfile([]byte(minimalProfile)); err != nil {
		t.Fatalf("minimal profile: %v", err)
	}
	if _, err := ParseProfile(nil); err == nil {
		t.Fatal("empty input accepted")
	}
}

func TestLoadProfileFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(path, []byte(minimalProfile), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(path)
	if err != nil || p.Name != "minimal" {
		t.Fatalf("%v, %v", p, err)
	}
	if _, err := LoadProfile("no-such-profile"); err == nil || !strings.Contains(err.Error(), "dual-socket-1u") {
		t.Fatalf("unknown profile: %v (should list the built-in names)", err)
	}
	if _, err := LoadProfile("../profiles/gpu-box"); err == nil {
		t.Fatal("a path with .. must not reach the embedded files")
	}
}

// TestFactorOverrides serves sensors with odd encodings from explicit
// factors and checks a client decodes them: negative M, 1's complement,
// a 1/x linearization and a non-linear sensor read with Get Sensor Reading
// Factors.
func TestFactorOverrides(t *testing.T) {
	b, _ := newYAMLBMC(t, minimalProfile+`
  - {name: Neg M, number: 2, type: voltage, unit: volts, base: -2, min: -2.5, max: 0, format: unsigned, factors: {m: -1, b: 0, r_exp: -2, b_exp: 0}, thresholds: {lc: -2.4, uc: -0.5}}
  - {name: Ones, number: 3, type: temperature, unit: degrees_c, base: -12, min: -100, max: 100, format: 1s_complement, factors: {m: 1, b: 0, r_exp: 0, b_exp: 0}, thresholds: {lnc: -20}}
  - {name: Inverse, number: 4, type: fan, unit: rpm, base: 2000, min: 1000, max: 10000, factors: {m: 1, b: 0, r_exp: -5, b_exp: 0, linearization: 1/x}}
  - {name: NonLinear, number: 5, type: current, unit: amps, base: 7.5, min: 0, max: 25.5, factors: {m: 1, b: 0, r_exp: -1, b_exp: 0, linearization: non_linear, tolerance: 2, accuracy: 100, accuracy_exp: 1}}
`)
	repo, err := sdr.ReadRepository(context.Background(), admin(b), sdr.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range repo.Sensors() {
		info := info
		resp, cc := readSensor(t, b, &info)
		if cc != wire.CCOK {
			t.Fatalf("%s: %s", info.Name, cc)
		}
		s := sdr.Sensor{SensorInfo: &info, Reading: resp}
		d := &b.p.sensors[b.p.byName[info.Name]]
		var got float64
		var ok bool
		if info.NeedsFactors() {
			var f command.GetSensorReadingFactorsResponse
			do(t, b, info.Target(), &command.GetSensorReadingFactorsRequest{Number: info.Number, Reading: resp.Reading}, &f)
			if f.Factors.M != 1 || f.Factors.RExp != -1 || f.Factors.Tolerance != 2 || f.Factors.Accuracy != 100 {
				t.Fatalf("%s: factors %+v", info.Name, f.Factors)
			}
			got, ok = s.ValueWithFactors(f.Factors)
		} else {
			got, ok = s.Value()
		}
		if !ok {
			t.Fatalf("%s: no value", info.Name)
		}
		// One raw step around the value: for 1/x the step is not constant,
		// so compare in raw counts through the conversion.
		raw, _ := d.conv.Raw(d.base)
		want, _ := d.conv.Value(raw)
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) || math.Abs(got-d.base) > math.Abs(d.base)*0.01 {
			t.Errorf("%s: decoded %g, want %g (base %g)", info.Name, got, want, d.base)
		}
		status, _ := s.ThresholdStatus()
		if exp := expectedStatus(got, &info); !info.NeedsFactors() && status != exp {
			t.Errorf("%s: status %06b, want %06b", info.Name, status, exp)
		}
	}
	// Negative M inverts raw order; pushing the value below LC must set
	// the LC bit all the same.
	if err := b.SetSensorValue("Neg M", -2.45); err != nil {
		t.Fatal(err)
	}
	if s, err := b.Sensor("Neg M"); err != nil || s.Status != command.LowerCritical {
		t.Fatalf("Neg M at -2.45: status %06b, %v", s.Status, err)
	}
}

// FuzzParseProfile: hostile YAML never panics, and whatever parses builds a
// BMC that answers.
func FuzzParseProfile(f *testing.F) {
	for _, name := range ProfileNames() {
		data, err := fs.ReadFile(profiles.Files(), name+".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimalProfile))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data)
		if err != nil {
			return
		}
		b, err := New(p, Options{Clock: func() time.Time { return testEpoch }})
		if err != nil {
			return
		}
		for _, s := range b.Sensors() {
			b.Handle(s.Owner, wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{s.Number}, wire.PrivilegeUser)
		}
	})
}

// TestEditProfileBeforeNew: a loaded profile may be extended before the
// first New, and the BMCs then serve the added sensor.
func TestEditProfileBeforeNew(t *testing.T) {
	p, err := LoadProfile("edge-node")
	if err != nil {
		t.Fatal(err)
	}
	uc := 230.0
	p.Sensors = append(p.Sensors, SensorSpec{Name: "Airflow", Number: 0x80, Type: "0x0b", Unit: "CFM",
		Base: 60, Min: 0, Max: 255, Thresholds: ThresholdSpec{UC: &uc}})
	b, err := New(p, Options{Clock: func() time.Time { return testEpoch }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Sensor("Airflow")
	if err != nil || s.Value != 60 || s.Unit != "CFM" {
		t.Fatalf("added sensor: %+v, %v", s, err)
	}
	var r command.GetSensorReadingResponse
	do(t, b, wire.Target{}, &command.GetSensorReadingRequest{Number: 0x80}, &r)
}
