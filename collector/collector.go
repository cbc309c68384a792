// Package collector turns one BMC session into Prometheus metrics, one
// collector per concern (sensors, SEL, chassis, DCMI, BMC info, LAN info),
// in the style of node_exporter: each file registers one collector.
//
// Metric names and labels match prometheus-community/ipmi_exporter where
// the two overlap, so its dashboards and alerts keep working.
package collector

import (
	"context"
	"errors"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
)

const namespace = "ipmi"

// Target is what a collector scrapes: a client on an open session, the
// module's settings, and the caches that outlive any one session.
type Target struct {
	Client *ipmi.Client
	// Clients, when it has more than one, are clients on the same session
	// used together for the sensor walk: the module's window of requests
	// in flight. Client is Clients[0].
	Clients []*ipmi.Client
	Module  *config.Module
	State   *State
	Logger  log.Logger
	// Tables, when not nil, shares the sensor tables of BMCs with the
	// same SDR records (see SensorTables); nil gives State a table of its
	// own.
	Tables *SensorTables
	// Addr is the BMC's address as scraped (host:port). It keys the
	// module's on-disk SDR cache (sdr_cache_dir); empty leaves it unused.
	Addr string
	// Start, when set, is when the scrape began (before the session was
	// set up): ipmi_scrape_duration_seconds counts from it, so a scrape
	// that spent its time logging in says so. Zero counts from Scrape.
	Start time.Time
}

// Collector produces the metrics of one concern. Collect sends what it
// could read even when it returns an error: a scrape that hits its
// deadline half way reports the half it has, and ipmi_up says it failed.
type Collector interface {
	Name() config.Collector
	// Families lists every metric family Collect may send.
	Families() []*Family
	Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error
}

var (
	upFamily = newFamily("up",
		"1 if the collector read the BMC successfully in this scrape, 0 if not.", prometheus.GaugeValue, "collector")
	durationFamily = newFamily("scrape_duration_seconds",
		"Time this scrape of the BMC took.", prometheus.GaugeValue)
)

// SessionError reports whether err means the session itself is unusable
// (the caller drops it from the pool) rather than one command failing.
type SessionError interface{ SessionBroken() bool }

// Scrape runs the module's collectors against t in a fixed order and
// returns their metrics, an ipmi_up per collector and the scrape duration.
// openErr, when not nil, is the reason no session could be opened: every
// collector then reports ipmi_up 0. broken reports whether any collector
// saw an error for which isBroken returns true.
func Scrape(ctx context.Context, t *Target, openErr error, isBroken func(error) bool) (metrics []prometheus.Metric, broken bool) {
	start := t.Start
	if start.IsZero() {
		start = time.Now()
	}
	ch := make(chan prometheus.Metric, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			metrics = append(metrics, m)
		}
	}()
	logger := loggerOf(t)
	if openErr == nil && t.State == nil {
		// No caches to keep: this scrape starts from scratch.
		tt := *t
		tt.State = NewState()
		t = &tt
	}
	// collectors is the scrape order.
	for _, c := range collectors {
		name := c.Name()
		if !t.Module.HasCollector(name) {
			continue
		}
		up := 0.0
		switch {
		case openErr != nil:
		case ctx.Err() != nil:
			level.Debug(logger).Log("msg", "collector skipped: scrape deadline passed", "collector", name)
		default:
			err := c.Collect(ctx, t, ch)
			if err == nil {
				up = 1
				break
			}
			if isBroken != nil && isBroken(err) {
				broken = true
			}
			lvl := level.Warn
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				lvl = level.Info
			}
			msg := "collector failed"
			if errors.As(err, new(*PrivilegeError)) {
				// Not the BMC's failure: the module's privilege is too low.
				msg = "collector needs a higher privilege"
			}
			lvl(logger).Log("msg", msg, "collector", name, "err", err)
		}
		ch <- upFamily.metric(up, string(name))
	}
	ch <- durationFamily.metric(time.Since(start).Seconds())
	close(ch)
	<-done
	return metrics, broken
}

// collectors is the one list of collectors: what a config may name, the
// default set (a module without a collectors key), and the scrape order,
// which runs the cheap single-request collectors first so that a sensor
// walk cut short by the deadline does not also cost the chassis and SEL
// metrics. A new collector is normally off by default: existing configs
// must not start sending new commands to BMCs. config gets the list
// through Catalog. A literal table, never changed at run time;
// docs/adding-a-collector.md explains how to add one.
var collectors = [...]listed{
	{chassisCollector{}, true},
	{bmcCollector{}, true},
	{dcmiCollector{}, true},
	{lanCollector{}, false},
	{watchdogCollector{}, false},
	{smLANModeCollector{}, false},
	{selCollector{}, true},
	{selEventsCollector{}, false},
	{sensorCollector{}, true},
	{fruCollector{}, false},
}

// listed is a collector in the list, and whether it runs by default.
type listed struct {
	Collector
	onByDefault bool
}

// Catalog is what a configuration may name: every collector, in scrape
// order, and which run by default. Pass it to config.Load, Parse and
// NewStore.
func Catalog() config.Catalog {
	out := make(config.Catalog, 0, len(collectors))
	for _, c := range collectors {
		out = append(out, config.CollectorInfo{Name: c.Name(), Default: c.onByDefault})
	}
	return out
}

// Families lists every metric family a scrape may return: Scrape's own
// (ipmi_up, ipmi_scrape_duration_seconds) and every collector's, in scrape
// order. The exporter's text writer takes names, help and labels from it.
func Families() []*Family {
	out := []*Family{upFamily, durationFamily}
	for _, c := range collectors {
		out = append(out, c.Families()...)
	}
	return out
}

// loggerOf returns t's logger, or one that discards.
func loggerOf(t *Target) log.Logger {
	if t.Logger == nil {
		return log.NewNopLogger()
	}
	return t.Logger
}
