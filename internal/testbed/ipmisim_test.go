package testbed

import (
	"context"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// golden records a tool output under testdata/ipmisim/golden when -update is
// given; parse_test.go checks the parsers against these captures.
func golden(t *testing.T, name, out string) {
	t.Helper()
	if !*update {
		return
	}
	td, err := TestdataDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(td, "golden", name), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The simulated BMC as ipmitool sees it: every sensor of the table with its
// value, status, unit and thresholds.
func TestIPMISimIpmitool(t *testing.T) {
	RequireTool(t, "ipmitool")
	sim := StartIPMISim(t, IPMISimOptions{})
	ctx := ctxT(t)

	t.Run("sdr elist full", func(t *testing.T) {
		out, err := sim.Ipmitool(ctx, "sdr", "elist", "full")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmitool_sdr_elist_full.txt", out)
		entries, err := ParseSDRElist(out)
		if err != nil {
			t.Fatal(err)
		}
		full := 0
		for _, s := range Sensors {
			if s.Record != FullRecord {
				continue
			}
			full++
			e, err := FindElist(entries, s.Name, s.Number)
			if err != nil {
				t.Errorf("%s: %v", s.Name, err)
				continue
			}
			checkElist(t, s, e)
		}
		if len(entries) != full || full < 40 {
			t.Errorf("elist full: %d entries, table has %d full records (want >= 40)", len(entries), full)
		}
	})

	t.Run("sdr elist compact event mcloc fru", func(t *testing.T) {
		out, err := sim.Ipmitool(ctx, "sdr", "elist", "all")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmitool_sdr_elist_all.txt", out)
		entries, err := ParseSDRElist(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range Sensors {
			if s.Record == FullRecord || s.ShareIndex > 0 {
				continue // ipmitool lists a shared compact record once, as its first sensor
			}
			e, err := FindElist(entries, s.Name, s.Number)
			if err != nil {
				t.Errorf("%s: %v", s.Name, err)
				continue
			}
			checkElist(t, s, e)
		}
		for _, l := range Locators() {
			found := false
			for _, e := range entries {
				found = found || e.Name == l.Name
			}
			if !found {
				t.Errorf("locator %q missing from elist all", l.Name)
			}
		}
	})

	t.Run("sensor thresholds", func(t *testing.T) {
		out, err := sim.Ipmitool(ctx, "sensor")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmitool_sensor.txt", out)
		rows, err := ParseIpmitoolSensor(out)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]IpmitoolSensorRow{}
		for _, r := range rows {
			byName[r.Name] = r
		}
		for _, s := range Sensors {
			if s.EventOnly || s.ShareIndex > 0 {
				continue
			}
			r, ok := byName[s.Name]
			if !ok {
				t.Errorf("%s missing from ipmitool sensor", s.Name)
				continue
			}
			checkSensorRow(t, s, r)
		}
	})

	t.Run("sel info", func(t *testing.T) {
		out, err := sim.Ipmitool(ctx, "sel", "info")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmitool_sel_info.txt", out)
		si, err := ParseSELInfo(out)
		if err != nil {
			t.Fatal(err)
		}
		if si.Entries != len(SELEntries) || si.Overflow {
			t.Errorf("sel info: %+v, want %d entries", si, len(SELEntries))
		}
		out, err = sim.Ipmitool(ctx, "sel", "elist")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmitool_sel_elist.txt", out)
		for _, want := range []string{"Fan FAN4 | Lower Critical going low", "Power Supply PSU2 Status | Failure detected | Asserted",
			"Physical Security Intrusion | General Chassis intrusion | Deasserted", "Fan Riser Fan | Lower Non-critical going low",
			"OEM record c0 | 001291 | deadbeef0102"} {
			if !strings.Contains(out, want) {
				t.Errorf("sel elist lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("chassis status and power control", func(t *testing.T) {
		out, err := sim.Ipmitool(ctx, "chassis", "status")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmitool_chassis_status.txt", out)
		cs, err := ParseChassisStatus(out)
		if err != nil || !cs.PowerOn {
			t.Fatalf("chassis status: %+v, %v", cs, err)
		}
		if _, err := sim.Ipmitool(ctx, "chassis", "power", "off"); err != nil {
			t.Fatal(err)
		}
		if on, _ := sim.Power(); on {
			t.Error("chassis power off did not reach the chassis_control state file")
		}
		if cs, err := sim.ChassisStatus(ctx); err != nil || cs.PowerOn {
			t.Errorf("after power off: %+v, %v", cs, err)
		}
		if err := sim.SetPower(true); err != nil {
			t.Fatal(err)
		}
		if cs, err := sim.ChassisStatus(ctx); err != nil || !cs.PowerOn {
			t.Errorf("after SetPower(true): %+v, %v", cs, err)
		}
	})

	t.Run("session info active", func(t *testing.T) {
		out, err := sim.Ipmitool(ctx, "session", "info", "active")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmitool_session_info_active.txt", out)
		si, err := ParseSessionInfo(out)
		if err != nil {
			t.Fatal(err)
		}
		if si.ActiveSessions < 1 || si.SlotCount != 63 || si.UserID != 2 || si.Privilege != "ADMINISTRATOR" {
			t.Errorf("session info: %+v", si)
		}
	})

	t.Run("mc info and fru", func(t *testing.T) {
		out, err := sim.Ipmitool(ctx, "mc", "info")
		if err != nil {
			t.Fatal(err)
		}
		kv := KeyValues(out)
		if kv["Firmware Revision"] != "9.08" || kv["IPMI Version"] != "2.0" || kv["Manufacturer ID"] != "4753" || kv["Device Revision"] != "3" {
			t.Errorf("mc info: %v", kv)
		}
		out, err = sim.Ipmitool(ctx, "fru", "print", "0")
		if err != nil {
			t.Fatal(err)
		}
		kv = KeyValues(out)
		for k, want := range map[string]string{"Board Mfg": FRUInfo.BoardManufacturer, "Board Product": FRUInfo.BoardProduct,
			"Board Serial": FRUInfo.BoardSerial, "Product Name": FRUInfo.ProductName, "Product Serial": FRUInfo.ProductSerial,
			"Product Asset Tag": FRUInfo.ProductAssetTag} {
			if kv[k] != want {
				t.Errorf("fru print: %s = %q, want %q", k, kv[k], want)
			}
		}
	})
}

func checkElist(t *testing.T, s Sensor, e ElistEntry) {
	t.Helper()
	if e.Status != s.IpmitoolStatus() {
		t.Errorf("%s: status %q, want %q", s.Name, e.Status, s.IpmitoolStatus())
	}
	if e.EntityID != s.EntityID || e.EntityInstance != s.EntityIns {
		t.Errorf("%s: entity %d.%d, want %d.%d", s.Name, e.EntityID, e.EntityInstance, s.EntityID, s.EntityIns)
	}
	switch {
	case s.EventOnly:
		if e.Reading != "Event-Only" {
			t.Errorf("%s: reading %q, want Event-Only", s.Name, e.Reading)
		}
	case !s.Simulated:
		if e.Reading != "No Reading" {
			t.Errorf("%s: reading %q, want No Reading", s.Name, e.Reading)
		}
	case !s.Scanning:
		if e.Reading != "Disabled" {
			t.Errorf("%s: reading %q, want Disabled", s.Name, e.Reading)
		}
	case s.IsThreshold():
		if !e.HasValue || !near(e.Value, s.Value(), 0.006) || e.Unit != s.IpmitoolUnit {
			t.Errorf("%s: reading %q, want %.3f %s", s.Name, e.Reading, s.Value(), s.IpmitoolUnit)
		}
	default:
		n := 0
		for i := 0; i < 15; i++ {
			if s.States&(1<<i) != 0 {
				n++
			}
		}
		if len(e.States) != n {
			t.Errorf("%s: states %q, want %d asserted", s.Name, e.Reading, n)
		}
	}
}

func checkSensorRow(t *testing.T, s Sensor, r IpmitoolSensorRow) {
	t.Helper()
	if !s.Readable() {
		if r.HasValue || r.Status != "na" {
			t.Errorf("%s: value %v status %q, want na", s.Name, r.Value, r.Status)
		}
	} else if s.IsThreshold() {
		want := map[string]string{"ok": "ok", "unc": "nc", "lnc": "nc", "ucr": "cr", "lcr": "cr", "unr": "nr", "lnr": "nr"}[s.IpmitoolStatus()]
		if !r.HasValue || !near(r.Value, s.Value(), 0.0006) || r.Unit != s.IpmitoolUnit || r.Status != want {
			t.Errorf("%s: %v %q %q, want %.3f %q %q", s.Name, r.Value, r.Unit, r.Status, s.Value(), s.IpmitoolUnit, want)
		}
	} else if !r.Discrete || r.States != s.States {
		t.Errorf("%s: states %#04x (discrete %v), want %#04x", s.Name, r.States, r.Discrete, s.States)
	}
	if !s.IsThreshold() || !s.Simulated {
		return
	}
	for i := 0; i < 6; i++ {
		want, ok := s.Threshold(i)
		if r.ThreshValid[i] != ok || ok && !near(r.Thresholds[i], want, 0.0006) {
			t.Errorf("%s: threshold %s = %v (valid %v), want %.3f (valid %v)", s.Name, ThresholdNames[i], r.Thresholds[i], r.ThreshValid[i], want, ok)
		}
	}
}

// Every cipher suite ipmitool can use with ipmi_sim, IPMI 1.5 with each
// authentication type, and each user, reads one sensor.
func TestIPMISimAuthentication(t *testing.T) {
	RequireTool(t, "ipmitool")
	sim := StartIPMISim(t, IPMISimOptions{ConsolePort: -1})
	ctx := ctxT(t)
	read := func(t *testing.T, o ClientOptions) {
		t.Helper()
		out, err := sim.IpmitoolAs(ctx, o, "sensor", "reading", "CPU1 Temp")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Split(strings.TrimSpace(out), "|"); len(f) != 2 || strings.TrimSpace(f[0]) != "CPU1 Temp" || strings.TrimSpace(f[1]) != "45" {
			t.Fatalf("sensor reading: %q", out)
		}
	}
	for _, suite := range []string{"0", "1", "2", "3", "6"} {
		t.Run("lanplus suite "+suite, func(t *testing.T) {
			read(t, ClientOptions{User: AdminUser, Password: AdminPassword, CipherSuite: suite})
		})
	}
	for _, auth := range []string{"NONE", "PASSWORD", "MD5"} {
		t.Run("lan "+auth, func(t *testing.T) {
			read(t, ClientOptions{Interface: "lan", AuthType: auth, User: AdminUser, Password: AdminPassword})
		})
	}
	for _, u := range Users {
		t.Run("user "+u.Privilege+" "+u.Name, func(t *testing.T) {
			read(t, ClientOptions{User: u.Name, Anonymous: u.ID == 1, Password: u.Password, Privilege: u.Privilege})
		})
	}
	t.Run("wrong password fails", func(t *testing.T) {
		_, err := sim.IpmitoolAs(ctx, ClientOptions{User: AdminUser, Password: "wrong"}, "sensor", "reading", "CPU1 Temp")
		if err == nil {
			t.Fatal("wrong password accepted")
		}
	})
	t.Run("user privilege cannot power off", func(t *testing.T) {
		_, err := sim.IpmitoolAs(ctx, ClientOptions{User: "user", Password: "userpw", Privilege: "USER"}, "chassis", "power", "off")
		if err == nil || !strings.Contains(err.Error(), "Insufficient privilege") {
			t.Fatalf("want insufficient privilege, got %v", err)
		}
	})
}

// FreeIPMI reads the same BMC.
func TestIPMISimFreeIPMI(t *testing.T) {
	for _, tool := range []string{"ipmi-sensors", "ipmi-sel", "ipmi-chassis"} {
		RequireTool(t, tool)
	}
	sim := StartIPMISim(t, IPMISimOptions{ConsolePort: -1})
	ctx := ctxT(t)

	t.Run("ipmi-sensors", func(t *testing.T) {
		out, err := sim.FreeIPMI(ctx, "ipmi-sensors", IPMISensorsArgs...)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmi_sensors.csv", out)
		rows, err := ParseIPMISensors(out)
		if err != nil {
			t.Fatal(err)
		}
		checkIPMISensors(t, rows)
	})

	t.Run("ipmi-sensors with header, no thresholds", func(t *testing.T) {
		out, err := sim.FreeIPMI(ctx, "ipmi-sensors", "--comma-separated-output", "--output-sensor-state", "--bridge-sensors")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmi_sensors_header.csv", out)
		rows, err := ParseIPMISensors(out)
		if err != nil {
			t.Fatal(err)
		}
		// Without --shared-sensors the DIMM record is one row; the 0xCC
		// sensor is listed with N/A (no thresholds asked, so no abort).
		if want := len(Sensors) - 3 - 1; len(rows) != want { // 3 shared members, 1 event-only
			t.Errorf("%d rows, want %d", len(rows), want)
		}
	})

	t.Run("ipmi-sel --info", func(t *testing.T) {
		out, err := sim.FreeIPMI(ctx, "ipmi-sel", "--info")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmi_sel_info.txt", out)
		si, err := ParseIPMISelInfo(out)
		if err != nil || si.Entries != len(SELEntries) {
			t.Fatalf("ipmi-sel --info: %+v, %v", si, err)
		}
	})

	t.Run("ipmi-chassis --get-chassis-status", func(t *testing.T) {
		out, err := sim.FreeIPMI(ctx, "ipmi-chassis", "--get-chassis-status")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipmi_chassis_status.txt", out)
		cs, err := ParseChassisStatus(out)
		if err != nil || !cs.PowerOn {
			t.Fatalf("chassis: %+v, %v", cs, err)
		}
	})

	// ipmitool here lacks MD2; FreeIPMI has it.
	for _, auth := range []string{"MD2", "MD5", "STRAIGHT_PASSWORD_KEY", "NONE"} {
		t.Run("IPMI 1.5 "+auth, func(t *testing.T) {
			o := sim.ClientOptions()
			o.Interface, o.AuthType = "lan", auth
			out, err := sim.FreeIPMIAs(ctx, "ipmi-sensors", o, "--comma-separated-output", "--no-header-output", "-r", "3")
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out) != "3,CPU1 Temp,Temperature,45.00,C,'OK'" {
				t.Fatalf("got %q", out)
			}
		})
	}
}

func checkIPMISensors(t *testing.T, rows []IPMISensorsRow) {
	t.Helper()
	type key struct {
		id   int
		name string
	}
	got := map[key]IPMISensorsRow{}
	for _, r := range rows {
		got[key{r.RecordID, r.Name}] = r
	}
	n := 0
	for _, s := range Sensors {
		if !s.Readable() {
			continue // left out by --ignore-not-available-sensors
		}
		n++
		name := s.Name
		if s.ShareCount > 1 {
			name = s.Name + " " + string(rune('1'+s.ShareIndex)) // FreeIPMI: "DIMM 1".."DIMM 4"
		}
		r, ok := got[key{int(s.RecordID), name}]
		if !ok {
			t.Errorf("ipmi-sensors lacks record %d %q", s.RecordID, name)
			continue
		}
		if !s.IsThreshold() {
			if r.HasReading {
				t.Errorf("%s: discrete sensor with reading %v", name, r.Reading)
			}
			continue
		}
		if !r.HasReading || !near(r.Reading, s.Value(), 0.006) {
			t.Errorf("%s: reading %v, want %.3f", name, r.Reading, s.Value())
		}
		if s.Owner != BMCAddr || s.LUN != 0 {
			// FreeIPMI 1.6.10 bridges Get Sensor Reading but sends Get Sensor
			// Thresholds to the BMC's LUN 0: thresholds of sensors on other
			// LUNs or controllers are those of the BMC sensor with the same
			// number (see docs/bmc-quirks.md).
			continue
		}
		for i := 0; i < 6; i++ {
			want, ok := s.Threshold(i)
			if r.ThreshValid[i] != ok || ok && !near(r.Thresholds[i], want, 0.006) {
				t.Errorf("%s: threshold %s = %v (valid %v), want %.3f (%v)", name, ThresholdNames[i], r.Thresholds[i], r.ThreshValid[i], want, ok)
			}
		}
	}
	if len(rows) != n {
		t.Errorf("ipmi-sensors: %d rows, want %d readable sensors", len(rows), n)
	}
}

// Sensor values and states change at run time through the console.
func TestIPMISimConsole(t *testing.T) {
	RequireTool(t, "ipmitool")
	sim := StartIPMISim(t, IPMISimOptions{})
	ctx := ctxT(t)
	fan1, _ := SensorByName("FAN1")
	riser, _ := SensorByName("Riser Temp")
	intrusion, _ := SensorByName("Intrusion")

	if err := sim.SetSensorRaw(ctx, fan1, 9, false); err != nil { // 540 RPM: lower critical
		t.Fatal(err)
	}
	if err := sim.SetSensorRaw(ctx, riser, 85, true); err != nil { // upper critical, with events
		t.Fatal(err)
	}
	if err := sim.SetSensorState(ctx, intrusion, 0, true, false); err != nil {
		t.Fatal(err)
	}
	entries, err := sim.SDRElist(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s            Sensor
		status, read string
	}{{fan1, "lcr", "540 RPM"}, {riser, "ucr", "85 degrees C"}, {intrusion, "ok", "General Chassis intrusion"}} {
		e, err := FindElist(entries, c.s.Name, c.s.Number)
		if err != nil || e.Status != c.status || e.Reading != c.read {
			t.Errorf("%s after console change: %+v, %v; want %s %q", c.s.Name, e, err, c.status, c.read)
		}
	}
	si, err := sim.SELInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Riser Temp 52 -> 85 crosses upper non-critical and upper critical.
	if si.Entries != len(SELEntries)+2 {
		t.Errorf("SEL has %d entries after a generated event, want %d", si.Entries, len(SELEntries)+2)
	}
	if _, err := sim.Console(ctx, "sensor_set_value 0x20 0 200 1 0"); err == nil {
		t.Error("console accepted a command for a missing sensor")
	}
}

// A failing .emu line keeps ipmi_sim's LAN channel closed: the start fails.
func TestIPMISimBadEmuFails(t *testing.T) {
	RequireTool(t, "ipmi_sim")
	RequireTool(t, "sdrcomp")
	s, err := Launch(context.Background(), IPMISimOptions{
		StateDir: t.TempDir(), ExtraEmu: []string{"sensor_set_value 0x20 0 250 1 0"},
		StartTimeout: 1500 * time.Millisecond, ConsolePort: -1, Port: mustFreeUDP(t),
	})
	if err == nil {
		s.Stop()
		t.Fatal("ipmi_sim with a bad .emu line answered pings")
	}
	if !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("unexpected error: %v", err)
	}
}

func mustFreeUDP(t *testing.T) int {
	p, err := freePort("udp")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIPMISimFleet(t *testing.T) {
	RequireTool(t, "ipmitool")
	sims := StartIPMISimFleet(t, 3, IPMISimOptions{ConsolePort: -1})
	ctx := ctxT(t)
	for i, s := range sims {
		if s.Port != sims[0].Port+i {
			t.Errorf("sim %d on port %d, want %d", i, s.Port, sims[0].Port+i)
		}
		if err := Ping(ctx, s.Addr, time.Second); err != nil {
			t.Errorf("sim %d: %v", i, err)
		}
	}
	out, err := sims[2].Ipmitool(ctx, "sensor", "reading", "FAN1")
	if err != nil || !strings.Contains(out, "6000") {
		t.Fatalf("fleet member: %q, %v", out, err)
	}
	sims[1].Stop()
	select {
	case <-sims[1].Done():
	case <-time.After(5 * time.Second):
		t.Fatal("stopped simulator still running")
	}
	if err := Ping(ctx, sims[1].Addr, 300*time.Millisecond); err == nil {
		t.Error("stopped simulator still answers")
	}
}

// Fleets take ports below the ephemeral range, where no client socket can
// take one between the search and the simulators' binds.
func TestFreeUDPRangeBelowEphemeral(t *testing.T) {
	n := 200
	base, err := freeUDPRange(n)
	if err != nil {
		t.Fatal(err)
	}
	if lo := ephemeralLow(); lo-fleetPortLow >= 2*n && (base < fleetPortLow || base+n > lo) {
		t.Fatalf("range %d-%d, want inside %d-%d", base, base+n-1, fleetPortLow, lo-1)
	}
	if !udpRangeFree(base, n) {
		t.Fatalf("range %d-%d not free", base, base+n-1)
	}
	// A port of the range in use makes the range not free.
	c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+n/2)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if udpRangeFree(base, n) {
		t.Fatal("range with a bound port reported free")
	}
}
