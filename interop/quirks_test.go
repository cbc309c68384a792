package interop

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	simmodel "github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

const (
	simUser     = "monitor"
	simPassword = "interop-pw-4711"
	// quirkProfile is the simulated hardware every quirk runs on: two
	// sockets, a satellite controller, shared records, 67 sensors.
	quirkProfile = "dual-socket-1u"
)

// simOpts describes a simulated BMC for one quirk; zero fields take
// defaults.
type simOpts struct {
	faults       string // simulator.ParseFaults syntax
	cipherSuites []uint8
	authTypes15  []wire.AuthType
	privilege    wire.PrivilegeLevel // the account's limit (default admin)
	maxSessions  int
	profile      *simmodel.Profile // default quirkProfile
}

// startSim starts one simulated BMC with the quirk applied.
func startSim(t testing.TB, o simOpts) *simulator.BMC {
	t.Helper()
	p := o.profile
	if p == nil {
		var err error
		if p, err = simmodel.LoadProfile(quirkProfile); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := simulator.ParseFaults(o.faults)
	if err != nil {
		t.Fatalf("faults %q: %v", o.faults, err)
	}
	if o.privilege == 0 {
		o.privilege = wire.PrivilegeAdmin
	}
	f, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:  netip.MustParseAddrPort("127.0.0.1:0"),
		Count: 1,
		BMC: simulator.BMCConfig{
			Users:        []simulator.User{{Name: simUser, Password: simPassword, Privilege: o.privilege}},
			CipherSuites: o.cipherSuites,
			AuthTypes15:  o.authTypes15,
			MaxSessions:  o.maxSessions,
		},
		NewHandler: simulator.ModelHandlers(p, 7, nil, simmodel.Quirks{}),
		Seed:       7,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	b := f.BMC(0)
	if err := b.ApplyFaultSpec(spec); err != nil {
		t.Fatal(err)
	}
	return b
}

// valueFamilies are the families that carry a sensor's reading.
var valueFamilies = []string{"ipmi_temperature_celsius", "ipmi_fan_speed_rpm", "ipmi_fan_speed_ratio",
	"ipmi_voltage_volts", "ipmi_current_amperes", "ipmi_power_watts", "ipmi_sensor_value"}

// readings maps sensor name to its reported value (non-NaN only).
func (r result) readings() map[string]float64 {
	out := map[string]float64{}
	for _, fam := range valueFamilies {
		for _, m := range r.families[fam].GetMetric() {
			if v := value(m); !math.IsNaN(v) {
				out[label(m, "name")] = v
			}
		}
	}
	return out
}

// analogSensors are the names of the BMC's sensors that have a reading
// now (threshold sensors with a unit that are available).
func analogSensors(b *simulator.BMC) []string {
	var out []string
	for _, s := range b.Model().Sensors() {
		if s.Unit != "" && s.Available {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// requireNoSessions waits until the BMC holds no session: the exporter
// logged out (or never left a half-open one behind).
func requireNoSessions(t testing.TB, b *simulator.BMC) {
	t.Helper()
	waitFor(t, 5*time.Second, "the BMC's sessions closed", func() (bool, string) {
		return b.ActiveSessions() == 0, fmt.Sprint(b.Sessions())
	})
}

func missing(want []string, got map[string]float64) []string {
	var out []string
	for _, n := range want {
		if _, ok := got[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// The SDR and sensor quirks of the catalogue (docs/bmc-quirks.md): with an
// otherwise default module the exporter reads every sensor the BMC can
// give, or leaves out what it cannot read with a logged reason; it never
// exports two series with the same labels (every scrape goes through the
// duplicate check and promtool), never fails, never leaks a session.
func TestSDRAndSensorQuirks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults string
		module []string
		// unread are sensors expected without a reading; log is a
		// fragment the exporter's log must hold.
		unread []string
		log    string
	}{
		{name: "none"},
		{name: "sdr_max_read", faults: "sdr_max_read=24"},
		{name: "sdr_short_read", faults: "sdr_short_read=7"},
		{name: "sdr_cancel_reservation", faults: "sdr_max_read=24,sdr_cancel_reservation=9"},
		{name: "sdr_last_record_cc", faults: "sdr_last_record_cc=0xc3", log: "SDR repository walk stopped early"},
		{name: "assumemaxsdrrecordcount_zero", faults: "assumemaxsdrrecordcount"},
		{name: "assumemaxsdrrecordcount_short", faults: "assumemaxsdrrecordcount=5"},
		{name: "sdr_duplicate", faults: "sdr_duplicate=12"},
		{name: "sdr_same_name", faults: "sdr_same_name=Status"},
		{name: "reading_cc_cb", faults: "reading_cc=0xcb@CPU1 Temp", unread: []string{"CPU1 Temp"}},
		{name: "reading_cc_cd", faults: "reading_cc=0xcd@CPU1 Temp", unread: []string{"CPU1 Temp"}},
		{name: "reading_cc_c9", faults: "reading_cc=0xc9@CPU1 Temp", unread: []string{"CPU1 Temp"}},
		{name: "reading_cc_ce", faults: "reading_cc=0xce@CPU1 Temp", unread: []string{"CPU1 Temp"}},
		{name: "reading_cc_d5", faults: "reading_cc=0xd5@CPU1 Temp", unread: []string{"CPU1 Temp"}},
		{name: "reading_cc_d3", faults: "reading_cc=0xd3@CPU1 Temp", unread: []string{"CPU1 Temp"}},
		{name: "reading_cc_ff", faults: "reading_cc=0xff@CPU1 Temp", unread: []string{"CPU1 Temp"}},
		{name: "empty_reading_for_absent", faults: "empty_reading_for_absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startSim(t, simOpts{faults: tc.faults})
			e := startExporter(t, defaultModule(simUser, simPassword, tc.module...))
			want := analogSensors(b)
			if len(want) < 20 {
				t.Fatalf("profile has only %d analog sensors", len(want))
			}
			for i := 0; i < 2; i++ { // cold (SDR walk) and warm
				r := e.scrape(t, b.Addr().String())
				for _, c := range []string{"ipmi", "chassis", "bmc", "sel"} {
					if r.up[c] != 1 {
						t.Errorf("scrape %d: ipmi_up{collector=%q} = %v", i, c, r.up[c])
					}
				}
				got := r.readings()
				expectUnread := map[string]bool{}
				for _, n := range tc.unread {
					expectUnread[n] = true
					if _, ok := got[n]; ok {
						t.Errorf("scrape %d: %s has a reading under %s", i, n, tc.faults)
					}
				}
				var lost []string
				for _, n := range missing(want, got) {
					if !expectUnread[n] {
						lost = append(lost, n)
					}
				}
				if tc.name == "sdr_last_record_cc" {
					// The last record's sensor (if it is one) may go.
					if len(lost) > 1 {
						t.Errorf("scrape %d: %d sensors without a reading: %v", i, len(lost), lost)
					}
				} else if len(lost) > 0 {
					t.Errorf("scrape %d: sensors without a reading: %v", i, lost)
				}
			}
			if tc.log != "" && !strings.Contains(e.logs.String(), tc.log) {
				t.Errorf("log lacks %q", tc.log)
			}
			e.close()
			requireNoSessions(t, b)
		})
	}
}

// Quirks that cannot be told from a BMC following the spec: without the
// module's workaround_flags (ipmi_exporter's names, FreeIPMI's flags) the
// exporter reads by the spec and leaves the sensors out with a reason;
// with the flag it reads them.
func TestSensorQuirksWithWorkaroundFlags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults string
		flag   string
		// affected: the sensors the quirk hides without the flag (nil:
		// every analog sensor of the BMC).
		affected []string
		log      string
	}{
		{name: "ignorescanningdisabled", faults: "ignorescanningdisabled", flag: "ignorescanningdisabled"},
		{name: "discretereading", faults: "discretereading=CPU1 Temp", flag: "discretereading", affected: []string{"CPU1 Temp"}},
		{name: "assumebmcowner", faults: "assumebmcowner=0x2c", flag: "assumebmcowner", log: "sensor owner unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startSim(t, simOpts{faults: tc.faults})
			all := analogSensors(b)
			affected := tc.affected
			if affected == nil {
				for _, s := range b.Model().Sensors() {
					if s.Unit != "" && s.Available && s.Owner.IsBMC() {
						affected = append(affected, s.Name)
					}
				}
			}
			for _, withFlag := range []bool{false, true} {
				var extra []string
				if withFlag {
					extra = []string{"workaround_flags: [" + tc.flag + "]"}
				}
				e := startExporter(t, defaultModule(simUser, simPassword, extra...))
				r := e.scrape(t, b.Addr().String())
				if r.up["ipmi"] != 1 {
					t.Errorf("flag %v: ipmi_up{collector=\"ipmi\"} = %v", withFlag, r.up["ipmi"])
				}
				got := r.readings()
				if withFlag {
					if lost := missing(all, got); len(lost) > 0 {
						t.Errorf("with %s: sensors without a reading: %v", tc.flag, lost)
					}
					for _, n := range affected {
						snap, err := b.Model().Sensor(n)
						if err != nil {
							t.Fatal(err)
						}
						// The model's values move with noise between the
						// scrape and the snapshot: near enough is the same
						// sensor. Percent sensors read as a ratio (value / 100).
						tol := math.Max(2, 0.1*math.Abs(snap.Value))
						if v, ok := got[n]; ok && math.Abs(v-snap.Value) > tol && math.Abs(v-snap.Value/100) > tol/100 {
							t.Errorf("with %s: %s reads %v, the BMC holds %v", tc.flag, n, v, snap.Value)
						}
					}
				} else {
					for _, n := range affected {
						if v, ok := got[n]; ok {
							t.Errorf("without %s: %s reads %v", tc.flag, n, v)
						}
					}
					if tc.log != "" && !strings.Contains(e.logs.String(), tc.log) {
						t.Errorf("without %s: log lacks %q", tc.flag, tc.log)
					}
				}
				e.close()
				requireNoSessions(t, b)
			}
		})
	}
}

// A generic digital sensor (event/reading type 03h) of a type without its
// own state set, like Physical Security "Chassis Intru" on many boards,
// reads state 0 when deasserted (ipmitool shows "ok"), whether the BMC
// sets offset 0 or no bit at all, and 1 when asserted.
func TestGenericDigitalSensorState(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "simulator", "profiles", "edge-node.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		states string
		want   float64
	}{{"[0]", 0}, {"[]", 0}, {"[1]", 1}} {
		t.Run(tc.states, func(t *testing.T) {
			var out []string
			found := false
			for _, line := range strings.Split(string(base), "\n") {
				if strings.Contains(line, "name: Chassis Intru,") {
					line = "  - {name: Chassis Intru, number: 0x64, type: physical_security, entity: system_chassis.1, " +
						"event_reading_type: 0x03, states: " + tc.states + ", supported_states: [0, 1]}"
					found = true
				}
				out = append(out, line)
			}
			if !found {
				t.Fatal("edge-node profile has no Chassis Intru line")
			}
			p, err := simmodel.ParseProfile([]byte(strings.Join(out, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			b := startSim(t, simOpts{profile: p})
			e := startExporter(t, defaultModule(simUser, simPassword))
			r := e.scrape(t, b.Addr().String())
			s := r.series("ipmi_sensor_state", map[string]string{"name": "Chassis Intru"})
			if len(s) != 1 || value(s[0]) != tc.want {
				t.Fatalf("ipmi_sensor_state{name=\"Chassis Intru\"} = %v, want one series with %v", s, tc.want)
			}
		})
	}
}
