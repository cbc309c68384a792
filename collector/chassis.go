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
	chassisPowerStateDesc = prometheus.NewDesc(namespace+"_chassis_power_state",
		"Current power state (1=on, 0=off).", nil, nil)
	chassisDriveFaultDesc = prometheus.NewDesc(namespace+"_chassis_drive_fault_state",
		"Drive fault reported by the chassis (1=fault, 0=none).", nil, nil)
	chassisCoolingFaultDesc = prometheus.NewDesc(namespace+"_chassis_cooling_fault_state",
		"Cooling/fan fault reported by the chassis (1=fault, 0=none).", nil, nil)
	chassisPowerFaultDesc = prometheus.NewDesc(namespace+"_chassis_power_fault_state",
		"Fault in the main power subsystem (1=fault, 0=none).", nil, nil)
	chassisPowerOverloadDesc = prometheus.NewDesc(namespace+"_chassis_power_overload_state",
		"System shutdown because of a power overload (1=overload, 0=none).", nil, nil)
	chassisIntrusionDesc = prometheus.NewDesc(namespace+"_chassis_intrusion_state",
		"Chassis intrusion active (1=intrusion, 0=none).", nil, nil)
	chassisPowerInterlockDesc = prometheus.NewDesc(namespace+"_chassis_power_interlock_state",
		"Power interlock active, e.g. chassis open (1=active, 0=not).", nil, nil)
	chassisPowerControlFaultDesc = prometheus.NewDesc(namespace+"_chassis_power_control_fault_state",
		"The controller tried to change power state and failed (1=fault, 0=none).", nil, nil)
	chassisFrontPanelLockoutDesc = prometheus.NewDesc(namespace+"_chassis_front_panel_lockout_state",
		"Front panel power and reset buttons disabled (1=locked out, 0=not).", nil, nil)
)

type chassisCollector struct{}

func (chassisCollector) Name() config.Collector { return config.CollectorChassis }

func (chassisCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	s, err := t.Client.ChassisStatus(ctx)
	if err != nil {
		return fmt.Errorf("reading the chassis status: %w", err)
	}
	ch <- constMetric(chassisPowerStateDesc, boolValue(s.PowerOn))
	ch <- constMetric(chassisDriveFaultDesc, boolValue(s.DriveFault))
	ch <- constMetric(chassisCoolingFaultDesc, boolValue(s.CoolingFault))
	ch <- constMetric(chassisPowerFaultDesc, boolValue(s.PowerFault))
	ch <- constMetric(chassisPowerOverloadDesc, boolValue(s.PowerOverload))
	ch <- constMetric(chassisIntrusionDesc, boolValue(s.Intrusion))
	ch <- constMetric(chassisPowerInterlockDesc, boolValue(s.PowerInterlock))
	ch <- constMetric(chassisPowerControlFaultDesc, boolValue(s.PowerControlFault))
	ch <- constMetric(chassisFrontPanelLockoutDesc, boolValue(s.FrontPanelLockout))
	return nil
}
