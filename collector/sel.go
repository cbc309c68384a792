package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
)

// The sel collector: Get SEL Info every scrape, and the entries added
// since the previous scrape (none: one round trip in all).
//
// ipmi_sel_events_count_by_state counts the entries this State has read,
// by severity (sel.Entry.Severity: FreeIPMI's default interpretation, with
// non-recoverable threshold crossings apart). It behaves as a counter
// (exposed as a gauge, the name is fixed and has no _total): it never
// decreases. The first scrape counts every entry in the SEL; later scrapes
// add the entries added since. When the SEL is cleared (erase timestamp
// changed, or the last entry read is gone) counting goes on with the
// entries of the new log, so increase() over the series counts events, not
// log sizes. A fresh State (exporter restart, module change) starts again
// from the entries in the SEL, which Prometheus sees as a counter reset
// only if the log was cleared in between. Entries are read at most
// selEntriesPerScrape per scrape, so a long SEL is counted over several
// scrapes instead of eating the sensor walk's time.

// selEntriesPerScrape bounds the SEL entries one scrape reads.
const selEntriesPerScrape = 64

// severityCount is the number of sdr.Severity values (Unknown through
// NonRecoverable), the index of State.selEvents.
const severityCount = int(sdr.NonRecoverable) + 1

var (
	selEntriesFamily = newFamily("sel_logs_count",
		"Current number of log entries in the SEL.", prometheus.GaugeValue)
	selFreeSpaceFamily = newFamily("sel_free_space_bytes",
		"Current free space remaining for new SEL entries.", prometheus.GaugeValue)
	selLastAddFamily = newFamily("sel_last_add_timestamp_seconds",
		"Time of the most recent addition to the SEL (absent while the BMC clock is unset).", prometheus.GaugeValue)
	selEventsFamily = newFamily("sel_events_count_by_state",
		"SEL entries read since the exporter began watching this BMC, by severity. Never decreases: a cleared SEL does not reset it.", prometheus.GaugeValue, "state")
)

// selStateLabel is the state label value of a severity.
func selStateLabel(s sdr.Severity) string {
	switch s {
	case sdr.Nominal:
		return "nominal"
	case sdr.Warning:
		return "warning"
	case sdr.Critical:
		return "critical"
	case sdr.NonRecoverable:
		return "non_recoverable"
	}
	return "unknown"
}

type selCollector struct{}

func (selCollector) Name() config.Collector { return config.CollectorSEL }

func (selCollector) Families() []*Family {
	return []*Family{selEntriesFamily, selFreeSpaceFamily, selLastAddFamily, selEventsFamily}
}

func (selCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	st := t.State
	// pollSEL (selevents.go) also counts the module's sel_events.
	res, err := pollSEL(ctx, t)
	if err != nil {
		return err
	}

	info := &res.Info
	ch <- selEntriesFamily.metric(float64(info.Entries))
	ch <- selFreeSpaceFamily.metric(float64(info.FreeSpace))
	if ts := info.LastAddition; !ts.IsUnspecified() && !ts.IsRelative() {
		ch <- selLastAddFamily.metric(float64(ts))
	}
	for sev := sdr.Unknown; int(sev) < severityCount; sev++ {
		ch <- selEventsFamily.metric(st.selEvents[sev], selStateLabel(sev))
	}
	return nil
}
