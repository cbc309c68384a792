package inband_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/e2e/inband"
	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
)

// exporterInitScript is the VM's /init for TestExporterInVM: loopback up
// (the probe scrapes the exporter over it), the modules, then the probe
// in exporter mode.
const exporterInitScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ip link set lo up
insmod /lib/ipmi_msghandler.ko && insmod /lib/ipmi_devintf.ko && insmod /lib/ipmi_si.ko
/probe -mode exporter -warm "${INBAND_WARM:-5}"
echo "INBAND-EXIT $?"
poweroff -f
`

// The exporter binary itself, as shipped, in the VM: a config with an
// OPENIPMI module (every collector) and one whose device is missing,
// --local.module naming the first. Scraped over loopback inside the VM:
// /ipmi?module=local without target equals, series by series, a LAN scrape
// of the same ipmi_sim; /metrics carries the same series next to the
// exporter's own; the missing device is ipmi_up 0 with the modules to load
// in debug=true and the log; a target for an in-band module is a 400. It
// also times warm scrapes of the exporter (docs/benchmarks.md,
// INBAND_VM_WARM=N).
func TestExporterInVM(t *testing.T) {
	vm := requireVM(t)
	dir := t.TempDir()
	exporterBin := filepath.Join(dir, "exporter")
	buildStatic(t, "github.com/ipmifleet/ipmi_fleet_exporter", exporterBin)
	collectors := make([]string, 0, len(inband.Collectors()))
	for _, c := range inband.Collectors() {
		collectors = append(collectors, string(c))
	}
	cfg := fmt.Sprintf(`modules:
  local:
    driver: OPENIPMI
    collectors: [%s]
  missing:
    driver: OPENIPMI
    device: /dev/ipmi9
    collectors: [bmc, ipmi]
`, strings.Join(collectors, ", "))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	initrd := buildInitramfsWith(t, vm, exporterInitScript, map[string]string{
		"exporter":                    exporterBin,
		"etc/ipmi_fleet_exporter.yml": cfgPath,
	})

	serialPort := freeTCPPort(t)
	sdrs, emu := extraSensors(t)
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{VMSerialPort: serialPort, ExtraSDRs: sdrs, ExtraEmu: emu})
	console, elapsed := bootVM(t, vm, initrd, serialPort)
	t.Logf("VM boot to power-off: %v", elapsed.Round(100*time.Millisecond))
	out := strings.Join(console, "\n")
	if !strings.Contains(out, "INBAND-DONE") {
		t.Fatalf("probe did not finish; console:\n%s", out)
	}
	for _, marker := range []string{"EXPORTER-READY", "EXPORTER-IPMI-BEGIN", "EXPORTER-METRICS-BEGIN", "EXPORTER-WARM"} {
		if l := find(console, marker); l != "" {
			t.Log(l)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lan, err := scrapeLAN(ctx, sim)
	if err != nil {
		t.Fatalf("LAN scrape: %v", err)
	}
	// ipmi_sim answers Get System GUID only on LAN (TestInbandVM).
	for i, l := range lan {
		lan[i] = blankLabel(l, "guid")
	}

	section := func(marker string) string {
		return strings.Join(sectionLines(console, "EXPORTER-"+marker+"-BEGIN", "EXPORTER-"+marker+"-END"), "\n") + "\n"
	}
	viaIPMI, err := inband.ExpositionLines(strings.NewReader(section("IPMI")))
	if err != nil {
		t.Fatalf("/ipmi?module=local: %v\n%s", err, section("IPMI"))
	}
	compareScrapes(t, viaIPMI, lan)

	metrics := section("METRICS")
	viaMetrics, err := inband.ExpositionLines(strings.NewReader(metrics))
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, metrics)
	}
	if strings.Join(viaMetrics, "\n") != strings.Join(viaIPMI, "\n") {
		t.Errorf("/metrics in local mode differs from /ipmi?module=local:\n%s\n---\n%s", strings.Join(viaMetrics, "\n"), strings.Join(viaIPMI, "\n"))
	}
	for _, want := range []string{"go_goroutines ", "ipmi_fleet_exporter_config_last_reload_successful 1", "ipmi_scrape_duration_seconds "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	missing := section("MISSING")
	for _, want := range []string{"cannot open the IPMI device", "no IPMI device", "/dev/ipmi9",
		"modprobe ipmi_msghandler; modprobe ipmi_devintf; modprobe ipmi_si", `ipmi_up{collector="ipmi"} 0`, `ipmi_up{collector="bmc"} 0`} {
		if !strings.Contains(missing, want) {
			t.Errorf("debug scrape of a missing device lacks %q:\n%s", want, missing)
		}
	}
	if l := find(console, "EXPORTER-TARGET-BEGIN"); !strings.Contains(l, "status=400") || !strings.Contains(section("TARGET"), "takes no 'target'") {
		t.Errorf("target for an in-band module: %s %s", l, section("TARGET"))
	}
	var logs []string
	for _, l := range console {
		if _, rest, ok := strings.Cut(l, "EXPORTER-LOG "); ok {
			logs = append(logs, rest)
		}
	}
	log := strings.Join(logs, "\n")
	if !strings.Contains(log, `msg="cannot open the IPMI device"`) || !strings.Contains(log, "target=/dev/ipmi9") {
		t.Errorf("exporter log in the VM lacks the missing device:\n%s", log)
	}
	for _, l := range logs {
		if strings.Contains(l, "module=local") && (strings.Contains(l, "level=warn") || strings.Contains(l, "level=error")) {
			t.Errorf("the local module's scrapes logged: %s", l)
		}
	}
}

// bootVM boots the VM with initrd and the BMC link on serialPort and
// returns its console lines once it powered off.
func bootVM(t *testing.T, vm vmKit, initrd string, serialPort int) ([]string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), vmBootTimeout)
	defer cancel()
	cmd := qemuCommand(ctx, vm, initrd, serialPort)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var console []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		console = append(console, strings.TrimRight(sc.Text(), "\r"))
	}
	waitErr := cmd.Wait()
	elapsed := time.Since(start)
	out := strings.Join(console, "\n")
	if ctx.Err() != nil {
		t.Fatalf("VM did not power off within %v; console:\n%s\nqemu: %s", vmBootTimeout, out, stderr.String())
	}
	if waitErr != nil {
		t.Fatalf("qemu: %v: %s; console:\n%s", waitErr, stderr.String(), out)
	}
	return console, elapsed
}

// sectionLines returns the lines between a line ending with begin (or
// holding it, with fields after it) and one ending with end, without the
// kernel's messages that may interleave on the console.
func sectionLines(lines []string, begin, end string) []string {
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case !in && strings.Contains(l, begin):
			in = true
		case in && strings.HasSuffix(l, end):
			return out
		case in && !kernelMessage(l):
			out = append(out, l)
		}
	}
	return out
}

// kernelMessage: a printk line on the console ("[   12.345678] ...").
func kernelMessage(l string) bool {
	return strings.HasPrefix(strings.TrimSpace(l), "[") && strings.Contains(l, "] ")
}
