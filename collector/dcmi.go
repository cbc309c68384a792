package collector

import (
	"context"
	"fmt"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The dcmi collector: one DCMI Get Power Reading (system power statistics
// mode, as ipmi-dcmi --get-system-power-statistics) per scrape.
//
// As with ipmi_exporter: while the BMC says "power measurement not active"
// there is no power series and the collector is up; a BMC without DCMI
// (the command answered with a "not supported" completion code) fails the
// collector, ipmi_up{collector="dcmi"} 0, as ipmi-dcmi exits non-zero
// there (docs/runbook.md, IPMICollectorFailed: remove dcmi from the module
// of such BMCs). The answer is remembered for dcmiRetryInterval, so such a
// BMC costs no round trip per scrape.

var dcmiPowerFamily = newFamily("dcmi_power_consumption_watts",
	"Current power consumption in Watts.", prometheus.GaugeValue)

// dcmiUnsupported reports completion codes that mean "this BMC has no
// DCMI power reading", as opposed to a transient failure.
func dcmiUnsupported(err error) bool {
	for _, code := range [...]wire.CompletionCode{wire.CCInvalidCommand, wire.CCInvalidCommandForLUN,
		wire.CCInvalidDataField, wire.CCSubFunctionDisabled} {
		if wire.IsCompletionCode(err, code) {
			return true
		}
	}
	return false
}

type dcmiCollector struct{}

func (dcmiCollector) Name() config.Collector { return config.CollectorDCMI }

func (dcmiCollector) Families() []*Family {
	return []*Family{dcmiPowerFamily}
}

func (dcmiCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	st := t.State
	now := st.now()
	// A BMC without DCMI is not a failing collector: it answers, and
	// there is nothing to report. ipmi_exporter reports ipmi_up 0 for it,
	// which makes "collector failed" alerts fire forever on such BMCs; we
	// report up 1 and no power series, and ask again every
	// dcmiRetryInterval in case a firmware update added DCMI.
	if st.dcmiUnsupported != nil && now.Before(st.dcmiRetryAt) {
		return nil
	}
	r, err := t.Client.DCMIPowerReading(ctx)
	if err != nil {
		if dcmiUnsupported(err) {
			st.dcmiUnsupported, st.dcmiRetryAt = err, now.Add(dcmiRetryInterval)
			level.Info(loggerOf(t)).Log("msg", "BMC does not support DCMI power readings; asking again later",
				"retry_in", dcmiRetryInterval, "err", err)
			return nil
		}
		if err := privilegeError(t, config.CollectorDCMI, "DCMI Get Power Reading", err); err != nil {
			return err
		}
		return fmt.Errorf("reading the DCMI power reading: %w", err)
	}
	st.dcmiUnsupported = nil
	if r.MeasurementActive {
		ch <- dcmiPowerFamily.metric(float64(r.CurrentWatts))
	}
	return nil
}

// PrivilegeError is a command the BMC refused at the session's privilege
// level (completion code 0xD4, insufficient privilege): the module asks
// for too low a privilege for it, the BMC is working. ipmi_sim, for one,
// answers DCMI with 0xD4 to a USER session. The collector still reports
// ipmi_up 0, since it read nothing; the error says what to change.
type PrivilegeError struct {
	Command   string              // what was refused, e.g. "DCMI Get Power Reading"
	Privilege wire.PrivilegeLevel // the module's (the session's) privilege
	Collector config.Collector
	Err       error // the *wire.CompletionCodeError
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("%s needs a higher privilege than the module's privilege %s (BMC answered: %v); "+
		"set privilege: operator in the module, or leave %s out of its collectors",
		e.Command, e.Privilege, e.Err, e.Collector)
}

func (e *PrivilegeError) Unwrap() error { return e.Err }

// privilegeError returns a *PrivilegeError for err if it is the BMC's
// "insufficient privilege" answer to command, and nil otherwise.
func privilegeError(t *Target, c config.Collector, command string, err error) error {
	if !wire.IsCompletionCode(err, wire.CCInsufficientPrivilege) {
		return nil
	}
	return &PrivilegeError{Command: command, Privilege: moduleOf(t).Privilege, Collector: c, Err: err}
}
