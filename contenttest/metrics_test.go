package contenttest

import (
	"regexp"
	"sort"
	"strings"
)

// specMetrics are the metric names the exporter's specification fixes (per-BMC scrape and the
// exporter's own /metrics). Dashboards and rules may use only these, Prometheus' own per-target
// series, Go/process metrics and recording rules.
var specMetrics = []string{
	"ipmi_up", "ipmi_scrape_duration_seconds",
	"ipmi_temperature_celsius", "ipmi_temperature_state",
	"ipmi_fan_speed_rpm", "ipmi_fan_speed_ratio", "ipmi_fan_speed_state",
	"ipmi_voltage_volts", "ipmi_voltage_state",
	"ipmi_current_amperes", "ipmi_current_state",
	"ipmi_power_watts", "ipmi_power_state",
	"ipmi_sensor_value", "ipmi_sensor_state", "ipmi_sensor_threshold", "ipmi_sensor_info",
	"ipmi_sensor_discrete_state",
	"ipmi_sel_logs_count", "ipmi_sel_free_space_bytes", "ipmi_sel_last_add_timestamp_seconds",
	"ipmi_sel_events_count_by_state",
	"ipmi_chassis_power_state", "ipmi_chassis_drive_fault_state", "ipmi_chassis_cooling_fault_state",
	"ipmi_chassis_power_fault_state", "ipmi_chassis_power_overload_state", "ipmi_chassis_intrusion_state",
	"ipmi_dcmi_power_consumption_watts",
	"ipmi_bmc_info", "ipmi_bmc_lan_info",
	"ipmi_bmc_watchdog_timer_state", "ipmi_bmc_watchdog_timer_use_state", "ipmi_bmc_watchdog_logging_state",
	"ipmi_bmc_watchdog_timeout_action_state", "ipmi_bmc_watchdog_pretimeout_interrupt_state",
	"ipmi_bmc_watchdog_pretimeout_interval_seconds", "ipmi_bmc_watchdog_initial_countdown_seconds",
	"ipmi_bmc_watchdog_current_countdown_seconds",
	"ipmi_config_lan_mode", "ipmi_sel_events_count_by_name", "ipmi_sel_events_latest_timestamp", "ipmi_fru_info",
	"ipmi_fleet_exporter_sessions_open",
	"ipmi_fleet_exporter_session_handshakes_total",
	"ipmi_fleet_exporter_requests_total",
	"ipmi_fleet_exporter_retransmits_total",
	"ipmi_fleet_exporter_request_duration_seconds_bucket",
	"ipmi_fleet_exporter_request_duration_seconds_sum",
	"ipmi_fleet_exporter_request_duration_seconds_count",
	"ipmi_fleet_exporter_sdr_cache_hits_total",
	"ipmi_fleet_exporter_sdr_walks_total",
	"ipmi_fleet_exporter_sensor_tables",
	"ipmi_fleet_exporter_scrapes_in_flight",
	"ipmi_fleet_exporter_config_last_reload_successful",
	"ipmi_fleet_exporter_build_info",
}

// prometheusMetrics are series Prometheus itself writes for every target.
var prometheusMetrics = []string{"up", "scrape_duration_seconds", "scrape_timeout_seconds", "scrape_samples_scraped"}

// Label values the specification fixes.
var (
	thresholdValues = []string{"lower_non_recoverable", "lower_critical", "lower_non_critical",
		"upper_non_critical", "upper_critical", "upper_non_recoverable"}
	collectorValues = []string{"ipmi", "sel", "chassis", "dcmi", "bmc", "lan", "bmc-watchdog", "sm-lan-mode", "sel-events", "fru"}
)

var (
	stringLitRe = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	// A metric name in a selector position: ipmi_* and recording-rule names (with a colon).
	metricTokenRe = regexp.MustCompile(`\b(ipmi_[a-z0-9_]+|[a-z_]+:[a-z0-9_:]+)\b`)
	nameMatcherRe = regexp.MustCompile(`__name__\s*(=~|=)\s*"((?:[^"\\]|\\.)*)"`)
)

// metricRefs returns the metric names an expression selects by name, and the regexes it selects
// metric names with (__name__=~"...").
func metricRefs(expr string) (names, nameRegexes []string) {
	for _, m := range nameMatcherRe.FindAllStringSubmatch(expr, -1) {
		if m[1] == "=" {
			names = append(names, m[2])
		} else {
			nameRegexes = append(nameRegexes, m[2])
		}
	}
	// Label values cannot be metric names: drop string literals first. Label names of the spec do
	// not start with ipmi_ and have no colon.
	bare := stringLitRe.ReplaceAllString(expr, `""`)
	names = append(names, metricTokenRe.FindAllString(bare, -1)...)
	sort.Strings(names)
	return names, nameRegexes
}

// labelMatchers returns the values (or regexes) an expression matches label `label` against, with the
// operator.
func labelMatchers(expr, label string) [][2]string {
	re := regexp.MustCompile(`[{,]\s*` + regexp.QuoteMeta(label) + `\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	var out [][2]string
	for _, m := range re.FindAllStringSubmatch(expr, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

// matchesAny reports whether the PromQL regex (anchored as PromQL anchors it) matches at least one of
// values.
func matchesAny(promRegex string, values []string) (bool, error) {
	re, err := regexp.Compile("^(?:" + unescapePromQL(promRegex) + ")$")
	if err != nil {
		return false, err
	}
	for _, v := range values {
		if re.MatchString(v) {
			return true, nil
		}
	}
	return false, nil
}

// unescapePromQL undoes the escaping of a double-quoted PromQL string body (enough for regexes:
// doubled backslashes and escaped quotes).
func unescapePromQL(s string) string {
	r := strings.NewReplacer(`\\`, `\`, `\"`, `"`)
	return r.Replace(s)
}
