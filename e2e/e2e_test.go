package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/contenttest"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// The BMC account the exporter uses: USER privilege, as README's "Preparing
// a BMC" recommends. The password fits IPMI 1.5's 16 bytes so that the
// legacy (LAN) module can use it too.
const (
	bmcUser     = "monitor"
	bmcOperator = "lanreader" // OPERATOR account for the lan collector (README: a separate module)
	bmcPassword = "e2e-secret-pw"
)

// Shortened timings. The shipped files are written for production (1 m
// scrapes, 2 m `for:`, 30 s group_wait); the test rewrites only these keys
// in its copies, through the parsed YAML, and keeps everything else.
const (
	// global scrape_interval and evaluation_interval (shipped: 1m).
	promInterval = "2s"
	// global scrape_timeout and the BMC jobs' scrape_timeout (shipped:
	// 15s). Prometheus refuses a timeout longer than the interval; the
	// exporter's deadline becomes 2s minus --scrape.timeout-offset (0.5s).
	promScrapeTimeout = "2s"
	// `for:` of IPMITemperatureAboveUpperCritical (shipped: 2m): two
	// evaluation intervals, so the alert still goes through pending.
	tempAlertFor = "4s"
	// Alertmanager route group_wait (shipped: 30s) and group_interval
	// (shipped: 5m; the resolved notification waits for it).
	amGroupWait     = "1s"
	amGroupInterval = "2s"
)

const (
	tempAlert    = "IPMITemperatureAboveUpperCritical"
	tempAlertDoc = "alerts/ipmi-alerts.yml"
)

// Every simulated BMC has a role: the dashboards have panels that only
// show problems, and each problem is produced on one BMC.
type role string

const (
	roleHot    role = "hot"    // healthy; its temperature is pushed over the critical threshold later
	roleOff    role = "off"    // chassis powered off
	roleFaulty role = "faulty" // chassis faults, a sensor in warning and one critical
	roleDead   role = "dead"   // answers nothing (simulator fault Silent)
)

var roles = []role{roleHot, roleOff, roleFaulty, roleDead}

// problemQueries are the panel queries that have data only when something
// is wrong, keyed "file|panel title|refId", with the BMC whose problem
// gives them data. Every other query must have data for the healthy BMC.
var problemQueries = map[string]role{
	"ipmi-fleet-overview.json|BMCs up and down|B":                             roleDead, // BMCs with every collector down
	"ipmi-fleet-overview.json|Failing collectors and scrapes|A":               roleDead,
	"ipmi-fleet-overview.json|Retransmits by command|A":                       roleDead, // exporter-wide; only the silent BMC makes the exporter retransmit
	"ipmi-fleet-overview.json|Sensors in warning or critical state by host|A": roleFaulty,
	"ipmi-fleet-overview.json|Sensors in warning or critical state by host|B": roleFaulty,
	"ipmi-fleet-overview.json|Sensors not nominal|A":                          roleFaulty,
	"ipmi-fleet-overview.json|Chassis faults|A":                               roleFaulty,
	"ipmi-fleet-overview.json|Chassis powered off|A":                          roleOff,
	// The lan collector needs OPERATOR: only the legacy module, which logs
	// in to the off BMC with an operator account, runs it.
	"ipmi-host.json|LAN|A": roleOff,
}

// exemptQueries may have no data; they are still run and must be valid.
// None is exempt today: every panel has data from some simulated BMC.
var exemptQueries = map[string]string{}

// TestPrometheusAlertmanagerEndToEnd is the acceptance test of the whole
// stack. It builds the exporter, starts four simulated BMCs (one per role)
// in-process, the exporter, Alertmanager (examples/alertmanager.yml, webhook
// to this test) and Prometheus (examples/prometheus.yml with alerts/), and
// checks: every target of every job up; every dashboard query has data;
// the temperature alert fires for the BMC pushed over its threshold and
// resolves when it cools; sessions stay per (BMC, module); the exporter
// exits cleanly and logs out of every BMC.
func TestPrometheusAlertmanagerEndToEnd(t *testing.T) {
	testStart := time.Now()
	promBin := findTool(t, "PROMETHEUS_BIN", "prometheus")
	amBin := findTool(t, "ALERTMANAGER_BIN", "prometheus-alertmanager", "alertmanager")
	repo := contenttest.RepoDir()
	ctx := t.Context()

	exporterBin := buildExporter(t, repo)

	// Simulated BMCs, one role each.
	fleet, bmcs := startFleet(t)
	addrOf := map[role]string{}
	for i, r := range roles {
		addrOf[r] = bmcs[i].Addr().String()
	}
	hot := bmcs[0].Model()
	t.Logf("BMCs: %v", addrOf)

	// Alertmanager's webhook receiver.
	hook := &webhook{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	// Exporter.
	dir := t.TempDir()
	exporterAddr := freePort(t)
	exporterCfg := writeExporterConfig(t, dir, addrOf)
	exporter := startProc(t, "exporter", dir, exporterBin,
		"--config.file="+exporterCfg, "--web.listen-address="+exporterAddr)
	waitReady(t, exporter, exporterAddr, 20*time.Second)

	// Alertmanager.
	amAddr := freePort(t)
	amCfg := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, amCfg, alertmanagerConfig(t, strings.TrimPrefix(hookSrv.URL, "http://")))
	am := startProc(t, "alertmanager", dir, amBin,
		"--config.file="+amCfg, "--storage.path="+filepath.Join(dir, "am-data"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	waitReady(t, am, amAddr, 30*time.Second)

	// Prometheus.
	promAddr := freePort(t)
	alertsCopy := filepath.Join(dir, "ipmi-alerts.yml")
	writeFile(t, alertsCopy, alertRules(t, repo, tempAlertFor, tempAlert))
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, prometheusConfig(t, exporterAddr, amAddr, alertsCopy, addrOf))
	// --enable-feature=extra-scrape-metrics as the example's header asks.
	prom := startProc(t, "prometheus", dir, promBin,
		"--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr, "--enable-feature=extra-scrape-metrics")
	waitReady(t, prom, promAddr, 30*time.Second)
	promStart := time.Now()
	api := promAPI{base: "http://" + promAddr}
	all := []*proc{exporter, am, prom}

	// 1. Every target of every job is up: the exporter's own job, the
	// static job (its example hosts replaced by simulated BMCs, see
	// prometheusConfig) and the /sd job. Each target must have been scraped
	// successfully, not necessarily all in the same poll: on a loaded
	// machine a 2 s scrape times out now and then (logScrapeStats shows
	// how often).
	everUp := map[string]bool{}
	waitFor(t, "every target up", 40*time.Second, all, func() error {
		return checkTargets(ctx, api, wantTargets, addrOf, everUp)
	})
	waitFor(t, "Prometheus sees Alertmanager", 30*time.Second, all, func() error {
		urls, err := api.alertmanagers(ctx)
		if err != nil {
			return err
		}
		for _, u := range urls {
			if strings.Contains(u, amAddr) {
				return nil
			}
		}
		return fmt.Errorf("active alertmanagers %v, want %s", urls, amAddr)
	})

	// 2. Every dashboard query has data.
	checkDashboards(t, ctx, api, addrOf, promStart, all)

	// 3. The temperature alert fires and resolves, for the hot BMC only.
	if n := tempNotifications(hook, "", ""); len(n) > 0 {
		t.Fatalf("%s notified before any temperature was raised: %v", tempAlert, n)
	}
	sensor, uc := tempSensorFor(t, hot)
	hotValue := aboveCritical(sensor)
	heated := time.Now()
	if err := hot.SetSensorValue(sensor.Name, hotValue); err != nil {
		t.Fatal(err)
	}
	if s, err := hot.Sensor(sensor.Name); err != nil || !(s.Value > uc) {
		t.Fatalf("after SetSensorValue(%q, %v): sensor reads %v (err %v), not above upper critical %v", sensor.Name, hotValue, s.Value, err, uc)
	}
	t.Logf("%s on %s set to %v °C (upper critical %v °C)", sensor.Name, addrOf[roleHot], hotValue, uc)

	// The hot BMC is in both BMC jobs: one alert (and notification group) each.
	hotJobs := []string{"ipmi_bmc", "ipmi_bmc_sd"}
	waitFor(t, tempAlert+" firing at the webhook", 45*time.Second, all, func() error {
		return wantAlertStatus(hook, "firing", addrOf[roleHot], sensor.Name, hotJobs, heated)
	})
	t.Logf("firing notified %s after the value changed", time.Since(heated).Round(time.Second))
	for _, n := range tempNotifications(hook, "firing", addrOf[roleHot]) {
		if n.Path != "/critical" {
			t.Errorf("severity=critical alert notified on %s, want /critical (route by severity)", n.Path)
		}
		for _, a := range n.Alerts {
			if a.Labels["alertname"] != tempAlert {
				continue
			}
			if a.Labels["severity"] != "critical" || a.Labels["name"] != sensor.Name || a.Labels["id"] == "" {
				t.Errorf("firing alert labels %v: want severity critical, name %q and an id", a.Labels, sensor.Name)
			}
			// The description's template queries the threshold back from Prometheus.
			if d := a.Annotations["description"]; !strings.Contains(d, fmt.Sprintf("threshold of %v °C", uc)) {
				t.Errorf("description %q does not name the upper critical threshold %v °C", d, uc)
			}
		}
	}

	if err := hot.ClearSensorValue(sensor.Name); err != nil {
		t.Fatal(err)
	}
	if s, _ := hot.Sensor(sensor.Name); !(s.Value < uc) {
		t.Fatalf("after ClearSensorValue(%q) the sensor reads %v, not below %v", sensor.Name, s.Value, uc)
	}
	cooled := time.Now()
	waitFor(t, tempAlert+" resolved at the webhook", 40*time.Second, all, func() error {
		return wantAlertStatus(hook, "resolved", addrOf[roleHot], sensor.Name, hotJobs, cooled)
	})
	t.Logf("resolved notified %s after the value dropped", time.Since(cooled).Round(time.Second))

	// Nothing else raised the temperature alert.
	for _, n := range tempNotifications(hook, "", "") {
		for _, a := range n.Alerts {
			if a.Labels["alertname"] == tempAlert && (a.Labels["instance"] != addrOf[roleHot] || a.Labels["name"] != sensor.Name) {
				t.Errorf("unexpected %s for %s %q (%s)", tempAlert, a.Labels["instance"], a.Labels["name"], a.Status)
			}
		}
	}
	if _, errs := hook.snapshot(); len(errs) > 0 {
		t.Errorf("malformed webhook calls: %v", errs)
	}

	logScrapeStats(t, ctx, api)

	// 4. Sessions. README: "one long-lived RMCP+ session per (BMC, module)".
	// The off BMC is scraped with two modules (default from /sd, legacy
	// from the static job), the others with one; the dead BMC never
	// answers. Allow one re-established session per module (a loaded
	// machine may cut a request).
	prom.stop(t) // no new scrapes from here on
	modules := map[role]int{roleHot: 1, roleOff: 2, roleFaulty: 1, roleDead: 0}
	for i, r := range roles {
		b := fleet.BMC(i)
		opened := b.Counters().SessionsOpened
		t.Logf("BMC %s: %d sessions opened, %d active before the exporter stops", r, opened, len(activeSessions(b)))
		if limit := uint64(2 * modules[r]); opened > limit {
			t.Errorf("BMC %s (%s), scraped with %d module(s), had %d sessions opened during the test, want at most %d: "+
				"sessions are not kept per (BMC, module)", r, addrOf[r], modules[r], opened, limit)
		}
	}

	// 5. The exporter shuts down cleanly on SIGTERM and logs out of every
	// BMC (README: "graceful SIGTERM closing every session").
	exporter.stop(t)
	if _, err := exporter.exited(); err != nil {
		t.Errorf("exporter exit after SIGTERM: %v, want status 0", err)
	}
	if raceEnabled && exporter.logContains("WARNING: DATA RACE") {
		t.Errorf("the race detector reported a data race in the exporter (see its log)")
	}
	for i, r := range roles {
		// Half-open sessions (a handshake cut by a scrape deadline) cannot
		// be closed by the client; the BMC times them out. Only
		// established ones count.
		if active := activeSessions(fleet.BMC(i)); len(active) > 0 {
			t.Errorf("BMC %s (%s) still has established sessions after the exporter exited: %+v", r, addrOf[r], active)
		}
	}
	t.Logf("end-to-end test took %s", time.Since(testStart).Round(time.Second))
}

// activeSessions lists a simulated BMC's established sessions.
func activeSessions(b *simulator.BMC) []simulator.SessionInfo {
	var out []simulator.SessionInfo
	for _, s := range b.Sessions() {
		if s.State == "active" {
			out = append(out, s)
		}
	}
	return out
}

// findTool looks a binary up by an environment variable or on PATH. When it
// is missing the test is skipped, unless CI is set: then it fails.
func findTool(t *testing.T, env string, names ...string) string {
	t.Helper()
	if env != "" {
		if p := os.Getenv(env); p != "" {
			return p
		}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("none of %v found on PATH (set %s)", names, env)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// buildExporter builds the exporter binary from the repository root, with
// -race when the test itself runs under the race detector.
func buildExporter(t *testing.T, repo string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	out := filepath.Join(t.TempDir(), "ipmi_fleet_exporter")
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, ".")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = repo
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	t.Logf("built the exporter (race=%v) in %s", raceEnabled, time.Since(start).Round(100*time.Millisecond))
	return out
}

// startFleet starts one simulated BMC per role from the dual-socket-1u
// profile plus one sensor, and gives each its problem.
func startFleet(t *testing.T) (*simulator.Fleet, []*simulator.BMC) {
	t.Helper()
	p, err := model.LoadProfile("dual-socket-1u")
	if err != nil {
		t.Fatal(err)
	}
	// The shipped profiles have no threshold sensor outside the typed
	// families (temperature, fan, voltage, current, power), so the host
	// dashboard's "Other sensor readings" thresholds query would have
	// nothing to show. Real boards have such sensors (airflow in CFM).
	p.Sensors = append(p.Sensors, model.SensorSpec{
		Name: "Airflow", Number: 0x80, Type: "0x0b", Unit: "CFM", Entity: "system_chassis.1",
		Base: 60, Noise: 1, Min: 0, Max: 255,
		Thresholds: model.ThresholdSpec{LC: ptr(10.0), LNC: ptr(20.0), UNC: ptr(200.0), UC: ptr(230.0)},
	})
	fleet, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0),
		Count: len(roles),
		BMC: simulator.BMCConfig{
			Users: []simulator.User{
				{Name: bmcUser, Password: bmcPassword, Privilege: wire.PrivilegeUser},
				{Name: bmcOperator, Password: bmcPassword, Privilege: wire.PrivilegeOperator},
			},
		},
		NewHandler: simulator.ModelHandlers(p, 1, nil, model.Quirks{}),
		Seed:       1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	bmcs := fleet.BMCs()
	for i, r := range roles {
		b := bmcs[i]
		m := b.Model()
		switch r {
		case roleOff:
			m.SetPower(false)
		case roleFaulty:
			m.SetChassisFaults(model.ChassisFaults{CoolingFault: true, DriveFault: true})
			pushSeverity(t, m, "Voltage", sdr.Warning)
			pushSeverity(t, m, "Fan", sdr.Critical)
		case roleDead:
			if err := b.SetFaults(simulator.Faults{Silent: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return fleet, bmcs
}

func ptr[T any](v T) *T { return &v }

// pushSeverity sets the first available sensor of the type to a value
// between two of its thresholds, so that it reads in warning (between
// upper non-critical and upper critical) or critical (between lower
// critical and lower non-recoverable).
func pushSeverity(t *testing.T, m *model.BMC, typeName string, want sdr.Severity) {
	t.Helper()
	for _, s := range m.Sensors() {
		if s.TypeName != typeName || !s.Available {
			continue
		}
		th := s.Thresholds
		var v float64
		switch {
		case want == sdr.Warning && th.UNC != nil && th.UC != nil:
			v = (*th.UNC + *th.UC) / 2
		case want == sdr.Critical && th.LC != nil && th.LNR != nil:
			v = (*th.LC + *th.LNR) / 2
		default:
			continue
		}
		if err := m.SetSensorValue(s.Name, v); err != nil {
			t.Fatal(err)
		}
		got, err := m.Sensor(s.Name)
		if err != nil || got.Severity != want {
			t.Fatalf("sensor %q set to %v reads %v with severity %v (err %v), want %v", s.Name, v, got.Value, got.Severity, err, want)
		}
		return
	}
	t.Fatalf("no %s sensor with the thresholds to make it %v", typeName, want)
}

// tempSensorFor picks the temperature sensor for the alert from the
// model's snapshot: the first available, nominal one with an upper
// critical threshold.
func tempSensorFor(t *testing.T, m *model.BMC) (model.SensorSnapshot, float64) {
	t.Helper()
	for _, s := range m.Sensors() {
		if s.TypeName == "Temperature" && s.Available && s.Thresholds.UC != nil && s.Severity == sdr.Nominal {
			return s, *s.Thresholds.UC
		}
	}
	t.Fatal("no available temperature sensor with an upper critical threshold")
	return model.SensorSnapshot{}, 0
}

// aboveCritical is a value between the sensor's upper critical and upper
// non-recoverable thresholds (or 3 degrees over upper critical).
func aboveCritical(s model.SensorSnapshot) float64 {
	uc := *s.Thresholds.UC
	if s.Thresholds.UNR != nil && *s.Thresholds.UNR > uc {
		return (uc + *s.Thresholds.UNR) / 2
	}
	return uc + 3
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeExporterConfig writes the exporter's configuration: module default
// (USER privilege, the default collectors) and module legacy (IPMI 1.5, as in config.example.yml) with the simulated
// BMC account, allowed on loopback only, and every BMC listed for /sd.
//
// The off BMC is scraped with both modules (the static legacy job and the
// /sd job), so both modules allow two sessions per BMC: max_sessions caps
// sessions per BMC across modules, and with the default of 1 the two
// modules would take turns, closing each other's session on every scrape.
func writeExporterConfig(t *testing.T, dir string, addrOf map[role]string) string {
	t.Helper()
	passFile := filepath.Join(dir, "bmc-password")
	writeFile(t, passFile, []byte(bmcPassword+"\n"))
	var hosts []string
	for _, r := range roles {
		hosts = append(hosts, fmt.Sprintf("%q", addrOf[r]))
	}
	cfg := fmt.Sprintf(`modules:
  default:
    user: %q
    pass_file: %q
    privilege: user
    max_sessions: 2
    # The default set plus fru, whose ipmi_fru_info the host dashboard's
    # inventory table shows.
    collectors: [ipmi, sel, chassis, dcmi, bmc, fru]
    allowed_targets: [127.0.0.0/8]
  legacy:
    user: %q
    pass_file: %q
    driver: LAN
    privilege: operator
    collectors: [ipmi, chassis, lan]
    max_sessions: 2
    allowed_targets: [127.0.0.0/8]
targets:
  - module: default
    labels: {rack: r1}
    hosts: [%s]
`, bmcUser, passFile, bmcOperator, passFile, strings.Join(hosts, ", "))
	path := filepath.Join(dir, "ipmi_fleet_exporter.yml")
	writeFile(t, path, []byte(cfg))
	return path
}

// prometheusConfig is examples/prometheus.yml with its placeholders
// rewritten (contenttest.RewriteExample) and, in the parsed YAML:
//   - the intervals and timeouts shortened (see promInterval);
//   - the alert rule file replaced by the test's copy (alertRules);
//   - the static job's example hosts (bmc-r1-0{1,2}.example.com, and
//     old-bmc.example.com with module legacy), which do not exist, replaced
//     by simulated BMCs: the first group by the hot, faulty and dead
//     BMCs, the legacy group by the powered-off one (scraped over IPMI 1.5
//     with the exporter's legacy module). Each BMC is in one group only:
//     the same BMC under two modules in one job would give two series
//     with equal (job, instance, id, name), which the rules' one-to-one
//     matches refuse.
func prometheusConfig(t *testing.T, exporterAddr, amAddr, alertsCopy string, addrOf map[role]string) []byte {
	t.Helper()
	data, err := contenttest.RewriteExample("prometheus.yml", map[string]string{
		"localhost:9290": exporterAddr,
		"localhost:9093": amAddr,
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("examples/prometheus.yml: %v", err)
		}
	}
	set := func(where string, keys []string, key, value string) {
		t.Helper()
		n, err := path(doc.top(), keys...)
		must(err)
		old, err := setScalar(n, key, value)
		must(err)
		t.Logf("prometheus.yml %s%s: %s -> %s", where, key, old, value)
	}
	set("global.", []string{"global"}, "scrape_interval", promInterval)
	set("global.", []string{"global"}, "evaluation_interval", promInterval)
	set("global.", []string{"global"}, "scrape_timeout", promScrapeTimeout)

	jobs, err := path(doc.top(), "scrape_configs")
	must(err)
	for _, job := range []string{"ipmi_bmc", "ipmi_bmc_sd"} {
		j := findInSeq(jobs, "job_name", job)
		if j == nil {
			t.Fatalf("examples/prometheus.yml: no job %s", job)
		}
		old, err := setScalar(j, "scrape_timeout", promScrapeTimeout)
		must(err)
		t.Logf("prometheus.yml job %s scrape_timeout: %s -> %s", job, old, promScrapeTimeout)
	}
	static := findInSeq(jobs, "job_name", "ipmi_bmc")
	groups := mapValue(static, "static_configs")
	if groups == nil || len(groups.Content) != 2 || mapValue(groups.Content[1], "labels") == nil ||
		mapValue(mapValue(groups.Content[1], "labels"), "module").Value != "legacy" {
		t.Fatalf("examples/prometheus.yml: job ipmi_bmc no longer has the two static groups (default, module legacy) this test rewrites")
	}
	must(setStrings(groups.Content[0], "targets", []string{addrOf[roleHot], addrOf[roleFaulty], addrOf[roleDead]}))
	must(setStrings(groups.Content[1], "targets", []string{addrOf[roleOff]}))

	rules, err := path(doc.top(), "rule_files")
	must(err)
	replaced := false
	for _, r := range rules.Content {
		if strings.HasSuffix(r.Value, "/"+filepath.Base(tempAlertDoc)) {
			t.Logf("prometheus.yml rule_files: %s -> %s", r.Value, alertsCopy)
			r.Value, replaced = alertsCopy, true
		}
	}
	if !replaced {
		t.Fatalf("examples/prometheus.yml: rule_files has no %s", filepath.Base(tempAlertDoc))
	}
	out, err := doc.bytes()
	must(err)
	return out
}

// alertRules is alerts/ipmi-alerts.yml with the `for:` of the named alerts
// set to forDur; every other rule as shipped.
func alertRules(t *testing.T, repo, forDur string, names ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, tempAlertDoc))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(data)
	if err != nil {
		t.Fatalf("%s: %v", tempAlertDoc, err)
	}
	groups, err := path(doc.top(), "groups")
	if err != nil {
		t.Fatalf("%s: %v", tempAlertDoc, err)
	}
	for _, name := range names {
		found := false
		for _, g := range groups.Content {
			if rule := findInSeq(mapValue(g, "rules"), "alert", name); rule != nil {
				old, err := setScalar(rule, "for", forDur)
				if err != nil {
					t.Fatalf("%s: %s: %v", tempAlertDoc, name, err)
				}
				t.Logf("%s %s for: %s -> %s", tempAlertDoc, name, old, forDur)
				found = true
			}
		}
		if !found {
			t.Fatalf("%s has no alert %s", tempAlertDoc, name)
		}
	}
	out, err := doc.bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// alertmanagerConfig is examples/alertmanager.yml with the webhook
// placeholder pointing at the test's receiver and the route's group_wait
// and group_interval shortened; repeat_interval, receivers and inhibitions
// as shipped.
func alertmanagerConfig(t *testing.T, hookAddr string) []byte {
	t.Helper()
	data, err := contenttest.RewriteExample("alertmanager.yml", map[string]string{"localhost:5001": hookAddr})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	route, err := path(doc.top(), "route")
	if err != nil {
		t.Fatalf("examples/alertmanager.yml: %v", err)
	}
	for key, value := range map[string]string{"group_wait": amGroupWait, "group_interval": amGroupInterval} {
		old, err := setScalar(route, key, value)
		if err != nil {
			t.Fatalf("examples/alertmanager.yml route: %v", err)
		}
		t.Logf("alertmanager.yml route.%s: %s -> %s", key, old, value)
	}
	out, err := doc.bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantTargets is how many active targets each job of prometheus.yml has.
var wantTargets = map[string]int{"ipmi_fleet_exporter": 1, "ipmi_bmc": 4, "ipmi_bmc_sd": 4}

// checkTargets reports how the active targets differ from want (count per
// job, all up), or nil. A target counts as up when it is now, or was in an
// earlier call with the same everUp map (nil: now only).
func checkTargets(ctx context.Context, api promAPI, want map[string]int, addrOf map[role]string, everUp map[string]bool) error {
	targets, err := api.targets(ctx)
	if err != nil {
		return err
	}
	got := map[string]int{}
	var problems []string
	for _, tg := range targets {
		job := tg.Labels["job"]
		got[job]++
		if tg.Health == "up" && everUp != nil {
			everUp[tg.ScrapeURL] = true
		}
		if tg.Health != "up" && !everUp[tg.ScrapeURL] {
			problems = append(problems, fmt.Sprintf("%s %s is %s (%s)", job, tg.Labels["instance"], tg.Health, tg.LastError))
		}
		if job == "ipmi_bmc_sd" && tg.Labels["rack"] != "r1" {
			problems = append(problems, fmt.Sprintf("ipmi_bmc_sd %s lacks the /sd group label rack=r1: %v", tg.Labels["instance"], tg.Labels))
		}
		if job == "ipmi_bmc" && tg.Labels["instance"] == addrOf[roleOff] && !strings.Contains(tg.ScrapeURL, "module=legacy") {
			problems = append(problems, fmt.Sprintf("the legacy group's target is scraped as %s, without module=legacy", tg.ScrapeURL))
		}
	}
	for job, n := range want {
		if got[job] != n {
			problems = append(problems, fmt.Sprintf("job %s has %d targets, want %d", job, got[job], n))
		}
	}
	for job := range got {
		if _, ok := want[job]; !ok {
			problems = append(problems, "unexpected job "+job)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// panelCheck is one dashboard query run for the BMC it needs.
type panelCheck struct {
	q      contenttest.Query
	role   role
	exempt string
}

func queryKey(q contenttest.Query) string { return q.File + "|" + q.Panel + "|" + q.RefID }

// checkDashboards runs every dashboard panel query (and every variable
// query) with the instance variable set to the BMC that should give it
// data, until all have data.
func checkDashboards(t *testing.T, ctx context.Context, api promAPI, addrOf map[role]string, since time.Time, watch []*proc) {
	t.Helper()
	byRole := map[role][]contenttest.Query{}
	for _, r := range roles {
		qs, err := contenttest.PanelQueries(contenttest.DashboardsDir(), contenttest.Vars{Instance: addrOf[r]})
		if err != nil {
			t.Fatal(err)
		}
		vqs, err := contenttest.VariableQueries(contenttest.DashboardsDir(), contenttest.Vars{Instance: addrOf[r]})
		if err != nil {
			t.Fatal(err)
		}
		byRole[r] = append(qs, vqs...)
	}
	var checks []panelCheck
	used := map[string]bool{}
	for i, q := range byRole[roleHot] {
		key := queryKey(q)
		r, ok := problemQueries[key]
		if !ok {
			r = roleHot
		}
		used[key] = true
		checks = append(checks, panelCheck{q: byRole[r][i], role: r, exempt: exemptQueries[key]})
	}
	for key := range problemQueries {
		if !used[key] {
			t.Errorf("problemQueries names %q, which no dashboard has any more", key)
		}
	}
	for key := range exemptQueries {
		if !used[key] {
			t.Errorf("exemptQueries names %q, which no dashboard has any more", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(exemptQueries)) {
		t.Logf("exempt from the data check: %s: %s", key, exemptQueries[key])
	}

	// A query passes once it has returned data; later evaluations need not
	// (a scrape that fails under load makes instant queries briefly empty,
	// which scrapeFailures reports on its own).
	seen := make([]bool, len(checks))
	var missing []string
	// A failure here is reported, and the alert part still runs.
	err := poll(t, fmt.Sprintf("data in all %d dashboard queries", len(checks)), 40*time.Second, watch, func() error {
		missing = missing[:0]
		now := time.Now()
		for i, c := range checks {
			if seen[i] {
				continue
			}
			var n int
			var err error
			if c.q.Instant {
				n, err = api.query(ctx, c.q.Expr, now)
			} else {
				n, err = api.queryRange(ctx, c.q.Expr, since, now, 2*time.Second)
			}
			if err != nil {
				// A query Prometheus refuses will not get better.
				t.Fatalf("%s (instance = %s BMC): %v\n%s", c.q, c.role, err, c.q.Expr)
			}
			if c.exempt != "" {
				// Run once: it must be valid; data would make the exemption stale.
				seen[i] = true
				if n > 0 {
					t.Logf("exempt query %s has data: drop its exemption", c.q)
				}
				continue
			}
			seen[i] = n > 0
			if n == 0 {
				missing = append(missing, fmt.Sprintf("%s [instance = %s BMC %s]: %s", c.q, c.role, addrOf[c.role], c.q.Expr))
			}
		}
		if len(missing) > 0 {
			targets := "every target up"
			if err := checkTargets(ctx, api, wantTargets, addrOf, nil); err != nil {
				targets = "targets: " + err.Error()
			}
			return fmt.Errorf("%d queries without data (%s):\n  %s", len(missing), targets, strings.Join(missing, "\n  "))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// tempNotifications returns the webhook notifications that carry the
// temperature alert with that status (any when "") for that instance
// (any when "").
func tempNotifications(w *webhook, status, instance string) []notification {
	notes, _ := w.snapshot()
	var out []notification
	for _, n := range notes {
		for _, a := range n.Alerts {
			if a.Labels["alertname"] == tempAlert && (status == "" || a.Status == status) &&
				(instance == "" || a.Labels["instance"] == instance) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// wantAlertStatus reports nil once the webhook has received, since the
// given time, the temperature alert of sensor on instance with status, for
// every job. (A scrape failing under load can resolve a firing alert
// early; only notifications after the value changed count.)
func wantAlertStatus(w *webhook, status, instance, sensor string, jobs []string, since time.Time) error {
	seen := map[string]bool{}
	for _, n := range tempNotifications(w, status, instance) {
		if n.Received.Before(since) {
			continue
		}
		for _, a := range n.Alerts {
			if a.Labels["alertname"] == tempAlert && a.Status == status && a.Labels["name"] == sensor {
				seen[a.Labels["job"]] = true
			}
		}
	}
	var lacking []string
	for _, j := range jobs {
		if !seen[j] {
			lacking = append(lacking, j)
		}
	}
	if len(lacking) > 0 {
		notes, _ := w.snapshot()
		return fmt.Errorf("no %s %s for %s %q in job(s) %v yet (%d notifications so far)", status, tempAlert, instance, sensor, lacking, len(notes))
	}
	return nil
}

// logScrapeStats logs, per target, the failed scrapes and the longest
// scrape since Prometheus started.
func logScrapeStats(t *testing.T, ctx context.Context, api promAPI) {
	t.Helper()
	var d struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	for _, q := range []string{
		`count_over_time(up[10m]) - sum_over_time(up[10m])`,
		`max_over_time(scrape_duration_seconds[10m])`,
	} {
		if err := api.get(ctx, "/api/v1/query", url.Values{"query": {q}}, &d); err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		var lines []string
		for _, r := range d.Result {
			lines = append(lines, fmt.Sprintf("%s %s: %v", r.Metric["job"], r.Metric["instance"], r.Value[1]))
		}
		sort.Strings(lines)
		t.Logf("%s:\n  %s", q, strings.Join(lines, "\n  "))
	}
}
