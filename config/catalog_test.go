package config

import "testing"

// testCatalog stands for the collector package's catalog in this
// package's tests (config cannot import collector): the names the tests
// and testdata use, with the real default set (TestFixtureCatalogIsReal
// holds it to collector.Catalog). The real catalog loads
// config.example.yml in main_test.go.
var testCatalog = Catalog{
	{CollectorChassis, true}, {CollectorBMC, true}, {CollectorDCMI, true}, {CollectorLAN, false},
	{"bmc-watchdog", false}, {"sm-lan-mode", false}, {CollectorSEL, true}, {"sel-events", false},
	{CollectorIPMI, true}, {"fru", false},
}

func TestCatalog(t *testing.T) {
	if got := testCatalog.String(); got != "chassis, bmc, dcmi, lan, bmc-watchdog, sm-lan-mode, sel, sel-events, ipmi, fru" {
		t.Errorf("String() = %q", got)
	}
	if got := len(testCatalog.Names()); got != len(testCatalog) {
		t.Errorf("Names() has %d, want %d", got, len(testCatalog))
	}
	if got := testCatalog.Defaults(); len(got) != 5 || got[0] != CollectorChassis || got[4] != CollectorIPMI {
		t.Errorf("Defaults() = %v", got)
	}
	for _, c := range []struct {
		name              Collector
		has, upstreamOnly bool
	}{
		{"ipmi", true, false}, {"bmc-device-id", false, true}, {"nope", false, false}, {"", false, false},
	} {
		if got := testCatalog.Has(c.name); got != c.has {
			t.Errorf("Has(%q) = %v", c.name, got)
		}
		if got := testCatalog.upstreamOnly(c.name); got != c.upstreamOnly {
			t.Errorf("upstreamOnly(%q) = %v", c.name, got)
		}
	}
	// A collector of ipmi_exporter's that the catalog has is a collector.
	if (Catalog{{"fru", false}}).upstreamOnly("fru") {
		t.Error("fru in the catalog is still called ipmi_exporter only")
	}
	if (Catalog{}).Has("ipmi") || len(Catalog(nil).Defaults()) != 0 {
		t.Error("an empty catalog knows a collector")
	}
}

// TestEmptyCatalog: with no catalog a name is unknown (or, for one of
// ipmi_exporter's, ignored), and a module without a collectors key
// collects nothing.
func TestEmptyCatalog(t *testing.T) {
	if _, _, err := Parse([]byte(oneModule("    collectors: [sensors]\n")), "t.yml", nil); err == nil {
		t.Error("an unknown collector accepted with an empty catalog")
	}
	for _, text := range []string{"", "    collectors: [ipmi]\n"} {
		cfg, _, err := Parse([]byte(oneModule(text)), "t.yml", nil)
		if err != nil {
			t.Fatal(err)
		}
		if m := cfg.Modules["m"]; len(m.Collectors) != 0 {
			t.Errorf("%q: collectors %v from an empty catalog", text, m.Collectors)
		}
	}
}
