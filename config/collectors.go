package config

import "strings"

// Collector names one group of metrics a module scrapes.
type Collector string

// Names of the collectors the tests and the exporter refer to by name.
// A collector added later needs no constant: the collector package's
// list is enough.
const (
	CollectorIPMI    Collector = "ipmi"
	CollectorSEL     Collector = "sel"
	CollectorChassis Collector = "chassis"
	CollectorDCMI    Collector = "dcmi"
	CollectorBMC     Collector = "bmc"
	CollectorLAN     Collector = "lan"
)

// CollectorInfo is what the configuration needs to know of one collector.
type CollectorInfo struct {
	Name Collector
	// Default: a module without a collectors key runs it.
	Default bool
}

// Catalog lists the collectors a configuration may name, in scrape order.
// The collector package owns the list (collector.Catalog) and the loader
// is given it: config checks names against it and fills in the default
// set, and holds no list of its own, so adding a collector is a change to
// the collector package only (config never imports collector, which
// imports config). An empty catalog knows no collector.
type Catalog []CollectorInfo

// Names lists every collector's name, in scrape order.
func (c Catalog) Names() []Collector {
	out := make([]Collector, 0, len(c))
	for _, i := range c {
		out = append(out, i.Name)
	}
	return out
}

// Defaults are the collectors of a module without a collectors key, in
// scrape order.
func (c Catalog) Defaults() []Collector {
	out := make([]Collector, 0, len(c))
	for _, i := range c {
		if i.Default {
			out = append(out, i.Name)
		}
	}
	return out
}

// Has reports whether name is in the catalog.
func (c Catalog) Has(name Collector) bool {
	for _, i := range c {
		if i.Name == name {
			return true
		}
	}
	return false
}

// String is the list of names for messages.
func (c Catalog) String() string {
	names := make([]string, 0, len(c))
	for _, i := range c {
		names = append(names, string(i.Name))
	}
	return strings.Join(names, ", ")
}

// ipmiExporterCollectors are the collector names of
// prometheus-community/ipmi_exporter. One of them that is not in the
// catalog loads with a warning, so its configs keep loading; once
// implemented here, it is simply a collector.
var ipmiExporterCollectors = [...]Collector{
	"ipmi", "bmc", "bmc-watchdog", "bmc-device-id", "chassis", "dcmi", "sel", "sel-events", "sm-lan-mode", "fru",
}

// upstreamOnly reports whether name is an ipmi_exporter collector the
// catalog does not have.
func (c Catalog) upstreamOnly(name Collector) bool {
	if c.Has(name) {
		return false
	}
	for _, u := range ipmiExporterCollectors {
		if u == name {
			return true
		}
	}
	return false
}
