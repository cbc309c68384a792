package collector

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryFamily compares the README's "Metrics" table
// with Families: a family the code defines must have a row, and a family a
// row names must still exist.
func TestREADMEDocumentsEveryFamily(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := readmeFamilies(t, string(data))
	defined := map[string]bool{}
	for _, f := range Families() {
		defined[f.Name()] = true
		if !documented[f.Name()] {
			t.Errorf("README.md \"Metrics\" table does not document %s", f.Name())
		}
	}
	var gone []string
	for name := range documented {
		if !defined[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		t.Errorf("README.md \"Metrics\" table documents %s, which no collector defines", name)
	}
}

// readmeMetricName is a per-BMC metric name in backquotes; the exporter's
// own metrics (ipmi_fleet_exporter_*) are listed elsewhere.
var readmeMetricName = regexp.MustCompile("`(ipmi_[a-z0-9_]+)`")

// readmeFamilies returns the metric names in the table rows of the
// "## Metrics" section.
func readmeFamilies(t *testing.T, readme string) map[string]bool {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Metrics\n")
	if !ok {
		t.Fatal(`README.md has no "## Metrics" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	out := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range readmeMetricName.FindAllStringSubmatch(line, -1) {
			if !strings.HasPrefix(m[1], "ipmi_fleet_exporter_") {
				out[m[1]] = true
			}
		}
	}
	if len(out) == 0 {
		t.Fatal(`README.md "Metrics" section has no table of metric names`)
	}
	return out
}
