package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	metricSuccessful = "ipmi_fleet_exporter_config_last_reload_successful"
	metricTimestamp  = "ipmi_fleet_exporter_config_last_reload_success_timestamp_seconds"
)

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const storeConfig = `modules:
  default:
    user: admin
    pass_file: pw
    allowed_targets: [10.0.0.0/8]
`

func TestStoreReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yml")
	pwPath := filepath.Join(dir, "pw")
	writeFile(t, path, storeConfig)
	writeFile(t, pwPath, "first\n")

	reg := prometheus.NewRegistry()
	before := time.Now()
	store, warnings, err := NewStore(path, reg, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if store.Path() != path {
		t.Errorf("Path() = %q", store.Path())
	}
	first := store.Current()
	if m, _ := first.Module(""); m.Password.Reveal() != "first" {
		t.Fatalf("password %q", m.Password.Reveal())
	}
	if gaugeValue(t, reg, metricSuccessful) != 1 {
		t.Error("first load not reported successful")
	}
	if ts := gaugeValue(t, reg, metricTimestamp); ts < float64(before.Unix()) || ts > float64(time.Now().Unix()+1) {
		t.Errorf("timestamp %v not around now", ts)
	}

	// pass_file is re-read on reload.
	store.now = func() time.Time { return time.Unix(1700000000, 500000000) }
	writeFile(t, pwPath, "second\n")
	if _, err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	second := store.Current()
	if m, _ := second.Module(""); m.Password.Reveal() != "second" {
		t.Errorf("password after reload %q", m.Password.Reveal())
	}
	if m, _ := first.Module(""); m.Password.Reveal() != "first" {
		t.Error("reload changed the config a caller already held")
	}
	if ts := gaugeValue(t, reg, metricTimestamp); ts != 1700000000.5 {
		t.Errorf("timestamp %v", ts)
	}

	// A failed reload keeps the old config and timestamp.
	store.now = func() time.Time { return time.Unix(1800000000, 0) }
	if err := os.Remove(pwPath); err != nil {
		t.Fatal(err)
	}
	_, err = store.Reload()
	if err == nil || !strings.Contains(err.Error(), `module "default": pass_file`) {
		t.Fatalf("reload with missing pass_file: %v", err)
	}
	if store.Current() != second {
		t.Error("failed reload replaced the config")
	}
	if gaugeValue(t, reg, metricSuccessful) != 0 {
		t.Error("failed reload reported successful")
	}
	if ts := gaugeValue(t, reg, metricTimestamp); ts != 1700000000.5 {
		t.Errorf("failed reload moved the timestamp to %v", ts)
	}

	// Syntax errors too.
	writeFile(t, pwPath, "third\n")
	writeFile(t, path, "modules: [\n")
	if _, err := store.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if store.Current() != second {
		t.Error("failed reload replaced the config")
	}

	// And recovery.
	writeFile(t, path, storeConfig)
	if _, err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	if m, _ := store.Current().Module(""); m.Password.Reveal() != "third" {
		t.Errorf("password %q", m.Password.Reveal())
	}
	if gaugeValue(t, reg, metricSuccessful) != 1 || gaugeValue(t, reg, metricTimestamp) != 1800000000 {
		t.Error("metrics not updated after recovery")
	}
}

func TestNewStoreErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yml")
	if _, _, err := NewStore(path, nil, testCatalog); err == nil {
		t.Error("NewStore of a missing file succeeded")
	}
	writeFile(t, path, "modules:\n  m:\n    user: a\n")
	store, warnings, err := NewStore(path, nil, testCatalog)
	if err != nil || store.Current() == nil {
		t.Fatalf("NewStore without registerer: %v", err)
	}
	if len(warnings) != 1 {
		t.Errorf("want the allowed_targets warning, got %v", warnings)
	}
	reg := prometheus.NewRegistry()
	if _, _, err := NewStore(path, reg, testCatalog); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewStore(path, reg, testCatalog); err == nil || !strings.Contains(err.Error(), "register reload metrics") {
		t.Errorf("second registration: %v", err)
	}
}

func TestFixedStore(t *testing.T) {
	cfg := DemoConfig(testCatalog, []string{"127.0.0.1:6230"}, "u", "p")
	reg := prometheus.NewRegistry()
	store, err := NewFixedStore(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	if store.Current() != cfg {
		t.Error("Current is not the fixed config")
	}
	if _, err := store.Reload(); !errors.Is(err, ErrNotReloadable) {
		t.Errorf("Reload = %v", err)
	}
	if store.Current() != cfg || gaugeValue(t, reg, metricSuccessful) != 1 {
		t.Error("Reload on a fixed store changed state")
	}
	if _, err := NewFixedStore(nil, nil); err == nil {
		t.Error("NewFixedStore(nil) succeeded")
	}
}

func TestStoreConcurrentReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yml")
	writeFile(t, path, storeConfig)
	writeFile(t, filepath.Join(dir, "pw"), "pw\n")
	store, _, err := NewStore(path, prometheus.NewRegistry(), testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := store.Reload(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if _, ok := store.Current().Module(""); !ok {
					t.Error("default module missing")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestLogWarnings(t *testing.T) {
	var buf bytes.Buffer
	LogWarnings(log.NewLogfmtLogger(&buf), []Warning{
		{File: "a.yml", Line: 3, Msg: "first"},
		{File: "a.yml", Msg: "second"},
	})
	want := "level=warn msg=first file=a.yml line=3\nlevel=warn msg=second file=a.yml\n"
	if buf.String() != want {
		t.Errorf("log output:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// A file with several errors logs one line per error, each with its file
// and line.
func TestLogErrorsOneLinePerError(t *testing.T) {
	_, _, err := Parse([]byte("modules:\n  m:\n    window: 0\n    colectors: [ipmi]\n"), "c.yml", testCatalog)
	if err == nil {
		t.Fatal("no error")
	}
	var buf bytes.Buffer
	LogErrors(log.NewLogfmtLogger(&buf), "cannot load configuration", err)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got:\n%s", buf.String())
	}
	for i, want := range []string{`err="c.yml:3: module \"m\": window: 0 is out of range 1-63 (or auto)"`, `err="c.yml:4: unknown key \"colectors\" in module \"m\" (did you mean \"collectors\"?)"`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s\nwant %s", i, lines[i], want)
		}
	}
	buf.Reset()
	LogErrors(log.NewLogfmtLogger(&buf), "cannot load configuration", errors.New("config: open x: no such file"))
	if n := strings.Count(buf.String(), "\n"); n != 1 || !strings.Contains(buf.String(), "no such file") {
		t.Errorf("a plain error: %q", buf.String())
	}
}
