package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// localConfig has an in-band module whose device does not exist (this
// machine has no BMC; the VM test in e2e/inband has one) and a LAN module.
func localConfig(dir string) string {
	return `modules:
  local:
    driver: OPENIPMI
    device: ` + filepath.Join(dir, "ipmi0") + `
  default:
    user: monitor
    pass_file: password
    allowed_targets: [127.0.0.0/8]
`
}

// --local.module must name an in-band module: the exporter says so and
// exits.
func TestLocalModuleMustBeInBand(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, localConfig(dir))
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file\n"), 0o600)
	for module, want := range map[string]string{
		"nope":    `--local.module: module \"nope\" is not defined in ` + path,
		"default": `--local.module: module \"default\" has driver LAN_2_0; the local module reads this machine's BMC in band and needs driver: OPENIPMI`,
	} {
		p := start(t, "--config.file="+path, "--local.module="+module)
		if code := p.waitExit(t, 30*time.Second); code == 0 {
			t.Errorf("--local.module=%s: exit code 0", module)
		}
		if out := p.output(); !strings.Contains(out, want) {
			t.Errorf("--local.module=%s: output lacks %q:\n%s", module, want, out)
		}
	}
}

// With --local.module and no IPMI device, the exporter starts, serves its
// LAN modules, and /metrics carries its own metrics with the local
// module's ipmi_up 0; the log says what to load. A reload that makes the
// local module a LAN one is refused. (The local BMC read for real, on
// /metrics and /ipmi?module=, is e2e/inband's TestExporterInVM; with a
// fake device, exporter's TestLocalModuleOnMetrics.)
func TestLocalModuleWithoutDevice(t *testing.T) {
	fleet := startFleet(t, 1)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file\n"), 0o600)
	path := writeConfig(t, dir, localConfig(dir))
	p := start(t, "--config.file="+path, "--local.module=local")
	p.waitReady(t)

	code, body := get(t, p.url("/metrics"))
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d\n%s", code, body)
	}
	for _, want := range []string{"go_goroutines ", "ipmi_fleet_exporter_config_last_reload_successful 1",
		`ipmi_up{collector="bmc"} 0`, `ipmi_up{collector="ipmi"} 0`, "ipmi_scrape_duration_seconds "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	out := p.output()
	for _, want := range []string{"cannot open the IPMI device", "no IPMI device", filepath.Join(dir, "ipmi0"), "modprobe ipmi_devintf"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if code, body := get(t, p.url("/ipmi?module=local")); code != http.StatusOK || !strings.Contains(body, `ipmi_up{collector="ipmi"} 0`) {
		t.Errorf("/ipmi?module=local: HTTP %d\n%s", code, body)
	}
	if code, body := get(t, p.url("/ipmi?module=local&target=10.0.0.1")); code != http.StatusBadRequest || !strings.Contains(body, "takes no 'target'") {
		t.Errorf("/ipmi?module=local&target=: HTTP %d %s", code, body)
	}
	target := url.QueryEscape(fleet.BMC(0).Addr().String())
	for _, path := range []string{"/ipmi?target=" + target, "/metrics?target=" + target} {
		if code, body := get(t, p.url(path)); code != http.StatusOK || !strings.Contains(body, `ipmi_up{collector="ipmi"} 1`) {
			t.Errorf("%s next to a missing device: HTTP %d\n%s", path, code, body)
		}
	}

	writeConfig(t, dir, strings.Replace(localConfig(dir), "driver: OPENIPMI\n    device: "+filepath.Join(dir, "ipmi0")+"\n", "allowed_targets: [127.0.0.0/8]\n", 1))
	if code, body := post(t, p.url("/-/reload")); code != http.StatusInternalServerError || !strings.Contains(body, "--local.module") {
		t.Errorf("reload making the local module a LAN one: HTTP %d %s", code, body)
	}
	if code, body := get(t, p.url("/metrics")); code != http.StatusOK || !strings.Contains(body, `ipmi_up{collector="ipmi"} 0`) ||
		!strings.Contains(body, "ipmi_fleet_exporter_config_last_reload_successful 0") {
		t.Errorf("/metrics after the refused reload: HTTP %d\n%s", code, body)
	}
}
