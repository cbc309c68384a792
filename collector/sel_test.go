package collector

import (
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sel"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

var selStates = []string{"unknown", "nominal", "warning", "critical", "non_recoverable"}

// selCounts counts the model's SEL entries with ids from the given index
// on, by state label.
func selCounts(t *testing.T, b *model.BMC, from int) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, raw := range b.SELEntries()[from:] {
		e, err := sel.ParseEntry(raw[:])
		if err != nil {
			t.Fatal(err)
		}
		out[selStateLabel(e.Severity())]++
	}
	return out
}

// modelSELInfo asks the model directly.
func modelSELInfo(t *testing.T, b *model.BMC) command.GetSELInfoResponse {
	t.Helper()
	cc, data := b.Handle(wire.Target{}, wire.NetFnStorage, command.CmdGetSELInfo, nil, wire.PrivilegeUser)
	var info command.GetSELInfoResponse
	if cc != wire.CCOK || info.Unmarshal(data) != nil {
		t.Fatalf("Get SEL Info: %v", cc)
	}
	return info
}

func selEventCounts(t *testing.T, r *result) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range selStates {
		out[s] = r.value(t, "ipmi_sel_events_count_by_state", "state", s)
	}
	return out
}

func checkSELInfo(t *testing.T, f *fixture, r *result) {
	t.Helper()
	info := modelSELInfo(t, f.bmc)
	if got := r.value(t, "ipmi_sel_logs_count"); got != float64(info.Entries) {
		t.Errorf("ipmi_sel_logs_count %v, want %d", got, info.Entries)
	}
	if got := r.value(t, "ipmi_sel_free_space_bytes"); got != float64(info.FreeSpace) {
		t.Errorf("ipmi_sel_free_space_bytes %v, want %d", got, info.FreeSpace)
	}
	if got := r.value(t, "ipmi_sel_last_add_timestamp_seconds"); got != float64(info.LastAddition) {
		t.Errorf("ipmi_sel_last_add_timestamp_seconds %v, want %d", got, info.LastAddition)
	}
}

func TestSELIncremental(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorSEL)
	r, rt := f.scrape(t)
	checkSELInfo(t, f, r)
	want := selCounts(t, f.bmc, 0)
	counts := selEventCounts(t, r)
	for _, s := range selStates {
		if counts[s] != want[s] {
			t.Errorf("first scrape: %s events %v, want %v", s, counts[s], want[s])
		}
	}
	if want["critical"] != 5 {
		t.Fatalf("profile SEL: %v, want 5 critical events (intrusion, AC lost, watchdog reset)", want)
	}
	if rt.counts[opGetSELEntry] != 5 {
		t.Errorf("first scrape: %v, want 5 Get SEL Entry", rt)
	}

	// Nothing new: Get SEL Info only.
	r, rt = f.scrape(t)
	if rt.total != 1 || rt.counts[opGetSELInfo] != 1 {
		t.Errorf("warm scrape without new entries: %v, want one Get SEL Info", rt)
	}
	if c := selEventCounts(t, r); c["critical"] != counts["critical"] {
		t.Errorf("counts changed without new entries: %v", c)
	}

	// Two new entries: only they (and the last one read, to find its
	// successor) are fetched.
	f.clock.advance(10 * time.Second)
	for _, e := range []model.SELEntrySpec{
		{Sensor: "CPU1 Temp", Offset: 9},          // upper critical going high: critical
		{Sensor: "CPU1 Temp", Offset: 11},         // upper non-recoverable going high
		{Sensor: "PS1 Status", Offset: 0},         // presence detected: nominal
		{Sensor: "FAN2", Offset: 0},               // lower non-critical going low: warning
		{RecordType: 0xE0, OEM: make([]byte, 13)}, // OEM: unknown
	} {
		if _, err := f.bmc.AddSELEntry(e); err != nil {
			t.Fatal(err)
		}
	}
	prev := counts
	r, rt = f.scrape(t)
	checkSELInfo(t, f, r)
	if got := rt.counts[opGetSELEntry]; got != 6 {
		t.Errorf("after adding 5 entries: %v, want 6 Get SEL Entry (the last one read and 5 new)", rt)
	}
	counts = selEventCounts(t, r)
	added := selCounts(t, f.bmc, 5)
	for _, s := range selStates {
		if counts[s] != prev[s]+added[s] {
			t.Errorf("%s events %v, want %v + %v", s, counts[s], prev[s], added[s])
		}
		if added[s] != 1 {
			t.Errorf("test entries: %d %s, want 1", int(added[s]), s)
		}
	}

	// A cleared SEL: the size drops, the event counts do not.
	f.bmc.ClearSEL()
	prev = counts
	r, _ = f.scrape(t)
	checkSELInfo(t, f, r)
	if got := r.value(t, "ipmi_sel_logs_count"); got != 0 {
		t.Errorf("cleared SEL: %v entries", got)
	}
	counts = selEventCounts(t, r)
	for _, s := range selStates {
		if counts[s] != prev[s] {
			t.Errorf("clearing the SEL changed %s events %v -> %v", s, prev[s], counts[s])
		}
	}
	// Counting goes on with the new log.
	if _, err := f.bmc.AddSELEntry(model.SELEntrySpec{Sensor: "PS2 Status", Offset: 1}); err != nil {
		t.Fatal(err)
	}
	r, rt = f.scrape(t)
	if rt.counts[opGetSELEntry] != 1 {
		t.Errorf("one entry in the new log: %v", rt)
	}
	if got := selEventCounts(t, r)["critical"]; got != counts["critical"]+1 {
		t.Errorf("critical events %v after a PSU failure in the new log, want %v", got, counts["critical"]+1)
	}
}

func TestSELLongLogReadInParts(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorSEL)
	for i := 0; i < 200; i++ {
		if _, err := f.bmc.AddSELEntry(model.SELEntrySpec{Sensor: "CPU Temp", Offset: 7}); err != nil {
			t.Fatal(err)
		}
	}
	total := len(f.bmc.SELEntries())
	var last float64
	for scrape := 1; ; scrape++ {
		r, rt := f.scrape(t)
		if n := rt.counts[opGetSELEntry]; n > selEntriesPerScrape+1 {
			t.Errorf("scrape %d read %d entries, want at most %d", scrape, n, selEntriesPerScrape+1)
		}
		var sum float64
		for _, v := range selEventCounts(t, r) {
			sum += v
		}
		if sum < last {
			t.Errorf("scrape %d: event count fell from %v to %v", scrape, last, sum)
		}
		last = sum
		if sum == float64(total) {
			if want := (total + selEntriesPerScrape - 1) / selEntriesPerScrape; scrape != want {
				t.Errorf("read %d entries in %d scrapes, want %d", total, scrape, want)
			}
			break
		}
		if scrape > 10 {
			t.Fatalf("after %d scrapes %v of %d entries counted", scrape, sum, total)
		}
	}
}

func TestSELStateLabels(t *testing.T) {
	for sev, want := range map[sdr.Severity]string{sdr.Unknown: "unknown", sdr.Nominal: "nominal",
		sdr.Warning: "warning", sdr.Critical: "critical", sdr.NonRecoverable: "non_recoverable"} {
		if got := selStateLabel(sev); got != want {
			t.Errorf("%v: %q", sev, got)
		}
	}
}
