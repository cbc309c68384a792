package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// The demo's BMC account. It only exists inside this process.
const (
	demoUser     = "monitor"
	demoPassword = "demo-password"
)

// demoFleet is the in-process simulated BMCs of --demo, one fleet per
// built-in profile so a newcomer sees a 1U server, a GPU box and an edge
// node side by side.
type demoFleet struct {
	Config  *config.Config
	Targets []demoTarget
	fleets  []*simulator.Fleet
}

type demoTarget struct {
	Addr    string
	Profile string
}

func startDemo(_ context.Context, count int, logger log.Logger) (*demoFleet, error) {
	if count < 1 {
		return nil, fmt.Errorf("--demo.bmcs must be at least 1, got %d", count)
	}
	names := model.ProfileNames()
	perProfile := make([]int, len(names))
	for i := 0; i < count; i++ {
		perProfile[i%len(names)]++
	}
	d := &demoFleet{}
	for i, name := range names {
		if perProfile[i] == 0 {
			continue
		}
		p, err := model.LoadProfile(name)
		if err != nil {
			d.Close()
			return nil, err
		}
		fleet, err := simulator.NewFleet(simulator.FleetConfig{
			Addr:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0),
			Count: perProfile[i],
			BMC: simulator.BMCConfig{
				Users: []simulator.User{{Name: demoUser, Password: demoPassword, Privilege: wire.PrivilegeUser}},
			},
			NewHandler: simulator.ModelHandlers(p, int64(i+1), nil, model.Quirks{}),
			Seed:       int64(i + 1),
		})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		d.fleets = append(d.fleets, fleet)
		for _, b := range fleet.BMCs() {
			d.Targets = append(d.Targets, demoTarget{Addr: b.Addr().String(), Profile: name})
		}
	}
	addrs := make([]string, len(d.Targets))
	for i, t := range d.Targets {
		addrs[i] = t.Addr
	}
	d.Config = config.DemoConfig(collector.Catalog(), addrs, demoUser, demoPassword)
	level.Info(logger).Log("msg", "demo BMCs serving", "count", len(d.Targets), "targets", strings.Join(addrs, ","))
	return d, nil
}

// PrintUsage tells the newcomer how to scrape what the demo serves, at the
// address of the first of listeners (bound already, so the port is ours).
func (d *demoFleet) PrintUsage(w io.Writer, listeners []net.Listener) {
	base := "http://localhost:9290"
	if len(listeners) > 0 {
		if host, port, err := net.SplitHostPort(listeners[0].Addr().String()); err == nil {
			if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
				host = "localhost"
			}
			base = "http://" + net.JoinHostPort(host, port)
		}
	}
	fmt.Fprintf(w, "\nipmi_fleet_exporter demo: %d simulated BMCs (user %q) are running in this process.\n", len(d.Targets), demoUser)
	fmt.Fprintf(w, "Scrape one like Prometheus does:\n")
	for _, t := range d.Targets {
		fmt.Fprintf(w, "  curl '%s/ipmi?target=%s'    # %s\n", base, t.Addr, t.Profile)
	}
	fmt.Fprintf(w, "Exporter health: curl %s/metrics    Service discovery: curl %s/sd\n", base, base)
	fmt.Fprintf(w, "A Prometheus job for them: examples/prometheus.yml (http_sd_configs url: %s/sd). Ctrl-C stops.\n\n", base)
}

// Close stops the simulated BMCs.
func (d *demoFleet) Close() {
	for _, f := range d.fleets {
		f.Close()
	}
}
