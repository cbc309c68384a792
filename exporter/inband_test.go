package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/inband"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
	simmodel "github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// localDevice stands in for the kernel's IPMI driver under an in-band
// module: the simulated BMC's command handlers answer each request as the
// system interface would (no session, no privilege limit). fail, when
// set, is the error every request gets (a BMC that stopped answering).
type localDevice struct {
	bmc    *simmodel.BMC
	mu     sync.Mutex // the BMC's interface takes one request at a time
	fail   atomic.Pointer[error]
	opened atomic.Int32
	closed atomic.Int32
}

func newLocalDevice(t *testing.T, profile string) *localDevice {
	t.Helper()
	p, err := simmodel.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := simmodel.New(p, simmodel.Options{Seed: 1, Clock: func() time.Time { return testEpoch }})
	if err != nil {
		t.Fatal(err)
	}
	return &localDevice{bmc: b}
}

// transport is one opening of the device.
type localTransport struct {
	d      *localDevice
	closed atomic.Bool
}

func (d *localDevice) open() *localTransport {
	d.opened.Add(1)
	return &localTransport{d: d}
}

func (t *localTransport) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	if t.closed.Load() {
		return 0, nil, inband.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", inband.ErrTimeout, err)
	}
	if errp := t.d.fail.Load(); errp != nil {
		return 0, nil, *errp
	}
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	cc, resp := t.d.bmc.Handle(target, netFn, cmd, data, wire.PrivilegeAdmin)
	return cc, append([]byte(nil), resp...), nil
}

func (t *localTransport) Close(context.Context) error {
	if t.closed.CompareAndSwap(false, true) {
		t.d.closed.Add(1)
	}
	return nil
}

// inBandHarness serves /ipmi and, in local mode, /metrics, with modules
// from YAML: in-band modules without a device key read dev, the others
// (a device key, LAN modules) go through the production dialer.
type inBandHarness struct {
	srv  *httptest.Server
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newInBandHarness(t *testing.T, yaml string, dev *localDevice, localModule string) *inBandHarness {
	t.Helper()
	cfg, _, err := config.Parse([]byte(yaml), "test.yml", collector.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	store, err := config.NewFixedStore(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := pool.New(pool.Options{MaxInFlight: 8}, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	production := SessionDialer(nil)
	logs := &syncBuffer{}
	x := New(Options{
		Store: store,
		Pool:  p,
		Dial: func(ctx context.Context, addr string, m *config.Module) (ipmi.Transport, error) {
			if m.InBand() && m.Device == "" {
				if addr != "local" {
					return nil, fmt.Errorf("in-band module dialled with target %q", addr)
				}
				return dev.open(), nil
			}
			return production(ctx, addr, m)
		},
		IsSessionBroken: IsSessionBroken,
		TimeoutOffset:   100 * time.Millisecond,
		Logger:          log.NewLogfmtLogger(logs),
	})
	mux := http.NewServeMux()
	mux.Handle("/ipmi", x)
	if localModule != "" {
		own := prometheus.NewRegistry()
		own.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "own_metric", Help: "The exporter's own."}))
		mux.Handle("/metrics", x.LocalHandler(own, localModule))
	}
	h := &inBandHarness{srv: httptest.NewServer(mux), logs: logs}
	t.Cleanup(h.srv.Close)
	return h
}

func (h *inBandHarness) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
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
	return resp.StatusCode, string(body)
}

func parseExposition(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return mfs
}

// checkSensors wants every readable sensor of the model with its value.
func checkSensors(t *testing.T, dev *localDevice, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	if !allUp(t, mfs) {
		t.Fatalf("collectors not all up: %v", upValues(mfs))
	}
	got := sensorValues(mfs)
	snaps := dev.bmc.Sensors()
	seen := map[string]int{}
	for _, s := range snaps {
		seen[s.Name]++
	}
	checked := 0
	for _, s := range snaps {
		if !s.Available || s.EventType.IsDiscrete() || seen[s.Name] > 1 {
			continue
		}
		if v, ok := got[s.Name]; !ok || !closeEnough(v, s.Value) {
			t.Errorf("sensor %q = %v (present %v), BMC holds %v", s.Name, v, ok, s.Value)
		}
		checked++
	}
	if checked < len(snaps)/2 {
		t.Fatalf("only %d of %d sensors compared", checked, len(snaps))
	}
}

const inBandYAML = `modules:
  local:
    driver: OPENIPMI
  missing:
    driver: OPENIPMI
    device: /nonexistent/ipmi0
  default:
    user: monitor
    pass: fleet-password
    allowed_targets: [127.0.0.0/8]
`

// /ipmi?module=NAME without target scrapes this machine's BMC with an
// in-band module; a target for it is a 400, and a LAN module still needs
// one. The in-band scrapes share one transport (pooled under "local").
func TestInBandScrapeWithoutTarget(t *testing.T) {
	dev := newLocalDevice(t, "dual-socket-1u")
	h := newInBandHarness(t, inBandYAML, dev, "")
	for i := 0; i < 2; i++ {
		code, body := h.get(t, "/ipmi?module=local")
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		checkSensors(t, dev, parseExposition(t, body))
	}
	if n := dev.opened.Load(); n != 1 {
		t.Errorf("device opened %d times for two scrapes", n)
	}
	for _, tc := range []struct{ query, reason string }{
		{"module=local&target=10.0.0.1", `module "local" reads this machine's BMC in band (driver OPENIPMI) and takes no 'target'; scrape /ipmi?module=local`},
		{"module=local&target=", ""}, // an empty target is no target
		{"module=default", "'target' parameter is missing"},
		{"module=nope", `unknown module "nope"`},
	} {
		code, body := h.get(t, "/ipmi?"+tc.query)
		if tc.reason == "" {
			if code != http.StatusOK {
				t.Errorf("%s: HTTP %d: %s", tc.query, code, body)
			}
			continue
		}
		if code != http.StatusBadRequest || strings.TrimSpace(body) != tc.reason {
			t.Errorf("%s: HTTP %d %q, want 400 %q", tc.query, code, body, tc.reason)
		}
	}
}

// A missing device: ipmi_up 0 for every collector, and the reason (with
// the modules to load) in the log and in debug=true; the exporter goes on
// serving its other modules.
func TestInBandNoDevice(t *testing.T) {
	dev := newLocalDevice(t, "dual-socket-1u")
	fleet := startFleet(t, "dual-socket-1u", 1)
	h := newInBandHarness(t, inBandYAML, dev, "")
	code, body := h.get(t, "/ipmi?module=missing")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	up := upValues(parseExposition(t, body))
	if len(up) == 0 {
		t.Fatal("no ipmi_up")
	}
	for c, v := range up {
		if v != 0 {
			t.Errorf("ipmi_up{collector=%q} %v without a device", c, v)
		}
	}
	wants := []string{"cannot open the IPMI device", "target=/nonexistent/ipmi0", "module=missing", "no IPMI device", "/nonexistent/ipmi0",
		"modprobe ipmi_msghandler; modprobe ipmi_devintf; modprobe ipmi_si"}
	for _, want := range wants {
		if !strings.Contains(h.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, h.logs.String())
		}
	}
	code, body = h.get(t, "/ipmi?module=missing&debug=true")
	if code != http.StatusOK {
		t.Fatalf("debug: HTTP %d: %s", code, body)
	}
	for _, want := range append(wants[:1], "reading this machine's BMC in band", `device=/nonexistent/ipmi0`, wants[3], wants[5],
		`ipmi_up{collector="ipmi"} 0`, "Module configuration:", "driver: OPENIPMI", "device: /nonexistent/ipmi0") {
		if !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "user:") || strings.Contains(body, "login credentials") {
		t.Errorf("debug output of an in-band module shows login settings:\n%s", body)
	}
	// LAN and the other in-band module are served all along.
	code, body = h.get(t, "/ipmi?target="+fleet.BMC(0).Addr().String())
	if code != http.StatusOK || !allUp(t, parseExposition(t, body)) {
		t.Errorf("LAN module next to a missing device: HTTP %d\n%s", code, body)
	}
	if code, body = h.get(t, "/ipmi?module=local"); code != http.StatusOK {
		t.Errorf("in-band module next to a missing device: HTTP %d\n%s", code, body)
	}
}

// A BMC that stops answering: ipmi_up 0 with the driver's reason, and the
// transport is dropped (the next scrape opens the device again), so a BMC
// that comes back is read at once.
func TestInBandBMCStopsAnswering(t *testing.T) {
	dev := newLocalDevice(t, "dual-socket-1u")
	h := newInBandHarness(t, inBandYAML, dev, "")
	if code, body := h.get(t, "/ipmi?module=local"); code != http.StatusOK || !allUp(t, parseExposition(t, body)) {
		t.Fatalf("HTTP %d\n%s", code, body)
	}
	noBMC := fmt.Errorf("%w through /dev/ipmi0: completion code 0xff from the driver to Get Device ID", inband.ErrNoBMC)
	dev.fail.Store(&noBMC)
	code, body := h.get(t, "/ipmi?module=local&debug=true")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d\n%s", code, body)
	}
	for _, want := range []string{"the BMC does not answer", `ipmi_up{collector="bmc"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q:\n%s", want, body)
		}
	}
	if dev.closed.Load() != 1 {
		t.Errorf("transport not closed after the BMC stopped answering (closed %d)", dev.closed.Load())
	}
	dev.fail.Store(nil)
	if code, body := h.get(t, "/ipmi?module=local"); code != http.StatusOK || !allUp(t, parseExposition(t, body)) {
		t.Fatalf("after the BMC came back: HTTP %d\n%s", code, body)
	}
	if n := dev.opened.Load(); n != 2 {
		t.Errorf("device opened %d times, want 2 (once more after the BMC failed)", n)
	}
}

// --local.module: /metrics carries the exporter's own metrics and the
// local BMC's scrape; a missing device leaves the page and reports
// ipmi_up 0.
func TestLocalModuleOnMetrics(t *testing.T) {
	dev := newLocalDevice(t, "dual-socket-1u")
	h := newInBandHarness(t, inBandYAML, dev, "local")
	code, body := h.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	mfs := parseExposition(t, body)
	if _, ok := mfs["own_metric"]; !ok {
		t.Errorf("/metrics lacks the exporter's own metrics:\n%s", body)
	}
	checkSensors(t, dev, mfs)
	for _, name := range []string{"ipmi_scrape_duration_seconds", "ipmi_bmc_info", "ipmi_chassis_power_state"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	h = newInBandHarness(t, inBandYAML, dev, "missing")
	code, body = h.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	mfs = parseExposition(t, body)
	if _, ok := mfs["own_metric"]; !ok {
		t.Errorf("/metrics lacks the exporter's own metrics:\n%s", body)
	}
	for c, v := range upValues(mfs) {
		if v != 0 {
			t.Errorf("ipmi_up{collector=%q} %v without a device", c, v)
		}
	}
	if !strings.Contains(h.logs.String(), "no IPMI device") {
		t.Errorf("log lacks the reason:\n%s", h.logs.String())
	}

	// A module that is not in-band (only a store without Require gets
	// here): a 500 that says why.
	h = newInBandHarness(t, inBandYAML, dev, "default")
	if code, body := h.get(t, "/metrics"); code != http.StatusInternalServerError || !strings.Contains(body, "needs driver: OPENIPMI") {
		t.Errorf("LAN module as the local one: HTTP %d %s", code, body)
	}
}

func TestIsSessionBrokenInBand(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", inband.ErrClosed):                                true,
		fmt.Errorf("x: %w", inband.ErrNoDevice):                              true,
		fmt.Errorf("x: %w", inband.ErrNoBMC):                                 true,
		fmt.Errorf("x: %w: %w", inband.ErrTimeout, context.DeadlineExceeded): false,
		fmt.Errorf("x: %w", inband.ErrProtocol):                              false,
		errors.New("other"):                                                  false,
	} {
		if got := IsSessionBroken(err); got != want {
			t.Errorf("IsSessionBroken(%v) = %v", err, got)
		}
	}
}
