package testbed

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// readGolden returns a tool output captured from ipmi_sim by the
// integration tests (go test ./internal/testbed -update).
func readGolden(t *testing.T, name string) string {
	t.Helper()
	td, err := TestdataDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(td, "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseSDRElistGolden(t *testing.T) {
	entries, err := ParseSDRElist(readGolden(t, "ipmitool_sdr_elist_full.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range Sensors {
		if s.Record != FullRecord {
			continue
		}
		n++
		e, err := FindElist(entries, s.Name, s.Number)
		if err != nil {
			t.Error(err)
			continue
		}
		checkElist(t, s, e)
	}
	if len(entries) != n {
		t.Errorf("%d entries, want %d", len(entries), n)
	}

	all, err := ParseSDRElist(readGolden(t, "ipmitool_sdr_elist_all.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(Sensors) - 3 + len(Locators()); len(all) != want {
		t.Errorf("elist all: %d entries, want %d", len(all), want)
	}
}

func TestParseSDRElistCases(t *testing.T) {
	out := "" +
		"CPU2 Temp        | 02h | unc |  3.2 | 84 degrees C\n" +
		"VNEG12           | 1Ch | ok  |  7.1 | -11.93 Volts\n" +
		"PSU2 Status      | 27h | ok  | 10.2 | Presence detected, Failure detected\n" +
		"Intrusion        | 2Ch | ok  | 23.1 | \n" +
		"GPU Temp         | 0Dh | ns  | 11.1 | No Reading\n" +
		"BMC              | 00h | ok  |  7.1 | Dynamic MC @ 20h\n"
	got, err := ParseSDRElist(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []ElistEntry{
		{Name: "CPU2 Temp", Number: 2, Status: "unc", EntityID: 3, EntityInstance: 2, Reading: "84 degrees C", HasValue: true, Value: 84, Unit: "degrees C"},
		{Name: "VNEG12", Number: 0x1c, Status: "ok", EntityID: 7, EntityInstance: 1, Reading: "-11.93 Volts", HasValue: true, Value: -11.93, Unit: "Volts"},
		{Name: "PSU2 Status", Number: 0x27, Status: "ok", EntityID: 10, EntityInstance: 2, Reading: "Presence detected, Failure detected", States: []string{"Presence detected", "Failure detected"}},
		{Name: "Intrusion", Number: 0x2c, Status: "ok", EntityID: 23, EntityInstance: 1},
		{Name: "GPU Temp", Number: 0x0d, Status: "ns", EntityID: 11, EntityInstance: 1, Reading: "No Reading"},
		{Name: "BMC", Number: 0, Status: "ok", EntityID: 7, EntityInstance: 1, Reading: "Dynamic MC @ 20h", States: []string{"Dynamic MC @ 20h"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"CPU | 01h | ok | 3.1\n", "CPU | zz | ok | 3.1 | 4 RPM\n", "CPU | 01h | ok | 3 | 4 RPM\n"} {
		if _, err := ParseSDRElist(bad); err == nil {
			t.Errorf("ParseSDRElist(%q) accepted", bad)
		}
	}
}

func TestParseIpmitoolSensorGolden(t *testing.T) {
	rows, err := ParseIpmitoolSensor(readGolden(t, "ipmitool_sensor.txt"))
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
			t.Errorf("%s missing", s.Name)
			continue
		}
		checkSensorRow(t, s, r)
	}
	if len(rows) != len(byName) {
		t.Errorf("duplicate names in %d rows", len(rows))
	}
}

func TestParseIpmitoolSensorCases(t *testing.T) {
	out := "" +
		"DIMM B Temp      | 75.000     | degrees C  | nc    | na        | na        | na        | 70.000    | 85.000    | 95.000    \n" +
		"CPU2 Status      | 0x82       | discrete   | 0x8200| na        | na        | na        | na        | na        | na        \n" +
		"ACPI State       | 0x1        | discrete   | 0x0001| na        | na        | na        | na        | na        | na        \n" +
		"GPU Temp         | na         |            | na    | na        | na        | na        | na        | na        | na        \n"
	rows, err := ParseIpmitoolSensor(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []IpmitoolSensorRow{
		{Name: "DIMM B Temp", HasValue: true, Value: 75, Unit: "degrees C", Status: "nc",
			Thresholds: [6]float64{UNC: 70, UCR: 85, UNR: 95}, ThreshValid: [6]bool{UNC: true, UCR: true, UNR: true}},
		{Name: "CPU2 Status", HasValue: true, Value: 0x82, Unit: "discrete", Status: "0x8200", Discrete: true, Raw: 0x82, States: 0x82},
		{Name: "ACPI State", HasValue: true, Value: 1, Unit: "discrete", Status: "0x0001", Discrete: true, Raw: 1, States: 0x100},
		{Name: "GPU Temp", Status: "na"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got  %+v\nwant %+v", rows, want)
	}
	if _, err := ParseIpmitoolSensor("X | 1.0 | RPM | ok | na | na\n"); err == nil {
		t.Error("short line accepted")
	}
}

func TestParseInfoGolden(t *testing.T) {
	si, err := ParseSELInfo(readGolden(t, "ipmitool_sel_info.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if si.Entries != len(SELEntries) || si.FreeSpaceBytes != 15872 || si.Version != "1.5 (v1.5, v2 compliant)" || si.Overflow {
		t.Errorf("ipmitool sel info: %+v", si)
	}
	fi, err := ParseIPMISelInfo(readGolden(t, "ipmi_sel_info.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Entries != len(SELEntries) || fi.FreeSpaceBytes != 15872 || fi.Version != "1.5" || fi.Fields["Delete SEL Command"] != "supported" {
		t.Errorf("ipmi-sel --info: %+v", fi)
	}
	for _, f := range []string{"ipmitool_chassis_status.txt", "ipmi_chassis_status.txt"} {
		cs, err := ParseChassisStatus(readGolden(t, f))
		if err != nil || !cs.PowerOn || len(cs.Fields) < 10 {
			t.Errorf("%s: %+v, %v", f, cs, err)
		}
	}
	if _, err := ParseChassisStatus("System Power : maybe\n"); err == nil {
		t.Error("bad power state accepted")
	}
	ss, err := ParseSessionInfo(readGolden(t, "ipmitool_session_info_active.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if ss.ActiveSessions != 1 || ss.SlotCount != 63 || ss.UserID != 2 || ss.Privilege != "ADMINISTRATOR" || ss.SessionType != "IPMIv2/RMCP+" {
		t.Errorf("session info: %+v", ss)
	}
	if _, err := ParseSELInfo("Entries : many\n"); err == nil {
		t.Error("bad entries accepted")
	}
}

func TestParseIPMISensorsGolden(t *testing.T) {
	rows, err := ParseIPMISensors(readGolden(t, "ipmi_sensors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	checkIPMISensors(t, rows)

	rows, err = ParseIPMISensors(readGolden(t, "ipmi_sensors_header.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(Sensors) - 3 - 1; len(rows) != want {
		t.Errorf("header variant: %d rows, want %d", len(rows), want)
	}
	for _, r := range rows {
		if r.Name == "GPU Temp" && (r.HasReading || r.State != "N/A" || r.Event != "N/A") {
			t.Errorf("unreadable sensor row: %+v", r)
		}
	}
}

func TestParseIPMISensorsCases(t *testing.T) {
	out := "" +
		"41,PSU2 Status,Power Supply,Critical,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,'Presence detected' 'Power Supply Failure detected'\n" +
		"11,Cold Plate Temp,Temperature,Nominal,-18.00,C,-40.00,-35.00,-30.00,-10.00,-6.00,-2.00,'OK'\n"
	rows, err := ParseIPMISensors(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []IPMISensorsRow{
		{RecordID: 41, Name: "PSU2 Status", Type: "Power Supply", State: "Critical", Units: "N/A",
			Event: "'Presence detected' 'Power Supply Failure detected'", Events: []string{"Presence detected", "Power Supply Failure detected"}},
		{RecordID: 11, Name: "Cold Plate Temp", Type: "Temperature", State: "Nominal", HasReading: true, Reading: -18, Units: "C",
			Thresholds: [6]float64{LNR: -40, LCR: -35, LNC: -30, UNC: -10, UCR: -6, UNR: -2}, ThreshValid: [6]bool{true, true, true, true, true, true},
			Event: "'OK'", Events: []string{"OK"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got  %+v\nwant %+v", rows, want)
	}
	short, err := ParseIPMISensors("3,CPU1 Temp,Temperature,45.00,C,'OK'\n")
	if err != nil || len(short) != 1 || short[0].Reading != 45 || short[0].State != "" {
		t.Errorf("6-column form: %+v, %v", short, err)
	}
	for _, bad := range []string{"1,2,3,4\n", "x,CPU1 Temp,Temperature,45.00,C,'OK'\n", "3,CPU1 Temp,Temperature,hot,C,'OK'\n"} {
		if _, err := ParseIPMISensors(bad); err == nil {
			t.Errorf("ParseIPMISensors(%q) accepted", bad)
		}
	}
}
