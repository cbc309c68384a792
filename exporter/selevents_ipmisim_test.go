package exporter

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
)

// ipmiExporterSELArgs are the ipmi-sel options ipmi_exporter's sel-events
// collector runs (its collector_sel_events.go), so that the Event column
// here is the text its regexes see.
var ipmiExporterSELArgs = []string{
	"--quiet-cache", "--comma-separated-output", "--no-header-output", "--sdr-cache-recreate",
	"--output-event-state", "--interpret-oem-data", "--entity-sensor-names",
}

// selTestRecord is a SEL record added through ipmi_sim's console: record
// type and the 13 bytes after it (the timestamp, which ipmi_sim sets,
// left 0).
type selTestRecord struct {
	recordType uint8
	data       [13]byte
}

// sysRec is a system event record from generator gen (owner ID byte) and
// LUN, sensor type st and number num, event/reading type et (bit 7 set:
// deassertion), and event data d1-d3.
func sysRec(gen, lun, st, num, et, d1, d2, d3 byte) selTestRecord {
	return selTestRecord{0x02, [13]byte{0, 0, 0, 0, gen, lun, 0x04, st, num, et, d1, d2, d3}}
}

// extraSELRecords cover what FreeIPMI's Event column says beyond the
// testbed's SEL: threshold events of sensors with other conversions and
// units (fractions, offsets, 1's and 2's complement, non-linear, percent,
// a satellite's sensor, a sensor number on LUN 1, no SDR record), their
// OEM and unspecified data bytes, generic states with previous state and
// severity, the sensor-specific extension codes FreeIPMI decodes, OEM
// event types and OEM records.
var extraSELRecords = []selTestRecord{
	// Threshold events (sensor numbers: internal/testbed/sensors.go).
	sysRec(0x20, 0, 0x01, 5, 0x01, 0x59, 200, 205),      // Inlet Temp, 0.2*raw-1
	sysRec(0x20, 0, 0x01, 6, 0x01, 0x57, 101, 100),      // Exhaust Temp, 0.5*raw+3
	sysRec(0x20, 0, 0x02, 24, 0x01, 0x50, 99, 100),      // VCORE, B with Bexp
	sysRec(0x20, 0, 0x02, 28, 0x01, 0x52, 0xa7, 0xab),   // VNEG12, 2's complement
	sysRec(0x20, 0, 0x01, 12, 0x01, 0x59, 101, 100),     // Battery Temp, 1's complement
	sysRec(0x20, 0, 0x01, 9, 0x01, 0x52, 0xd7, 0xdd),    // Cold Plate Temp, negative
	sysRec(0x20, 0, 0x0b, 35, 0x01, 0x59, 15, 15),       // Pump Power, squared
	sysRec(0x20, 0, 0x0b, 37, 0x01, 0x57, 75, 70),       // Humidity, percent
	sysRec(0x20, 0, 0x04, 14, 0x81, 0x52, 9, 10),        // FAN1, deassertion
	sysRec(0x20, 1, 0x01, 1, 0x01, 0x57, 65, 60),        // Aux Temp: number 1 on LUN 1
	sysRec(0x30, 0, 0x02, 2, 0x01, 0x59, 90, 85),        // Riser 12V on the satellite; 13.345
	sysRec(0x20, 0, 0x0b, 36, 0x01, 0x57, 4, 3),         // Airflow, inverse
	sysRec(0x20, 0, 0x01, 0x99, 0x01, 0x59, 0x5a, 0x50), // no SDR record
	sysRec(0x20, 0, 0x01, 3, 0x01, 0x09, 0xff, 0xff),    // no data 2/3
	sysRec(0x20, 0, 0x01, 3, 0x01, 0xa9, 0x12, 0x34),    // OEM data 2/3
	sysRec(0x20, 0, 0x01, 3, 0x01, 0x19, 0xff, 93),      // threshold only
	sysRec(0x20, 0, 0x01, 3, 0x01, 0x0c, 0xff, 0xff),    // offset beyond the table
	// Generic discrete states.
	sysRec(0x20, 0, 0x08, 40, 0x0b, 0x41, 0x20, 0xff), // PSU Redundancy lost, severity
	sysRec(0x20, 0, 0x08, 40, 0x0b, 0x40, 0xff, 0xff), // fully redundant, unspecified
	sysRec(0x20, 0, 0x0d, 43, 0x08, 0x00, 0xff, 0xff), // Drive0 absent
	sysRec(0x20, 0, 0x0d, 43, 0x88, 0x01, 0xff, 0xff), // Drive0 present, deasserted
	sysRec(0x20, 0, 0x0b, 40, 0x03, 0x01, 0xff, 0xff),
	sysRec(0x20, 0, 0x0b, 40, 0x04, 0x01, 0xff, 0xff),
	sysRec(0x20, 0, 0x0b, 40, 0x07, 0x48, 0x0f, 0xff), // severity, previous state unspecified
	sysRec(0x20, 0, 0x0b, 40, 0x0a, 0x06, 0xff, 0xff),
	sysRec(0x20, 0, 0x0b, 40, 0x0c, 0x03, 0xff, 0xff),
	sysRec(0x20, 0, 0x0b, 40, 0x0b, 0x09, 0xff, 0xff), // offset beyond the table
	sysRec(0x20, 0, 0x0b, 40, 0x05, 0x81, 0x12, 0xff), // OEM data 2
	// Sensor-specific states and extension codes.
	sysRec(0x20, 0, 0x0c, 50, 0x6f, 0x30, 0xff, 0x34), // memory ECC, data 3 without a message
	sysRec(0x20, 0, 0x0c, 50, 0x6f, 0x38, 0xff, 0x02), // memory spare
	sysRec(0x20, 0, 0x0f, 70, 0x6f, 0xc2, 0x09, 0xff), // firmware progress
	sysRec(0x20, 0, 0x0f, 70, 0x6f, 0xc0, 0x0b, 0xff), // firmware error
	sysRec(0x20, 0, 0x0f, 70, 0x6f, 0xc0, 0x40, 0xff), // firmware error beyond the table
	sysRec(0x20, 0, 0x10, 71, 0x6f, 0x35, 0xff, 75),   // SEL almost full
	sysRec(0x20, 0, 0x10, 71, 0x6f, 0xf6, 0x03, 0x80), // machine check logging disabled
	sysRec(0x20, 0, 0x10, 71, 0x6f, 0xc0, 0x02, 0xff), // memory logging disabled
	sysRec(0x20, 0, 0x12, 72, 0x6f, 0xc5, 0x81, 0xff), // clock sync
	sysRec(0x20, 0, 0x12, 72, 0x6f, 0xc4, 0x03, 0xff), // PEF action
	sysRec(0x20, 0, 0x12, 72, 0x6f, 0xc3, 0x21, 0xff), // auxiliary log
	sysRec(0x20, 0, 0x23, 73, 0x6f, 0xc1, 0x24, 0xff), // watchdog 2
	sysRec(0x20, 0, 0x23, 73, 0x6f, 0x05, 0xff, 0xff), // watchdog 2, reserved offset
	sysRec(0x20, 0, 0x2a, 74, 0x6f, 0xf0, 0x02, 0x01), // session activated
	sysRec(0x20, 0, 0x2a, 74, 0x6f, 0xf1, 0xff, 0x11), // session deactivated
	sysRec(0x20, 0, 0x2a, 74, 0x6f, 0xc0, 0x00, 0xff), // session activated, no user
	sysRec(0x20, 0, 0x2b, 75, 0x6f, 0xc7, 0x02, 0xff), // version change
	sysRec(0x20, 0, 0x2c, 76, 0x6f, 0xc4, 0x73, 0xff), // FRU state
	sysRec(0x20, 0, 0x2c, 76, 0x6f, 0x44, 0x03, 0xff), // FRU state, previous state
	sysRec(0x20, 0, 0x28, 77, 0x6f, 0xf5, 0x8a, 0x42), // management subsystem, FRU failure
	sysRec(0x20, 0, 0x28, 77, 0x6f, 0xc4, 0x10, 0xff), // sensor failure
	sysRec(0x20, 0, 0x05, 44, 0x6f, 0xc4, 0x01, 0xff), // LAN leash lost
	sysRec(0x20, 0, 0x19, 78, 0x6f, 0xf0, 0x03, 0x0d), // chip set soft power failure
	sysRec(0x20, 0, 0x21, 79, 0x6f, 0xf9, 0x09, 0x04), // slot connector
	sysRec(0x20, 0, 0x1d, 80, 0x6f, 0xf7, 0x04, 0x01), // system restart
	sysRec(0x20, 0, 0x08, 39, 0x6f, 0x36, 0xff, 0x03), // PSU configuration error
	sysRec(0x20, 0, 0x07, 41, 0x6f, 0x81, 0x12, 0xff), // processor, OEM data 2
	sysRec(0x20, 0, 0x07, 41, 0x6f, 0x41, 0x07, 0xff), // processor, previous state
	sysRec(0x20, 0, 0x22, 54, 0xef, 0x06, 0xff, 0xff), // ACPI state, deasserted
	sysRec(0x20, 0, 0x01, 1, 0x6f, 0x03, 0xff, 0xff),  // sensor type without states
	sysRec(0x20, 0, 0x14, 60, 0x6f, 0x00, 0xff, 0xff), // power button
	// OEM event/reading type, reserved event/reading types.
	sysRec(0x20, 0, 0xc0, 81, 0x70, 0xa2, 0x12, 0x34),
	sysRec(0x20, 0, 0xc0, 81, 0x7f, 0x02, 0xff, 0xff),
	sysRec(0x20, 0, 0x01, 81, 0x00, 0x01, 0xff, 0xff),
	sysRec(0x20, 0, 0x01, 81, 0x30, 0x02, 0x10, 0x20),
	// OEM records.
	{0xd0, [13]byte{0, 0, 0, 0, 0x57, 0x01, 0x00, 1, 2, 3, 4, 5, 6}},
	{0xe0, [13]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
}

// TestSELEventsAgreeWithFreeIPMI: on ipmi_sim, each sel_events regex
// counts as many entries as it matches in the Event column of FreeIPMI's
// ipmi-sel run as ipmi_exporter runs it, which is what ipmi_exporter
// matches it against: hand-written regexes, and for every distinct event
// text FreeIPMI prints, the text itself anchored at both ends (so the
// texts are equal, not only alike). The sm-lan-mode collector reports a
// BMC that is not Supermicro as up with no series.
func TestSELEventsAgreeWithFreeIPMI(t *testing.T) {
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range extraSELRecords {
		if err := sim.AddSEL(ctx, r.recordType, r.data); err != nil {
			t.Fatalf("adding SEL record %02x % x: %v", r.recordType, r.data, err)
		}
	}

	out, err := sim.FreeIPMI(ctx, "ipmi-sel", ipmiExporterSELArgs...)
	if err != nil {
		t.Fatal(err)
	}
	// ID,Date,Time,Name,Type,State,Event; the event text may hold commas.
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.SplitN(line, ",", 7)
		if len(fields) == 7 {
			events = append(events, fields[6])
		}
	}
	if want := len(testbed.SELEntries) + len(extraSELRecords); len(events) != want {
		t.Fatalf("ipmi-sel lists %d events, want %d:\n%s", len(events), want, out)
	}

	type namedRegex struct{ name, re string }
	regexes := []namedRegex{
		{"critical", "Critical - going"},
		{"noncritical", "Non-critical"},
		{"going_low", "going low"},
		{"psu_failure", "Power Supply Failure detected"},
		{"thermal_trip", "Thermal Trip"},
		{"intrusion", "General Chassis Intrusion"},
		{"memory_correctable", "Correctable memory error"},
		{"reading", `Sensor Reading = [0-9.-]+ (C|RPM|V|W|%)`},
		{"oem_record", "^OEM defined = "},
		{"session", "^Session (Activated|Deactivated)"},
		{"redundancy", "Redundancy"},
	}
	seen := map[string]bool{}
	for _, ev := range events {
		if !seen[ev] {
			seen[ev] = true
			regexes = append(regexes, namedRegex{fmt.Sprintf("exact_%d", len(seen)), "^" + regexp.QuoteMeta(ev) + "$"})
		}
	}
	var cfg strings.Builder
	cfg.WriteString("    collectors: [sel-events, sm-lan-mode]\n    sel_events:\n")
	for _, r := range regexes {
		fmt.Fprintf(&cfg, "      - name: %s\n        regex: %q\n", r.name, r.re)
	}
	type want struct{ name, re, series string }
	var wants []want
	for _, r := range regexes {
		n := 0
		re := regexp.MustCompile(r.re)
		for _, ev := range events {
			if re.MatchString(ev) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s (%q) matches none of FreeIPMI's events: the test proves nothing with it", r.name, r.re)
		}
		wants = append(wants, want{r.name, r.re, fmt.Sprintf("ipmi_sel_events_count_by_name{name=%q} %d\n", r.name, n)})
	}

	// A scrape takes in at most 64 new SEL entries (selEntriesPerScrape):
	// scrape often enough for the whole SEL to be in, and once more.
	h := newHarness(t, moduleYAML(sim.User, sim.Password, cfg.String()))
	var text string
	for i := 0; i <= len(events)/64+1; i++ {
		var mfs map[string]*dto.MetricFamily
		mfs, text = h.scrape(t, sim.Addr)
		if up := upValues(mfs); up["sel-events"] != 1 || up["sm-lan-mode"] != 1 {
			t.Fatalf("ipmi_up %v:\n%s", up, text)
		}
	}
	if strings.Contains(text, "ipmi_config_lan_mode") {
		t.Errorf("a LAN mode for a BMC that is not Supermicro:\n%s", text)
	}
	for _, w := range wants {
		if !strings.Contains(text, w.series) {
			t.Errorf("%s (%q): want %s", w.name, w.re, strings.TrimSpace(w.series))
		}
	}
	if t.Failed() {
		t.Logf("FreeIPMI's events:\n%s\nscrape:\n%s", strings.Join(events, "\n"), text)
	}
}
