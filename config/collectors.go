package config

import "strings"

// Collector names one group of metrics a module scrapes.
type Collector string

// Names of the collectors the tests and the exporter refer to by name.
// A collector added later needs no constant: its entry in collectorTable
// is enough.
const (
	CollectorIPMI    Collector = "ipmi"
	CollectorSEL     Collector = "sel"
	CollectorChassis Collector = "chassis"
	CollectorDCMI    Collector = "dcmi"
	CollectorBMC     Collector = "bmc"
	CollectorLAN     Collector = "lan"
)

// CollectorInfo is what the configuration knows about one collector.
type CollectorInfo struct {
	Name Collector
	// Default: a module without a collectors key runs it.
	Default bool
	// Reads says what it reads, in a few words.
	Reads string
}

// collectorTable is the one list of collectors: their names (what a
// config may name), the default set, and the scrape order, which runs the
// cheap single-request collectors first so that a sensor walk cut short by
// the deadline does not also cost the chassis and SEL metrics. The
// collector package attaches an implementation to each entry; its tests
// fail if an entry has none or an implementation has no entry.
// docs/adding-a-collector.md explains how to add one.
var collectorTable = [...]CollectorInfo{
	{CollectorChassis, true, "chassis power and fault state"},
	{CollectorBMC, true, "BMC device ID and firmware"},
	{CollectorDCMI, true, "DCMI power reading"},
	{CollectorLAN, false, "BMC LAN configuration"},
	{"bmc-watchdog", false, "BMC watchdog timer state"},
	{"sm-lan-mode", false, "Supermicro OEM LAN mode"},
	{CollectorSEL, true, "System Event Log size and fill level"},
	{"sel-events", false, "SEL entries matching the module's sel_events"},
	{CollectorIPMI, true, "sensor readings from the SDR repository"},
	{"fru", false, "FRU inventory (serials, part numbers), once per session"},
}

// Collectors lists every collector this exporter implements, in scrape
// order. The slice is the caller's.
func Collectors() []CollectorInfo {
	out := make([]CollectorInfo, len(collectorTable))
	copy(out, collectorTable[:])
	return out
}

// AllCollectors lists the names of every collector, in scrape order.
func AllCollectors() []Collector {
	out := make([]Collector, 0, len(collectorTable))
	for _, c := range collectorTable {
		out = append(out, c.Name)
	}
	return out
}

// DefaultCollectors are used by a module without a collectors key, in
// scrape order.
func DefaultCollectors() []Collector {
	out := make([]Collector, 0, len(collectorTable))
	for _, c := range collectorTable {
		if c.Default {
			out = append(out, c.Name)
		}
	}
	return out
}

// IsCollector reports whether name is a collector this exporter
// implements.
func IsCollector(name Collector) bool {
	for _, c := range collectorTable {
		if c.Name == name {
			return true
		}
	}
	return false
}

// ipmiExporterCollectors are the collector names of
// prometheus-community/ipmi_exporter. One of them that is not in
// collectorTable loads with a warning, so its configs keep loading; once
// implemented here, it is simply a collector.
var ipmiExporterCollectors = [...]Collector{
	"ipmi", "bmc", "bmc-watchdog", "bmc-device-id", "chassis", "dcmi", "sel", "sel-events", "sm-lan-mode", "fru",
}

// upstreamOnlyCollector reports whether name is an ipmi_exporter collector
// this exporter does not implement.
func upstreamOnlyCollector(name Collector) bool {
	if IsCollector(name) {
		return false
	}
	for _, c := range ipmiExporterCollectors {
		if c == name {
			return true
		}
	}
	return false
}

// collectorNames is the list of collector names for messages.
func collectorNames() string {
	names := make([]string, 0, len(collectorTable))
	for _, c := range collectorTable {
		names = append(names, string(c.Name))
	}
	return strings.Join(names, ", ")
}
