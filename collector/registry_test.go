package collector

import (
	"errors"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// TestCatalog checks the list of collectors: each name once, not empty,
// and Catalog saying what the list says (names in its order, the default
// set) to config.
func TestCatalog(t *testing.T) {
	named := map[config.Collector]int{}
	for _, c := range collectors {
		named[c.Name()]++
	}
	for name, n := range named {
		if n > 1 {
			t.Errorf("collector %q is listed %d times", name, n)
		}
		if name == "" {
			t.Error("a collector without a name")
		}
	}
	cat := Catalog()
	if len(cat) != len(collectors) {
		t.Fatalf("Catalog has %d collectors, the list %d", len(cat), len(collectors))
	}
	for i, c := range collectors {
		if cat[i].Name != c.Name() || cat[i].Default != c.onByDefault {
			t.Errorf("Catalog()[%d] = %+v, list has %s (default %v)", i, cat[i], c.Name(), c.onByDefault)
		}
	}
	// The default set config.example.yml and the README document.
	if got, want := cat.Defaults(), []config.Collector{config.CollectorChassis, config.CollectorBMC, config.CollectorDCMI, config.CollectorSEL, config.CollectorIPMI}; !slices.Equal(got, want) {
		t.Errorf("default collectors %v, want %v", got, want)
	}
}

// TestScrapeOrder checks Scrape runs the collectors in the list's order
// whatever order the module lists them in: ipmi_up series come out in
// that order.
func TestScrapeOrder(t *testing.T) {
	all := Catalog().Names()
	reversed := make([]config.Collector, len(all))
	for i, c := range all {
		reversed[len(all)-1-i] = c
	}
	m := &config.Module{Name: "x", Collectors: reversed}
	metrics, _ := Scrape(t.Context(), &Target{Module: m}, errors.New("no session"), nil)
	var got []config.Collector
	for _, metric := range metrics {
		if metric.Desc() != upFamily.desc {
			continue
		}
		var pb dto.Metric
		if err := metric.Write(&pb); err != nil {
			t.Fatal(err)
		}
		got = append(got, config.Collector(pb.GetLabel()[0].GetValue()))
	}
	if len(got) != len(all) {
		t.Fatalf("got ipmi_up for %v, want %v", got, all)
	}
	for i := range all {
		if got[i] != all[i] {
			t.Fatalf("scrape order %v, want %v", got, all)
		}
	}
}

// TestFamilies checks the families are defined once each, and that every
// series a collector sends, on every built-in profile, belongs to a family
// that collector lists, with the family's type and label names: the text
// writer and the README check rely on Families being complete.
func TestFamilies(t *testing.T) {
	names := map[string]bool{}
	for _, f := range Families() {
		if names[f.Name()] {
			t.Errorf("family %s is defined twice", f.Name())
		}
		names[f.Name()] = true
		if f.Help() == "" {
			t.Errorf("family %s has no help", f.Name())
		}
	}
	for _, profile := range builtinProfiles {
		f := newFixture(t, loadProfile(t, profile), Catalog().Names()...)
		for _, c := range collectors {
			own := map[*prometheus.Desc]*Family{}
			for _, fam := range c.Families() {
				own[fam.Desc()] = fam
			}
			for range 2 { // the second pass reads from the caches
				ch := make(chan prometheus.Metric, 4096)
				if err := c.Collect(t.Context(), f.target, ch); err != nil {
					t.Errorf("%s on %s: %v", c.Name(), profile, err)
				}
				close(ch)
				for m := range ch {
					fam := own[m.Desc()]
					if fam == nil {
						t.Errorf("%s on %s sent %s, not one of its Families", c.Name(), profile, m.Desc())
						continue
					}
					var pb dto.Metric
					if err := m.Write(&pb); err != nil {
						t.Fatal(err)
					}
					ok := map[prometheus.ValueType]bool{
						prometheus.GaugeValue:   pb.Gauge != nil,
						prometheus.CounterValue: pb.Counter != nil,
						prometheus.UntypedValue: pb.Untyped != nil,
					}[fam.Type()]
					if !ok {
						t.Errorf("%s: a series that is not the family's type", fam.Name())
					}
					var got []string
					for _, l := range pb.GetLabel() {
						got = append(got, l.GetName())
					}
					want := fam.Labels()
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Errorf("%s: series labels %v, family labels %v", fam.Name(), got, want)
					}
				}
			}
		}
	}
}
