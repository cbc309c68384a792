package config_test

import (
	"slices"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// TestFixtureCatalogIsReal holds the fixture catalog of config's tests to
// the exporter's: every collector it names exists, with the same default,
// and its default set is the real one. A collector added to the exporter
// need not be added to the fixture.
func TestFixtureCatalogIsReal(t *testing.T) {
	real := collector.Catalog()
	for _, c := range config.FixtureCatalog {
		i := slices.IndexFunc(real, func(r config.CollectorInfo) bool { return r.Name == c.Name })
		if i < 0 {
			t.Errorf("fixture collector %q is not the exporter's", c.Name)
			continue
		}
		if real[i].Default != c.Default {
			t.Errorf("fixture collector %q: default %v, the exporter's %v", c.Name, c.Default, real[i].Default)
		}
	}
	if got, want := config.FixtureCatalog.Defaults(), real.Defaults(); !slices.Equal(got, want) {
		t.Errorf("fixture default set %v, the exporter's %v", got, want)
	}
}
