package e2e

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/contenttest"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// Scale-out as README's "Scaling out" describes it: several exporters, each
// BMC hashed onto one of them by Prometheus' hashmod relabelling
// (examples/prometheus-sharded.yml).
const (
	// shardExporters is how many exporters the test runs: the shipped file
	// has three; the test follows its comment on changing that number
	// (modulus, and one __tmp_shard rule per exporter).
	shardExporters = 2
	// shardBMCs is how many simulated BMCs the shards share. At least
	// shardMinPerShard BMCs must hash onto every exporter.
	shardBMCs        = 8
	shardMinPerShard = 2
	// shardAlertFor replaces the `for:` of the alerts the test waits for
	// (shipped: 5m and 10m).
	shardAlertFor = "4s"
)

// shardAlerts are the alerts whose `for:` the test shortens: the two that
// docs/runbook.md says fire when an exporter goes (IPMIExporterDown for it,
// IPMITargetScrapeFailed for each BMC behind it), and IPMIBMCUnreachable,
// which must not: the BMCs are fine, only their exporter is gone.
var shardAlerts = []string{"IPMIExporterDown", "IPMITargetScrapeFailed", "IPMIBMCUnreachable"}

// TestShardedExporters runs two exporters and a real Prometheus with
// examples/prometheus-sharded.yml over simulated BMCs, and checks that
// every BMC is scraped through exactly one exporter, the one its hash
// picks, with one session and each series once; that stopping one exporter
// shows as up == 0 for its shard only; and that IPMIExporterDown and
// IPMITargetScrapeFailed fire for it and its BMCs while IPMIBMCUnreachable
// does not, as docs/runbook.md describes.
func TestShardedExporters(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the sharding end-to-end test runs Prometheus and two exporters for about a minute")
	}
	testStart := time.Now()
	promBin := findTool(t, "PROMETHEUS_BIN", "prometheus")
	repo := contenttest.RepoDir()
	ctx := t.Context()
	exporterBin := buildExporter(t, repo)

	// Exporter addresses first: the hash decides which BMCs each gets.
	exporterAddrs := make([]string, shardExporters)
	for i := range exporterAddrs {
		exporterAddrs[i] = freePort(t)
	}
	bmcs, shardOf, sims := startShardFleet(t)
	perShard := make([][]string, shardExporters)
	for _, b := range bmcs {
		perShard[shardOf[b]] = append(perShard[shardOf[b]], b)
	}
	for i, s := range perShard {
		t.Logf("exporter %d (%s): BMCs %v", i, exporterAddrs[i], s)
	}

	dir := t.TempDir()
	cfg := writeShardExporterConfig(t, dir)
	exporters := make([]*proc, shardExporters)
	for i, addr := range exporterAddrs {
		exporters[i] = startProc(t, fmt.Sprintf("exporter%d", i), dir, exporterBin,
			"--config.file="+cfg, "--web.listen-address="+addr)
	}
	for i, e := range exporters {
		waitReady(t, e, exporterAddrs[i], 20*time.Second)
	}

	promAddr := freePort(t)
	alertsCopy := filepath.Join(dir, "ipmi-alerts.yml")
	writeFile(t, alertsCopy, alertRules(t, repo, shardAlertFor, shardAlerts...))
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, shardedPrometheusConfig(t, exporterAddrs, freePort(t), alertsCopy, bmcs))
	prom := startProc(t, "prometheus", dir, promBin,
		"--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr)
	waitReady(t, prom, promAddr, 30*time.Second)
	api := promAPI{base: "http://" + promAddr}
	all := append([]*proc{prom}, exporters...)

	// 1. Every target up, each BMC through the exporter its hash picks.
	everUp := map[string]bool{}
	waitFor(t, "every BMC up through its own exporter", 60*time.Second, all, func() error {
		targets, err := api.targets(ctx)
		if err != nil {
			return err
		}
		seen := map[string]string{} // BMC -> exporter address
		exporterJob := 0
		for _, tg := range targets {
			if tg.Health == "up" {
				everUp[tg.ScrapePool+" "+tg.Labels["instance"]] = true
			}
			switch tg.ScrapePool {
			case "ipmi_fleet_exporter":
				exporterJob++
			case "ipmi_bmc":
				u, err := url.Parse(tg.ScrapeURL)
				if err != nil {
					return err
				}
				bmc := u.Query().Get("target")
				if prev, dup := seen[bmc]; dup {
					return fmt.Errorf("BMC %s has two targets, through %s and %s", bmc, prev, u.Host)
				}
				seen[bmc] = u.Host
				if tg.Labels["instance"] != bmc {
					return fmt.Errorf("target %s: instance %q, want the BMC", tg.ScrapeURL, tg.Labels["instance"])
				}
				if want := exporterAddrs[shardOf[bmc]]; u.Host != want {
					return fmt.Errorf("BMC %s is scraped through %s, its hash picks %s", bmc, u.Host, want)
				}
			}
		}
		if exporterJob != shardExporters || len(seen) != len(bmcs) {
			return fmt.Errorf("%d exporter targets and %d BMC targets, want %d and %d", exporterJob, len(seen), shardExporters, len(bmcs))
		}
		for _, tg := range targets {
			if !everUp[tg.ScrapePool+" "+tg.Labels["instance"]] {
				return fmt.Errorf("target %s (%s) not up yet: %s", tg.Labels["instance"], tg.ScrapePool, tg.LastError)
			}
		}
		return nil
	})

	// 2. Each series once: one ipmi_up per BMC and collector, all from the
	// BMC job, and every BMC's collectors up.
	waitFor(t, "one ipmi_up per BMC and collector, all 1", 30*time.Second, all, func() error {
		samples, err := queryVector(ctx, api, `count by (instance, collector) (ipmi_up{job="ipmi_bmc"})`)
		if err != nil {
			return err
		}
		perBMC := map[string]int{}
		for _, s := range samples {
			if s.value != 1 {
				return fmt.Errorf("%d ipmi_up series for %s collector %s", int(s.value), s.labels["instance"], s.labels["collector"])
			}
			perBMC[s.labels["instance"]]++
		}
		if len(perBMC) != len(bmcs) {
			return fmt.Errorf("ipmi_up for %d BMCs, want %d", len(perBMC), len(bmcs))
		}
		down, err := queryVector(ctx, api, `ipmi_up{job="ipmi_bmc"} == 0`)
		if err != nil {
			return err
		}
		if len(down) > 0 {
			return fmt.Errorf("collectors down: %v", down)
		}
		return nil
	})
	// Every BMC runs the same profile: the same series each, once.
	perInstance, err := queryVector(ctx, api, `count by (instance) ({job="ipmi_bmc", __name__=~"ipmi_.+"})`)
	if err != nil {
		t.Fatal(err)
	}
	if len(perInstance) != len(bmcs) {
		t.Errorf("series for %d BMCs, want %d", len(perInstance), len(bmcs))
	}
	for _, s := range perInstance {
		if s.value != perInstance[0].value {
			t.Errorf("series per BMC differ: %v", perInstance)
			break
		}
	}

	// 3. One session per BMC, held by its exporter.
	for i, addr := range exporterAddrs {
		body, err := httpGet(ctx, "http://"+addr+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if open := metricValue(string(body), "ipmi_fleet_exporter_sessions_open"); open != float64(len(perShard[i])) {
			t.Errorf("exporter %d holds %v sessions, want %d (its shard)", i, open, len(perShard[i]))
		}
	}
	for _, b := range bmcs {
		if n := len(activeSessions(sims[b])); n != 1 {
			t.Errorf("BMC %s has %d established sessions, want 1 (one exporter)", b, n)
		}
	}

	// 4. One exporter goes: up == 0 for it and its shard only.
	gone := 0
	exporters[gone].stop(t)
	killed := time.Now()
	t.Logf("stopped exporter %d (%s)", gone, exporterAddrs[gone])
	running := []*proc{prom, exporters[1-gone]}
	waitFor(t, "up == 0 for the stopped exporter's shard only", 30*time.Second, running, func() error {
		samples, err := queryVector(ctx, api, `up`)
		if err != nil {
			return err
		}
		for _, s := range samples {
			inst := s.labels["instance"]
			var wantDown bool
			switch s.labels["job"] {
			case "ipmi_fleet_exporter":
				wantDown = inst == exporterAddrs[gone]
			case "ipmi_bmc":
				wantDown = shardOf[inst] == gone
			default:
				return fmt.Errorf("unexpected job %q", s.labels["job"])
			}
			if (s.value == 0) != wantDown {
				return fmt.Errorf("up{job=%q, instance=%q} = %v, want down=%v", s.labels["job"], inst, s.value, wantDown)
			}
		}
		if len(samples) != shardExporters+len(bmcs) {
			return fmt.Errorf("%d up series, want %d", len(samples), shardExporters+len(bmcs))
		}
		return nil
	})

	// 5. The alerts, as docs/runbook.md describes them.
	waitFor(t, "IPMIExporterDown and IPMITargetScrapeFailed firing for the stopped shard", 45*time.Second, running, func() error {
		alerts, err := promAlerts(ctx, api)
		if err != nil {
			return err
		}
		firing := map[string][]string{}
		for _, a := range alerts {
			if a.State == "firing" {
				firing[a.Labels["alertname"]] = append(firing[a.Labels["alertname"]], a.Labels["instance"])
			}
			if a.Labels["alertname"] == "IPMIBMCUnreachable" {
				return fmt.Errorf("IPMIBMCUnreachable %s for %s: the BMC is fine, its exporter is gone", a.State, a.Labels["instance"])
			}
		}
		for name := range firing {
			sort.Strings(firing[name])
		}
		wantScrape := slices.Clone(perShard[gone])
		sort.Strings(wantScrape)
		if got := firing["IPMIExporterDown"]; !slices.Equal(got, []string{exporterAddrs[gone]}) {
			return fmt.Errorf("IPMIExporterDown firing for %v, want [%s]", got, exporterAddrs[gone])
		}
		if got := firing["IPMITargetScrapeFailed"]; !slices.Equal(got, wantScrape) {
			return fmt.Errorf("IPMITargetScrapeFailed firing for %v, want the stopped shard %v", got, wantScrape)
		}
		return nil
	})
	t.Logf("alerts firing %s after the exporter stopped", time.Since(killed).Round(time.Second))
	// The other shard keeps its data.
	for _, b := range perShard[1-gone] {
		n, err := api.query(ctx, fmt.Sprintf(`ipmi_up{job="ipmi_bmc",instance=%q,collector="ipmi"} == 1`, b), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("BMC %s of the running exporter lost its data", b)
		}
	}

	prom.stop(t)
	for i, e := range exporters {
		e.stop(t)
		if raceEnabled && e.logContains("WARNING: DATA RACE") {
			t.Errorf("the race detector reported a data race in exporter %d (see its log)", i)
		}
	}
	t.Logf("sharding test took %s", time.Since(testStart).Round(time.Second))
}

// hashmodShard is Prometheus' hashmod relabel action: the last 8 bytes of
// the MD5 of the value, big-endian, modulo the modulus.
func hashmodShard(value string, modulus uint64) int {
	sum := md5.Sum([]byte(value))
	return int(binary.BigEndian.Uint64(sum[8:]) % modulus)
}

// startShardFleet starts simulated BMCs until shardBMCs of them spread
// over every shard with at least shardMinPerShard each (ports are random,
// so the hash is too), and returns their addresses, shards and the BMCs
// by address.
func startShardFleet(t *testing.T) ([]string, map[string]int, map[string]*simulator.BMC) {
	t.Helper()
	p, err := model.LoadProfile("edge-node")
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		fleet, err := simulator.NewFleet(simulator.FleetConfig{
			Addr:       netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0),
			Count:      shardBMCs,
			BMC:        simulator.BMCConfig{Users: []simulator.User{{Name: bmcUser, Password: bmcPassword, Privilege: wire.PrivilegeUser}}},
			NewHandler: simulator.ModelHandlers(p, 1, nil, model.Quirks{}),
			Seed:       int64(attempt + 1),
		})
		if err != nil {
			t.Fatal(err)
		}
		shardOf := map[string]int{}
		count := make([]int, shardExporters)
		var addrs []string
		for _, b := range fleet.BMCs() {
			a := b.Addr().String()
			addrs = append(addrs, a)
			shardOf[a] = hashmodShard(a, shardExporters)
			count[shardOf[a]]++
		}
		if slices.Min(count) < shardMinPerShard {
			t.Logf("BMCs %v hash %v per shard; starting another fleet", addrs, count)
			fleet.Close()
			continue
		}
		t.Cleanup(func() { fleet.Close() })
		sims := map[string]*simulator.BMC{}
		for _, b := range fleet.BMCs() {
			sims[b.Addr().String()] = b
		}
		return addrs, shardOf, sims
	}
	t.Fatalf("no fleet of %d BMCs spread over %d shards in 5 attempts", shardBMCs, shardExporters)
	return nil, nil, nil
}

// writeShardExporterConfig is the configuration every exporter of the
// shard set shares (README: the exporters need not know about each other).
func writeShardExporterConfig(t *testing.T, dir string) string {
	t.Helper()
	passFile := filepath.Join(dir, "bmc-password")
	writeFile(t, passFile, []byte(bmcPassword+"\n"))
	cfg := fmt.Sprintf(`modules:
  default:
    user: %q
    pass_file: %q
    privilege: user
    collectors: [ipmi, chassis, bmc, sel]
    allowed_targets: [127.0.0.0/8]
`, bmcUser, passFile)
	path := filepath.Join(dir, "ipmi_fleet_exporter.yml")
	writeFile(t, path, []byte(cfg))
	return path
}

// shardedPrometheusConfig is examples/prometheus-sharded.yml with its
// placeholders rewritten, cut to shardExporters exporters the way its
// comment says (modulus, the __tmp_shard rules, the exporter job's
// targets), the intervals shortened as in prometheusConfig, the alert
// rules replaced by the test's copy and the example BMC hosts replaced by
// the simulated ones.
func shardedPrometheusConfig(t *testing.T, exporterAddrs []string, amAddr, alertsCopy string, bmcs []string) []byte {
	t.Helper()
	replace := map[string]string{"localhost:9093": amAddr}
	for i, a := range exporterAddrs {
		replace[fmt.Sprintf("localhost:%d", 9290+i)] = a
	}
	data, err := contenttest.RewriteExample("prometheus-sharded.yml", replace)
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
			t.Fatalf("examples/prometheus-sharded.yml: %v", err)
		}
	}
	global, err := path(doc.top(), "global")
	must(err)
	for key, value := range map[string]string{"scrape_interval": promInterval, "evaluation_interval": promInterval, "scrape_timeout": promScrapeTimeout} {
		_, err := setScalar(global, key, value)
		must(err)
	}
	jobs, err := path(doc.top(), "scrape_configs")
	must(err)
	exporterJob := findInSeq(jobs, "job_name", "ipmi_fleet_exporter")
	bmcJob := findInSeq(jobs, "job_name", "ipmi_bmc")
	if exporterJob == nil || bmcJob == nil {
		t.Fatal("examples/prometheus-sharded.yml: jobs ipmi_fleet_exporter and ipmi_bmc expected")
	}
	must(setStrings(mapValue(exporterJob, "static_configs").Content[0], "targets", exporterAddrs))
	_, err = setScalar(bmcJob, "scrape_timeout", promScrapeTimeout)
	must(err)
	must(setStrings(mapValue(bmcJob, "static_configs").Content[0], "targets", bmcs))

	// Fewer exporters: modulus, and drop the __tmp_shard rules of the
	// shards that no longer exist.
	rules := mapValue(bmcJob, "relabel_configs")
	if rules == nil || rules.Kind != yaml.SequenceNode {
		t.Fatal("examples/prometheus-sharded.yml: job ipmi_bmc has no relabel_configs")
	}
	var kept []*yaml.Node
	hashmods, shardRules := 0, 0
	for _, r := range rules.Content {
		if a := mapValue(r, "action"); a != nil && a.Value == "hashmod" {
			m := mapValue(r, "modulus")
			if m == nil {
				t.Fatal("examples/prometheus-sharded.yml: hashmod rule without modulus")
			}
			m.Value, m.Tag, m.Style = strconv.Itoa(shardExporters), "!!int", 0
			hashmods++
		}
		if src := mapValue(r, "source_labels"); src != nil && len(src.Content) == 1 && src.Content[0].Value == "__tmp_shard" {
			n, err := strconv.Atoi(mapValue(r, "regex").Value)
			if err != nil {
				t.Fatalf("examples/prometheus-sharded.yml: __tmp_shard rule regex %q", mapValue(r, "regex").Value)
			}
			if n >= shardExporters {
				continue
			}
			shardRules++
		}
		kept = append(kept, r)
	}
	if hashmods != 1 || shardRules != shardExporters {
		t.Fatalf("examples/prometheus-sharded.yml: %d hashmod rules and %d kept __tmp_shard rules, want 1 and %d", hashmods, shardRules, shardExporters)
	}
	rules.Content = kept

	ruleFiles, err := path(doc.top(), "rule_files")
	must(err)
	replaced := false
	for _, r := range ruleFiles.Content {
		if strings.HasSuffix(r.Value, "/"+filepath.Base(tempAlertDoc)) {
			r.Value, replaced = alertsCopy, true
		}
	}
	if !replaced {
		t.Fatalf("examples/prometheus-sharded.yml: rule_files has no %s", filepath.Base(tempAlertDoc))
	}
	out, err := doc.bytes()
	must(err)
	return out
}

// sample is one element of an instant vector.
type sample struct {
	labels map[string]string
	value  float64
}

func (s sample) String() string { return fmt.Sprintf("%v=%v", s.labels, s.value) }

// queryVector runs an instant query that returns a vector.
func queryVector(ctx context.Context, api promAPI, expr string) ([]sample, error) {
	var d struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := api.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &d); err != nil {
		return nil, err
	}
	if d.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %q, want vector", expr, d.ResultType)
	}
	out := make([]sample, 0, len(d.Result))
	for _, r := range d.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v: %w", expr, r.Value[1], err)
		}
		out = append(out, sample{labels: r.Metric, value: v})
	}
	return out, nil
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// promAlerts lists the pending and firing alerts.
func promAlerts(ctx context.Context, api promAPI) ([]promAlert, error) {
	var d struct {
		Alerts []promAlert `json:"alerts"`
	}
	err := api.get(ctx, "/api/v1/alerts", nil, &d)
	return d.Alerts, err
}

// metricValue is the value of an unlabelled series in a text exposition,
// or -1.
func metricValue(body, name string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
