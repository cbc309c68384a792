package collector

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// sharedFixture is a fixture of profile scraping through tables with
// module (a fresh module when nil).
func sharedFixture(t testing.TB, profile string, tables *SensorTables, module *config.Module) *fixture {
	t.Helper()
	var f *fixture
	if profile == "nonlinear" {
		f = newFixture(t, parseProfile(t, nonLinearProfile), config.CollectorIPMI)
	} else {
		f = newFixture(t, loadProfile(t, profile), config.CollectorIPMI)
	}
	if module != nil {
		f.target.Module = module
	}
	f.target.Tables = tables
	return f
}

func TestSensorTablesShared(t *testing.T) {
	moduleA := &config.Module{Name: "a", Collectors: []config.Collector{config.CollectorIPMI}}
	moduleB := &config.Module{Name: "a", Collectors: []config.Collector{config.CollectorIPMI}} // a reload: same settings, new pointer
	for _, tc := range []struct {
		name               string
		profile1, profile2 string
		module1, module2   *config.Module
		nilTables          bool
		shared             bool
	}{
		{name: "same profile and module", profile1: "dual-socket-1u", profile2: "dual-socket-1u", module1: moduleA, module2: moduleA, shared: true},
		{name: "same profile, other module", profile1: "dual-socket-1u", profile2: "dual-socket-1u", module1: moduleA, module2: moduleB},
		{name: "other profile", profile1: "dual-socket-1u", profile2: "gpu-box", module1: moduleA, module2: moduleA},
		{name: "nonlinear, same module", profile1: "nonlinear", profile2: "nonlinear", module1: moduleA, module2: moduleA, shared: true},
		{name: "no SensorTables", profile1: "dual-socket-1u", profile2: "dual-socket-1u", module1: moduleA, module2: moduleA, nilTables: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tables *SensorTables
			if !tc.nilTables {
				tables = NewSensorTables()
			}
			f1 := sharedFixture(t, tc.profile1, tables, tc.module1)
			f2 := sharedFixture(t, tc.profile2, tables, tc.module2)
			for _, f := range []*fixture{f1, f2} {
				r, _ := f.scrape(t)
				if up := r.up(t, config.CollectorIPMI); up != 1 {
					t.Fatalf("ipmi_up %v", up)
				}
				checkSensorsMatch(t, f.bmc, r)
			}
			st1, st2 := f1.target.State, f2.target.State
			if got := st1.sensors == st2.sensors; got != tc.shared {
				t.Errorf("tables shared: %v, want %v", got, tc.shared)
			}
			sameRecords := &st1.repo.Records[0] == &st2.repo.Records[0]
			if sameRecords != tc.shared {
				t.Errorf("records shared: %v, want %v", sameRecords, tc.shared)
			}
			if &st2.repo.Records[0] != &st2.sensors.records[0] {
				t.Error("the State keeps records other than its table's")
			}
			if st1.repo == st2.repo {
				t.Error("two BMCs share one Repository (and so its Info)")
			}
			if tables != nil {
				want := 2
				if tc.shared {
					want = 1
				}
				if n := tables.Len(); n != want {
					t.Errorf("%d tables held, want %d", n, want)
				}
			}
			// Warm scrapes: the shallow copy keeps this BMC's Info, so
			// the cached repository is still recognised.
			for _, f := range []*fixture{f1, f2} {
				r, rt := f.scrape(t)
				if rt.counts[opGetSDR] != 0 || f.target.State.SDRCacheHits() != 1 {
					t.Errorf("warm scrape walked the SDR again: %v", rt)
				}
				checkSensorsMatch(t, f.bmc, r)
			}
			// One BMC's repository changes (hot plug): it leaves the
			// shared table, the other keeps it.
			old := st1.sensors
			f2.bmc.BumpSDR()
			r, _ := f2.scrape(t)
			checkSensorsMatch(t, f2.bmc, r)
			if st2.sensors == old || st1.sensors != old {
				t.Error("after an SDR change: tables not told apart")
			}
		})
	}
}

// TestSensorTablesConcurrent scrapes many BMCs sharing tables at once
// (run with -race): discrete sensors asserting different states per BMC,
// and a non-linear sensor whose factors each BMC caches for itself.
func TestSensorTablesConcurrent(t *testing.T) {
	const perProfile = 8
	tables := NewSensorTables()
	module := &config.Module{Name: "shared", Collectors: []config.Collector{config.CollectorIPMI}}
	var fixtures []*fixture
	for _, profile := range []string{"dual-socket-1u", "nonlinear"} {
		for i := 0; i < perProfile; i++ {
			f := sharedFixture(t, profile, tables, module)
			switch profile {
			case "dual-socket-1u":
				// A different set of PS1 states per BMC.
				if err := f.bmc.SetSensorStates("PS1 Status", uint16(i+1)&0b1111); err != nil {
					t.Fatal(err)
				}
			case "nonlinear":
				if err := f.bmc.SetSensorValue("Airflow", float64(10+10*i)); err != nil {
					t.Fatal(err)
				}
			}
			fixtures = append(fixtures, f)
		}
	}
	for round := 0; round < 3; round++ {
		results := make([][]prometheus.Metric, len(fixtures))
		var wg sync.WaitGroup
		for i, f := range fixtures {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], _ = Scrape(context.Background(), f.target, nil, nil)
			}()
		}
		wg.Wait()
		for i, f := range fixtures {
			t.Run(fmt.Sprintf("round%d/bmc%d", round, i), func(t *testing.T) {
				r := gather(t, results[i])
				if up := r.up(t, config.CollectorIPMI); up != 1 {
					t.Fatalf("ipmi_up %v", up)
				}
				checkSensorsMatch(t, f.bmc, r)
			})
		}
		// Change the readings between rounds: the next round's
		// non-linear readings need new factors on some BMCs.
		for i, f := range fixtures {
			if f.bmc.SetSensorStates("PS1 Status", uint16(i+round+2)&0b1111) != nil {
				if err := f.bmc.SetSensorValue("Airflow", float64(95-10*((i+round)%8))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if n := tables.Len(); n != 2 {
		t.Errorf("%d tables, want 2 (one per profile)", n)
	}
	for i := 1; i < perProfile; i++ {
		if fixtures[i].target.State.sensors != fixtures[0].target.State.sensors ||
			fixtures[perProfile+i].target.State.sensors != fixtures[perProfile].target.State.sensors {
			t.Fatalf("BMC %d: table not shared", i)
		}
	}
}

// TestSensorTablesCollected: once no State uses a table, the table and
// its entry go.
func TestSensorTablesCollected(t *testing.T) {
	tables := NewSensorTables()
	module := &config.Module{Name: "m", Collectors: []config.Collector{config.CollectorIPMI}}
	scrapeAndDrop := func() {
		for i := 0; i < 2; i++ {
			f := sharedFixture(t, "dual-socket-1u", tables, module)
			f.scrape(t)
		}
	}
	scrapeAndDrop()
	if n := tables.Len(); n != 1 {
		t.Fatalf("%d tables after the scrapes, want 1", n)
	}
	// One State kept alive keeps its table.
	kept := sharedFixture(t, "edge-node", tables, module)
	kept.scrape(t)
	deadline := time.Now().Add(10 * time.Second)
	for tables.Len() > 1 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond) // cleanups run on their own goroutine
	}
	if n := tables.Len(); n != 1 {
		t.Fatalf("%d tables after the States went, want 1 (the one still used)", n)
	}
	tables.mu.Lock()
	for k, wp := range tables.tables {
		if wp.Value() != kept.target.State.sensors || k.module != module {
			t.Error("the table left is not the one in use")
		}
	}
	tables.mu.Unlock()
	runtime.KeepAlive(kept)
}
