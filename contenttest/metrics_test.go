package contenttest

import (
	"regexp"
	"sort"
	"strings"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
)

// specMetrics are the metric names the exporter's specification fixes (per-BMC scrape and the
// exporter's own /metrics). Dashboards and rules may use only these, Prometheus' own per-target
// series, Go/process metrics and recording rules. The per-BMC families come from the collectors'
// definitions (collector.Families), so a new collector needs no change here.
var specMetrics = append(familyNames(), exporterMetrics...)

// familyNames are the names of the per-BMC metric families.
func familyNames() []string {
	var names []string
	for _, f := range collector.Families() {
		names = append(names, f.Name())
	}
	return names
}

// exporterMetrics are the exporter's own /metrics that dashboards and rules may use.
var exporterMetrics = []string{
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

// collectorNames are the values of ipmi_up's collector label.
func collectorNames() []string {
	var names []string
	for _, c := range collector.Catalog().Names() {
		names = append(names, string(c))
	}
	return names
}

// prometheusMetrics are series Prometheus itself writes for every target.
var prometheusMetrics = []string{"up", "scrape_duration_seconds", "scrape_timeout_seconds", "scrape_samples_scraped"}

// Label values the specification fixes.
var (
	thresholdValues = []string{"lower_non_recoverable", "lower_critical", "lower_non_critical",
		"upper_non_critical", "upper_critical", "upper_non_recoverable"}
	collectorValues = collectorNames()
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
