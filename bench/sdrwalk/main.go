// Command sdrwalk times the SDR walk alone against an OpenIPMI ipmi_sim
// BMC behind an in-process delay relay: the sequential walk (one request
// at a time) against the pipelined one (sdr.ReadOptions.Parallel, eight
// clients on one session) at session windows 1, 8 and auto, and checks
// that every walk reads the same repository.
//
//	go run ./bench/sdrwalk -rtt 5ms -reps 5
//
// It prints, per case, the median walk time, the Get SDR requests of one
// walk and the speed-up over the sequential walk at window 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/bench/udpdelay"
	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// counting counts the Get SDR a session carries.
type counting struct {
	ipmi.Transport
	gets atomic.Int64
}

func (c *counting) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	if netFn == wire.NetFnStorage && cmd == command.CmdGetSDR {
		c.gets.Add(1)
	}
	return c.Transport.Exchange(ctx, target, netFn, cmd, data)
}

func main() {
	rtt := flag.Duration("rtt", 5*time.Millisecond, "round trip time the relay adds")
	reps := flag.Int("reps", 5, "walks per case")
	port := flag.Int("relay-port", 24700, "relay port on 127.0.0.1")
	flag.Parse()
	if err := run(*rtt, *reps, *port); err != nil {
		fmt.Fprintln(os.Stderr, "sdrwalk:", err)
		os.Exit(1)
	}
}

func run(rtt time.Duration, reps, port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sim, err := testbed.Launch(ctx, testbed.IPMISimOptions{})
	if err != nil {
		return fmt.Errorf("starting ipmi_sim: %w", err)
	}
	defer sim.Stop()
	upstream, err := netip.ParseAddrPort(sim.Addr)
	if err != nil {
		return err
	}
	relay, err := udpdelay.Start(udpdelay.Config{
		Listen: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Upstream: upstream, Count: 1, RTT: rtt,
	})
	if err != nil {
		return err
	}
	defer relay.Close()

	type walkCase struct {
		name     string
		window   int
		parallel bool
	}
	cases := []walkCase{
		{"sequential, window 1", 1, false},
		{"pipelined, window 1", 1, true},
		{"sequential, window 8", 8, false},
		{"pipelined, window 8", 8, true},
		{"pipelined, window auto", session.WindowAuto, true},
	}
	fmt.Printf("SDR walk of ipmi_sim through a %v relay, median of %d walks\n\n", rtt, reps)
	fmt.Println("| walk | median | Get SDR per walk | speed-up |")
	fmt.Println("|---|---|---|---|")
	var base time.Duration
	var want *sdr.Repository
	for _, c := range cases {
		s, err := session.OpenRMCPPlus(ctx, session.Config{
			Host: fmt.Sprintf("127.0.0.1:%d", port), Username: sim.User, Password: []byte(sim.Password),
			Privilege: wire.PrivilegeAdmin, CipherSuite: 3, Window: c.window,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		tr := &counting{Transport: s}
		var rs []sdr.Requester
		for range 8 {
			rs = append(rs, ipmi.NewClient(tr))
		}
		var times []time.Duration
		var gets int64
		for range reps {
			opts := sdr.ReadOptions{}
			if c.parallel {
				opts.Parallel = rs
			}
			before := tr.gets.Load()
			start := time.Now()
			repo, err := sdr.ReadRepository(ctx, rs[0], opts)
			if err != nil {
				s.Close(ctx)
				return fmt.Errorf("%s: %w", c.name, err)
			}
			times = append(times, time.Since(start))
			gets = tr.gets.Load() - before
			if want == nil {
				want = repo
			} else if !reflect.DeepEqual(repo, want) {
				s.Close(ctx)
				return fmt.Errorf("%s: the walk read another repository", c.name)
			}
		}
		s.Close(ctx)
		slices.Sort(times)
		med := times[len(times)/2]
		if base == 0 {
			base = med
		}
		fmt.Printf("| %s | %.1f ms | %d | %.1f× |\n", c.name, float64(med.Microseconds())/1000, gets, float64(base)/float64(med))
	}
	fmt.Printf("\n%d records\n", len(want.Records))
	return nil
}
