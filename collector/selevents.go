package collector

import (
	"context"
	"fmt"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sel"
)

// The sel-events collector: the module's sel_events ([{name, regex}], as
// ipmi_exporter reads them) as ipmi_sel_events_count_by_name{name}, the
// number of SEL entries whose event text the regex matches, and
// ipmi_sel_events_latest_timestamp{name}, the newest such entry's time
// (0 while none, or when the entry's timestamp is relative to BMC
// initialization: FreeIPMI's "PostInit"), as ipmi_exporter's sel-events.
//
// ipmi_exporter reads the whole SEL with ipmi-sel on every scrape (15-30 s
// on large logs); here the counts are kept per BMC and updated from the
// entries added since the last scrape, which the sel collector reads
// anyway (pollSEL: one read per scrape serves both; at most
// selEntriesPerScrape entries, so a long SEL is taken in over a few
// scrapes after a restart). As in ipmi_exporter the counts are of entries
// in the SEL: clearing the SEL sets them back to 0.
//
// ipmi_exporter's sel-events also reports ipmi_sel_events_count_by_state;
// here the sel collector (on by default) does: a module that lists
// sel-events without sel has no count_by_state.
//
// The regex is matched (unanchored, Go RE2 syntax, as ipmi_exporter
// compiles it) against selEventText (seltext.go): FreeIPMI's Event column,
// see there for where it still differs.

const collectorSELEvents config.Collector = "sel-events"

var (
	selEventsByNameFamily = newFamily("sel_events_count_by_name",
		"Current number of custom log entries in the SEL by name.", prometheus.GaugeValue, "name")
	selEventsLatestFamily = newFamily("sel_events_latest_timestamp",
		"Latest timestamp of custom log entries in the SEL by name.", prometheus.GaugeValue, "name")
)

// selNamedCount is one sel_events entry's count and newest timestamp.
type selNamedCount struct {
	count, latest float64
}

// selEntryTime is the entry's timestamp in seconds, or 0 when it has none
// or one relative to BMC initialization.
func selEntryTime(e sel.Entry) float64 {
	var ts command.Timestamp
	switch v := e.(type) {
	case *sel.SystemEvent:
		ts = v.Timestamp
	case *sel.OEMTimestamped:
		ts = v.Timestamp
	default:
		return 0
	}
	if ts.IsUnspecified() || ts.IsRelative() {
		return 0
	}
	return float64(ts)
}

// pollSEL reads the SEL entries added since the last poll and counts them
// by severity (sel collector) and by the module's sel_events (sel-events
// collector). The caller holds t.State. The outcome is kept in
// State.selPollErr for a sel-events collector relying on the sel
// collector's poll.
func pollSEL(ctx context.Context, t *Target) (*sel.Result, error) {
	st := t.State
	res, err := sel.ReadSince(ctx, t.Client, st.selCursor, sel.ReadOptions{MaxEntries: selEntriesPerScrape})
	if err != nil {
		st.selPollErr = fmt.Errorf("reading the SEL: %w", err)
		return nil, st.selPollErr
	}
	st.selPollErr = nil
	logger := loggerOf(t)
	if res.Reset {
		level.Info(logger).Log("msg", "SEL was cleared; counting the entries of the new log", "entries", res.Info.Entries)
	}
	if res.Truncated != "" {
		level.Warn(logger).Log("msg", "SEL read stopped early", "reason", res.Truncated)
	}
	events := moduleOf(t).SELEvents
	if len(st.selNamed) != len(events) || res.Reset {
		st.selNamed = make([]selNamedCount, len(events))
	}
	var sensors []sdr.SensorInfo
	if len(events) > 0 {
		sensors = selSensors(ctx, t, res.Entries)
	}
	for _, e := range res.Entries {
		sev := e.Severity()
		if int(sev) >= severityCount {
			sev = sdr.Unknown
		}
		st.selEvents[sev]++
		if len(events) == 0 {
			continue
		}
		text, ok := selEventText(e, sensors)
		if !ok {
			// ipmi-sel lists no row for it: no regex can match it there.
			continue
		}
		for i := range events {
			if !events[i].Regex.MatchString(text) {
				continue
			}
			n := &st.selNamed[i]
			n.count++
			n.latest = max(n.latest, selEntryTime(e))
		}
	}
	st.selCursor = res.Cursor
	return res, nil
}

// selSensors returns the BMC's sensors for converting the trigger
// readings of threshold events among entries (FreeIPMI's "Sensor Reading =
// 93.00 C"), or nil when no entry needs them. The SDR the ipmi collector
// keeps is used; before it was read (the SEL collectors run first in a
// scrape, and the first scrape takes in the whole SEL) it is read here,
// the same walk or cache check the ipmi collector would do, which then
// finds it current. A failure only leaves the readings in hex, as
// FreeIPMI without a usable SDR record; it is not the SEL's failure.
func selSensors(ctx context.Context, t *Target, entries []sel.Entry) []sdr.SensorInfo {
	needed := false
	for _, e := range entries {
		if needsSDR(e) {
			needed = true
			break
		}
	}
	if !needed {
		return nil
	}
	st := t.State
	if st.repo == nil {
		if _, err := prepareSensors(ctx, t); err != nil {
			level.Debug(loggerOf(t)).Log("msg", "no SDR for the sel_events text of threshold events", "err", err)
		}
	}
	if st.repo == nil {
		return nil
	}
	return st.repo.Sensors()
}

type selEventsCollector struct{}

func (selEventsCollector) Name() config.Collector { return collectorSELEvents }

func (selEventsCollector) Families() []*Family {
	return []*Family{selEventsByNameFamily, selEventsLatestFamily}
}

func (selEventsCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	st, module := t.State, moduleOf(t)
	withSEL := module.HasCollector(config.CollectorSEL)
	if withSEL {
		// The sel collector ran first in this scrape and polled.
		if st.selPollErr != nil {
			return st.selPollErr
		}
	} else if _, err := pollSEL(ctx, t); err != nil {
		return err
	}
	if len(st.selNamed) != len(module.SELEvents) {
		st.selNamed = make([]selNamedCount, len(module.SELEvents))
	}
	// Entries sharing a name add up, as in ipmi_exporter (one map by
	// name there).
	byName := make(map[string]*selNamedCount, len(module.SELEvents))
	var order []string
	for i, ev := range module.SELEvents {
		n := byName[ev.Name]
		if n == nil {
			n = &selNamedCount{}
			byName[ev.Name] = n
			order = append(order, ev.Name)
		}
		n.count += st.selNamed[i].count
		n.latest = max(n.latest, st.selNamed[i].latest)
	}
	for _, name := range order {
		ch <- selEventsByNameFamily.metric(byName[name].count, labelValue(name))
		ch <- selEventsLatestFamily.metric(byName[name].latest, labelValue(name))
	}
	return nil
}
