package collector

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// TestIPMIExporterNames holds ipmi_exporter 1.10's metric names and label
// names of the collectors it has and we took over (collector_bmc_watchdog.go,
// collector_sel_events.go, collector_sm_lan_mode.go), plus fru's.
func TestIPMIExporterNames(t *testing.T) {
	want := map[config.Collector]map[string][]string{
		"bmc-watchdog": {
			"ipmi_bmc_watchdog_timer_state":                 nil,
			"ipmi_bmc_watchdog_timer_use_state":             {"name"},
			"ipmi_bmc_watchdog_logging_state":               nil,
			"ipmi_bmc_watchdog_timeout_action_state":        {"action"},
			"ipmi_bmc_watchdog_pretimeout_interrupt_state":  {"interrupt"},
			"ipmi_bmc_watchdog_pretimeout_interval_seconds": nil,
			"ipmi_bmc_watchdog_initial_countdown_seconds":   nil,
			"ipmi_bmc_watchdog_current_countdown_seconds":   nil,
		},
		"sel-events": {
			"ipmi_sel_events_count_by_name":    {"name"},
			"ipmi_sel_events_latest_timestamp": {"name"},
		},
		"sm-lan-mode": {"ipmi_config_lan_mode": nil},
		"fru": {"ipmi_fru_info": {"fru", "chassis_type", "chassis_part_number", "chassis_serial",
			"board_manufacturer", "board_product", "board_serial", "board_part_number", "board_mfg_date",
			"product_manufacturer", "product_name", "product_part_number", "product_version", "product_serial", "asset_tag"}},
	}
	for name, fams := range want {
		i := slices.IndexFunc(collectors[:], func(c listed) bool { return c.Name() == name })
		if i < 0 {
			t.Fatalf("collector %s not in the list", name)
		}
		c := collectors[i].Collector
		got := map[string][]string{}
		for _, f := range c.(interface{ Families() []*Family }).Families() {
			got[f.Name()] = f.Labels()
		}
		if len(got) != len(fams) {
			t.Errorf("%s: families %v, want %v", name, got, fams)
		}
		for fam, labels := range fams {
			l, ok := got[fam]
			if !ok || !slices.Equal(l, labels) && !(len(l) == 0 && len(labels) == 0) {
				t.Errorf("%s: %s labels %v (present %v), want %v", name, fam, l, ok, labels)
			}
		}
	}
}

func TestWatchdogCollector(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), "bmc-watchdog")
	r, _ := f.scrape(t)
	if r.up(t, "bmc-watchdog") != 1 || r.value(t, "ipmi_bmc_watchdog_timer_state") != 0 ||
		r.value(t, "ipmi_bmc_watchdog_timer_use_state", "name", "SMS/OS") != 1 ||
		r.value(t, "ipmi_bmc_watchdog_timeout_action_state", "action", "None") != 1 ||
		r.value(t, "ipmi_bmc_watchdog_logging_state") != 1 {
		t.Fatalf("power-on watchdog: %v", r)
	}
	ctx := context.Background()
	set := command.SetWatchdogTimerRequest{WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseOSLoad,
		Action: command.WatchdogActionPowerCycle, Interrupt: command.WatchdogInterruptNMI, PretimeoutInterval: 10,
		InitialCountdown: 3000, DontLog: true}}
	if err := f.target.Client.Do(ctx, &set, &command.SetWatchdogTimerResponse{}); err != nil {
		t.Fatal(err)
	}
	if err := f.target.Client.Do(ctx, &command.ResetWatchdogTimerRequest{}, &command.ResetWatchdogTimerResponse{}); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(12500 * time.Millisecond)
	r, rt := f.scrape(t)
	for _, c := range []struct {
		name  string
		match []string
		want  float64
	}{
		{"ipmi_bmc_watchdog_timer_state", nil, 1},
		{"ipmi_bmc_watchdog_logging_state", nil, 0},
		{"ipmi_bmc_watchdog_timer_use_state", []string{"name", "OS LOAD"}, 1},
		{"ipmi_bmc_watchdog_timer_use_state", []string{"name", "SMS/OS"}, 0},
		{"ipmi_bmc_watchdog_timeout_action_state", []string{"action", "Power Cycle"}, 1},
		{"ipmi_bmc_watchdog_timeout_action_state", []string{"action", "None"}, 0},
		{"ipmi_bmc_watchdog_pretimeout_interrupt_state", []string{"interrupt", "NMI / Diagnostic Interrupt"}, 1},
		{"ipmi_bmc_watchdog_pretimeout_interval_seconds", nil, 10},
		{"ipmi_bmc_watchdog_initial_countdown_seconds", nil, 300},
		{"ipmi_bmc_watchdog_current_countdown_seconds", nil, 287},
	} {
		if got := r.value(t, c.name, c.match...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	if len(r.series("ipmi_bmc_watchdog_timer_use_state")) != 5 || len(r.series("ipmi_bmc_watchdog_timeout_action_state")) != 4 ||
		len(r.series("ipmi_bmc_watchdog_pretimeout_interrupt_state")) != 4 || rt.total != 1 {
		t.Errorf("series counts or round trips (%v) differ from ipmi_exporter's", rt)
	}
}

func TestSMLANMode(t *testing.T) {
	opOEM := command.Op{NetFn: command.NetFnOEMSupermicro, Cmd: command.CmdSupermicroOEM}
	opDevID := command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdGetDeviceID}
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), "sm-lan-mode")
	r, _ := f.scrape(t)
	if r.up(t, "sm-lan-mode") != 1 || r.value(t, "ipmi_config_lan_mode") != 0 {
		t.Fatalf("dedicated: up %v", r.up(t, "sm-lan-mode"))
	}
	f.bmc.SetLANMode(command.SupermicroLANFailover)
	r, rt := f.scrape(t)
	if r.value(t, "ipmi_config_lan_mode") != 2 || rt.counts[opDevID] != 0 || rt.counts[opOEM] != 1 {
		t.Errorf("failover: %v %v", r.value(t, "ipmi_config_lan_mode"), rt)
	}
	// A board that sends bytes after the mode (ipmi_exporter issue 139).
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		if op == opOEM {
			return wire.CCOK, []byte{0x01, 0x00, 0x00}, true, nil
		}
		return 0, nil, false, nil
	}
	if r, _ = f.scrape(t); r.up(t, "sm-lan-mode") != 1 || r.value(t, "ipmi_config_lan_mode") != 1 {
		t.Errorf("padded reply: up %v", r.up(t, "sm-lan-mode"))
	}
	// Insufficient privilege fails the collector; an unsupported command
	// does not, and is remembered.
	for _, tc := range []struct {
		cc wire.CompletionCode
		up float64
	}{{wire.CCInsufficientPrivilege, 0}, {wire.CCInvalidCommand, 1}} {
		cc := tc.cc
		f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
			if op == opOEM {
				return cc, nil, true, nil
			}
			return 0, nil, false, nil
		}
		if r, _ = f.scrape(t); r.up(t, "sm-lan-mode") != tc.up || r.has("ipmi_config_lan_mode") {
			t.Errorf("completion code %v: up %v", cc, r.up(t, "sm-lan-mode"))
		}
	}
	if _, rt = f.scrape(t); rt.total != 0 {
		t.Errorf("unsupported remembered: %v", rt)
	}
	f.clock.advance(smLANRetryInterval)
	f.tr.intercept = nil
	if r, _ = f.scrape(t); r.value(t, "ipmi_config_lan_mode") != 2 {
		t.Errorf("after the retry interval: not read again")
	}

	// Not Supermicro (ipmi_exporter issue 94): never asked.
	g := newFixture(t, loadProfile(t, "gpu-box"), "sm-lan-mode")
	for range 2 {
		r, rt = g.scrape(t)
		if r.up(t, "sm-lan-mode") != 1 || r.has("ipmi_config_lan_mode") || rt.counts[opOEM] != 0 {
			t.Errorf("non-Supermicro: up %v, %v", r.up(t, "sm-lan-mode"), rt)
		}
	}
}

func TestSELEventsCollector(t *testing.T) {
	for _, withSEL := range []bool{true, false} {
		collectors := []config.Collector{"sel-events"}
		if withSEL {
			collectors = append(collectors, config.CollectorSEL)
		}
		f := newFixture(t, loadProfile(t, "dual-socket-1u"), collectors...)
		f.target.Module.SELEvents = []config.SELEvent{
			// FreeIPMI's wording (seltext.go), as ipmi_exporter's regexes see it.
			{Name: "ac_lost", Regex: regexp.MustCompile(`Power Supply input lost \(AC/DC\)`)},
			{Name: "intrusion", Regex: regexp.MustCompile("^General Chassis Intrusion$")},
			{Name: "never", Regex: regexp.MustCompile("Correctable memory error")},
			{Name: "ac_lost", Regex: regexp.MustCompile("input lost")}, // same name: adds up
		}
		r, _ := f.scrape(t)
		if r.up(t, "sel-events") != 1 {
			t.Fatalf("withSEL=%v: up %v", withSEL, r.up(t, "sel-events"))
		}
		// dual-socket-1u's SEL: PS2 AC lost asserted and deasserted 72 h
		// ago, chassis intrusion twice 240 h ago.
		acTime := float64(testEpoch.Add(-71*time.Hour - 58*time.Minute).Unix())
		if got := r.value(t, "ipmi_sel_events_count_by_name", "name", "ac_lost"); got != 4 {
			t.Errorf("withSEL=%v: ac_lost %v, want 4 (2 entries, 2 regexes)", withSEL, got)
		}
		if got := r.value(t, "ipmi_sel_events_latest_timestamp", "name", "ac_lost"); got != acTime {
			t.Errorf("withSEL=%v: ac_lost latest %v, want %v", withSEL, got, acTime)
		}
		if r.value(t, "ipmi_sel_events_count_by_name", "name", "intrusion") != 2 ||
			r.value(t, "ipmi_sel_events_count_by_name", "name", "never") != 0 ||
			r.value(t, "ipmi_sel_events_latest_timestamp", "name", "never") != 0 {
			t.Errorf("withSEL=%v: intrusion/never wrong", withSEL)
		}
		if r.has("ipmi_sel_events_count_by_state") != withSEL {
			t.Errorf("withSEL=%v: count_by_state present %v", withSEL, r.has("ipmi_sel_events_count_by_state"))
		}
		// Incremental: a new entry is read alone.
		if _, err := f.bmc.AddSELEntry(model.SELEntrySpec{Sensor: "PS2 Status", Offset: 3}); err != nil {
			t.Fatal(err)
		}
		r, rt := f.scrape(t)
		if got := r.value(t, "ipmi_sel_events_count_by_name", "name", "ac_lost"); got != 6 {
			t.Errorf("withSEL=%v: after one more: %v", withSEL, got)
		}
		if n := rt.of(wire.NetFnStorage, command.CmdGetSELEntry); n > 2 {
			t.Errorf("withSEL=%v: %d Get SEL Entry for one new entry (full re-read?)", withSEL, n)
		}
		// Cleared: entries in the SEL, as ipmi_exporter counts them.
		f.bmc.ClearSEL()
		r, _ = f.scrape(t)
		if got := r.value(t, "ipmi_sel_events_count_by_name", "name", "ac_lost"); got != 0 {
			t.Errorf("withSEL=%v: after clear: %v", withSEL, got)
		}
	}
}

func TestFRUCollector(t *testing.T) {
	opRead := command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdReadFRUData}
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI, "fru")
	r, _ := f.scrape(t)
	if r.up(t, "fru") != 1 {
		t.Fatal("fru down")
	}
	series := r.series("ipmi_fru_info")
	var names []string
	for _, s := range series {
		names = append(names, labelsOf(s)["fru"])
	}
	if !slices.Equal(names, []string{"Builtin FRU (ID 0)", "PS1 FRU (ID 1)", "PS2 FRU (ID 2)"}) {
		t.Fatalf("FRU devices %v", names)
	}
	l := labelsOf(series[0])
	for k, want := range map[string]string{"chassis_type": "Rack Mount Chassis", "chassis_serial": "CHS-000000",
		"board_manufacturer": "IPMI Fleet", "board_product": "Builtin FRU", "board_serial": "BRD00-000000",
		"board_part_number": "PN-00", "board_mfg_date": "2024-01-01T00:00:00Z", "product_serial": "SN00-000000",
		"asset_tag": ""} {
		if l[k] != want {
			t.Errorf("FRU 0 %s = %q, want %q", k, l[k], want)
		}
	}
	if l := labelsOf(series[2]); l["chassis_type"] != "" || l["product_name"] != "PS2 FRU" {
		t.Errorf("PS2 labels %v", l)
	}
	// Cached: no FRU read until the SDR changes or the session does.
	if r, rt := f.scrape(t); rt.counts[opRead] != 0 || len(r.series("ipmi_fru_info")) != 3 {
		t.Errorf("second scrape: %v", rt)
	}
	f.bmc.BumpSDR()
	if _, rt := f.scrape(t); rt.counts[opRead] == 0 {
		t.Errorf("after an SDR change: not read again (%v)", rt)
	}
	f.target.Client = ipmi.NewClient(f.tr) // a new session
	if _, rt := f.scrape(t); rt.counts[opRead] == 0 {
		t.Errorf("new session: not read again (%v)", rt)
	}
	// Without the ipmi collector, fru keeps the SDR itself.
	g := newFixture(t, loadProfile(t, "gpu-box"), "fru")
	if r, _ := g.scrape(t); len(r.series("ipmi_fru_info")) != 2 || r.up(t, "fru") != 1 {
		t.Errorf("gpu-box alone: %d series", len(r.series("ipmi_fru_info")))
	}
}
