package exporter

import (
	"strings"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
)

// TestWatchdogOnIPMISim: ipmi_sim 2.0.33 answers Get Watchdog Timer with 6
// data bytes (no present countdown); the bmc-watchdog collector reads it,
// with ipmi_exporter's names, and leaves out only the countdown it lacks.
func TestWatchdogOnIPMISim(t *testing.T) {
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{ConsolePort: -1})
	h := newHarness(t, moduleYAML(sim.User, sim.Password, "    collectors: [bmc-watchdog]\n"))
	mfs, text := h.scrape(t, sim.Addr)
	if up := upValues(mfs)["bmc-watchdog"]; up != 1 {
		t.Fatalf("ipmi_up{collector=bmc-watchdog} = %v:\n%s", up, text)
	}
	for _, want := range []string{
		"ipmi_bmc_watchdog_timer_state 0",
		"ipmi_bmc_watchdog_logging_state",
		`ipmi_bmc_watchdog_timer_use_state{name=`,
		`ipmi_bmc_watchdog_timeout_action_state{action=`,
		`ipmi_bmc_watchdog_pretimeout_interrupt_state{interrupt=`,
		"ipmi_bmc_watchdog_pretimeout_interval_seconds",
		"ipmi_bmc_watchdog_initial_countdown_seconds",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "ipmi_bmc_watchdog_current_countdown_seconds ") {
		t.Errorf("a current countdown ipmi_sim did not send:\n%s", text)
	}
}
