package contenttest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The dashboards the task asks for; others may be added.
var requiredDashboards = []string{"ipmi-fleet-overview.json", "ipmi-host.json"}

func loadDashboards(t *testing.T) map[string]*Dashboard {
	t.Helper()
	files, err := DashboardFiles(DashboardsDir())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Dashboard{}
	for _, f := range files {
		d, err := LoadDashboard(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = d
	}
	for _, name := range requiredDashboards {
		if out[name] == nil {
			t.Errorf("dashboards/%s is missing", name)
		}
	}
	return out
}

func TestDashboardStructure(t *testing.T) {
	uids := map[string]string{}
	for name, d := range loadDashboards(t) {
		t.Run(name, func(t *testing.T) {
			if d.SchemaVersion < 39 {
				t.Errorf("schemaVersion %d, want >= 39", d.SchemaVersion)
			}
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: both needed (links and provisioning rely on the uid)", d.UID, d.Title)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = name

			vars := map[string]Variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			ds, ok := vars["datasource"]
			if !ok || ds.Type != "datasource" {
				t.Fatalf("no template variable `datasource` of type datasource")
			}
			if q, _ := ds.QueryText(); q != "prometheus" {
				t.Errorf("datasource variable selects %q data sources, want prometheus", q)
			}
			for _, want := range []string{"job", "instance"} {
				v, ok := vars[want]
				if !ok || v.Type != "query" {
					t.Errorf("no query variable %q", want)
					continue
				}
				checkDatasourceVar(t, "variable "+want, v.Datasource, true)
				if v.IncludeAll && v.AllValue != ".+" && v.AllValue != ".*" {
					t.Errorf("variable %s: allValue %q; with includeAll set it must be a regex matching every value", want, v.AllValue)
				}
			}

			ids, titles := map[int]string{}, map[string]bool{}
			for _, p := range d.AllPanels() {
				where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				if p.ID <= 0 {
					t.Errorf("%s: no id", where)
				} else if other, dup := ids[p.ID]; dup {
					t.Errorf("%s: id also used by %q", where, other)
				}
				ids[p.ID] = p.Title
				if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
					t.Errorf("%s: bad gridPos %+v", where, p.GridPos)
				}
				if p.Title == "" || titles[p.Title] {
					t.Errorf("%s: missing or repeated title (queries are reported by title)", where)
				}
				titles[p.Title] = true
				if p.Type == "row" {
					continue
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no queries", where)
				}
				checkDatasourceVar(t, where, p.Datasource, true)
				refs := map[string]bool{}
				for _, q := range p.Targets {
					if refs[q.RefID] || q.RefID == "" {
						t.Errorf("%s: missing or repeated refId %q", where, q.RefID)
					}
					refs[q.RefID] = true
					checkDatasourceVar(t, where+" query "+q.RefID, q.Datasource, false)
					if strings.TrimSpace(q.Expr) == "" {
						t.Errorf("%s query %s: empty expr", where, q.RefID)
					}
				}
			}
		})
	}
}

// checkDatasourceVar checks that a data source reference uses the ${datasource} variable.
func checkDatasourceVar(t *testing.T, where string, raw json.RawMessage, required bool) {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			t.Errorf("%s: no datasource", where)
		}
		return
	}
	var ds Datasource
	if err := json.Unmarshal(raw, &ds); err != nil {
		t.Errorf("%s: datasource %s is not an object {type, uid}", where, raw)
		return
	}
	if ds.UID != "${datasource}" && ds.UID != "$datasource" {
		t.Errorf("%s: datasource uid %q, want ${datasource}", where, ds.UID)
	}
	if ds.Type != "prometheus" {
		t.Errorf("%s: datasource type %q, want prometheus", where, ds.Type)
	}
}

// labelReplaceRefRe matches label_replace's "$1" references, which are not Grafana variables.
var labelReplaceRefRe = regexp.MustCompile(`"\$\d+"`)

// userVarRe finds uses of the dashboards' own (multi-value) variables.
var userVarRe = regexp.MustCompile(`\$\{?(job|instance|exporter_job)\b`)

// Multi-value variables expand to a regex alternation: they only work inside a =~ matcher.
func TestDashboardVariablesInRegexMatchers(t *testing.T) {
	for name, d := range loadDashboards(t) {
		for _, p := range d.AllPanels() {
			for _, q := range p.Targets {
				for _, loc := range userVarRe.FindAllStringIndex(q.Expr, -1) {
					if !strings.HasSuffix(q.Expr[:loc[0]], `=~"`) {
						t.Errorf("%s panel %q query %s: %s is not the whole value of a =~ matcher in %q",
							name, p.Title, q.RefID, q.Expr[loc[0]:loc[1]], q.Expr)
					}
				}
			}
		}
	}
}

func TestSubstitute(t *testing.T) {
	got, err := Substitute(`rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval]) + label_replace(y, "a", "$1", "b", "(.*)")`,
		Vars{Instance: "10.0.0.1:623"})
	if err != nil {
		t.Fatal(err)
	}
	want := `rate(x{job=~".+", instance=~"10\\.0\\.0\\.1:623"}[1m]) + label_replace(y, "a", "$1", "b", "(.*)")`
	if got != want {
		t.Errorf("Substitute:\n got %s\nwant %s", got, want)
	}
	if _, err := Substitute(`x{a=~"$nosuchvar"}`, Vars{}); err == nil {
		t.Error("Substitute accepted an unknown variable")
	}
}

// Every panel query (and every variable query) must parse as PromQL: they are written into a rule
// file, one recording rule per query in a group named after the panel, and checked by promtool.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := tool(t, "promtool")
	dir := DashboardsDir()
	v := Vars{Instance: "bmc-01.example.com:623", Job: "ipmi_bmc", ExporterJob: "ipmi_fleet_exporter"}
	queries, err := PanelQueries(dir, v)
	if err != nil {
		t.Fatal(err)
	}
	varQueries, err := VariableQueries(dir, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(varQueries) == 0 {
		t.Error("no variable query found: job/instance variables should use label_values(selector, label)")
	}
	queries = append(queries, varQueries...)
	if len(queries) < 20 {
		t.Fatalf("only %d queries found", len(queries))
	}
	type qRule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	type qGroup struct {
		Name  string  `yaml:"name"`
		Rules []qRule `yaml:"rules"`
	}
	var groups []qGroup
	for i, q := range queries {
		if strings.Contains(labelReplaceRefRe.ReplaceAllString(q.Expr, ""), "$") {
			t.Errorf("%s: unsubstituted $ in %q", q, q.Expr)
		}
		groups = append(groups, qGroup{Name: fmt.Sprintf("%d: %s", i, q), Rules: []qRule{{Record: fmt.Sprintf("contenttest:query_%d", i), Expr: q.Expr}}})
	}
	path := writeYAML(t, t.TempDir(), "dashboard-queries.yml", map[string]any{"groups": groups})
	out := run(t, "", promtool, "check", "rules", path)
	if !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", len(queries))) {
		t.Errorf("promtool did not check %d rules:\n%s", len(queries), out)
	}
}

// The dashboards use only metrics and label values of the specification, and recording rules that
// alerts/ipmi-recording.yml defines.
func TestDashboardMetricsExist(t *testing.T) {
	recorded := recordedNames(t)
	queries, err := PanelQueries(DashboardsDir(), Vars{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, q := range queries {
		for _, name := range checkExprVocabulary(t, q.String(), q.Expr, recorded) {
			used[name] = true
		}
	}
	// The fleet dashboards should between them show every family of the spec.
	for _, m := range []string{"ipmi_up", "ipmi_temperature_celsius", "ipmi_fan_speed_rpm", "ipmi_sensor_threshold",
		"ipmi_sel_logs_count", "ipmi_sel_free_space_bytes", "ipmi_chassis_power_state",
		"ipmi_dcmi_power_consumption_watts", "ipmi_bmc_info", "ipmi_bmc_lan_info", "ipmi_sensor_discrete_state",
		"ipmi_sensor_info", "ipmi_scrape_duration_seconds"} {
		if !used[m] {
			t.Errorf("no dashboard panel uses %s", m)
		}
	}
}

// checkExprVocabulary reports metric names and label values in expr that the specification does not
// have, and returns the metric names expr uses.
func checkExprVocabulary(t *testing.T, where, expr string, recorded map[string]bool) []string {
	t.Helper()
	names, nameRegexes := metricRefs(expr)
	for _, n := range names {
		if strings.Contains(n, ":") {
			if !recorded[n] {
				t.Errorf("%s: %s is not a recording rule of alerts/ipmi-recording.yml", where, n)
			}
		} else if !slices.Contains(specMetrics, n) && !slices.Contains(prometheusMetrics, n) {
			t.Errorf("%s: %s is not a metric of the specification", where, n)
		}
	}
	for _, re := range nameRegexes {
		ok, err := matchesAny(re, specMetrics)
		if err != nil || !ok {
			t.Errorf("%s: __name__=~%q matches no metric of the specification (%v)", where, re, err)
		}
	}
	for label, values := range map[string][]string{"threshold": thresholdValues, "collector": collectorValues} {
		for _, m := range labelMatchers(expr, label) {
			ok, err := matchesAny(m[1], values)
			if m[0] == "=" {
				ok, err = slices.Contains(values, unescapePromQL(m[1])), nil
			}
			if err != nil || !ok {
				t.Errorf("%s: %s%s%q matches no %s of the specification %v", where, label, m[0], m[1], label, values)
			}
		}
	}
	return names
}

func TestProvisioning(t *testing.T) {
	var p struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Folder  string `yaml:"folder"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(DashboardsDir(), "provisioning.yml"), &p)
	if p.APIVersion != 1 || len(p.Providers) != 1 {
		t.Fatalf("want apiVersion 1 and one provider, got %+v", p)
	}
	pr := p.Providers[0]
	if pr.Type != "file" || pr.Name == "" || !filepath.IsAbs(pr.Options.Path) {
		t.Errorf("provider %+v: want a named file provider with an absolute options.path", pr)
	}
	// The provider must not pick up non-dashboard JSON: the folder holds only dashboards.
	entries, err := os.ReadDir(DashboardsDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || (filepath.Ext(e.Name()) != ".json" && e.Name() != "provisioning.yml") {
			t.Errorf("dashboards/%s: the folder is mounted into Grafana as is; keep only dashboards and provisioning.yml there", e.Name())
		}
	}
}
