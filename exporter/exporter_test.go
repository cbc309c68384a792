package exporter

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kit/log"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	simmodel "github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	simUser     = "monitor"
	simPassword = "fleet-password"
)

// testEpoch freezes the simulated sensors, so the exporter's values can be
// compared exactly with the model's.
var testEpoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func startFleet(t testing.TB, profile string, n int) *simulator.Fleet {
	t.Helper()
	p, err := simmodel.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return testEpoch }
	f, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:  netip.MustParseAddrPort("127.0.0.1:0"),
		Count: n,
		BMC: simulator.BMCConfig{
			Users: []simulator.User{{Name: simUser, Password: simPassword, Privilege: wire.PrivilegeUser}},
		},
		NewHandler: simulator.ModelHandlers(p, 1, clock, simmodel.Quirks{}),
		Seed:       1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func modelOf(t *testing.T, b *simulator.BMC) *simmodel.BMC {
	t.Helper()
	m := b.Model()
	if m == nil {
		t.Fatal("BMC is not backed by a model")
	}
	return m
}

type harness struct {
	srv  *httptest.Server
	pool *pool.Pool
	reg  *prometheus.Registry // the exporter's own metrics
}

// newTestExporter builds an Exporter from YAML with the production dialer
// and a real session pool (closed at test end), as main wires them.
func newTestExporter(t testing.TB, yaml string, maxInFlight int, reg prometheus.Registerer) (*Exporter, *config.Store, *pool.Pool) {
	t.Helper()
	cfg, _, err := config.Parse([]byte(yaml), "test.yml", collector.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	store, err := config.NewFixedStore(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := pool.New(pool.Options{MaxInFlight: maxInFlight}, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	x := New(Options{
		Registerer:      reg,
		Store:           store,
		Pool:            p,
		Dial:            SessionDialer(nil),
		IsSessionBroken: IsSessionBroken,
		TimeoutOffset:   100 * time.Millisecond,
		Logger:          log.NewNopLogger(),
	})
	return x, store, p
}

// newHarness serves the exporter handler with the production dialer and
// a real session pool, configured from YAML.
func newHarness(t *testing.T, yaml string) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	x, _, p := newTestExporter(t, yaml, 64, reg)
	srv := httptest.NewServer(x)
	t.Cleanup(srv.Close)
	return &harness{srv: srv, pool: p, reg: reg}
}

func moduleYAML(user, pass string, extra string) string {
	return fmt.Sprintf(`modules:
  default:
    user: %s
    pass: %s
    allowed_targets: [127.0.0.0/8]
%s`, user, pass, extra)
}

// scrape fetches /ipmi for target and parses the exposition.
func (h *harness) scrape(t *testing.T, target string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/?target="+target, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: HTTP %d: %s", target, resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return mfs, string(body)
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// sensorValues maps sensor name to value over every sensor value family;
// percentages reported as a fan ratio are scaled back.
func sensorValues(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for fam, scale := range map[string]float64{
		"ipmi_temperature_celsius": 1, "ipmi_fan_speed_rpm": 1, "ipmi_fan_speed_ratio": 100,
		"ipmi_voltage_volts": 1, "ipmi_current_amperes": 1, "ipmi_power_watts": 1, "ipmi_sensor_value": 1,
	} {
		for _, m := range mfs[fam].GetMetric() {
			out[labels(m)["name"]] = m.GetGauge().GetValue() * scale
		}
	}
	return out
}

func upValues(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mfs["ipmi_up"].GetMetric() {
		out[labels(m)["collector"]] = m.GetGauge().GetValue()
	}
	return out
}

func allUp(t *testing.T, mfs map[string]*dto.MetricFamily) bool {
	t.Helper()
	up := upValues(mfs)
	if len(up) == 0 {
		t.Fatal("no ipmi_up in the scrape")
	}
	for _, v := range up {
		if v != 1 {
			return false
		}
	}
	return true
}

func closeEnough(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func promtoolCheck(t *testing.T, exposition string) {
	t.Helper()
	testbed.RequireTool(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	// The only lint promtool may raise is the counter-style suffix of
	// ipmi_sel_logs_count, a name fixed by ipmi_exporter compatibility.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "ipmi_sel_logs_count") {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

// Over real UDP and the real session layer, every readable sensor of the
// simulated BMC appears with the value the BMC holds.
func TestScrapeSimulatorMatchesSensors(t *testing.T) {
	for _, profile := range simmodel.ProfileNames() {
		t.Run(profile, func(t *testing.T) {
			fleet := startFleet(t, profile, 1)
			bmc := fleet.BMC(0)
			h := newHarness(t, moduleYAML(simUser, simPassword, ""))
			mfs, text := h.scrape(t, bmc.Addr().String())
			if !allUp(t, mfs) {
				t.Fatalf("collectors not all up: %v", upValues(mfs))
			}
			got := sensorValues(mfs)
			seen := map[string]int{}
			snaps := modelOf(t, bmc).Sensors()
			for _, s := range snaps {
				seen[s.Name]++
			}
			checked := 0
			for _, s := range snaps {
				if !s.Available || s.EventType.IsDiscrete() || seen[s.Name] > 1 {
					continue
				}
				v, ok := got[s.Name]
				if !ok {
					t.Errorf("sensor %q (%s) missing from the scrape", s.Name, s.Unit)
					continue
				}
				if !closeEnough(v, s.Value) {
					t.Errorf("sensor %q = %v, BMC holds %v", s.Name, v, s.Value)
				}
				checked++
			}
			if checked < len(snaps)/2 {
				t.Fatalf("only %d of %d sensors compared", checked, len(snaps))
			}
			promtoolCheck(t, text)
		})
	}
}

// Fifty scrapes of one BMC at once cost it one session and one collection.
func TestConcurrentScrapesOpenOneSession(t *testing.T) {
	fleet := startFleet(t, "dual-socket-1u", 1)
	bmc := fleet.BMC(0)
	h := newHarness(t, moduleYAML(simUser, simPassword, ""))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(h.srv.URL + "/?target=" + bmc.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.Contains(string(body), `ipmi_up{collector="ipmi"} 1`) {
				errs <- fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := bmc.Counters()
	if c.SessionsOpened != 1 || bmc.ActiveSessions() != 1 {
		t.Fatalf("sessions opened %d, active %d; want 1 and 1", c.SessionsOpened, bmc.ActiveSessions())
	}
	if h.pool.Len() != 1 {
		t.Fatalf("pool holds %d sessions", h.pool.Len())
	}
}

// A BMC that reboots between scrapes (dropping every session) costs at
// most one scrape: the next one is whole again.
func TestBMCRestartCostsAtMostOneScrape(t *testing.T) {
	fleet := startFleet(t, "edge-node", 1)
	bmc := fleet.BMC(0)
	h := newHarness(t, moduleYAML(simUser, simPassword, ""))
	target := bmc.Addr().String()
	if mfs, _ := h.scrape(t, target); !allUp(t, mfs) {
		t.Fatalf("first scrape: %v", upValues(mfs))
	}
	bmc.Reboot(0)
	first, _ := h.scrape(t, target)
	second, _ := h.scrape(t, target)
	if !allUp(t, second) {
		t.Fatalf("second scrape after the reboot still failing: %v (first after reboot: %v)", upValues(second), upValues(first))
	}
	t.Logf("first scrape after the reboot: %v", upValues(first))
	if bmc.ActiveSessions() != 1 {
		t.Fatalf("BMC has %d sessions after recovering", bmc.ActiveSessions())
	}
}

// Closing the pool logs out of every BMC.
func TestPoolCloseEndsEveryBMCSession(t *testing.T) {
	fleet := startFleet(t, "edge-node", 5)
	h := newHarness(t, moduleYAML(simUser, simPassword, ""))
	for _, b := range fleet.BMCs() {
		if mfs, _ := h.scrape(t, b.Addr().String()); !allUp(t, mfs) {
			t.Fatalf("%s: %v", b.Addr(), upValues(mfs))
		}
	}
	if got := fleet.Counters().SessionsActive; got != 5 {
		t.Fatalf("%d sessions active before close", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.pool.Close(ctx)
	if got := fleet.Counters(); got.SessionsActive != 0 || got.SessionsClosed != 5 {
		t.Fatalf("after close: %d active, %d closed by Close Session", got.SessionsActive, got.SessionsClosed)
	}
}

// Against OpenIPMI's ipmi_sim (a real BMC implementation, with our 54-sensor
// configuration): values, names and states agree with what the sim holds,
// the output passes promtool, and concurrent scrapes share one session.
func TestScrapeIPMISim(t *testing.T) {
	testbed.RequireTool(t, "ipmi_sim")
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	h := newHarness(t, moduleYAML(sim.User, sim.Password, "    privilege: admin\n"))
	mfs, text := h.scrape(t, sim.Addr)
	if !allUp(t, mfs) {
		t.Fatalf("collectors not all up: %v\n%s", upValues(mfs), text)
	}
	got := sensorValues(mfs)
	names := map[string]int{}
	for _, s := range testbed.Sensors {
		names[s.Name]++
	}
	checked := 0
	for _, s := range testbed.Sensors {
		if !s.Readable() || !s.IsThreshold() || names[s.Name] > 1 {
			continue
		}
		v, ok := got[s.Name]
		if !ok {
			t.Errorf("sensor %q missing", s.Name)
			continue
		}
		if !closeEnough(v, s.Value()) {
			t.Errorf("sensor %q = %v, ipmi_sim holds %v", s.Name, v, s.Value())
		}
		checked++
	}
	if checked < 25 {
		t.Fatalf("only %d threshold sensors compared", checked)
	}
	// Discrete: the failed power supply is reported critical.
	for _, s := range testbed.Sensors {
		if s.Critical && s.Readable() && names[s.Name] == 1 {
			found := false
			for _, m := range mfs["ipmi_sensor_state"].GetMetric() {
				if labels(m)["name"] == s.Name {
					found = true
					if m.GetGauge().GetValue() != 2 {
						t.Errorf("discrete sensor %q state %v, want 2 (critical)", s.Name, m.GetGauge().GetValue())
					}
				}
			}
			if !found {
				t.Errorf("discrete sensor %q has no state", s.Name)
			}
		}
	}
	promtoolCheck(t, text)

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(h.srv.URL + "/?target=" + sim.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := sim.ActiveSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// ipmitool counts its own session too.
	if n != 2 {
		t.Fatalf("ipmi_sim has %d active sessions (including ipmitool's), want 2", n)
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, moduleYAML(simUser, simPassword, ""))
	for _, tc := range []struct{ query, want string }{
		{"", "'target' parameter is missing"},
		{"target=127.0.0.1&module=nope", `unknown module "nope"`},
		{"target=10.1.2.3", "not in allowed_targets"},
		{"target=127.0.0.1:70000", "port"},
		{"target=127.0.0.1&target=127.0.0.2", "given 2 times"},
		{"target=" + strings.Repeat("a", MaxQueryLength), "at most"},
	} {
		resp, err := http.Get(h.srv.URL + "/?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
			t.Errorf("%.60q: HTTP %d %q, want 400 containing %q", tc.query, resp.StatusCode, body, tc.want)
		}
		if strings.Count(strings.TrimSpace(string(body)), "\n") != 0 {
			t.Errorf("%.60q: reason is not one line: %q", tc.query, body)
		}
	}
	if h.pool.Len() != 0 {
		t.Fatal("a bad request opened a session")
	}
}

// A BMC that refuses the credentials is not asked again on every scrape:
// that could lock the account, and with a wrong K_G strands a half-open
// session on the BMC each time.
func TestRefusedLoginBacksOff(t *testing.T) {
	fleet := startFleet(t, "edge-node", 1)
	bmc := fleet.BMC(0)
	cfg, _, err := config.Parse([]byte(moduleYAML(simUser, "wrong-password", "")), "test.yml", collector.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	store, err := config.NewFixedStore(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := pool.New(pool.Options{}, nil)
	defer p.Close(context.Background())
	srv := httptest.NewServer(New(Options{Store: store, Pool: p, Dial: SessionDialer(nil), IsSessionBroken: IsSessionBroken, Now: clock}))
	defer srv.Close()
	h := &harness{srv: srv, pool: p}
	target := bmc.Addr().String()
	for i := 0; i < 3; i++ {
		if mfs, _ := h.scrape(t, target); upValues(mfs)["ipmi"] != 0 {
			t.Fatalf("scrape %d with a wrong password: %v", i, upValues(mfs))
		}
	}
	if got := bmc.Counters().Command("open_session"); got != 1 {
		t.Fatalf("%d logins tried in three scrapes, want 1 (then back off)", got)
	}
	// Each refusal in a row doubles the wait: 2, 4, 8, 16, then 30
	// minutes. Scrapes every minute for two hours log in at 2, 6, 14,
	// 30, 60 and 90 minutes after the first.
	var loginsAt []int
	for minute := 1; minute <= 120; minute++ {
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		before := bmc.Counters().Command("open_session")
		h.scrape(t, target)
		if bmc.Counters().Command("open_session") != before {
			loginsAt = append(loginsAt, minute)
		}
	}
	if want := []int{2, 6, 14, 30, 60, 90, 120}; fmt.Sprint(loginsAt) != fmt.Sprint(want) {
		t.Fatalf("logins at minutes %v, want %v", loginsAt, want)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip;q=1.0, *;q=0.5": true,
		"gzip;q=0": false, "identity": false, "zstd,gzip": true, "x-gzip": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// A scraper that asks for gzip gets a gzip body that decodes to the same
// exposition as an uncompressed answer.
func TestScrapeResponseCompression(t *testing.T) {
	fleet := startFleet(t, "edge-node", 1)
	h := newHarness(t, moduleYAML(simUser, simPassword, ""))
	target := h.srv.URL + "/?target=" + fleet.BMC(0).Addr().String()
	get := func(encoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, zipped := get("gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	resp, plain := get("identity")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("identity answered with %q", resp.Header.Get("Content-Encoding"))
	}
	strip := func(b []byte) string { // the duration differs between scrapes
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "ipmi_scrape_duration_seconds ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(unzipped) != strip(plain) || !strings.Contains(string(plain), "ipmi_up{collector=\"ipmi\"} 1") {
		t.Fatalf("gzip and plain answers differ:\n%s\n---\n%s", unzipped, plain)
	}
}

// TestBMCsOfOneModelShareASensorTable: the sensor table was most of a
// BMC's memory; BMCs with the same SDR records hold one between them, and
// each still reads its own sensors.
func TestBMCsOfOneModelShareASensorTable(t *testing.T) {
	servers := startFleet(t, "dual-socket-1u", 3)
	edge := startFleet(t, "edge-node", 1)
	h := newHarness(t, moduleYAML(simUser, simPassword, ""))
	bmcs := []*simulator.BMC{servers.BMC(0), servers.BMC(1), servers.BMC(2), edge.BMC(0)}
	for _, b := range bmcs {
		mfs, _ := h.scrape(t, b.Addr().String())
		if !allUp(t, mfs) {
			t.Fatalf("%s: not every collector up", b.Addr())
		}
		if len(sensorValues(mfs)) == 0 {
			t.Fatalf("%s: no sensor values", b.Addr())
		}
	}
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := -1.0
	for _, mf := range families {
		if mf.GetName() == "ipmi_fleet_exporter_sensor_tables" {
			got = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	// The pool's entries keep every State, and so every table, alive.
	if got != 2 {
		t.Fatalf("ipmi_fleet_exporter_sensor_tables = %v after scraping 3 BMCs of one model and 1 of another, want 2", got)
	}
}
