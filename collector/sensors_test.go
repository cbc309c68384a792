package collector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

var builtinProfiles = []string{"dual-socket-1u", "edge-node", "gpu-box"}

// unitFamily is the value and state family a threshold sensor of the
// model's unit text belongs to.
func unitFamily(unit string) (value, state string) {
	switch unit {
	case "degrees C":
		return "ipmi_temperature_celsius", "ipmi_temperature_state"
	case "RPM":
		return "ipmi_fan_speed_rpm", "ipmi_fan_speed_state"
	case "Volts":
		return "ipmi_voltage_volts", "ipmi_voltage_state"
	case "Amps":
		return "ipmi_current_amperes", "ipmi_current_state"
	case "Watts":
		return "ipmi_power_watts", "ipmi_power_state"
	}
	return "ipmi_sensor_value", "ipmi_sensor_state"
}

var valueFamilies = []string{"ipmi_temperature_celsius", "ipmi_fan_speed_rpm", "ipmi_fan_speed_ratio",
	"ipmi_voltage_volts", "ipmi_current_amperes", "ipmi_power_watts", "ipmi_sensor_value"}

var stateFamilies = []string{"ipmi_temperature_state", "ipmi_fan_speed_state", "ipmi_voltage_state",
	"ipmi_current_state", "ipmi_power_state", "ipmi_sensor_state"}

// wantState is the ipmi_exporter state value of a severity.
func wantState(s sdr.Severity) float64 {
	return map[sdr.Severity]float64{sdr.Nominal: 0, sdr.Warning: 1, sdr.Critical: 2, sdr.NonRecoverable: 2,
		sdr.Unknown: math.NaN()}[s]
}

// expectedThresholds maps threshold label values to the model's
// thresholds as clients decode them.
func expectedThresholds(s model.ThresholdSpec) map[string]float64 {
	out := map[string]float64{}
	for label, v := range map[string]*float64{
		"lower_non_recoverable": s.LNR, "lower_critical": s.LC, "lower_non_critical": s.LNC,
		"upper_non_critical": s.UNC, "upper_critical": s.UC, "upper_non_recoverable": s.UNR,
	} {
		if v != nil {
			out[label] = *v
		}
	}
	return out
}

// checkSensorsMatch compares a scrape with the model's view of every
// sensor: info, value, state, thresholds and discrete states.
func checkSensorsMatch(t *testing.T, b *model.BMC, r *result) {
	t.Helper()
	snaps := b.Sensors()
	readable := 0
	for _, s := range snaps {
		if s.Record == model.RecordEventOnly {
			if r.has("ipmi_sensor_info", "name", s.Name) {
				t.Errorf("%s: event-only sensor exported", s.Name)
			}
			continue
		}
		readable++
		infos := r.series("ipmi_sensor_info", "name", s.Name)
		if len(infos) != 1 {
			t.Errorf("%s: %d info series, want 1", s.Name, len(infos))
			continue
		}
		info := labelsOf(infos[0])
		id := info["id"]
		if info["type"] != s.TypeName {
			t.Errorf("%s: type %q, want %q", s.Name, info["type"], s.TypeName)
		}
		wantUnit := s.Unit
		if s.EventType.IsDiscrete() {
			wantUnit = "discrete"
		}
		if info["unit"] != wantUnit {
			t.Errorf("%s: unit %q, want %q", s.Name, info["unit"], wantUnit)
		}
		valueFam, stateFam := unitFamily(s.Unit)
		// A fan read in percent is a ratio, ipmi_exporter's
		// ipmi_fan_speed_ratio: value and thresholds divided by 100.
		scale := 1.0
		if s.Unit == "percent" && s.Type == sdr.SensorTypeFan {
			valueFam, stateFam, scale = "ipmi_fan_speed_ratio", "ipmi_fan_speed_state", 0.01
		}
		if s.EventType.IsDiscrete() {
			valueFam, stateFam = "ipmi_sensor_value", "ipmi_sensor_state"
		}
		// Exactly one state series, in the right family.
		for _, fam := range stateFamilies {
			n := len(r.series(fam, "id", id, "name", s.Name))
			if want := map[bool]int{true: 1, false: 0}[fam == stateFam]; n != want {
				t.Errorf("%s: %d %s series, want %d", s.Name, n, fam, want)
			}
		}
		if got, want := r.value(t, stateFam, "id", id, "name", s.Name), wantState(s.Severity); !sameFloat(got, want, 0) {
			t.Errorf("%s: state %v, want %v (%s)", s.Name, got, want, s.SeverityName)
		}
		// A value series only for readable sensors.
		for _, fam := range valueFamilies {
			n := len(r.series(fam, "id", id, "name", s.Name))
			want := 0
			if fam == valueFam && s.Available {
				want = 1
			}
			if n != want {
				t.Errorf("%s: %d %s series, want %d (available %v)", s.Name, n, fam, want, s.Available)
			}
		}
		if s.Available {
			want := s.Value * scale
			if s.EventType.IsDiscrete() {
				want = math.NaN()
			}
			if got := r.value(t, valueFam, "id", id, "name", s.Name); !sameFloat(got, want, 1e-9) {
				t.Errorf("%s: value %v, want %v", s.Name, got, want)
			}
		}
		// Thresholds: exactly the readable ones.
		wantTh := expectedThresholds(s.Thresholds)
		gotTh := map[string]float64{}
		for _, m := range r.series("ipmi_sensor_threshold", "id", id, "name", s.Name) {
			gotTh[labelsOf(m)["threshold"]] = m.GetGauge().GetValue()
		}
		if len(gotTh) != len(wantTh) {
			t.Errorf("%s: thresholds %v, want %v", s.Name, gotTh, wantTh)
		}
		for k, v := range wantTh {
			if g, ok := gotTh[k]; !ok || !sameFloat(g, v*scale, 1e-9) {
				t.Errorf("%s: threshold %s = %v, want %v", s.Name, k, g, v)
			}
		}
		// Discrete states: exactly the asserted ones, by name.
		var wantStates, gotStates []string
		if s.EventType.IsDiscrete() && s.Available {
			for off := uint8(0); off < maxStates; off++ {
				if s.States&(1<<off) != 0 {
					name := sdr.StateName(s.EventType, s.Type, off)
					if name == "" {
						name = "state " + strconv.Itoa(int(off))
					}
					wantStates = append(wantStates, name)
				}
			}
		}
		for _, m := range r.series("ipmi_sensor_discrete_state", "id", id, "name", s.Name) {
			l := labelsOf(m)
			if l["type"] != s.TypeName || m.GetGauge().GetValue() != 1 {
				t.Errorf("%s: discrete state series %v = %v", s.Name, l, m.GetGauge().GetValue())
			}
			gotStates = append(gotStates, l["state"])
		}
		sort.Strings(wantStates)
		sort.Strings(gotStates)
		if fmt.Sprint(gotStates) != fmt.Sprint(wantStates) {
			t.Errorf("%s: discrete states %q, want %q", s.Name, gotStates, wantStates)
		}
	}
	if n := len(r.series("ipmi_sensor_info")); n != readable {
		t.Errorf("%d info series, want %d (one per readable sensor)", n, readable)
	}
}

func TestSensorsMatchModel(t *testing.T) {
	for _, name := range builtinProfiles {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, loadProfile(t, name), config.CollectorIPMI)
			r, _ := f.scrape(t)
			if up := r.up(t, config.CollectorIPMI); up != 1 {
				t.Fatalf("ipmi_up %v", up)
			}
			checkSensorsMatch(t, f.bmc, r)

			// Push readings across thresholds and assert states.
			for _, s := range f.bmc.Sensors() {
				if s.Record == model.RecordEventOnly || !s.Available {
					continue
				}
				switch {
				case s.EventType.IsThreshold() && s.Thresholds.UC != nil:
					if err := f.bmc.SetSensorValue(s.Name, *s.Thresholds.UC+0.01*math.Abs(*s.Thresholds.UC)); err != nil {
						t.Fatal(err)
					}
				case s.EventType.IsThreshold() && s.Thresholds.LNC != nil:
					if err := f.bmc.SetSensorValue(s.Name, *s.Thresholds.LNC); err != nil {
						t.Fatal(err)
					}
				case s.EventType.IsDiscrete():
					// Assert every state the sensor supports.
					var all uint16
					for off := uint16(0); off < 15; off++ {
						if f.bmc.SetSensorStates(s.Name, 1<<off) == nil {
							all |= 1 << off
						}
					}
					if err := f.bmc.SetSensorStates(s.Name, all); err != nil {
						t.Fatal(err)
					}
				}
			}
			r, _ = f.scrape(t)
			checkSensorsMatch(t, f.bmc, r)
			// The pushes produced every severity somewhere.
			seen := map[float64]bool{}
			for _, fam := range stateFamilies {
				for _, m := range r.families[fam].GetMetric() {
					seen[m.GetGauge().GetValue()] = true
				}
			}
			if !seen[1] || !seen[2] {
				t.Errorf("states after pushing values: %v, want warnings and criticals", seen)
			}
		})
	}
}

func TestSensorStatesFollowThresholds(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
	r, _ := f.scrape(t)
	id := labelsOf(r.series("ipmi_sensor_info", "name", "CPU1 Temp")[0])["id"]
	for _, tc := range []struct {
		value float64
		state float64
	}{{50, 0}, {86, 1}, {91, 2}, {96, 2} /* non-recoverable is 2 */, {60, 0}} {
		if err := f.bmc.SetSensorValue("CPU1 Temp", tc.value); err != nil {
			t.Fatal(err)
		}
		r, _ := f.scrape(t)
		if got := r.value(t, "ipmi_temperature_state", "id", id, "name", "CPU1 Temp"); got != tc.state {
			t.Errorf("CPU1 Temp at %v: state %v, want %v", tc.value, got, tc.state)
		}
		if got := r.value(t, "ipmi_temperature_celsius", "id", id, "name", "CPU1 Temp"); math.Abs(got-tc.value) > 1 {
			t.Errorf("CPU1 Temp: value %v, want %v within one raw step", got, tc.value)
		}
	}
	// A fan below its lower critical threshold.
	if err := f.bmc.SetSensorValue("FAN3", 450); err != nil {
		t.Fatal(err)
	}
	r, _ = f.scrape(t)
	if got := r.value(t, "ipmi_fan_speed_state", "name", "FAN3"); got != 2 {
		t.Errorf("FAN3 at 450 RPM: state %v, want 2", got)
	}
}

func TestDiscreteStates(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
	// Presence + failure + AC lost on PS1.
	if err := f.bmc.SetSensorStates("PS1 Status", 1<<0|1<<1|1<<3); err != nil {
		t.Fatal(err)
	}
	r, _ := f.scrape(t)
	var got []string
	for _, m := range r.series("ipmi_sensor_discrete_state", "name", "PS1 Status") {
		got = append(got, labelsOf(m)["state"])
	}
	sort.Strings(got)
	if want := "[Failure detected Power Supply AC lost Presence detected]"; fmt.Sprint(got) != want {
		t.Errorf("PS1 Status states %v, want %s", got, want)
	}
	if v := r.value(t, "ipmi_sensor_state", "name", "PS1 Status", "type", "Power Supply"); v != 2 {
		t.Errorf("PS1 Status state %v, want 2 (critical)", v)
	}
	if v := r.value(t, "ipmi_sensor_value", "name", "PS1 Status"); !math.IsNaN(v) {
		t.Errorf("PS1 Status value %v, want NaN as ipmi_exporter", v)
	}
	// The shared compact record: four slots, one record ID, distinct names.
	ids := map[string]bool{}
	for i := 0; i < 4; i++ {
		name := "HDD " + strconv.Itoa(i)
		info := r.series("ipmi_sensor_info", "name", name)
		if len(info) != 1 {
			t.Fatalf("%s: %d info series", name, len(info))
		}
		ids[labelsOf(info[0])["id"]] = true
		if labelsOf(info[0])["entity"] != "Disk Drive Bay "+strconv.Itoa(1+i) {
			t.Errorf("%s: entity %q", name, labelsOf(info[0])["entity"])
		}
	}
	if len(ids) != 1 {
		t.Errorf("shared record sensors have ids %v, want one record ID", ids)
	}
	// Clearing the states removes the series.
	if err := f.bmc.SetSensorStates("PS1 Status", 0); err != nil {
		t.Fatal(err)
	}
	r, _ = f.scrape(t)
	if r.has("ipmi_sensor_discrete_state", "name", "PS1 Status") {
		t.Error("states still exported after they were deasserted")
	}
	if v := r.value(t, "ipmi_sensor_state", "name", "PS1 Status"); v != 0 {
		t.Errorf("PS1 Status with no state: %v, want 0", v)
	}
}

func TestUnreadableSensors(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(fmt.Sprintf("empty_reply=%v", empty), func(t *testing.T) {
			f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
			f.bmc.SetQuirks(model.Quirks{EmptyReadingForAbsent: empty})
			r, _ := f.scrape(t)
			if up := r.up(t, config.CollectorIPMI); up != 1 {
				t.Fatalf("ipmi_up %v: unreadable sensors must not fail the collector", up)
			}
			// Absent (0xCB or empty reply) and scanning disabled.
			for _, name := range []string{"P2-DIMME1 Temp", "P2-DIMMF1 Temp", "NVMe SSD Temp"} {
				if !r.has("ipmi_sensor_info", "name", name) {
					t.Errorf("%s: no info series", name)
				}
				if r.has("ipmi_temperature_celsius", "name", name) {
					t.Errorf("%s: value series for an unreadable sensor", name)
				}
				if v := r.value(t, "ipmi_temperature_state", "name", name); !math.IsNaN(v) {
					t.Errorf("%s: state %v, want NaN", name, v)
				}
				if !r.has("ipmi_sensor_threshold", "name", name, "threshold", "upper_critical") {
					t.Errorf("%s: thresholds missing", name)
				}
			}
			checkSensorsMatch(t, f.bmc, r)
		})
	}
	t.Run("powered_off", func(t *testing.T) {
		f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
		f.bmc.SetPower(false)
		r, _ := f.scrape(t)
		checkSensorsMatch(t, f.bmc, r)
		if !r.has("ipmi_voltage_volts", "name", "VBAT") || r.has("ipmi_voltage_volts", "name", "12V") {
			t.Error("powered off: want standby VBAT and no 12V reading")
		}
	})
}

func TestExcludeSensorIDs(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
	r, rt := f.scrape(t)
	all := rt.counts[opGetSensorReading]
	id := labelsOf(r.series("ipmi_sensor_info", "name", "CPU1 Temp")[0])["id"]
	hddID := labelsOf(r.series("ipmi_sensor_info", "name", "HDD 0")[0])["id"]
	var ids []uint16
	for _, s := range []string{id, hddID} {
		n, _ := strconv.Atoi(s)
		ids = append(ids, uint16(n))
	}
	f.target.Module = &config.Module{Name: "excl", Collectors: []config.Collector{config.CollectorIPMI}, ExcludeSensorIDs: ids}
	r, rt = f.scrape(t)
	for _, name := range []string{"CPU1 Temp", "HDD 0", "HDD 3"} {
		if r.has("ipmi_sensor_info", "name", name) {
			t.Errorf("%s still exported", name)
		}
	}
	if !r.has("ipmi_temperature_celsius", "name", "CPU2 Temp") {
		t.Error("CPU2 Temp missing")
	}
	// Excluded sensors are not read; the repository is not walked again.
	if got := rt.counts[opGetSensorReading]; got != all-5 {
		t.Errorf("%d readings with 5 sensors excluded, want %d", got, all-5)
	}
	if rt.counts[opGetSDR] != 0 {
		t.Errorf("module change re-walked the SDR: %v", rt)
	}
}

// renameSDR makes the simulated BMC's repository carry other ID strings:
// it rewrites whole-record Get SDR answers.
func renameSDR(tr *simTransport, names map[string]string) {
	tr.intercept = func(_ context.Context, target wire.Target, op command.Op, data []byte) (wire.CompletionCode, []byte, bool, error) {
		if op != opGetSDR {
			return 0, nil, false, nil
		}
		cc, resp := tr.bmc.Handle(target, op.NetFn, op.Cmd, data, tr.priv)
		var r command.GetSDRResponse
		if cc != wire.CCOK || r.Unmarshal(resp) != nil {
			return cc, resp, true, nil
		}
		rec, err := sdr.ParseRecord(r.Data)
		if err != nil {
			return cc, resp, true, nil
		}
		switch x := rec.(type) {
		case *sdr.FullSensor:
			if n, ok := names[x.Name()]; ok {
				x.IDString = sdr.NewIDString(n)
			}
		case *sdr.CompactSensor:
			if n, ok := names[x.Name()]; ok {
				x.IDString = sdr.NewIDString(n)
			}
		}
		r.Data = rec.AppendTo(nil)
		return cc, r.AppendTo(nil), true, nil
	}
}

func TestDuplicateNamesAreDisambiguated(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
	// The ME's sensor takes the name of a BMC sensor with the same number
	// on another owner; two BMC sensors share a third name.
	renameSDR(f.tr, map[string]string{"ME Total Power": "PSU1 In Power", "CPU2 Temp": "CPU Temp", "CPU1 Temp": "CPU Temp"})
	r, _ := f.scrape(t) // gather fails on duplicate series
	for _, name := range []string{"PSU1 In Power", "PSU1 In Power (0x2c/ch6/lun0 #0x50)", "CPU Temp", "CPU Temp (0x20/ch0/lun0 #0x02)"} {
		if n := len(r.series("ipmi_sensor_info", "name", name)); n != 1 {
			t.Errorf("%q: %d sensors, want 1", name, n)
		}
	}
	// The BMC's own sensor keeps the plain name, whatever the order.
	if v := r.value(t, "ipmi_power_watts", "name", "PSU1 In Power"); v > 500 {
		t.Errorf("PSU1 In Power reads %v W: the ME's total took the plain name", v)
	}
	names := map[string]bool{}
	for _, m := range r.series("ipmi_sensor_info") {
		n := labelsOf(m)["name"]
		if names[n] {
			t.Errorf("name %q twice", n)
		}
		names[n] = true
	}
}

func TestUniqueNamesDeterministic(t *testing.T) {
	mk := func(rid uint16, name string, owner sdr.Owner, num uint8) sdr.SensorInfo {
		return sdr.SensorInfo{RecordID: rid, Name: name, Owner: owner, Number: num}
	}
	bmc := sdr.Owner{Address: 0x10}
	me := sdr.Owner{Address: 0x16, Channel: 6}
	infos := []sdr.SensorInfo{
		mk(9, "Temp", me, 1), mk(3, "Temp", bmc, 7), mk(4, "Temp", sdr.Owner{Address: 0x10, LUN: 1}, 7),
		mk(5, "Fan", bmc, 1), mk(6, "Temp (0x20/ch0/lun1 #0x07)", bmc, 9),
	}
	want := map[uint16]string{9: "Temp (0x2c/ch6/lun0 #0x01)", 3: "Temp", 4: "Temp (0x20/ch0/lun1 #0x07, 2)",
		5: "Fan", 6: "Temp (0x20/ch0/lun1 #0x07)"}
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}} {
		in := make([]sdr.SensorInfo, len(order))
		for i, j := range order {
			in[i] = infos[j]
		}
		names := uniqueNames(in)
		for i, s := range in {
			if names[i] != want[s.RecordID] {
				t.Errorf("order %v: record %d named %q, want %q", order, s.RecordID, names[i], want[s.RecordID])
			}
		}
	}
}

func TestBridgedOwnerUnreachable(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
	r, rt := f.scrape(t)
	readings := rt.counts[opGetSensorReading]
	if v := r.value(t, "ipmi_power_watts", "name", "ME Total Power"); v < 200 {
		t.Fatalf("ME Total Power %v: bridged reading wrong", v)
	}
	// The ME stops answering: the bridged request fails in the session
	// layer (Send Message refused), not with a completion code of the ME.
	var meRequests atomic.Int32
	f.tr.intercept = func(_ context.Context, target wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		if !target.IsBMC() {
			meRequests.Add(1)
			return 0, nil, false, fmt.Errorf("bridging to 0x%02x: %w", target.Addr,
				&wire.CompletionCodeError{NetFn: wire.NetFnApp, Command: command.CmdSendMessage, Code: 0x83})
		}
		return 0, nil, false, nil
	}
	r, _ = f.scrape(t)
	if up := r.up(t, config.CollectorIPMI); up != 1 {
		t.Errorf("ipmi_up %v with the ME down, want 1", up)
	}
	if r.has("ipmi_power_watts", "name", "ME Total Power") || !math.IsNaN(r.value(t, "ipmi_power_state", "name", "ME Total Power")) {
		t.Error("ME Total Power: want no value and state NaN")
	}
	if !r.has("ipmi_power_watts", "name", "PSU1 In Power") {
		t.Error("BMC sensors missing")
	}
	// Skipped, not retried, until ownerRetryInterval has passed.
	_, rt = f.scrape(t)
	if got := rt.counts[opGetSensorReading]; got != readings-1 || meRequests.Load() != 1 {
		t.Errorf("second scrape: %d readings (want %d), %d requests to the ME (want 1)", got, readings-1, meRequests.Load())
	}
	f.tr.intercept = nil
	f.clock.advance(ownerRetryInterval)
	r, _ = f.scrape(t)
	if !r.has("ipmi_power_watts", "name", "ME Total Power") {
		t.Error("ME Total Power not read again after the retry interval")
	}
}

func TestBMCTransportErrorFailsCollector(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorIPMI, config.CollectorChassis)
	f.scrape(t)
	var n atomic.Int32
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		if op == opGetSensorReading && n.Add(1) > 3 {
			return 0, nil, false, errors.New("ipmi session: request timed out")
		}
		return 0, nil, false, nil
	}
	r, _ := f.scrape(t)
	if up := r.up(t, config.CollectorIPMI); up != 0 {
		t.Errorf("ipmi_up %v after a BMC timeout, want 0", up)
	}
	if up := r.up(t, config.CollectorChassis); up != 1 {
		t.Errorf("chassis up %v", up)
	}
	// The three sensors read before the failure are reported.
	if got := len(r.series("ipmi_sensor_info")); got != 3 {
		t.Errorf("%d sensors reported, want the 3 read before the failure", got)
	}
}

// trippedContext reports DeadlineExceeded once tripped, like a scrape
// whose deadline passed at that moment.
type trippedContext struct {
	context.Context
	done    chan struct{}
	tripped atomic.Bool
}

func newTrippedContext() *trippedContext {
	return &trippedContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *trippedContext) trip() {
	if c.tripped.CompareAndSwap(false, true) {
		close(c.done)
	}
}
func (c *trippedContext) Done() <-chan struct{} { return c.done }
func (c *trippedContext) Err() error {
	if c.tripped.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

func TestDeadlineMidWalk(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"))
	f.scrape(t) // warm the caches
	ctx := newTrippedContext()
	const before = 10
	var n atomic.Int32
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		if op == opGetSensorReading && n.Add(1) == before {
			ctx.trip() // the deadline passes while this reading is under way
		}
		return 0, nil, false, nil
	}
	r, _ := f.scrapeCtx(t, ctx)
	if up := r.up(t, config.CollectorIPMI); up != 0 {
		t.Errorf("ipmi_up %v after the deadline, want 0", up)
	}
	for _, c := range []config.Collector{config.CollectorChassis, config.CollectorSEL, config.CollectorDCMI, config.CollectorBMC} {
		if up := r.up(t, c); up != 1 {
			t.Errorf("%s up %v: the collectors before the sensor walk finished", c, up)
		}
	}
	if got := len(r.series("ipmi_sensor_info")); got != before {
		t.Errorf("%d sensors reported, want the %d read before the deadline", got, before)
	}
	if !r.has("ipmi_temperature_celsius", "name", "CPU1 Temp") {
		t.Error("first sensor's value missing")
	}
	if r.has("ipmi_sensor_info", "name", "FAN1") {
		t.Error("a sensor after the deadline was reported")
	}
	// The next scrape is complete again.
	f.tr.intercept = nil
	r, _ = f.scrape(t)
	if up := r.up(t, config.CollectorIPMI); up != 1 {
		t.Errorf("ipmi_up %v after recovering", up)
	}
	checkSensorsMatch(t, f.bmc, r)
}

func TestSDRCache(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"))
	_, cold := f.scrape(t)
	if cold.counts[opGetSDR] == 0 {
		t.Fatalf("first scrape did not walk the SDR: %v", cold)
	}
	st := f.target.State
	if st.SDRWalks() != 1 || st.SDRCacheHits() != 0 {
		t.Errorf("walks %d hits %d after the first scrape", st.SDRWalks(), st.SDRCacheHits())
	}
	r, warm := f.scrape(t)
	if warm.counts[opGetSDR] != 0 || warm.counts[opGetSDRInfo] != 1 {
		t.Errorf("warm scrape: %v; want no Get SDR and one Get SDR Repository Info", warm)
	}
	if warm.counts[opGetDeviceID] != 0 {
		t.Errorf("warm scrape re-read the device ID: %v", warm)
	}
	if st.SDRWalks() != 1 || st.SDRCacheHits() != 1 {
		t.Errorf("walks %d hits %d after a warm scrape", st.SDRWalks(), st.SDRCacheHits())
	}
	checkSensorsMatch(t, f.bmc, r)

	f.bmc.BumpSDR()
	r, bumped := f.scrape(t)
	if bumped.counts[opGetSDR] == 0 || st.SDRWalks() != 2 {
		t.Errorf("after BumpSDR: %v, %d walks; want a new walk", bumped, st.SDRWalks())
	}
	checkSensorsMatch(t, f.bmc, r)
	// The bmc collector runs before the sensor walk: it notices the new
	// repository on the next scrape.
	_, next := f.scrape(t)
	if next.counts[opGetDeviceID] != 1 || next.counts[opGetSDR] != 0 {
		t.Errorf("scrape after the SDR change: %v; want the device ID re-read and no walk", next)
	}
	f.bmc.BumpSDR() // removes the added record: the erase timestamp changes
	_, again := f.scrape(t)
	if again.counts[opGetSDR] == 0 {
		t.Errorf("after the second BumpSDR: %v; want a new walk", again)
	}
}

// TestWarmScrapeRoundTrips pins the cost of a warm scrape with the
// default collectors (ipmi, sel, chassis, dcmi, bmc):
//
//	chassis  1  Get Chassis Status
//	bmc      0  Device ID, GUID and firmware cached (10 minutes / SDR change)
//	dcmi     1  Get Power Reading (0 on a BMC without DCMI: remembered)
//	sel      1  Get SEL Info (no new entries)
//	ipmi     1  Get SDR Repository Info, unchanged
//	       + N  Get Sensor Reading, one per readable sensor (Full and
//	            Compact records, shared records expanded, event-only
//	            records skipped; absent sensors included: they cost a
//	            round trip too)
//
// so N+4 with DCMI and N+3 without.
func TestWarmScrapeRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		profile string
		n       int // readable sensors
		extra   int
	}{
		{"dual-socket-1u", 67, 4},
		{"edge-node", 15, 3},
		{"gpu-box", 0, 4},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			f := newFixture(t, loadProfile(t, tc.profile))
			n := 0
			for _, s := range f.bmc.Sensors() {
				if s.Record != model.RecordEventOnly {
					n++
				}
			}
			if tc.n != 0 && n != tc.n {
				t.Fatalf("profile has %d readable sensors, test expects %d", n, tc.n)
			}
			f.scrape(t)
			r, warm := f.scrape(t)
			for _, c := range Catalog().Defaults() {
				want := 1.0 // a BMC without DCMI still has its dcmi collector up
				if up := r.up(t, c); up != want {
					t.Errorf("%s up %v, want %v", c, up, want)
				}
			}
			if warm.total != n+tc.extra {
				t.Errorf("warm scrape: %v; want %d = %d sensors + %d", warm, n+tc.extra, n, tc.extra)
			}
			if warm.counts[opGetSensorReading] != n {
				t.Errorf("%d sensor readings, want %d", warm.counts[opGetSensorReading], n)
			}
			t.Logf("%s: warm scrape %d round trips for %d sensors", tc.profile, warm.total, n)
		})
	}
}

const nonLinearProfile = `
name: nonlinear
device: {device_id: 0x20, firmware: "1.00", manufacturer_id: 674, product_id: 1, guid: "11111111-2222-1333-8444-555555555555"}
lan: {channel: 1, ip: 10.0.0.2, mac: "02:00:00:00:00:01"}
power: {dcmi: false, watts: 100}
sensors:
  - {name: Airflow, number: 0x10, type: other_units_based_sensor, unit: cfm, entity: system_board.1, base: 40, min: 0, max: 100, factors: {m: 1, linearization: nonlinear}}
  - {name: Linear Temp, number: 0x11, type: temperature, unit: degrees_c, entity: system_board.1, base: 30, min: 0, max: 127, thresholds: {uc: 90}}
`

func TestNonLinearSensor(t *testing.T) {
	f := newFixture(t, parseProfile(t, nonLinearProfile), config.CollectorIPMI)
	r, rt := f.scrape(t)
	checkSensorsMatch(t, f.bmc, r)
	if rt.counts[opReadingFactors] != 1 {
		t.Errorf("first scrape: %d Get Sensor Reading Factors, want 1", rt.counts[opReadingFactors])
	}
	// The factors cover every reading: the next scrape reuses them.
	r, rt = f.scrape(t)
	checkSensorsMatch(t, f.bmc, r)
	if rt.counts[opReadingFactors] != 0 {
		t.Errorf("warm scrape: %d Get Sensor Reading Factors, want 0 (cached)", rt.counts[opReadingFactors])
	}
	if v := r.value(t, "ipmi_sensor_value", "name", "Airflow", "type", "Other Units Based Sensor"); math.Abs(v-40) > 1 {
		t.Errorf("Airflow %v, want about 40", v)
	}
}

func TestFamilyOf(t *testing.T) {
	analog := func(st sdr.SensorType, u sdr.Units) *sdr.SensorInfo {
		return &sdr.SensorInfo{SensorType: st, EventType: sdr.EventTypeThreshold, Units: u}
	}
	for _, tc := range []struct {
		info *sdr.SensorInfo
		want familyID
	}{
		{analog(sdr.SensorTypeTemperature, sdr.Units{Base: sdr.UnitDegreesC}), familyTemperature},
		{analog(sdr.SensorTypeTemperature, sdr.Units{Base: sdr.UnitDegreesF}), familyGeneric},
		{analog(sdr.SensorTypeFan, sdr.Units{Base: sdr.UnitRPM}), familyFanRPM},
		{analog(sdr.SensorTypeFan, sdr.Units{Percentage: true}), familyFanRatio},
		{analog(sdr.SensorTypeOtherUnits, sdr.Units{Percentage: true}), familyGeneric},
		{analog(sdr.SensorTypeCurrent, sdr.Units{Base: sdr.UnitWatts}), familyPower},
		{analog(sdr.SensorTypeCurrent, sdr.Units{Base: sdr.UnitAmps}), familyCurrent},
		{analog(sdr.SensorTypeVoltage, sdr.Units{Base: sdr.UnitVolts}), familyVoltage},
		{analog(sdr.SensorTypeVoltage, sdr.Units{Base: sdr.UnitWatts, Relation: sdr.ModifierMultiply, Modifier: sdr.UnitHour}), familyGeneric},
		{analog(sdr.SensorTypeVoltage, sdr.Units{Analog: sdr.AnalogNone, Base: sdr.UnitVolts}), familyGeneric},
		{&sdr.SensorInfo{SensorType: sdr.SensorTypeTemperature, EventType: sdr.EventTypeState, Units: sdr.Units{Base: sdr.UnitDegreesC}}, familyGeneric},
	} {
		if got := familyOf(tc.info); got != tc.want {
			t.Errorf("%+v: family %d, want %d", tc.info.Units, got, tc.want)
		}
	}
}

// TestFanRatioThresholdsScaled builds a percent fan by hand (the model has
// no percentage units): its value and thresholds are ratios.
func TestFanRatioThresholdsScaled(t *testing.T) {
	rec := &sdr.FullSensor{
		Header: sdr.Header{RecordID: 7, Version: command.SDRVersion}, Owner: sdr.Owner{Address: 0x10},
		Number: 0x44, Entity: sdr.Entity{ID: sdr.EntityFan, Instance: 1}, Capabilities: 0x08, // thresholds readable
		SensorType: sdr.SensorTypeFan, EventType: sdr.EventTypeThreshold,
		ReadingMask: uint16(command.LowerCritical), Units: sdr.Units{Percentage: true},
		Factors: command.ReadingFactors{M: 1}, ThresholdRaw: [6]uint8{sdr.LowerCritical: 20},
		IDString: sdr.NewIDString("Fan 1 Duty"),
	}
	tbl := buildSensorTable(&sdr.Repository{Records: []sdr.Record{rec}}, &config.Module{})
	if len(tbl.sensors) != 1 || tbl.sensors[0].fam != familyFanRatio {
		t.Fatalf("table %+v", tbl.sensors)
	}
	var th []float64
	for _, m := range tbl.sensors[0].static {
		if s := m.(*sample); s.desc == sensorThresholdFamily.desc {
			th = append(th, s.value)
		}
	}
	if len(th) != 1 || !sameFloat(th[0], 0.2, 1e-12) {
		t.Errorf("thresholds %v, want [0.2] (20 %% as a ratio)", th)
	}
}

func TestDiscreteStateNames(t *testing.T) {
	wd := &sdr.SensorInfo{SensorType: sdr.SensorTypeWatchdog2, EventType: sdr.EventTypeSensorSpecific}
	if got := discreteStateName(wd, 0); got != "Timer expired" {
		t.Errorf("offset 0: %q", got)
	}
	// Offsets 4-7 are all "reserved": the names must still differ.
	seen := map[string]bool{}
	for off := uint8(4); off < 8; off++ {
		seen[discreteStateName(wd, off)] = true
	}
	if len(seen) != 4 {
		t.Errorf("reserved states named %v", seen)
	}
	oem := &sdr.SensorInfo{SensorType: 0xC0, EventType: 0x70}
	if got := discreteStateName(oem, 3); got != "state 3" {
		t.Errorf("OEM state: %q", got)
	}
}

func TestFactorCacheCovers(t *testing.T) {
	c := factorCache{valid: true, from: 10, next: 20}
	for raw, want := range map[uint8]bool{9: false, 10: true, 19: true, 20: false} {
		if c.covers(raw) != want {
			t.Errorf("[10,20) covers %d: %v", raw, !want)
		}
	}
	c = factorCache{valid: true, from: 10, next: 0xFF}
	if !c.covers(200) || c.covers(0xFF) {
		t.Error("next 0xFF: covers 10..254")
	}
	c = factorCache{valid: true, from: 30, next: 5}
	if !c.covers(255) || c.covers(29) {
		t.Error("next below from: covers from..255")
	}
	if (&factorCache{}).covers(1) {
		t.Error("empty cache covers")
	}
}

func TestStateLockHonoursContext(t *testing.T) {
	st := NewState()
	if err := st.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := st.lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second lock: %v, want the deadline", err)
	}
	st.unlock()
	if err := st.lock(context.Background()); err != nil {
		t.Errorf("lock after unlock: %v", err)
	}
}

func TestSDRInfoFailureUsesCache(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorIPMI)
	inUpdate := func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		return wire.CCSDRRepositoryInUpdate, nil, op == opGetSDRInfo, nil
	}
	// Without a cached repository the collector cannot work.
	f.tr.intercept = inUpdate
	r, _ := f.scrape(t)
	if r.up(t, config.CollectorIPMI) != 0 || r.has("ipmi_sensor_info") {
		t.Fatal("no repository: want ipmi_up 0 and no sensors")
	}
	f.tr.intercept = nil
	f.scrape(t)
	// With one, a BMC answering 0xD0 still has its sensors read.
	f.tr.intercept = inUpdate
	r, rt := f.scrape(t)
	if r.up(t, config.CollectorIPMI) != 1 || rt.counts[opGetSensorReading] != 15 {
		t.Errorf("SDR in update: up %v, %v; want the cached sensors read", r.up(t, config.CollectorIPMI), rt)
	}
	checkSensorsMatch(t, f.bmc, r)
	// A transport failure is not papered over.
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		if op == opGetSDRInfo {
			return 0, nil, false, errors.New("ipmi session: request timed out")
		}
		return 0, nil, false, nil
	}
	r, _ = f.scrape(t)
	if r.up(t, config.CollectorIPMI) != 0 {
		t.Error("transport failure on Get SDR Repository Info: want ipmi_up 0")
	}
}

// TestDeviceSDRFallback: a controller without an SDR repository (Get SDR
// Repository Info unknown) keeps its records as device SDRs. The model has
// a repository only, so the device SDR commands are served from it.
func TestDeviceSDRFallback(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorIPMI)
	var deviceReads atomic.Int32
	f.tr.intercept = func(_ context.Context, target wire.Target, op command.Op, data []byte) (wire.CompletionCode, []byte, bool, error) {
		switch op {
		case opGetSDRInfo, opGetSDR:
			return wire.CCInvalidCommand, nil, true, nil
		case command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetDeviceSDR}:
			deviceReads.Add(1)
			cc, resp := f.bmc.Handle(target, wire.NetFnStorage, command.CmdGetSDR, data, f.tr.priv)
			return cc, resp, true, nil
		case command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdReserveDeviceSDRRepository}:
			cc, resp := f.bmc.Handle(target, wire.NetFnStorage, command.CmdReserveSDRRepository, data, f.tr.priv)
			return cc, resp, true, nil
		}
		return 0, nil, false, nil
	}
	r, _ := f.scrape(t)
	if r.up(t, config.CollectorIPMI) != 1 || deviceReads.Load() == 0 || !f.target.State.deviceSDR {
		t.Fatalf("up %v, %d device SDR reads", r.up(t, config.CollectorIPMI), deviceReads.Load())
	}
	checkSensorsMatch(t, f.bmc, r)
	reads := deviceReads.Load()
	r, rt := f.scrape(t)
	if deviceReads.Load() != reads || rt.counts[command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetDeviceSDRInfo}] != 1 {
		t.Errorf("warm scrape of device SDRs: %v, %d new reads; want one Get Device SDR Info", rt, deviceReads.Load()-reads)
	}
	checkSensorsMatch(t, f.bmc, r)
}
