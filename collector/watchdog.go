package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

// The bmc-watchdog collector: one Get Watchdog Timer per scrape, as
// ipmi_exporter's bmc-watchdog collector (FreeIPMI's bmc-watchdog --get)
// reports it: the same metric names, and the same label values, which are
// FreeIPMI's names ("BIOS FRB2", "OS LOAD", "Hard Reset", "NMI /
// Diagnostic Interrupt"); the state series carry one 1 and 0 for the
// others. Countdowns are whole seconds, as bmc-watchdog prints them (the
// BMC counts in 100 ms). A timer use, action or interrupt the
// specification reserves sets none of its series to 1, as there.

const collectorBMCWatchdog config.Collector = "bmc-watchdog"

var (
	watchdogTimerFamily = newFamily("bmc_watchdog_timer_state",
		"Watchdog timer running (1: running, 0: stopped)", prometheus.GaugeValue)
	watchdogUseFamily = newFamily("bmc_watchdog_timer_use_state",
		"Watchdog timer use (1: active, 0: inactive)", prometheus.GaugeValue, "name")
	watchdogLoggingFamily = newFamily("bmc_watchdog_logging_state",
		"Watchdog log flag (1: Enabled, 0: Disabled / note: reverse of freeipmi)", prometheus.GaugeValue)
	watchdogActionFamily = newFamily("bmc_watchdog_timeout_action_state",
		"Watchdog timeout action (1: active, 0: inactive)", prometheus.GaugeValue, "action")
	watchdogInterruptFamily = newFamily("bmc_watchdog_pretimeout_interrupt_state",
		"Watchdog pre-timeout interrupt (1: active, 0: inactive)", prometheus.GaugeValue, "interrupt")
	watchdogPretimeoutFamily = newFamily("bmc_watchdog_pretimeout_interval_seconds",
		"Watchdog pre-timeout interval in seconds", prometheus.GaugeValue)
	watchdogInitialFamily = newFamily("bmc_watchdog_initial_countdown_seconds",
		"Watchdog initial countdown in seconds", prometheus.GaugeValue)
	// ipmi_exporter's help text of the current countdown repeats the
	// initial one's; ours says what it is (help text is not part of a
	// series' identity).
	watchdogCurrentFamily = newFamily("bmc_watchdog_current_countdown_seconds",
		"Watchdog current countdown in seconds", prometheus.GaugeValue)
)

// The label values ipmi_exporter emits, in its order.
var (
	watchdogUses = []command.WatchdogTimerUse{command.WatchdogUseBIOSFRB2, command.WatchdogUseBIOSPOST,
		command.WatchdogUseOSLoad, command.WatchdogUseSMSOS, command.WatchdogUseOEM}
	watchdogActions = []command.WatchdogTimeoutAction{command.WatchdogActionNone, command.WatchdogActionHardReset,
		command.WatchdogActionPowerDown, command.WatchdogActionPowerCycle}
	watchdogInterrupts = []command.WatchdogPretimeoutInterrupt{command.WatchdogInterruptNone, command.WatchdogInterruptSMI,
		command.WatchdogInterruptNMI, command.WatchdogInterruptMessaging}
)

type watchdogCollector struct{}

func (watchdogCollector) Name() config.Collector { return collectorBMCWatchdog }

func (watchdogCollector) Families() []*Family {
	return []*Family{watchdogTimerFamily, watchdogUseFamily, watchdogLoggingFamily, watchdogActionFamily,
		watchdogInterruptFamily, watchdogPretimeoutFamily, watchdogInitialFamily, watchdogCurrentFamily}
}

func (watchdogCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	var w command.GetWatchdogTimerResponse
	if err := t.Client.Do(ctx, &command.GetWatchdogTimerRequest{}, &w); err != nil {
		return fmt.Errorf("reading the watchdog timer: %w", err)
	}
	ch <- watchdogTimerFamily.metric(boolValue(w.Running))
	for _, u := range watchdogUses {
		ch <- watchdogUseFamily.metric(boolValue(w.Use == u), u.String())
	}
	ch <- watchdogLoggingFamily.metric(boolValue(!w.DontLog))
	for _, a := range watchdogActions {
		ch <- watchdogActionFamily.metric(boolValue(w.Action == a), a.String())
	}
	for _, i := range watchdogInterrupts {
		ch <- watchdogInterruptFamily.metric(boolValue(w.Interrupt == i), i.String())
	}
	ch <- watchdogPretimeoutFamily.metric(float64(w.PretimeoutInterval))
	ch <- watchdogInitialFamily.metric(float64(w.InitialCountdown / 10))
	if !w.NoPresentCountdown {
		// A BMC that leaves the countdown out (ipmi_sim) gets no
		// series rather than a made-up 0 that would look like expiry.
		ch <- watchdogCurrentFamily.metric(float64(w.PresentCountdown / 10))
	}
	return nil
}
