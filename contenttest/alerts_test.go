package contenttest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const runbookURL = "https://github.com/ipmifleet/ipmi_fleet_exporter/blob/main/docs/runbook.md"

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T, name string) []rule {
	t.Helper()
	var f ruleFile
	readYAML(t, repoPath("alerts", name), &f)
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("alerts/%s has no rules", name)
	}
	return out
}

func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range loadRules(t, "ipmi-recording.yml") {
		if r.Record == "" {
			t.Errorf("ipmi-recording.yml: rule without record: %q", r.Expr)
		}
		out[r.Record] = true
	}
	return out
}

// The alerts the task asks for, by the condition they cover.
var requiredAlerts = map[string]string{
	"BMC unreachable":                           "IPMIBMCUnreachable",
	"exporter down":                             "IPMIExporterDown",
	"sensor critical or non-recoverable":        "IPMISensorCritical",
	"temperature over BMC's upper threshold":    "IPMITemperatureAboveUpperCritical",
	"fan under its lower threshold":             "IPMIFanBelowLowerCritical",
	"fan stopped":                               "IPMIFanStopped",
	"power supply failure":                      "IPMIPowerSupplyFailure",
	"power supply redundancy lost":              "IPMIPowerSupplyRedundancyLost",
	"chassis powered off":                       "IPMIChassisPoweredOff",
	"SEL almost full":                           "IPMISELAlmostFull",
	"new critical SEL events":                   "IPMISELCriticalEvents",
	"scrapes slower than their timeout":         "IPMIScrapeSlow",
	"temperature over upper non-critical":       "IPMITemperatureAboveUpperNonCritical",
	"fan under its lower non-critical":          "IPMIFanBelowLowerNonCritical",
	"exporter rejected its new configuration":   "IPMIExporterConfigReloadFailed",
	"whole scrape of a BMC target fails":        "IPMITargetScrapeFailed",
	"one collector of a BMC fails":              "IPMICollectorFailed",
	"power supply predictive failure":           "IPMIPowerSupplyDegraded",
	"chassis drive/cooling/power fault bit set": "IPMIChassisFault",
}

func TestRuleFilesCheck(t *testing.T) {
	promtool := tool(t, "promtool")
	out := run(t, repoPath("alerts"), promtool, "check", "rules", "ipmi-alerts.yml", "ipmi-recording.yml")
	if strings.Count(out, "SUCCESS") != 2 {
		t.Errorf("promtool check rules:\n%s", out)
	}
}

func TestRuleUnitTests(t *testing.T) {
	promtool := tool(t, "promtool")
	files, err := filepath.Glob(repoPath("alerts", "tests", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests in alerts/tests (%v)", err)
	}
	args := append([]string{"test", "rules"}, files...)
	out := run(t, repoPath("alerts", "tests"), promtool, args...)
	if strings.Count(out, "SUCCESS") != len(files) {
		t.Errorf("promtool test rules:\n%s", out)
	}
}

func TestAlertRules(t *testing.T) {
	recorded := recordedNames(t)
	anchors := runbookAnchors(t)
	alerts := map[string]bool{}
	for _, r := range loadRules(t, "ipmi-alerts.yml") {
		if r.Alert == "" {
			t.Errorf("ipmi-alerts.yml holds a recording rule %q: keep those in ipmi-recording.yml", r.Record)
			continue
		}
		where := "alert " + r.Alert
		if alerts[r.Alert] {
			t.Errorf("%s defined twice", where)
		}
		alerts[r.Alert] = true
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", where, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", where, a)
			}
		}
		anchor := strings.ToLower(r.Alert)
		if want := runbookURL + "#" + anchor; r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", where, r.Annotations["runbook_url"], want)
		}
		if !anchors[anchor] {
			t.Errorf("%s: docs/runbook.md has no section \"## %s\"", where, r.Alert)
		}
		// Windows that do not flap: a state must hold for a while, an event keeps firing for a while.
		forDur, keepDur := parseDur(t, where, r.For), parseDur(t, where, r.KeepFiringFor)
		if forDur < 2*time.Minute && keepDur < 10*time.Minute {
			t.Errorf("%s: for %q, keep_firing_for %q: want for >= 2m, or keep_firing_for >= 10m for event alerts", where, r.For, r.KeepFiringFor)
		}
		checkExprVocabulary(t, where, r.Expr, recorded)
	}
	for cond, name := range requiredAlerts {
		if !alerts[name] {
			t.Errorf("no alert %s (%s)", name, cond)
		}
	}
	for anchor := range anchors {
		found := false
		for name := range alerts {
			found = found || strings.ToLower(name) == anchor
		}
		if !found {
			t.Errorf("docs/runbook.md section #%s belongs to no alert", anchor)
		}
	}
	for _, r := range loadRules(t, "ipmi-recording.yml") {
		checkExprVocabulary(t, "record "+r.Record, r.Expr, recorded)
	}
}

func parseDur(t *testing.T, where, s string) time.Duration {
	t.Helper()
	if s == "" {
		return 0
	}
	// Prometheus durations used here (s, m, h) are valid Go durations.
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Errorf("%s: duration %q: %v", where, s, err)
	}
	return d
}

// runbookAnchors returns the GitHub anchors of the level-2 headings of docs/runbook.md.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(repoPath("docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for sc.Scan() {
		if h, ok := strings.CutPrefix(sc.Text(), "## "); ok {
			a := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(h)), ""), " ", "-")
			out[a] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		PromQLExprTest []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

// Every alert has a unit test in which it fires and one in which it does not; every recording rule
// is evaluated by a unit test.
func TestRuleUnitTestCoverage(t *testing.T) {
	files, err := filepath.Glob(repoPath("alerts", "tests", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	fires, silent, exprs := map[string]int{}, map[string]int{}, map[string]bool{}
	for _, f := range files {
		var tf ruleTestFile
		readYAML(t, f, &tf)
		for _, rf := range tf.RuleFiles {
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), rf)); err != nil {
				t.Errorf("%s: rule file %s: %v", filepath.Base(f), rf, err)
			}
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname]++
				} else {
					silent[a.Alertname]++
				}
			}
			for _, e := range tc.PromQLExprTest {
				exprs[strings.TrimSpace(e.Expr)] = true
			}
		}
	}
	defined := map[string]bool{}
	for _, r := range loadRules(t, "ipmi-alerts.yml") {
		defined[r.Alert] = true
		if fires[r.Alert] == 0 {
			t.Errorf("alert %s: no unit test expects it to fire", r.Alert)
		}
		if silent[r.Alert] == 0 {
			t.Errorf("alert %s: no unit test expects it not to fire", r.Alert)
		}
	}
	for name := range fires {
		silent[name] += fires[name]
	}
	for name := range silent {
		if !defined[name] {
			t.Errorf("unit tests name alert %s, which ipmi-alerts.yml does not define", name)
		}
	}
	for _, r := range loadRules(t, "ipmi-recording.yml") {
		if !exprs[r.Record] {
			t.Errorf("recording rule %s: no promql_expr_test evaluates it", r.Record)
		}
	}
}
