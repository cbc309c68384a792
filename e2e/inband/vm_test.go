package inband_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/e2e/inband"
	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// vmBootTimeout bounds one VM run: boot (~3 s), the probe (cold scrape
// under TCG, the fault cases, one no-BMC wait) and power-off.
const vmBootTimeout = 150 * time.Second

// The VM reads the ipmi_sim BMC through the real kernel driver (KCS, the
// kernel bridging to the satellite controller) and the test compares
// every series of its scrape (sensor values, units, thresholds and states,
// SEL, chassis power, firmware, ...) with a scrape of the same ipmi_sim
// over LAN. The probe also checks in the VM: the no-device error before
// the modules are loaded, the permission error as nobody, concurrent
// requests (BMC and bridged) on one device file, a request past its
// deadline whose late reply is dropped, and the no-BMC error once the host
// stopped ipmi_sim.
func TestInbandVM(t *testing.T) {
	vm := requireVM(t)
	initrd := buildInitramfs(t, vm)

	serialPort := freeTCPPort(t)
	sdrs, emu := extraSensors(t)
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{VMSerialPort: serialPort, ExtraSDRs: sdrs, ExtraEmu: emu})

	ctx, cancel := context.WithTimeout(context.Background(), vmBootTimeout)
	defer cancel()
	cmd := qemuCommand(ctx, vm, initrd, serialPort)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
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
	var lan []string
	var lanErr error
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		console = append(console, line)
		if strings.HasSuffix(line, "INBAND-STOP-BMC") {
			// The VM has scraped: scrape the same BMC over LAN now, then
			// stop it for the probe's no-BMC case.
			lan, lanErr = scrapeLAN(ctx, sim)
			sim.Stop()
			io.WriteString(stdin, "stopped\n")
		}
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
	t.Logf("VM boot to power-off: %v", elapsed.Round(100*time.Millisecond))
	if !strings.Contains(out, "INBAND-DONE") {
		t.Fatalf("probe did not finish; console:\n%s", out)
	}
	if lanErr != nil {
		t.Fatalf("LAN scrape: %v", lanErr)
	}
	for _, marker := range []string{"INBAND-GUID", "INBAND-COLD", "INBAND-WARM", "INBAND-CONCURRENT", "INBAND-DEADLINE", "INBAND-NOBMC", "INBAND-LEAKS"} {
		if l := find(console, marker); l != "" {
			t.Log(l)
		}
	}

	// The fault cases' messages.
	missing := find(console, "INBAND-MISSING")
	for _, want := range []string{"no IPMI device", "/dev/ipmi0", "modprobe ipmi_msghandler", "modprobe ipmi_devintf", "modprobe ipmi_si"} {
		if !strings.Contains(missing, want) {
			t.Errorf("no-device error %q lacks %q", missing, want)
		}
	}
	perm := find(console, "INBAND-PERMISSION")
	for _, want := range []string{"permission denied", "/dev/ipmi0", "owner root(0)", "group root(0)", "mode Dcrw-------", "user nobody(65534)", "nogroup(65534)"} {
		if !strings.Contains(perm, want) {
			t.Errorf("permission error %q lacks %q", perm, want)
		}
	}
	if l := find(console, "INBAND-NOBMC"); !strings.Contains(l, "BMC does not answer") {
		t.Errorf("no-BMC error: %q", l)
	}

	vmLines := between(console, "INBAND-SCRAPE-BEGIN", "INBAND-SCRAPE-END")
	// ipmi_sim answers Get System GUID only on its LAN channel (the guid is
	// a setting of the startlan block): through the system interface the
	// command fails with a completion code and the collector leaves the
	// label empty. Compare the rest of the series exactly.
	if g := find(console, "INBAND-GUID"); strings.Contains(g, "completion code") {
		t.Logf("ipmi_sim has no system GUID in band (%s): guid label not compared", g)
		for i, l := range lan {
			lan[i] = blankLabel(l, "guid")
		}
	} else {
		t.Errorf("Get System GUID in band: %q; expected ipmi_sim's completion code (if it answers now, compare the label)", g)
	}
	compareScrapes(t, vmLines, lan)
}

// extraSensors grows the test BMC (55 sensors, 4 on the satellite
// controller) past 60: copies of existing records under new numbers and
// names, six on the BMC (temperature, fan, voltage, discrete) and two more
// on the satellite. They are cut from the generated sim.sdrs and sim.emu,
// so they are as ipmitool-checked as the originals.
func extraSensors(t *testing.T) (sdrs string, emu []string) {
	t.Helper()
	td, err := testbed.TestdataDir()
	if err != nil {
		t.Fatal(err)
	}
	sdrText, err := os.ReadFile(filepath.Join(td, "sim.sdrs"))
	if err != nil {
		t.Fatal(err)
	}
	emuText, err := os.ReadFile(filepath.Join(td, "sim.emu"))
	if err != nil {
		t.Fatal(err)
	}
	copies := []struct {
		from, to string
		number   uint8
	}{
		{"CPU1 Temp", "CPU3 Temp", 0x80},
		{"CPU1 Temp", "CPU4 Temp", 0x81},
		{"FAN1", "FAN7", 0x82},
		{"FAN1", "FAN8", 0x83},
		{"P12V", "P12V B", 0x84},
		{"PSU1 Status", "PSU3 Status", 0x85},
		{"Riser Temp", "Riser2 Temp", 0x05},
		{"Riser 12V", "Riser2 12V", 0x06},
	}
	var b strings.Builder
	for _, c := range copies {
		src, ok := testbed.SensorByName(c.from)
		if !ok {
			t.Fatalf("no sensor %q", c.from)
		}
		// The SDR block: from its "# record" comment to "endsdr".
		block := cut(t, string(sdrText), fmt.Sprintf(": %s (owner", c.from), "endsdr\n")
		block = strings.Replace(block, fmt.Sprintf("sensor_number           %d\n", src.Number), fmt.Sprintf("sensor_number           %d\n", c.number), 1)
		block = strings.Replace(block, fmt.Sprintf("id_string               %q", c.from), fmt.Sprintf("id_string               %q", c.to), 1)
		b.WriteString("# copy of" + block + "\n")
		// The .emu lines: sensor_* lines under its "# name" comment.
		lines := cut(t, string(emuText), "# "+c.from+"\n", "\n\n")
		oldKey := fmt.Sprintf(" 0x%02x %d %d ", src.Owner, src.LUN, src.Number)
		newKey := fmt.Sprintf(" 0x%02x %d %d ", src.Owner, src.LUN, c.number)
		for _, l := range strings.Split(lines, "\n") {
			if strings.HasPrefix(l, "sensor_") {
				emu = append(emu, strings.Replace(l, oldKey, newKey, 1))
			}
		}
	}
	return b.String(), emu
}

// cut returns s from the start of the line holding from to the end of the
// first to after it.
func cut(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("%q not found", from)
	}
	i = strings.LastIndexByte(s[:i], '\n') + 1
	j := strings.Index(s[i:], to)
	if j < 0 {
		t.Fatalf("%q not found after %q", to, from)
	}
	return s[i : i+j+len(to)]
}

// compareScrapes wants the same series with the same values both ways,
// and checks that they cover the whole simulated BMC.
func compareScrapes(t *testing.T, vm, lan []string) {
	t.Helper()
	inVM := map[string]bool{}
	for _, l := range vm {
		inVM[l] = true
	}
	inLAN := map[string]bool{}
	for _, l := range lan {
		inLAN[l] = true
	}
	for _, l := range lan {
		if !inVM[l] {
			t.Errorf("over LAN, not in band: %s", l)
		}
	}
	for _, l := range vm {
		if !inLAN[l] {
			t.Errorf("in band, not over LAN: %s", l)
		}
	}

	// Every collector up, and every sensor present, the satellite's too.
	for _, l := range vm {
		if strings.HasPrefix(l, "ipmi_up{") && !strings.HasSuffix(l, " 1") && !strings.Contains(l, `collector="dcmi"`) {
			t.Errorf("collector down in band: %s", l)
		}
	}
	// Sensors: the distinct name labels of series carrying a sensor id.
	names := map[string]bool{}
	for _, l := range vm {
		if i := strings.Index(l, `,name="`); i >= 0 && strings.Contains(l, `{id="`) {
			rest := l[i+len(`,name="`):]
			names[rest[:strings.IndexByte(rest, '"')]] = true
		}
	}
	satellite := 0
	satelliteNames := []string{"Riser2 Temp", "Riser2 12V"} // extraSensors
	for _, s := range testbed.Sensors {
		if s.Owner == testbed.SatelliteAddr {
			satelliteNames = append(satelliteNames, s.Name)
		}
	}
	for _, name := range satelliteNames {
		if names[name] {
			satellite++
		} else {
			t.Errorf("sensor %q of the satellite controller (bridged) not in the in-band scrape", name)
		}
	}
	t.Logf("%d series equal both ways; %d sensors, %d of them on the satellite controller", len(vm), len(names), satellite)
	if len(names) < 60 || satellite < 2 {
		t.Errorf("only %d sensors (%d on the satellite) compared: the BMC must have at least 60, two of them bridged", len(names), satellite)
	}
	for _, prefix := range []string{"ipmi_sel_logs_count", "ipmi_chassis_power_state", "ipmi_bmc_info"} {
		found := false
		for _, l := range vm {
			found = found || strings.HasPrefix(l, prefix)
		}
		if !found {
			t.Errorf("no %s series in band", prefix)
		}
	}
}

// scrapeLAN scrapes sim over an RMCP+ session with the same collectors.
func scrapeLAN(ctx context.Context, sim *testbed.IPMISim) ([]string, error) {
	s, err := session.OpenRMCPPlus(ctx, session.Config{
		Host: sim.Addr, Username: sim.User, Password: []byte(sim.Password),
		Privilege: wire.PrivilegeAdmin, CipherSuite: 3,
	})
	if err != nil {
		return nil, err
	}
	defer s.Close(context.Background())
	return inband.Scrape(ctx, inband.NewTarget(ipmi.NewClient(s)))
}

// blankLabel empties label name's value in a series line.
func blankLabel(line, name string) string {
	key := name + `="`
	i := strings.Index(line, key)
	if i < 0 {
		return line
	}
	j := strings.IndexByte(line[i+len(key):], '"')
	if j < 0 {
		return line
	}
	return line[:i+len(key)] + line[i+len(key)+j:]
}

// warmScrapes is $INBAND_VM_WARM when it is a number, else 5.
func warmScrapes() string {
	w := os.Getenv("INBAND_VM_WARM")
	for _, c := range w {
		if c < '0' || c > '9' {
			return "5"
		}
	}
	if w == "" {
		return "5"
	}
	return w
}

func find(lines []string, marker string) string {
	for _, l := range lines {
		if i := strings.Index(l, marker); i >= 0 {
			return l[i:]
		}
	}
	return ""
}

func between(lines []string, begin, end string) []string {
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case strings.HasSuffix(l, begin):
			in = true
		case strings.HasSuffix(l, end):
			return out
		case in && strings.HasPrefix(l, "ipmi_"):
			// Kernel messages may interleave on the console.
			out = append(out, l)
		}
	}
	return out
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// vmKit is what a VM run needs on the host.
type vmKit struct {
	qemu    string
	busybox string
	vmlinux string
	modules string // directory of ipmi_msghandler.ko, ipmi_devintf.ko, ipmi_si.ko
}

// requireVM finds QEMU, a static busybox and the kernel scripts/vm/prepare.sh
// unpacked, skipping when one is missing (failing under CI).
func requireVM(t *testing.T) vmKit {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the in-band VM test needs linux/amd64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	testbed.RequireTool(t, "ipmi_sim")
	kit := vmKit{qemu: testbed.RequireTool(t, "qemu-system-x86_64"), busybox: "/bin/busybox"}
	cache := os.Getenv("IPMI_VM_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "ipmi_fleet_exporter", "vm")
	}
	kit.vmlinux = filepath.Join(cache, "kernel", "vmlinux")
	kit.modules = filepath.Join(cache, "kernel", "modules")
	for _, f := range []string{kit.busybox, kit.vmlinux, filepath.Join(kit.modules, "ipmi_si.ko")} {
		if _, err := os.Stat(f); err != nil {
			msg := fmt.Sprintf("%s missing (run scripts/vm/prepare.sh): %v", f, err)
			if os.Getenv("CI") != "" {
				t.Fatal(msg + " (CI is set, so this is a failure)")
			}
			t.Skip(msg)
		}
	}
	return kit
}

// initScript is the VM's /init: the no-device check before the modules
// are loaded, then the modules (in dependency order), then the probe.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
/probe -mode missing
insmod /lib/ipmi_msghandler.ko && insmod /lib/ipmi_devintf.ko && insmod /lib/ipmi_si.ko
/probe -mode main -warm "${INBAND_WARM:-5}"
echo "INBAND-EXIT $?"
poweroff -f
`

// buildInitramfs builds the probe (static) and writes an uncompressed
// newc cpio with busybox, the modules, /init and the probe. Uncompressed:
// QEMU loads it as is, and gunzip of a 7 MB program costs seconds under
// TCG.
func buildInitramfs(t *testing.T, kit vmKit) string {
	t.Helper()
	return buildInitramfsWith(t, kit, initScript, nil)
}

// buildStatic builds pkg for the VM: static, stripped.
func buildStatic(t *testing.T, pkg, out string) {
	t.Helper()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
}

// buildInitramfsWith is buildInitramfs with another /init and more files
// (name in the VM -> path on the host, mode 0755).
func buildInitramfsWith(t *testing.T, kit vmKit, init string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	buildStatic(t, "github.com/ipmifleet/ipmi_fleet_exporter/e2e/inband/probe", probe)
	var w cpioWriter
	for _, d := range []string{"bin", "dev", "proc", "sys", "lib", "tmp"} {
		w.dir(d)
	}
	w.fileFrom(t, "bin/busybox", kit.busybox, 0o755)
	w.fileFrom(t, "probe", probe, 0o755)
	for _, m := range []string{"ipmi_msghandler", "ipmi_devintf", "ipmi_si"} {
		w.fileFrom(t, "lib/"+m+".ko", filepath.Join(kit.modules, m+".ko"), 0o644)
	}
	w.dir("etc")
	// Names for the permission error (os/user reads these files).
	w.file("etc/passwd", []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
	w.file("etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	for name, src := range extra {
		w.fileFrom(t, name, src, 0o755)
	}
	w.file("init", []byte(init), 0o755)
	path := filepath.Join(dir, "initramfs.cpio")
	if err := os.WriteFile(path, w.finish(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cpioWriter writes the "newc" cpio format the kernel unpacks as an
// initramfs: a 110-byte ASCII header per entry, the name and the data
// each padded to 4 bytes, and a TRAILER!!! entry.
type cpioWriter struct {
	buf bytes.Buffer
	ino int
}

func (w *cpioWriter) entry(name string, mode uint32, data []byte) {
	w.ino++
	fmt.Fprintf(&w.buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	w.buf.WriteString(name)
	w.buf.WriteByte(0)
	w.pad()
	w.buf.Write(data)
	w.pad()
}

func (w *cpioWriter) pad() {
	for w.buf.Len()%4 != 0 {
		w.buf.WriteByte(0)
	}
}

func (w *cpioWriter) dir(name string) { w.entry(name, 0o040755, nil) }

func (w *cpioWriter) file(name string, data []byte, perm uint32) {
	w.entry(name, 0o100000|perm, data)
}

func (w *cpioWriter) fileFrom(t *testing.T, name, src string, perm uint32) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	w.file(name, data, perm)
}

func (w *cpioWriter) finish() []byte {
	w.entry("TRAILER!!!", 0, nil)
	return w.buf.Bytes()
}

// qemuCommand is the VM: TCG (KVM is not usable here), the kernel booted
// directly, its console on standard I/O, and a KCS interface whose BMC is
// the ipmi_sim listening on serialPort.
func qemuCommand(ctx context.Context, vm vmKit, initrd string, serialPort int) *exec.Cmd {
	cmd := exec.CommandContext(ctx, vm.qemu,
		"-M", "pc", "-accel", "tcg", "-cpu", "qemu64", "-m", "256", "-smp", "1",
		"-kernel", vm.vmlinux, "-initrd", initrd,
		// Unknown key=value arguments reach /init as environment:
		// INBAND_VM_WARM=N times N warm scrapes (docs/benchmarks.md).
		"-append", "console=ttyS0 panic=-1 quiet mitigations=off INBAND_WARM="+warmScrapes(),
		"-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-chardev", fmt.Sprintf("socket,id=ipmi0,host=127.0.0.1,port=%d,reconnect=10", serialPort),
		"-device", "ipmi-bmc-extern,chardev=ipmi0,id=bmc0",
		"-device", "isa-ipmi-kcs,bmc=bmc0",
	)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
