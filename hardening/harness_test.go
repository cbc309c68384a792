package hardening

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/exporter"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	simmodel "github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

var soakDuration = flag.Duration("soak", 0, "run TestSoak this long (0: the default, 50s)")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	removeBinary()
	if code == 0 {
		// Every test checks its own goroutines; this catches what
		// outlives the helpers shared between tests.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines after all tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	simUser     = "monitor"
	simPassword = "hardening-pw-4711"
)

// fleetOpts describes a simulated fleet; zero fields take defaults.
type fleetOpts struct {
	count          int
	profile        string // default edge-node (the smallest)
	addr           string // default 127.0.0.1
	users          []simulator.User
	maxSessions    int
	sessionTimeout time.Duration
	kg             []byte
	seed           int64
	faults         simulator.Faults
	clock          func() time.Time
	authTypes15    []wire.AuthType
}

func startFleet(t testing.TB, o fleetOpts) *simulator.Fleet {
	t.Helper()
	if o.count == 0 {
		o.count = 1
	}
	if o.profile == "" {
		o.profile = "edge-node"
	}
	if o.addr == "" {
		o.addr = "127.0.0.1"
	}
	if o.users == nil {
		o.users = []simulator.User{{Name: simUser, Password: simPassword, Privilege: wire.PrivilegeUser}}
	}
	if o.seed == 0 {
		o.seed = 7
	}
	p, err := simmodel.LoadProfile(o.profile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:  netip.AddrPortFrom(netip.MustParseAddr(o.addr), 0),
		Count: o.count,
		BMC: simulator.BMCConfig{
			Users:          o.users,
			KG:             o.kg,
			MaxSessions:    o.maxSessions,
			SessionTimeout: o.sessionTimeout,
			AuthTypes15:    o.authTypes15,
		},
		NewHandler: simulator.ModelHandlers(p, o.seed, o.clock, simmodel.Quirks{}),
		Seed:       o.seed,
		Faults:     o.faults,
		Clock:      o.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envOpts tunes startExporter.
type envOpts struct {
	maxInFlight int
	// dial wraps the production dialer (for example to count dials); nil
	// uses it as is.
	dial func(exporter.Dialer) exporter.Dialer
	// offset is the scrape timeout offset (default 500ms, the binary's).
	offset time.Duration
}

// exporterEnv is the production handler (exporter.New over a real pool
// and the production session dialer) in an httptest server, logging at
// debug level into logs.
type exporterEnv struct {
	url    string
	srv    *httptest.Server
	pool   *pool.Pool
	store  *config.Store
	logs   *syncBuffer
	client *http.Client
	dials  atomic.Int64
	once   sync.Once
}

func writeFile(t testing.TB, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func startExporter(t testing.TB, yaml string, o envOpts) *exporterEnv {
	t.Helper()
	path := writeFile(t, t.TempDir(), "config.yml", yaml, 0o600)
	store, warnings, err := config.NewStore(path, nil, collector.Catalog())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	for _, w := range warnings {
		t.Logf("config warning: %s", w)
	}
	if o.offset == 0 {
		o.offset = 500 * time.Millisecond
	}
	if o.maxInFlight == 0 {
		o.maxInFlight = 512
	}
	e := &exporterEnv{store: store, logs: &syncBuffer{}}
	logger := level.NewFilter(log.NewLogfmtLogger(e.logs), level.AllowDebug())
	e.pool = pool.New(pool.Options{MaxInFlight: o.maxInFlight, IdleTimeout: time.Hour, Logger: logger}, nil)
	dial := exporter.SessionDialer(nil)
	if o.dial != nil {
		dial = o.dial(dial)
	}
	counted := func(ctx context.Context, addr string, m *config.Module) (ipmi.Transport, error) {
		e.dials.Add(1)
		return dial(ctx, addr, m)
	}
	x := exporter.New(exporter.Options{
		Store:           store,
		Pool:            e.pool,
		Dial:            counted,
		IsSessionBroken: exporter.IsSessionBroken,
		TimeoutOffset:   o.offset,
		Logger:          logger,
	})
	mux := http.NewServeMux()
	mux.Handle("/ipmi", x)
	e.srv = httptest.NewServer(mux)
	e.url = e.srv.URL
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	t.Cleanup(func() { e.close() })
	return e
}

// close stops the HTTP server and closes the pool, logging out of every
// BMC. It is idempotent.
func (e *exporterEnv) close() {
	e.once.Do(func() {
		e.srv.Close()
		e.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		e.pool.Close(ctx)
	})
}

// scrapeResult is one /ipmi answer.
type scrapeResult struct {
	status   int
	body     string
	elapsed  time.Duration
	families map[string]*dto.MetricFamily
	up       map[string]float64
}

func (r scrapeResult) allUp() bool {
	if len(r.up) == 0 {
		return false
	}
	for _, v := range r.up {
		if v != 1 {
			return false
		}
	}
	return true
}

func (r scrapeResult) allDown() bool {
	if len(r.up) == 0 {
		return false
	}
	for _, v := range r.up {
		if v != 0 {
			return false
		}
	}
	return true
}

// scrape GETs /ipmi like Prometheus with the given scrape timeout. A 200
// must parse as the text exposition format.
func (e *exporterEnv) scrape(t testing.TB, target, module string, timeout time.Duration) scrapeResult {
	t.Helper()
	q := "target=" + target
	if module != "" {
		q += "&module=" + module
	}
	return scrapeURL(t, e.client, e.url+"/ipmi?"+q, timeout)
}

func scrapeURL(t testing.TB, client *http.Client, url string, timeout time.Duration) scrapeResult {
	t.Helper()
	// The client gives up well after the deadline, so a handler that
	// ignores it is seen as slow rather than cut off.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", timeout.Seconds()))
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", truncate(url, 200), err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := scrapeResult{status: resp.StatusCode, body: string(body), elapsed: time.Since(start)}
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", truncate(url, 200), err)
	}
	if r.status == http.StatusOK {
		r.families, err = parseExposition(r.body)
		if err != nil {
			t.Fatalf("GET %s: unparseable exposition: %v\n%s", truncate(url, 200), err, r.body)
		}
		r.up = upValues(r.families)
	}
	return r
}

func parseExposition(body string) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(strings.NewReader(body))
}

func upValues(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if mf := mfs["ipmi_up"]; mf != nil {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "collector" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// leakCheck records the process' file descriptors at the start of a test
// and, at its end, requires that every goroutine and descriptor the test
// started is gone.
type leakCheck struct {
	fds map[string]string
}

func startLeakCheck(t testing.TB) *leakCheck {
	t.Helper()
	return &leakCheck{fds: openFDs(t)}
}

// verify polls (descriptors close asynchronously in a few places, such as
// the HTTP server's connection goroutines) until nothing is left over, or
// fails after a deadline listing what is.
func (l *leakCheck) verify(t testing.TB) {
	t.Helper()
	goleak.VerifyNone(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		extra := map[string]string{}
		for fd, target := range openFDs(t) {
			if old, ok := l.fds[fd]; !ok || old != target {
				extra[fd] = target
			}
		}
		if len(extra) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var lines []string
			for fd, target := range extra {
				lines = append(lines, fd+" -> "+target)
			}
			sort.Strings(lines)
			t.Fatalf("%d file descriptors leaked:\n%s", len(extra), strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openFDs maps each open descriptor of this process to what it points at.
func openFDs(t testing.TB) map[string]string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the descriptor ReadDir itself used, now closed
		}
		out[e.Name()] = target
	}
	return out
}

func countFDs(t testing.TB) int { return len(openFDs(t)) }

// requireNoBMCSessions waits until no simulated BMC holds a session.
func requireNoBMCSessions(t testing.TB, fleets ...*simulator.Fleet) {
	t.Helper()
	waitFor(t, 5*time.Second, "every BMC session closed", func() (bool, string) {
		var busy []string
		for _, f := range fleets {
			for _, b := range f.BMCs() {
				if n := b.ActiveSessions(); n > 0 {
					busy = append(busy, fmt.Sprintf("%s: %d %v", b.Addr(), n, b.Sessions()))
				}
			}
		}
		return len(busy) == 0, strings.Join(busy, "; ")
	})
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// moduleYAML is a config with one module named name for the simulated
// BMCs' account, allowing loopback only.
func moduleYAML(name, user, pass, extra string) string {
	return fmt.Sprintf(`modules:
  %s:
    user: %q
    pass: %q
    allowed_targets: [127.0.0.0/8, "::1"]
%s`, name, user, pass, indent(extra, "    "))
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
