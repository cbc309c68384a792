package collector

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// TestLANUnsupportedBacksOff: a BMC answering Get LAN Configuration
// Parameters with 0xC1 on every channel costs 11 requests once, then none
// until lanRetryInterval has passed (it cost 11 every scrape); the
// collector is up with no series, as for a BMC without DCMI.
func TestLANUnsupportedBacksOff(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorLAN)
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		return wire.CCInvalidCommand, nil, op == opGetLANConfig, nil
	}
	var logs bytes.Buffer
	f.target.Logger = log.NewLogfmtLogger(&logs)
	r, rt := f.scrape(t)
	if rt.counts[opGetLANConfig] != lastLANCandidate-firstLANCandidate+1 || r.up(t, config.CollectorLAN) != 1 || r.has("ipmi_bmc_lan_info") {
		t.Fatalf("first scrape: %v, up %v; want one probe per channel, up 1, no series", rt, r.up(t, config.CollectorLAN))
	}
	for i := 0; i < 3; i++ {
		f.clock.advance(lanRetryInterval / 4)
		r, rt = f.scrape(t)
		if rt.total != 0 || r.up(t, config.CollectorLAN) != 1 {
			t.Fatalf("scrape %d within the retry interval: %v, up %v; want no request, up 1", i+2, rt, r.up(t, config.CollectorLAN))
		}
	}
	if strings.Contains(logs.String(), "level=warn") || strings.Count(logs.String(), "asking again later") != 1 {
		t.Errorf("want one info line, no warning:\n%s", logs.String())
	}
	// After the interval it asks again, and finds the channel once the
	// BMC answers (a firmware update).
	f.tr.intercept = nil
	f.clock.advance(lanRetryInterval / 4)
	r, rt = f.scrape(t)
	if rt.counts[opGetLANConfig] == 0 || len(r.series("ipmi_bmc_lan_info")) != 1 {
		t.Errorf("after the retry interval: %v, series %d", rt, len(r.series("ipmi_bmc_lan_info")))
	}
}

// TestInsufficientPrivilegeReported: 0xD4 to DCMI Get Power Reading or Get
// LAN Configuration Parameters at privilege user is reported as the
// module's privilege being too low, naming the fix, not as the BMC
// failing.
func TestInsufficientPrivilegeReported(t *testing.T) {
	for _, c := range []struct {
		collector config.Collector
		op        command.Op
	}{
		{config.CollectorDCMI, opDCMIPower},
		{config.CollectorLAN, opGetLANConfig},
	} {
		t.Run(string(c.collector), func(t *testing.T) {
			f := newFixture(t, loadProfile(t, "dual-socket-1u"), c.collector)
			f.target.Module.Privilege = wire.PrivilegeUser
			f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
				return wire.CCInsufficientPrivilege, nil, op == c.op, nil
			}
			var logs bytes.Buffer
			f.target.Logger = log.NewLogfmtLogger(&logs)
			r, _ := f.scrape(t)
			if r.up(t, c.collector) != 0 {
				t.Errorf("up %v, want 0 (nothing was read)", r.up(t, c.collector))
			}
			out := logs.String()
			for _, want := range []string{`msg="collector needs a higher privilege"`, "needs a higher privilege than the module's privilege user",
				"set privilege: operator", "0xd4"} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, `msg="collector failed"`) {
				t.Errorf("logged as a failure:\n%s", out)
			}
		})
	}
}
