// Package inband is the in-band end-to-end test: a small Linux VM (QEMU,
// TCG) whose KCS interface is backed by an ipmi_sim on the host reads that
// BMC through the real kernel driver (/dev/ipmi0) with ipmi/inband and the
// collectors, and the test compares every series with what the same
// ipmi_sim gives over LAN.
//
// A second test (TestExporterInVM) runs the exporter binary itself in the
// VM with an OPENIPMI module and --local.module, scrapes it over loopback
// inside the VM and compares /ipmi?module=local and /metrics the same way.
//
// The package's non-test code is what both sides share: Scrape renders one
// scrape as canonical text lines, ExpositionLines the exporter's answer.
// The program that runs inside the VM is in probe/. Prepare the VM's kernel and tools once with
//
//	scripts/vm/prepare.sh
//
// and run the test with
//
//	go test -count=1 -v ./e2e/inband
//
// Without QEMU, busybox or the prepared kernel the test is skipped, unless
// CI is set, in which case it fails.
package inband

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
)

// Collectors are the collectors both sides run: all of them.
func Collectors() []config.Collector {
	return []config.Collector{
		config.CollectorChassis, config.CollectorBMC, config.CollectorDCMI,
		config.CollectorLAN, config.CollectorSEL, config.CollectorIPMI,
	}
}

// NewTarget is a collector target over client with every collector and a
// fresh state (SDR cache) that later scrapes through it reuse.
func NewTarget(client *ipmi.Client) *collector.Target {
	return &collector.Target{
		Client:  client,
		Clients: []*ipmi.Client{client},
		Module:  &config.Module{Name: "inband", Collectors: Collectors()},
		State:   collector.NewState(),
	}
}

// Scrape runs one scrape of t and returns its series as sorted lines
// `name{label="value",...} value`, without the scrape duration (the one
// series that differs between two scrapes of the same BMC).
func Scrape(ctx context.Context, t *collector.Target) ([]string, error) {
	metrics, _ := collector.Scrape(ctx, t, nil, nil)
	lines := make([]string, 0, len(metrics))
	for _, m := range metrics {
		name := metricName(m.Desc())
		if name == "ipmi_scrape_duration_seconds" {
			continue
		}
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		lines = append(lines, formatLine(name, &d))
	}
	sort.Strings(lines)
	return lines, nil
}

// ExpositionLines renders a scrape in the Prometheus text format (the
// exporter's answer) as Scrape does: sorted lines without the scrape
// duration. Only the families of the collectors (ipmi_*, not the
// exporter's own ipmi_fleet_exporter_* or the Go runtime's) are kept, so
// /metrics in local mode compares as /ipmi does.
func ExpositionLines(r io.Reader) ([]string, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	var lines []string
	for name, f := range families {
		if !strings.HasPrefix(name, "ipmi_") || strings.HasPrefix(name, "ipmi_fleet_exporter_") || name == "ipmi_scrape_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			lines = append(lines, formatLine(name, m))
		}
	}
	sort.Strings(lines)
	return lines, nil
}

// metricName is the fully qualified name in a Desc's String
// (`Desc{fqName: "ipmi_up", ...}`): Desc has no accessor for it.
func metricName(d *prometheus.Desc) string {
	s := d.String()
	const key = `fqName: "`
	i := strings.Index(s, key)
	if i < 0 {
		return s
	}
	s = s[i+len(key):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return s
}

func formatLine(name string, d *dto.Metric) string {
	var b strings.Builder
	b.WriteString(name)
	labels := d.GetLabel()
	sort.Slice(labels, func(i, j int) bool { return labels[i].GetName() < labels[j].GetName() })
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%s", l.GetName(), strconv.Quote(l.GetValue()))
		}
		b.WriteByte('}')
	}
	var v float64
	switch {
	case d.Gauge != nil:
		v = d.Gauge.GetValue()
	case d.Counter != nil:
		v = d.Counter.GetValue()
	case d.Untyped != nil:
		v = d.Untyped.GetValue()
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	return b.String()
}
