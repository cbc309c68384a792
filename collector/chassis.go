package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// The chassis collector: one Get Chassis Status per scrape.
//
// Every *_state series is 1 while the condition is present and 0 while
// not. ipmi_exporter's FreeIPMI backend exports drive_fault_state and
// cooling_fault_state inverted (1 = no fault, from ipmi-chassis printing
// "false"); its native backend and this exporter's alerts and dashboards
// use 1 = fault, and so does this collector, for every flag alike.

var (
	chassisPowerStateFamily = newFamily("chassis_power_state",
		"Current power state (1=on, 0=off).", prometheus.GaugeValue)
	chassisDriveFaultFamily = newFamily("chassis_drive_fault_state",
		"Drive fault reported by the chassis (1=fault, 0=none).", prometheus.GaugeValue)
	chassisCoolingFaultFamily = newFamily("chassis_cooling_fault_state",
		"Cooling/fan fault reported by the chassis (1=fault, 0=none).", prometheus.GaugeValue)
	chassisPowerFaultFamily = newFamily("chassis_power_fault_state",
		"Fault in the main power subsystem (1=fault, 0=none).", prometheus.GaugeValue)
	chassisPowerOverloadFamily = newFamily("chassis_power_overload_state",
		"System shutdown because of a power overload (1=overload, 0=none).", prometheus.GaugeValue)
	chassisIntrusionFamily = newFamily("chassis_intrusion_state",
		"Chassis intrusion active (1=intrusion, 0=none).", prometheus.GaugeValue)
	chassisPowerInterlockFamily = newFamily("chassis_power_interlock_state",
		"Power interlock active, e.g. chassis open (1=active, 0=not).", prometheus.GaugeValue)
	chassisPowerControlFaultFamily = newFamily("chassis_power_control_fault_state",
		"The controller tried to change power state and failed (1=fault, 0=none).", prometheus.GaugeValue)
	chassisFrontPanelLockoutFamily = newFamily("chassis_front_panel_lockout_state",
		"Front panel power and reset buttons disabled (1=locked out, 0=not).", prometheus.GaugeValue)
)

type chassisCollector struct{}

func (chassisCollector) Name() config.Collector { return config.CollectorChassis }

func (chassisCollector) Families() []*Family {
	return []*Family{chassisPowerStateFamily, chassisDriveFaultFamily, chassisCoolingFaultFamily, chassisPowerFaultFamily,
		chassisPowerOverloadFamily, chassisIntrusionFamily, chassisPowerInterlockFamily, chassisPowerControlFaultFamily,
		chassisFrontPanelLockoutFamily}
}

func (chassisCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	s, err := t.Client.ChassisStatus(ctx)
	if err != nil {
		return fmt.Errorf("reading the chassis status: %w", err)
	}
	ch <- chassisPowerStateFamily.metric(boolValue(s.PowerOn))
	ch <- chassisDriveFaultFamily.metric(boolValue(s.DriveFault))
	ch <- chassisCoolingFaultFamily.metric(boolValue(s.CoolingFault))
	ch <- chassisPowerFaultFamily.metric(boolValue(s.PowerFault))
	ch <- chassisPowerOverloadFamily.metric(boolValue(s.PowerOverload))
	ch <- chassisIntrusionFamily.metric(boolValue(s.Intrusion))
	ch <- chassisPowerInterlockFamily.metric(boolValue(s.PowerInterlock))
	ch <- chassisPowerControlFaultFamily.metric(boolValue(s.PowerControlFault))
	ch <- chassisFrontPanelLockoutFamily.metric(boolValue(s.FrontPanelLockout))
	return nil
}
