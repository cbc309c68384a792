package collector

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// testEpoch is the simulated time the tests start at.
var testEpoch = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// fakeClock is shared by the simulated BMC and the State, so cache
// lifetimes and sensor readings are deterministic.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// simTransport is an ipmi.Transport that hands every request to the
// simulated BMC's command handlers (model.BMC.Handle: the same code the
// simulator's LAN side calls after decoding a packet) and counts the
// exchanges. A bridged request is one exchange here; on a LAN session it
// is a Send Message whose answer carries the target's response.
type simTransport struct {
	bmc  *model.BMC
	priv wire.PrivilegeLevel

	mu     sync.Mutex
	counts map[command.Op]int
	total  int
	// intercept, when set, may answer a request instead of the BMC
	// (handled true) or fail it with a transport error.
	intercept func(ctx context.Context, target wire.Target, op command.Op, data []byte) (cc wire.CompletionCode, resp []byte, handled bool, err error)
}

func newSimTransport(b *model.BMC) *simTransport {
	return &simTransport{bmc: b, priv: wire.PrivilegeOperator, counts: map[command.Op]int{}}
}

func (s *simTransport) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	op := command.Op{NetFn: netFn, Cmd: cmd}
	s.mu.Lock()
	s.counts[op]++
	s.total++
	intercept := s.intercept
	s.mu.Unlock()
	if intercept != nil {
		cc, resp, handled, err := intercept(ctx, target, op, data)
		if err != nil || handled {
			return cc, resp, err
		}
	}
	cc, resp := s.bmc.Handle(target, netFn, cmd, data, s.priv)
	return cc, resp, nil
}

func (s *simTransport) Close(context.Context) error { return nil }

// roundTrips is a snapshot of the exchange counters.
type roundTrips struct {
	total  int
	counts map[command.Op]int
}

func (s *simTransport) snapshot() roundTrips {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(map[command.Op]int, len(s.counts))
	for k, v := range s.counts {
		c[k] = v
	}
	return roundTrips{total: s.total, counts: c}
}

// since returns the exchanges made after before.
func (r roundTrips) since(before roundTrips) roundTrips {
	d := roundTrips{total: r.total - before.total, counts: map[command.Op]int{}}
	for k, v := range r.counts {
		if n := v - before.counts[k]; n != 0 {
			d.counts[k] = n
		}
	}
	return d
}

func (r roundTrips) of(netFn wire.NetFn, cmd uint8) int {
	return r.counts[command.Op{NetFn: netFn, Cmd: cmd}]
}

func (r roundTrips) String() string {
	var parts []string
	for op, n := range r.counts {
		parts = append(parts, fmt.Sprintf("%s=%d", op, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d exchanges: %s", r.total, strings.Join(parts, " "))
}

var (
	opGetSensorReading = command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetSensorReading}
	opGetSDR           = command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSDR}
	opGetSDRInfo       = command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSDRRepositoryInfo}
	opGetSELInfo       = command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSELInfo}
	opGetSELEntry      = command.Op{NetFn: wire.NetFnStorage, Cmd: command.CmdGetSELEntry}
	opGetDeviceID      = command.Op{NetFn: wire.NetFnApp, Cmd: command.CmdGetDeviceID}
	opChassisStatus    = command.Op{NetFn: wire.NetFnChassis, Cmd: command.CmdGetChassisStatus}
	opDCMIPower        = command.Op{NetFn: wire.NetFnGroupExt, Cmd: command.CmdDCMIGetPowerReading}
	opGetLANConfig     = command.Op{NetFn: wire.NetFnTransport, Cmd: command.CmdGetLANConfigParameters}
	opReadingFactors   = command.Op{NetFn: wire.NetFnSensorEvent, Cmd: command.CmdGetSensorReadingFactors}
)

// fixture is one simulated BMC with a Target scraping it.
type fixture struct {
	bmc    *model.BMC
	clock  *fakeClock
	tr     *simTransport
	target *Target
}

func loadProfile(t testing.TB, name string) *model.Profile {
	t.Helper()
	p, err := model.LoadProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parseProfile(t testing.TB, yaml string) *model.Profile {
	t.Helper()
	p, err := model.ParseProfile([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newFixture builds a BMC of profile p at testEpoch and a Target for it
// running the given collectors (the default ones when none are given).
func newFixture(t testing.TB, p *model.Profile, collectors ...config.Collector) *fixture {
	t.Helper()
	clock := &fakeClock{t: testEpoch}
	b, err := model.New(p, model.Options{Seed: 42, Clock: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	if len(collectors) == 0 {
		collectors = Catalog().Defaults()
	}
	tr := newSimTransport(b)
	st := NewState()
	st.now = clock.now
	return &fixture{bmc: b, clock: clock, tr: tr, target: &Target{
		Client: ipmi.NewClient(tr),
		Module: &config.Module{Name: "test", Collectors: collectors},
		State:  st,
	}}
}

// scrape runs one Scrape and gathers its metrics through a registry, as
// the HTTP layer does, failing the test on a registry error (duplicate
// series, inconsistent labels).
func (f *fixture) scrape(t testing.TB) (*result, roundTrips) {
	t.Helper()
	return f.scrapeCtx(t, context.Background())
}

func (f *fixture) scrapeCtx(t testing.TB, ctx context.Context) (*result, roundTrips) {
	t.Helper()
	before := f.tr.snapshot()
	metrics, _ := Scrape(ctx, f.target, nil, nil)
	rt := f.tr.snapshot().since(before)
	return gather(t, metrics), rt
}

// constMetrics replays metrics into a registry.
type constMetrics []prometheus.Metric

func (c constMetrics) Describe(chan<- *prometheus.Desc) {}
func (c constMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// result is one scrape's gathered metric families.
type result struct {
	families map[string]*dto.MetricFamily
	list     []*dto.MetricFamily
}

func gather(t testing.TB, metrics []prometheus.Metric) *result {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(constMetrics(metrics)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering the scrape: %v", err)
	}
	r := &result{families: map[string]*dto.MetricFamily{}, list: mfs}
	for _, mf := range mfs {
		r.families[mf.GetName()] = mf
	}
	return r
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// series returns the series of family name whose labels include match
// (label, value pairs).
func (r *result) series(name string, match ...string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range r.families[name].GetMetric() {
		l := labelsOf(m)
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if l[match[i]] != match[i+1] {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// value returns the value of the one series of name matching match.
func (r *result) value(t testing.TB, name string, match ...string) float64 {
	t.Helper()
	s := r.series(name, match...)
	if len(s) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, match, len(s))
	}
	return s[0].GetGauge().GetValue()
}

// has reports whether a series of name matches match.
func (r *result) has(name string, match ...string) bool { return len(r.series(name, match...)) > 0 }

func (r *result) up(t testing.TB, c config.Collector) float64 {
	t.Helper()
	return r.value(t, "ipmi_up", "collector", string(c))
}

// sameFloat compares with NaN equal to NaN and a relative tolerance.
func sameFloat(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}
