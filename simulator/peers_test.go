package simulator

import (
	"context"
	"math"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// These tests run the real clients (ipmitool, FreeIPMI) against a
// model-backed fleet and compare what they print with the model's own
// view (model.BMC.Sensors and friends). The fleet's clock is frozen so
// every reading is stable for the length of the test.

const (
	peerUser     = "admin"
	peerPassword = "s3cr3t-pass"
)

// peerClock is the frozen time of the peer tests.
func peerClock() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// modelFleet starts count BMCs of a built-in profile with a frozen clock.
func modelFleet(t testing.TB, addr, profile string, count int) *Fleet {
	t.Helper()
	p, err := model.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFleet(FleetConfig{
		Addr:       netip.AddrPortFrom(netip.MustParseAddr(addr), 0),
		Count:      count,
		BMC:        BMCConfig{Users: []User{{Name: peerUser, Password: peerPassword}}, Channel: p.LAN.Channel},
		NewHandler: ModelHandlers(p, 11, peerClock, model.Quirks{}),
		Seed:       11,
		Clock:      peerClock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close fleet: %v", err)
		}
	})
	return f
}

// tolerance is half a unit of the last digit printed in num.
func tolerance(num string) float64 {
	decimals := 0
	if _, frac, ok := strings.Cut(num, "."); ok {
		decimals = len(frac)
	}
	return 0.5*math.Pow10(-decimals) + 1e-9
}

// firstField returns the leading number of "49.50 degrees C".
func firstField(s string) string {
	f, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return f
}

// peerClient is one way of reaching a BMC with a real tool.
type peerClient struct {
	name     string
	freeipmi bool
	opts     testbed.ClientOptions
}

var peerClients = []peerClient{
	{name: "ipmitool-lanplus-C3", opts: testbed.ClientOptions{Interface: "lanplus", CipherSuite: "3"}},
	{name: "ipmitool-lanplus-C17", opts: testbed.ClientOptions{Interface: "lanplus", CipherSuite: "17"}},
	{name: "ipmitool-lan-MD5", opts: testbed.ClientOptions{Interface: "lan", AuthType: "MD5"}},
	{name: "freeipmi-lan20-I3", freeipmi: true, opts: testbed.ClientOptions{Interface: "lanplus", CipherSuite: "3", Workarounds: "none"}},
	{name: "freeipmi-lan20-I17", freeipmi: true, opts: testbed.ClientOptions{Interface: "lanplus", CipherSuite: "17", Workarounds: "none"}},
	{name: "freeipmi-lan-MD5", freeipmi: true, opts: testbed.ClientOptions{Interface: "lan", AuthType: "MD5"}},
}

func TestPeersReadModelValues(t *testing.T) {
	f := modelFleet(t, "127.0.0.1", "dual-socket-1u", len(peerClients))
	for i, pc := range peerClients {
		b := f.BMC(i)
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			tool := "ipmitool"
			if pc.freeipmi {
				tool = "ipmi-sensors"
			}
			testbed.RequireTool(t, tool)
			o := pc.opts
			o.Host, o.Port, o.User, o.Password = "127.0.0.1", int(b.Addr().Port()), peerUser, peerPassword
			o.SDRCacheDir = t.TempDir()
			o.Timeout = 90 * time.Second
			m := b.Model()
			m.SetPowerReading(287)
			ctx := context.Background()
			run := func(args ...string) string {
				t.Helper()
				var out string
				var err error
				if pc.freeipmi {
					out, err = testbed.RunFreeIPMI(ctx, args[0], o, args[1:]...)
				} else {
					out, err = testbed.RunIpmitool(ctx, o, args...)
				}
				if err != nil {
					t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
				}
				// Every tool run closes its session.
				if n := b.ActiveSessions(); n != 0 {
					t.Fatalf("%d sessions left open after %v", n, args)
				}
				return out
			}
			if pc.freeipmi {
				checkFreeIPMI(t, m, run)
			} else {
				checkIpmitool(t, m, run)
			}
			s := b.Counters()
			if s.HandshakeFailures != 0 || s.SessionsRejected != 0 || s.PacketsDropped != 0 {
				t.Fatalf("counters after a clean run: %s", s)
			}
			t.Logf("%s: %s; commands %v", pc.name, s, s.Commands)
		})
	}
}

func checkIpmitool(t *testing.T, m *model.BMC, run func(args ...string) string) {
	entries, err := testbed.ParseSDRElist(run("sdr", "elist", "full"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]testbed.ElistEntry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	checked := 0
	for _, s := range m.Sensors() {
		if s.Record != model.RecordFull || s.Unit == "" {
			continue // discrete, compact and event-only records are not in "elist full" with values
		}
		e, ok := byName[s.Name]
		if !ok {
			t.Errorf("sensor %q missing from sdr elist full", s.Name)
			continue
		}
		if !s.Available {
			if e.Status != "ns" {
				t.Errorf("%s: status %q, want ns (model: unavailable)", s.Name, e.Status)
			}
			continue
		}
		num := firstField(e.Reading)
		if !e.HasValue || math.Abs(e.Value-s.Value) > tolerance(num) {
			t.Errorf("%s: ipmitool printed %q, model value %v", s.Name, e.Reading, s.Value)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d sensors compared", checked)
	}

	sel, err := testbed.ParseSELInfo(run("sel", "info"))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(m.SELEntries()); sel.Entries != want {
		t.Errorf("sel info: %d entries, model has %d", sel.Entries, want)
	}

	for _, on := range []bool{false, true} {
		m.SetPower(on)
		cs, err := testbed.ParseChassisStatus(run("chassis", "status"))
		if err != nil {
			t.Fatal(err)
		}
		if cs.PowerOn != on {
			t.Errorf("chassis status: power on %v, model %v", cs.PowerOn, on)
		}
	}

	kv := testbed.KeyValues(run("dcmi", "power", "reading"))
	if got := kv["Instantaneous power reading"]; firstField(got) != "287" {
		t.Errorf("dcmi power reading: %q, want 287 Watts (%v)", got, kv)
	}
}

func checkFreeIPMI(t *testing.T, m *model.BMC, run func(args ...string) string) {
	rows, err := testbed.ParseIPMISensors(run("ipmi-sensors", "--comma-separated-output", "--bridge-sensors"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]testbed.IPMISensorsRow{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	checked := 0
	for _, s := range m.Sensors() {
		if s.Unit == "" || s.Record == model.RecordEventOnly {
			continue
		}
		r, ok := byName[s.Name]
		if !ok {
			t.Errorf("sensor %q missing from ipmi-sensors", s.Name)
			continue
		}
		if !s.Available {
			if r.HasReading {
				t.Errorf("%s: ipmi-sensors read %v, model: unavailable", s.Name, r.Reading)
			}
			continue
		}
		// ipmi-sensors prints two decimals.
		if !r.HasReading || math.Abs(r.Reading-s.Value) > 0.005+1e-9 {
			t.Errorf("%s: ipmi-sensors printed %v (has reading %v), model value %v", s.Name, r.Reading, r.HasReading, s.Value)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d sensors compared", checked)
	}

	sel, err := testbed.ParseIPMISelInfo(run("ipmi-sel", "--info"))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(m.SELEntries()); sel.Entries != want {
		t.Errorf("ipmi-sel --info: %d entries, model has %d", sel.Entries, want)
	}

	for _, on := range []bool{false, true} {
		m.SetPower(on)
		kv := testbed.KeyValues(run("ipmi-chassis", "--get-chassis-status"))
		want := map[bool]string{true: "on", false: "off"}[on]
		if got := kv["System Power"]; got != want {
			t.Errorf("ipmi-chassis: System Power %q, want %q", got, want)
		}
	}

	kv := testbed.KeyValues(run("ipmi-dcmi", "--get-system-power-statistics"))
	if got := kv["Current Power"]; firstField(got) != "287" {
		t.Errorf("ipmi-dcmi: Current Power %q, want 287 Watts (%v)", got, kv)
	}
}

// TestPeersIPv6 checks that a fleet on [::1] serves ipmitool.
func TestPeersIPv6(t *testing.T) {
	testbed.RequireTool(t, "ipmitool")
	f := modelFleet(t, "::1", "dual-socket-1u", 2)
	b := f.BMC(1)
	o := testbed.ClientOptions{Host: "::1", Port: int(b.Addr().Port()), User: peerUser, Password: peerPassword, CipherSuite: "3"}
	out, err := testbed.RunIpmitool(context.Background(), o, "chassis", "status")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if cs, err := testbed.ParseChassisStatus(out); err != nil || !cs.PowerOn {
		t.Fatalf("chassis status %+v: %v", cs, err)
	}
	if s := b.Counters(); s.SessionsOpened != 1 || s.SessionsClosed != 1 {
		t.Fatalf("counters %s", s)
	}
}

// TestPeersWrongPassword: both tools notice the RAKP2 mismatch and fail
// cleanly; an unknown user is refused by the BMC.
func TestPeersWrongPassword(t *testing.T) {
	testbed.RequireTool(t, "ipmitool")
	f := modelFleet(t, "127.0.0.1", "dual-socket-1u", 1)
	b := f.BMC(0)
	o := testbed.ClientOptions{Port: int(b.Addr().Port()), User: peerUser, Password: "wrong", CipherSuite: "3", Timeout: 30 * time.Second}
	if out, err := testbed.RunIpmitool(context.Background(), o, "chassis", "status"); err == nil {
		t.Fatalf("wrong password accepted:\n%s", out)
	}
	o.User, o.Password = "nobody", peerPassword
	if out, err := testbed.RunIpmitool(context.Background(), o, "chassis", "status"); err == nil {
		t.Fatalf("unknown user accepted:\n%s", out)
	}
	s := b.Counters()
	if s.SessionsOpened != 0 || s.HandshakeFailures == 0 {
		t.Fatalf("counters %s", s)
	}
}

// TestPeersBridgeEmbedded: ipmitool also reads a satellite controller's
// sensor when the BMC embeds the bridged response in the Send Message
// response (the bridge_embedded quirk).
func TestPeersBridgeEmbedded(t *testing.T) {
	testbed.RequireTool(t, "ipmitool")
	f := modelFleet(t, "127.0.0.1", "dual-socket-1u", 1)
	b := f.BMC(0)
	if err := b.SetFaults(Faults{BridgeEmbedded: true}); err != nil {
		t.Fatal(err)
	}
	o := testbed.ClientOptions{Port: int(b.Addr().Port()), User: peerUser, Password: peerPassword, CipherSuite: "17"}
	out, err := testbed.RunIpmitool(context.Background(), o, "sdr", "elist", "full")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	entries, err := testbed.ParseSDRElist(out)
	if err != nil {
		t.Fatal(err)
	}
	bridged := 0
	for _, s := range b.Model().Sensors() {
		if s.Owner.IsBMC() || !s.Available || s.Unit == "" {
			continue
		}
		e, err := testbed.FindElist(entries, s.Name, s.Number)
		if err != nil {
			t.Fatal(err)
		}
		if !e.HasValue || math.Abs(e.Value-s.Value) > tolerance(firstField(e.Reading)) {
			t.Errorf("%s (owner %+v): printed %q, model %v", s.Name, s.Owner, e.Reading, s.Value)
		}
		bridged++
	}
	if bridged == 0 {
		t.Fatal("profile has no bridged sensor")
	}
	if n := b.Counters().Command("send_message"); n < uint64(bridged) {
		t.Fatalf("%d Send Message commands for %d bridged sensors", n, bridged)
	}
}

// TestPeersCipherSuiteDiscovery: ipmitool without -C asks Get Channel
// Cipher Suites and picks the best suite offered; `channel getciphers`
// lists exactly the enabled suites.
func TestPeersCipherSuiteDiscovery(t *testing.T) {
	testbed.RequireTool(t, "ipmitool")
	p, err := model.LoadProfile("dual-socket-1u")
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFleet(FleetConfig{
		Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
		Count:      1,
		BMC:        BMCConfig{Users: []User{{Name: peerUser, Password: peerPassword}}, CipherSuites: []uint8{1, 3, 8, 16, 17}},
		NewHandler: ModelHandlers(p, 1, peerClock, model.Quirks{}),
		Clock:      peerClock,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(int(f.BMC(0).Addr().Port())), "-U", peerUser, "-P", peerPassword}
	out, err := exec.CommandContext(ctx, "ipmitool", append(base, "channel", "getciphers", "ipmi")...).CombinedOutput()
	if err != nil {
		t.Fatalf("getciphers: %v\n%s", err, out)
	}
	var ids []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		if fs := strings.Fields(line); len(fs) > 0 {
			ids = append(ids, fs[0])
		}
	}
	if strings.Join(ids, ",") != "1,3,8,16,17" {
		t.Fatalf("ipmitool lists suites %v:\n%s", ids, out)
	}
	out, err = exec.CommandContext(ctx, "ipmitool", append(append([]string{"-v"}, base...), "chassis", "status")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Using best available cipher suite 17") {
		t.Fatalf("auto cipher suite: %v\n%s", err, out)
	}
}
