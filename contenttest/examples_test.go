package contenttest

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type promConfig struct {
	Global struct {
		ScrapeTimeout string `yaml:"scrape_timeout"`
	} `yaml:"global"`
	RuleFiles []string `yaml:"rule_files"`
	Alerting  struct {
		Alertmanagers []struct {
			StaticConfigs []staticConfig `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

type scrapeConfig struct {
	JobName       string              `yaml:"job_name"`
	MetricsPath   string              `yaml:"metrics_path"`
	ScrapeTimeout string              `yaml:"scrape_timeout"`
	Params        map[string][]string `yaml:"params"`
	StaticConfigs []staticConfig      `yaml:"static_configs"`
	HTTPSDConfigs []struct {
		URL string `yaml:"url"`
	} `yaml:"http_sd_configs"`
	RelabelConfigs []relabelConfig `yaml:"relabel_configs"`
}

// relabelConfig is a Prometheus relabel rule; the same fields, camel-cased, serve prometheus-operator.
type relabelConfig struct {
	SourceLabels []string `yaml:"source_labels"`
	Separator    *string  `yaml:"separator"`
	TargetLabel  string   `yaml:"target_label"`
	Regex        *string  `yaml:"regex"`
	Modulus      uint64   `yaml:"modulus"`
	Replacement  *string  `yaml:"replacement"`
	Action       string   `yaml:"action"`
}

// relabel applies rules to labels the way Prometheus does for the actions used here (replace, hashmod,
// keep, drop). It returns nil when the target is dropped.
func relabel(t *testing.T, labels map[string]string, rules []relabelConfig) map[string]string {
	t.Helper()
	lb := map[string]string{}
	for k, v := range labels {
		lb[k] = v
	}
	for _, r := range rules {
		sep, regex, repl := ";", "(.*)", "$1"
		if r.Separator != nil {
			sep = *r.Separator
		}
		if r.Regex != nil {
			regex = *r.Regex
		}
		if r.Replacement != nil {
			repl = *r.Replacement
		}
		var vals []string
		for _, l := range r.SourceLabels {
			vals = append(vals, lb[l])
		}
		val := strings.Join(vals, sep)
		re := regexp.MustCompile("^(?:" + regex + ")$")
		switch strings.ToLower(r.Action) {
		case "", "replace":
			m := re.FindStringSubmatchIndex(val)
			if m == nil {
				continue
			}
			res := string(re.ExpandString(nil, repl, val, m))
			if res == "" {
				delete(lb, r.TargetLabel)
			} else {
				lb[r.TargetLabel] = res
			}
		case "hashmod":
			sum := md5.Sum([]byte(val))
			lb[r.TargetLabel] = strconv.FormatUint(binary.BigEndian.Uint64(sum[8:])%r.Modulus, 10)
		case "keep":
			if !re.MatchString(val) {
				return nil
			}
		case "drop":
			if re.MatchString(val) {
				return nil
			}
		default:
			t.Fatalf("relabel action %q not simulated", r.Action)
		}
	}
	return lb
}

func loadPromConfig(t *testing.T, name string) promConfig {
	t.Helper()
	var c promConfig
	readYAML(t, repoPath("examples", name), &c)
	return c
}

func job(t *testing.T, c promConfig, name string) scrapeConfig {
	t.Helper()
	for _, j := range c.ScrapeConfigs {
		if j.JobName == name {
			return j
		}
	}
	t.Fatalf("no job %s", name)
	return scrapeConfig{}
}

// assumedScrapeTimeout returns the fallback timeout of the recording rule
// instance:ipmi_scrape_timeout_seconds (... * 0 + N).
func assumedScrapeTimeout(t *testing.T) time.Duration {
	t.Helper()
	for _, r := range loadRules(t, "ipmi-recording.yml") {
		if r.Record != "instance:ipmi_scrape_timeout_seconds" {
			continue
		}
		m := regexp.MustCompile(`\*\s*0\s*\+\s*(\d+)`).FindStringSubmatch(r.Expr)
		if m == nil {
			t.Fatalf("no fallback timeout (* 0 + N) in %q", r.Expr)
		}
		n, _ := strconv.Atoi(m[1])
		return time.Duration(n) * time.Second
	}
	t.Fatal("no recording rule instance:ipmi_scrape_timeout_seconds")
	return 0
}

func TestPrometheusExamplesCheck(t *testing.T) {
	promtool := tool(t, "promtool")
	for _, name := range []string{"prometheus.yml", "prometheus-sharded.yml"} {
		out := run(t, repoPath("examples"), promtool, "check", "config", name)
		// check config also checks the rule files it names.
		if !strings.Contains(out, "is valid prometheus config file") || strings.Count(out, "rules found") != 2 {
			t.Errorf("promtool check config %s:\n%s", name, out)
		}
	}
}

// The job names, timeouts and placeholders the rules, the dashboards and the end-to-end test rely on.
func TestPrometheusExampleConventions(t *testing.T) {
	assumed := assumedScrapeTimeout(t)
	for _, tc := range []struct {
		file      string
		exporters []string
	}{
		{"prometheus.yml", []string{"localhost:9290"}},
		{"prometheus-sharded.yml", []string{"localhost:9290", "localhost:9291", "localhost:9292"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := loadPromConfig(t, tc.file)
			var rules []string
			for _, rf := range c.RuleFiles {
				matches, _ := filepath.Glob(filepath.Join(repoPath("examples"), rf))
				for _, m := range matches {
					rules = append(rules, filepath.Base(m))
				}
			}
			slices.Sort(rules)
			if !slices.Equal(rules, []string{"ipmi-alerts.yml", "ipmi-recording.yml"}) {
				t.Errorf("rule_files %v load %v, want both files of alerts/", c.RuleFiles, rules)
			}
			if len(c.Alerting.Alertmanagers) == 0 || !slices.Contains(c.Alerting.Alertmanagers[0].StaticConfigs[0].Targets, "localhost:9093") {
				t.Errorf("alerting: want the Alertmanager placeholder localhost:9093")
			}
			exp := job(t, c, "ipmi_fleet_exporter")
			var expTargets []string
			for _, sc := range exp.StaticConfigs {
				expTargets = append(expTargets, sc.Targets...)
			}
			if !slices.Equal(expTargets, tc.exporters) {
				t.Errorf("job ipmi_fleet_exporter scrapes %v, want %v", expTargets, tc.exporters)
			}
			bmcJobs := 0
			for _, j := range c.ScrapeConfigs {
				if j.MetricsPath != "/ipmi" {
					continue
				}
				bmcJobs++
				if !strings.HasPrefix(j.JobName, "ipmi_bmc") {
					t.Errorf("job %s scrapes /ipmi: the rules expect BMC jobs named ipmi_bmc*", j.JobName)
				}
				timeout := j.ScrapeTimeout
				if timeout == "" {
					timeout = c.Global.ScrapeTimeout
				}
				if d, err := time.ParseDuration(timeout); err != nil || d != assumed {
					t.Errorf("job %s: scrape_timeout %q; the recording rule instance:ipmi_scrape_timeout_seconds assumes %v", j.JobName, timeout, assumed)
				}
				checkBMCRelabelling(t, j, tc.exporters)
			}
			if bmcJobs == 0 {
				t.Error("no job scrapes /ipmi")
			}
		})
	}
}

// checkBMCRelabelling runs a job's relabelling on example targets: the BMC must become the target
// parameter and the instance, a group's module its module parameter, and the address one of the
// exporters.
func checkBMCRelabelling(t *testing.T, j scrapeConfig, exporters []string) {
	t.Helper()
	type input struct {
		labels     map[string]string
		wantModule string
	}
	var inputs []input
	for _, sc := range j.StaticConfigs {
		for _, target := range sc.Targets {
			l := map[string]string{"__address__": target}
			for k, v := range sc.Labels {
				l[k] = v
			}
			inputs = append(inputs, input{l, sc.Labels["module"]})
		}
	}
	if len(j.HTTPSDConfigs) > 0 {
		if want := "http://localhost:9290/sd"; j.HTTPSDConfigs[0].URL != want {
			t.Errorf("job %s: http_sd url %q, want %q", j.JobName, j.HTTPSDConfigs[0].URL, want)
		}
		// What the exporter's /sd serves: module in __param_module, the group's labels as they are.
		inputs = append(inputs,
			input{map[string]string{"__address__": "10.0.1.10", "__param_module": "legacy", "rack": "r1"}, "legacy"},
			input{map[string]string{"__address__": "[::1]:6230", "__param_module": "default"}, "default"})
	}
	// Many more targets, to see every shard used.
	for i := 0; i < 200; i++ {
		inputs = append(inputs, input{map[string]string{"__address__": fmt.Sprintf("bmc-%d.example.com", i)}, ""})
	}
	used := map[string]int{}
	for _, in := range inputs {
		out := relabel(t, in.labels, j.RelabelConfigs)
		if out == nil {
			t.Errorf("job %s drops target %v", j.JobName, in.labels)
			continue
		}
		bmc := in.labels["__address__"]
		if out["__param_target"] != bmc || out["instance"] != bmc {
			t.Errorf("job %s: target %s gives __param_target %q, instance %q", j.JobName, bmc, out["__param_target"], out["instance"])
		}
		if in.wantModule != "" && out["__param_module"] != in.wantModule {
			t.Errorf("job %s: target %s in a group with module %s gives __param_module %q", j.JobName, bmc, in.wantModule, out["__param_module"])
		}
		if !slices.Contains(exporters, out["__address__"]) {
			t.Errorf("job %s: target %s is sent to %q, not to an exporter %v", j.JobName, bmc, out["__address__"], exporters)
		}
		used[out["__address__"]]++
	}
	for _, e := range exporters {
		if used[e] == 0 {
			t.Errorf("job %s: exporter %s never gets a target", j.JobName, e)
		}
	}
}

func TestAlertmanagerExample(t *testing.T) {
	amtool := tool(t, "amtool")
	out := run(t, repoPath("examples"), amtool, "check-config", "alertmanager.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config:\n%s", out)
	}
}

// Routes and inhibitions must name alerts and severities that exist.
func TestAlertmanagerExampleNamesAlerts(t *testing.T) {
	var am struct {
		Route struct {
			Routes []struct {
				Matchers []string `yaml:"matchers"`
			} `yaml:"routes"`
		} `yaml:"route"`
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	readYAML(t, repoPath("examples", "alertmanager.yml"), &am)
	alerts := loadRules(t, "ipmi-alerts.yml")
	values := map[string][]string{}
	for _, r := range alerts {
		values["alertname"] = append(values["alertname"], r.Alert)
		values["severity"] = append(values["severity"], r.Labels["severity"])
	}
	matcherRe := regexp.MustCompile(`^\s*(\w+)\s*(=~|!~|!=|=)\s*"(.*)"\s*$`)
	check := func(where string, matchers []string) {
		for _, m := range matchers {
			sm := matcherRe.FindStringSubmatch(m)
			if sm == nil {
				t.Errorf("%s: cannot read matcher %q", where, m)
				continue
			}
			known, ok := values[sm[1]]
			if !ok {
				continue
			}
			if sm[2] == "=" && !slices.Contains(known, sm[3]) {
				t.Errorf("%s: %s matches no alert", where, m)
			}
			if sm[2] == "=~" {
				for _, alt := range strings.Split(sm[3], "|") {
					if ok, _ := matchesAny(alt, known); !ok {
						t.Errorf("%s: %q in %s matches no alert", where, alt, m)
					}
				}
			}
		}
	}
	for i, r := range am.Route.Routes {
		check(fmt.Sprintf("route %d", i), r.Matchers)
	}
	if len(am.InhibitRules) == 0 {
		t.Error("no inhibit rules")
	}
	for i, r := range am.InhibitRules {
		check(fmt.Sprintf("inhibit rule %d source", i), r.SourceMatchers)
		check(fmt.Sprintf("inhibit rule %d target", i), r.TargetMatchers)
	}
}

// RewriteExample gives a configuration that works outside examples/ and points at the new addresses.
func TestRewriteExample(t *testing.T) {
	promtool := tool(t, "promtool")
	data, err := RewriteExample("prometheus.yml", map[string]string{
		"localhost:9290": "127.0.0.1:19290",
		"localhost:9093": "127.0.0.1:19093",
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "localhost:9290") || !strings.Contains(string(data), "http://127.0.0.1:19290/sd") {
		t.Errorf("placeholders not replaced:\n%s", data)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, dir, promtool, "check", "config", path)
	if strings.Count(out, "rules found") != 2 {
		t.Errorf("rewritten config does not load both rule files:\n%s", out)
	}
	if _, err := RewriteExample("prometheus.yml", map[string]string{"localhost:1": "x"}); err == nil {
		t.Error("RewriteExample accepted a placeholder the file does not have")
	}
}
