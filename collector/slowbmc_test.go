package collector

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	simmodel "github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// A slow BMC over a real session: the simulator over UDP on loopback,
// with its latency fault.

const (
	slowLatency  = 50 * time.Millisecond
	slowDeadline = 4 * time.Second
)

// countingTransport counts the Get SDR a session carries.
type countingTransport struct {
	ipmi.Transport
	getSDR atomic.Int64
}

func (c *countingTransport) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	if netFn == wire.NetFnStorage && cmd == command.CmdGetSDR {
		c.getSDR.Add(1)
	}
	return c.Transport.Exchange(ctx, target, netFn, cmd, data)
}

// slowTarget starts a simulated BMC of profile with faults and returns a
// Target on one session to it with the given number of clients (the
// session's window is the same), and the BMC to change its faults.
func slowTarget(t *testing.T, profile, faults string, clients int) (*Target, *countingTransport, *simulator.Fleet) {
	t.Helper()
	p, err := simmodel.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := simulator.ParseFaults(faults)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return testEpoch }
	fleet, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
		Count:      1,
		BMC:        simulator.BMCConfig{Users: []simulator.User{{Name: "monitor", Password: "pw", Privilege: wire.PrivilegeUser}}},
		NewHandler: simulator.ModelHandlers(p, 1, clock, spec.ModelQuirks()),
		Seed:       1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	if err := fleet.SetFaults(spec.Faults); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := session.OpenRMCPPlus(ctx, session.Config{
		Host: fleet.BMC(0).Addr().String(), Username: "monitor", Password: []byte("pw"),
		Privilege: wire.PrivilegeUser, Window: clients,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ct := &countingTransport{Transport: s}
	target := &Target{
		Module: &config.Module{Name: "slow", Collectors: []config.Collector{config.CollectorIPMI}},
		State:  NewState(),
	}
	for range clients {
		target.Clients = append(target.Clients, ipmi.NewClient(ct))
	}
	target.Client = target.Clients[0]
	return target, ct, fleet
}

// scrapeWithin runs one scrape with the deadline and returns the sensors
// it reported (by their ipmi_sensor_info series: a sensor the walk did
// not get to has none) and whether the ipmi collector was up.
func scrapeWithin(t *testing.T, target *Target, deadline time.Duration) (map[string]bool, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	metrics, _ := Scrape(ctx, target, nil, nil)
	r := gather(t, metrics)
	sensors := map[string]bool{}
	for _, m := range r.series("ipmi_sensor_info") {
		l := labelsOf(m)
		sensors[l["id"]+"/"+l["name"]] = true
	}
	return sensors, r.value(t, "ipmi_up", "collector", "ipmi") == 1
}

// A BMC whose first SDR walk takes longer than a scrape's deadline gets
// its sensors after a few scrapes: each goes on with the walk where the
// last one stopped, instead of starting over.
func TestColdWalkResumesAcrossScrapes(t *testing.T) {
	t.Parallel()
	// gpu-box: 153 records, one Get SDR each: about 8 s at 50 ms, one at
	// a time, and a scrape has 4.
	target, ct, _ := slowTarget(t, "gpu-box", "latency=50ms", 1)
	var sensors map[string]bool
	scrapes := 0
	for target.State.repo == nil {
		scrapes++
		if scrapes > 12 {
			t.Fatalf("no complete SDR walk after %d scrapes (%d records so far, %d Get SDR)",
				scrapes-1, target.State.sdrProgress.Records(), ct.getSDR.Load())
		}
		var up bool
		sensors, up = scrapeWithin(t, target, slowDeadline)
		if up && target.State.repo == nil {
			t.Fatalf("scrape %d: ipmi up without a repository", scrapes)
		}
		if target.State.repo == nil && target.State.sdrProgress.Records() == 0 {
			t.Fatalf("scrape %d kept no walk progress", scrapes)
		}
	}
	if scrapes < 2 {
		t.Fatalf("the walk completed in %d scrapes: the test BMC is not slow enough to show anything", scrapes)
	}
	if n := len(target.State.repo.Records); n != 153 {
		t.Fatalf("%d records, want 153", n)
	}
	// One walk's worth of Get SDR: each record read once (the one in
	// flight at a deadline twice), not once per scrape.
	if n := ct.getSDR.Load(); n > 153+int64(scrapes) {
		t.Errorf("%d Get SDR for 153 records: the walk started over", n)
	}
	// The scrape that completed the walk or the next reads sensors.
	if len(sensors) == 0 {
		sensors, _ = scrapeWithin(t, target, slowDeadline)
	}
	if len(sensors) == 0 {
		t.Fatal("no sensors after the walk completed")
	}
	t.Logf("walk completed in scrape %d with %d Get SDR", scrapes, ct.getSDR.Load())
}

// Warm scrapes cut short by their deadline report different sensors in
// turn: consecutive ones cover every sensor, instead of always the first.
func TestCutShortScrapesRotate(t *testing.T) {
	t.Parallel()
	target, _, fleet := slowTarget(t, "gpu-box", "", 1)
	// Cold walk and one full read at full speed: every sensor.
	all, up := scrapeWithin(t, target, 30*time.Second)
	if !up || len(all) != 157 {
		t.Fatalf("full scrape: up %v, %d sensors", up, len(all))
	}
	// Now 50 ms per request: 157 readings take about 8 s, a scrape has 4.
	if err := fleet.SetFaults(simulator.Faults{Latency: slowLatency}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for scrape := 1; len(seen) < len(all); scrape++ {
		if scrape > 4 {
			t.Fatalf("after %d cut-short scrapes %d of %d sensors were reported", scrape-1, len(seen), len(all))
		}
		got, up := scrapeWithin(t, target, slowDeadline)
		if up || len(got) == 0 || len(got) == len(all) {
			t.Fatalf("scrape %d: up %v with %d of %d sensors: not cut short", scrape, up, len(got), len(all))
		}
		fresh := 0
		for s := range got {
			if !all[s] {
				t.Fatalf("scrape %d reported unknown sensor %s", scrape, s)
			}
			if !seen[s] {
				fresh++
			}
			seen[s] = true
		}
		if fresh == 0 {
			t.Fatalf("scrape %d reported only sensors already seen", scrape)
		}
		t.Logf("scrape %d: %d sensors, %d new", scrape, len(got), fresh)
	}
}

// The cold scrape with several clients (the pipelined walk) reports
// exactly what the sequential one does on every SDR quirk of the
// simulator, and never asks for more records than the sequential walk
// plus a window's worth of reads ahead.
func TestPipelinedColdScrapeMatchesSequentialOnQuirks(t *testing.T) {
	for _, spec := range []string{
		"",
		"sdr_max_read=24",
		"sdr_max_read=24,sdr_cancel_reservation=9",
		"sdr_short_read=12",
		"sdr_last_record_cc=0xC3",
		"assumemaxsdrrecordcount=5",
		"assumemaxsdrrecordcount=0",
		"sdr_duplicate=3",
	} {
		t.Run(spec, func(t *testing.T) {
			fs, err := simulator.ParseFaults(spec)
			if err != nil {
				t.Fatal(err)
			}
			cold := func(clients int) (string, int) {
				f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
				f.bmc.SetQuirks(fs.ModelQuirks())
				if clients > 1 {
					f.target.Clients = nil
					for range clients {
						f.target.Clients = append(f.target.Clients, ipmi.NewClient(f.tr))
					}
					f.target.Client = f.target.Clients[0]
				}
				r, rt := f.scrape(t)
				return exposition(t, r), rt.of(opGetSDR.NetFn, opGetSDR.Cmd)
			}
			want, seqGets := cold(1)
			got, parGets := cold(8)
			if got != want {
				t.Fatalf("8 clients:\n%s\nsequential:\n%s", got, want)
			}
			if parGets > seqGets+8*5 {
				t.Errorf("%d Get SDR with 8 clients, %d sequential", parGets, seqGets)
			}
			t.Logf("Get SDR: sequential %d, pipelined %d", seqGets, parGets)
		})
	}
}
