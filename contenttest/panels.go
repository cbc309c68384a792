// Package contenttest checks the repository's non-Go content: the Grafana dashboards in dashboards/,
// the Prometheus rules in alerts/, the configurations in examples/, the deployment files in deploy/
// and the Dockerfile. Its tests run promtool, amtool and systemd-analyze where they are installed.
//
// The exported functions let an end-to-end test reuse that content against a live stack: PanelQueries
// lists every dashboard query with Grafana's variables filled in, and RewriteExample turns an example
// configuration into one that points at the addresses the test started.
package contenttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

// RepoDir returns the repository's top directory, found from this source file's location.
func RepoDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("contenttest: cannot locate source file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// DashboardsDir returns the repository's dashboards/ directory.
func DashboardsDir() string { return filepath.Join(RepoDir(), "dashboards") }

// Dashboard is the part of a Grafana dashboard JSON model these checks read.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel; rows hold their collapsed panels in Panels.
type Panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string          `json:"refId"`
	Expr       string          `json:"expr"`
	Instant    bool            `json:"instant"`
	Datasource json.RawMessage `json:"datasource"`
}

// Variable is a template variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource json.RawMessage `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
}

// Datasource is a panel's or a target's data source reference.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// QueryText returns the query of a query variable (a string, or the "query" field of an object).
func (v Variable) QueryText() (string, error) {
	if len(v.Query) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		return "", fmt.Errorf("variable %s: query is neither a string nor an object: %w", v.Name, err)
	}
	return o.Query, nil
}

// AllPanels returns the dashboard's panels depth first, including panels inside rows.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// LoadDashboard reads and decodes one dashboard file.
func LoadDashboard(path string) (*Dashboard, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return &d, nil
}

// DashboardFiles returns the *.json files of dir, sorted.
func DashboardFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// Vars are the values Grafana's variables take. Job, Instance and ExporterJob are literal label values
// (they are regexp-escaped before use, as Grafana does); empty selects everything, like Grafana's "All".
// Empty durations default to 1m ($__rate_interval, $__interval) and 1h ($__range).
type Vars struct {
	Job          string
	Instance     string
	ExporterJob  string
	RateInterval string
	Interval     string
	Range        string
}

// Query is one dashboard panel query.
type Query struct {
	File    string // dashboard file name, e.g. "ipmi-host.json"
	PanelID int
	Panel   string // panel title
	RefID   string
	Instant bool   // the panel asks for an instant query (tables, bar gauges, most stats)
	Expr    string // PromQL with Grafana's variables substituted
}

func (q Query) String() string {
	return fmt.Sprintf("%s panel %d %q query %s", q.File, q.PanelID, q.Panel, q.RefID)
}

// PanelQueries lists every query of every panel of the dashboards in dir, in file and panel order,
// with variables substituted from v.
func PanelQueries(dir string, v Vars) ([]Query, error) {
	files, err := DashboardFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []Query
	var errs []error
	for _, f := range files {
		d, err := LoadDashboard(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				q := Query{File: filepath.Base(f), PanelID: p.ID, Panel: p.Title, RefID: t.RefID, Instant: t.Instant}
				expr, err := Substitute(t.Expr, v)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", q, err))
					continue
				}
				q.Expr = expr
				out = append(out, q)
			}
		}
	}
	return out, errors.Join(errs...)
}

// VariableQueries lists the PromQL inside the dashboards' query variables (the selector of
// label_values(selector, label), or the expression of query_result(expr)), substituted from v.
// Variables whose query has no PromQL part, such as label_values(job) or label_names(), are left out.
func VariableQueries(dir string, v Vars) ([]Query, error) {
	files, err := DashboardFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []Query
	var errs []error
	for _, f := range files {
		d, err := LoadDashboard(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, variable := range d.Templating.List {
			if variable.Type != "query" {
				continue
			}
			text, err := variable.QueryText()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(f), err))
				continue
			}
			expr, ok := variablePromQL(text)
			if !ok {
				continue
			}
			q := Query{File: filepath.Base(f), Panel: "variable " + variable.Name, RefID: variable.Name, Instant: true}
			if q.Expr, err = Substitute(expr, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", q, err))
				continue
			}
			out = append(out, q)
		}
	}
	return out, errors.Join(errs...)
}

var (
	labelValuesRe = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	queryResultRe = regexp.MustCompile(`^\s*query_result\(\s*(.*)\s*\)\s*$`)
)

// variablePromQL extracts the PromQL expression of a Grafana Prometheus variable query.
func variablePromQL(q string) (string, bool) {
	if m := labelValuesRe.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	if m := queryResultRe.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	return "", false
}

// grafanaVarRe matches Grafana's variable syntaxes: ${name}, ${name:format}, $name and [[name]].
var grafanaVarRe = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]`)

// Substitute replaces Grafana's variables in a panel expression the way Grafana would for v. Names
// made of digits only ($1 in label_replace) are not variables and stay. An unknown variable is an
// error.
func Substitute(expr string, v Vars) (string, error) {
	values := map[string]string{
		"job":             regexValue(v.Job),
		"instance":        regexValue(v.Instance),
		"exporter_job":    regexValue(v.ExporterJob),
		"__rate_interval": orDefault(v.RateInterval, "1m"),
		"__interval":      orDefault(v.Interval, "1m"),
		"__range":         orDefault(v.Range, "1h"),
	}
	var unknown []string
	out := grafanaVarRe.ReplaceAllStringFunc(expr, func(m string) string {
		sm := grafanaVarRe.FindStringSubmatch(m)
		name := sm[1] + sm[3] + sm[4]
		if strings.Trim(name, "0123456789") == "" {
			return m
		}
		val, ok := values[name]
		if !ok {
			unknown = append(unknown, m)
			return m
		}
		return val
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown Grafana variable(s) %s in %q", strings.Join(unknown, ", "), expr)
	}
	return out, nil
}

// regexValue renders a literal label value as Grafana renders a (multi-value) variable inside a
// PromQL regex matcher: regexp-escaped, with the backslashes doubled for the PromQL string literal.
// Empty means All.
func regexValue(s string) string {
	if s == "" {
		return ".+"
	}
	return strings.ReplaceAll(regexp.QuoteMeta(s), `\`, `\\`)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RewriteExample returns the example configuration examples/name with every key of replace
// replaced by its value (for instance "localhost:9290" by the exporter's address; see the comments at
// the top of each example for its placeholders) and the relative rule_files paths ("../alerts/")
// made absolute, so that the result works from any directory.
func RewriteExample(name string, replace map[string]string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(RepoDir(), "examples", name))
	if err != nil {
		return nil, err
	}
	s := string(data)
	for placeholder, value := range replace {
		if !strings.Contains(s, placeholder) {
			return nil, fmt.Errorf("examples/%s has no %q to replace", name, placeholder)
		}
		s = strings.ReplaceAll(s, placeholder, value)
	}
	s = strings.ReplaceAll(s, "../alerts/", filepath.Join(RepoDir(), "alerts")+"/")
	return []byte(s), nil
}
