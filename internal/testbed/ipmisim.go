package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// User is an account configured on the simulated BMC.
type User struct {
	ID        int
	Name      string // empty for the anonymous user 1
	Password  string
	Privilege string // lan.conf privilege: user, operator, admin
}

// Users are the accounts of the simulated BMC. All may use IPMI 1.5
// authentication types none, md2, md5 and straight, and RMCP+ suites 0-11.
var Users = []User{
	{ID: 1, Name: "", Password: "anonpass", Privilege: "user"},
	{ID: 2, Name: "admin", Password: "password", Privilege: "admin"},
	{ID: 3, Name: "operator", Password: "operatorpw", Privilege: "operator"},
	{ID: 4, Name: "user", Password: "userpw", Privilege: "user"},
}

// Default credentials: the administrator account.
const (
	AdminUser     = "admin"
	AdminPassword = "password"
)

// IPMISimOptions configure one ipmi_sim process. The zero value is valid.
type IPMISimOptions struct {
	// Name is the BMC name in lan.conf; it also names the state directory
	// level ipmi_sim/NAME. Default "fleetsim".
	Name string
	// Port is the UDP port of the LAN channel on 127.0.0.1; 0 picks a free one.
	Port int
	// ConsolePort is the TCP port of the emulator console on 127.0.0.1
	// (used by Console, SetSensorRaw, ...); 0 picks a free one, -1 disables it.
	ConsolePort int
	// PowerOff starts with chassis power off (default on).
	PowerOff bool
	// ExtraEmu lines are inserted into the generated .emu command file just
	// before the controllers are enabled. ipmi_sim stops reading the file at
	// a failing line, so the BMC then never answers and the start fails.
	ExtraEmu []string
	// StateDir holds config, state and log; empty means a new temporary
	// directory (t.TempDir() under StartIPMISim), removed on Stop.
	StateDir string
	// StartTimeout bounds the wait for the first RMCP pong (default 15s).
	StartTimeout time.Duration
	// ExtraSDRs is sdrcomp source appended to the SDR repository (its
	// records get the next record IDs); ExtraEmu adds the sensors behind it.
	ExtraSDRs string
	// VMSerialPort, when not 0, is a TCP port on 127.0.0.1 where ipmi_sim
	// serves a virtual machine's BMC link (a `serial 15 ... codec VM` line:
	// QEMU's ipmi-bmc-extern connects to it, and the guest's KCS interface
	// reaches this BMC).
	VMSerialPort int
}

// IPMISim is a running ipmi_sim process.
type IPMISim struct {
	Addr        string // 127.0.0.1:port of the LAN channel (UDP)
	Port        int
	ConsoleAddr string // 127.0.0.1:port of the emulator console (TCP), "" if disabled
	User        string // administrator credentials
	Password    string
	StateDir    string
	Name        string
	LogPath     string // ipmi_sim's standard output and error

	cmd       *exec.Cmd
	done      chan struct{}
	waitErr   error
	stopOnce  sync.Once
	removeDir bool
	consoleMu sync.Mutex
	powerFile string
}

// StartIPMISim compiles the SDR repository, writes the configuration,
// starts ipmi_sim on loopback and waits until it answers an RMCP presence
// ping. The process is killed when the test ends.
func StartIPMISim(t testing.TB, opts IPMISimOptions) *IPMISim {
	t.Helper()
	RequireTool(t, "ipmi_sim")
	RequireTool(t, "sdrcomp")
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	s, err := Launch(context.Background(), opts)
	if err != nil {
		t.Fatalf("start ipmi_sim: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartIPMISimFleet starts n simulators on consecutive UDP ports (from
// opts.Port when set, else from a free range), all stopped at test end.
func StartIPMISimFleet(t testing.TB, n int, opts IPMISimOptions) []*IPMISim {
	t.Helper()
	RequireTool(t, "ipmi_sim")
	RequireTool(t, "sdrcomp")
	sims, err := LaunchFleet(context.Background(), n, opts, t.TempDir())
	if err != nil {
		t.Fatalf("start ipmi_sim fleet: %v", err)
	}
	t.Cleanup(func() { StopAll(sims) })
	return sims
}

// LaunchFleet starts n simulators on consecutive UDP ports below stateRoot
// (each in its own directory). With opts.Port 0 a free range is searched.
// On error the already started ones are stopped.
func LaunchFleet(ctx context.Context, n int, opts IPMISimOptions, stateRoot string) ([]*IPMISim, error) {
	if n <= 0 {
		return nil, fmt.Errorf("fleet size %d", n)
	}
	if opts.Port != 0 {
		return launchFleetAt(ctx, n, opts, opts.Port, stateRoot)
	}
	// A free range can still be taken between the search and the binds
	// (another test's fleet searching at the same time): start again on a
	// new range when a port turns out to be in use.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var base int
		if base, err = freeUDPRange(n); err != nil {
			return nil, err
		}
		var sims []*IPMISim
		sims, err = launchFleetAt(ctx, n, opts, base, stateRoot)
		if err == nil || !strings.Contains(err.Error(), "Address already in use") || ctx.Err() != nil {
			return sims, err
		}
	}
	return nil, err
}

func launchFleetAt(ctx context.Context, n int, opts IPMISimOptions, base int, stateRoot string) ([]*IPMISim, error) {
	sims := make([]*IPMISim, 0, n)
	for i := 0; i < n; i++ {
		o := opts
		o.Port = base + i
		o.StateDir = filepath.Join(stateRoot, fmt.Sprintf("sim%04d", i))
		if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
			StopAll(sims)
			return nil, err
		}
		s, err := Launch(ctx, o)
		if err != nil {
			StopAll(sims)
			return nil, fmt.Errorf("simulator %d (port %d): %w", i, o.Port, err)
		}
		sims = append(sims, s)
	}
	return sims, nil
}

// StopAll stops every simulator.
func StopAll(sims []*IPMISim) {
	for _, s := range sims {
		s.Stop()
	}
}

// Launch starts one simulator without a testing.TB (see StartIPMISim).
// The caller must call Stop.
func Launch(ctx context.Context, opts IPMISimOptions) (*IPMISim, error) {
	for _, tool := range []string{"ipmi_sim", "sdrcomp"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, err
		}
	}
	autoPorts := opts.Port == 0 || opts.ConsolePort == 0
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launchOnce(ctx, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !autoPorts || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func launchOnce(ctx context.Context, opts IPMISimOptions) (*IPMISim, error) {
	td, err := TestdataDir()
	if err != nil {
		return nil, err
	}
	s := &IPMISim{Name: opts.Name, User: AdminUser, Password: AdminPassword, done: make(chan struct{})}
	if s.Name == "" {
		s.Name = "fleetsim"
	}
	if opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "ipmisim-")
		if err != nil {
			return nil, err
		}
		opts.StateDir, s.removeDir = dir, true
	}
	s.StateDir, err = filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*IPMISim, error) {
		if s.removeDir {
			os.RemoveAll(s.StateDir)
		}
		return nil, err
	}
	if strings.ContainsAny(s.StateDir+td, " \t\"") {
		return fail(fmt.Errorf("paths with blanks or quotes are not supported by lan.conf: %q, %q", s.StateDir, td))
	}

	s.Port = opts.Port
	if s.Port == 0 {
		if s.Port, err = freePort("udp"); err != nil {
			return fail(err)
		}
	}
	consolePort := opts.ConsolePort
	if consolePort == 0 {
		if consolePort, err = freePort("tcp"); err != nil {
			return fail(err)
		}
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	if consolePort > 0 {
		s.ConsoleAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(consolePort))
	}

	// Fresh persistent state: ipmi_sim keeps the SEL there and the .emu
	// re-adds the entries at every start.
	simDir := filepath.Join(s.StateDir, "ipmi_sim")
	if err := os.RemoveAll(simDir); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(filepath.Join(simDir, s.Name), 0o755); err != nil {
		return fail(err)
	}
	sdrSrc := filepath.Join(td, sdrSourceFile)
	if opts.ExtraSDRs != "" {
		base, err := os.ReadFile(sdrSrc)
		if err != nil {
			return fail(err)
		}
		sdrSrc = filepath.Join(s.StateDir, sdrSourceFile)
		if err := os.WriteFile(sdrSrc, append(append(base, '\n'), opts.ExtraSDRs...), 0o644); err != nil {
			return fail(err)
		}
	}
	if _, err := runTool(ctx, "sdrcomp", "-8", "-o", filepath.Join(simDir, s.Name, "sdr.20.main"), sdrSrc); err != nil {
		return fail(err)
	}

	s.powerFile = filepath.Join(s.StateDir, "power")
	if err := s.SetPower(!opts.PowerOff); err != nil {
		return fail(err)
	}

	emu, err := os.ReadFile(filepath.Join(td, emuFile))
	if err != nil {
		return fail(err)
	}
	if len(opts.ExtraEmu) > 0 {
		// Before the final mc_enable lines: a failing line then keeps the
		// BMC disabled, so a typo makes the start fail instead of passing
		// silently.
		text := string(emu)
		i := strings.LastIndex(text, emuEnableLines)
		if i < 0 {
			return fail(fmt.Errorf("%s does not end with the mc_enable lines", emuFile))
		}
		text = text[:i] + "# ExtraEmu\n" + strings.Join(opts.ExtraEmu, "\n") + "\n" + text[i:]
		emu = []byte(text)
	}
	emuPath := filepath.Join(s.StateDir, "sim.emu")
	if err := os.WriteFile(emuPath, emu, 0o644); err != nil {
		return fail(err)
	}

	tmpl, err := template.ParseFiles(filepath.Join(td, "lan.conf.tmpl"))
	if err != nil {
		return fail(err)
	}
	var conf bytes.Buffer
	err = tmpl.Execute(&conf, map[string]any{
		"Name":           s.Name,
		"Port":           s.Port,
		"ConsolePort":    consolePort,
		"ChassisControl": fmt.Sprintf("/bin/sh %s %s", filepath.Join(td, "chassis_control.sh"), s.powerFile),
		"Users":          Users,
		"VMSerialPort":   opts.VMSerialPort,
	})
	if err != nil {
		return fail(err)
	}
	confPath := filepath.Join(s.StateDir, "lan.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		return fail(err)
	}

	s.LogPath = filepath.Join(s.StateDir, "ipmi_sim.log")
	logf, err := os.Create(s.LogPath)
	if err != nil {
		return fail(err)
	}
	s.cmd = exec.Command("ipmi_sim", "-c", confPath, "-f", emuPath, "-s", s.StateDir, "-n")
	s.cmd.Dir = s.StateDir
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	setChildAttrs(s.cmd)
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fail(err)
	}
	logf.Close()
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	if err := s.waitReady(ctx, timeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *IPMISim) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("ipmi_sim exited before answering (%v); log: %q", s.waitErr, s.logTail())
		default:
		}
		err := Ping(ctx, s.Addr, 200*time.Millisecond)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("ipmi_sim on %s did not answer an RMCP ping within %v (a failing .emu line keeps the BMC disabled); last ping: %v; log: %q",
				s.Addr, timeout, lastErr, s.logTail())
		}
		lastErr = err
		// Ping errors on a closed port return at once ("connection refused"):
		// do not spin.
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

func (s *IPMISim) logTail() string {
	b, _ := os.ReadFile(s.LogPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Stop kills the simulator (its whole process group) and waits for it.
// It is idempotent.
func (s *IPMISim) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			killGroup(s.cmd.Process.Pid)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
			}
		}
		if s.removeDir {
			os.RemoveAll(s.StateDir)
		}
	})
}

// Done is closed when the ipmi_sim process has exited.
func (s *IPMISim) Done() <-chan struct{} { return s.done }

// Pid is the process ID of ipmi_sim.
func (s *IPMISim) Pid() int { return s.cmd.Process.Pid }

// SetPower sets the chassis power state that Get Chassis Status reports
// (ipmi_sim asks the chassis_control script, which reads this file).
// Chassis Control commands from clients change it too.
func (s *IPMISim) SetPower(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	return os.WriteFile(s.powerFile, []byte(v), 0o644)
}

// Power reports the chassis power state as the chassis_control script sees it.
func (s *IPMISim) Power() (bool, error) {
	b, err := os.ReadFile(s.powerFile)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(b)) == "1", nil
}

func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
}

// freeUDPRange finds n consecutive free UDP ports on 127.0.0.1, below the
// kernel's ephemeral port range when there is room. The simulators bind
// their ports one after another, seconds apart for a large fleet: a range
// inside the ephemeral one can meanwhile be taken by any process's client
// socket (a 200-BMC benchmark fleet lost port 46777 that way), while a
// port below it is only ever taken by an explicit bind.
func freeUDPRange(n int) (int, error) {
	lo, hi := fleetPortLow, ephemeralLow()
	if hi-lo >= 2*n {
		span := hi - lo - n
		start := lo + rand.IntN(span)
		for i := 0; i < 50; i++ {
			base := lo + (start-lo+i*n)%span
			if udpRangeFree(base, n) {
				return base, nil
			}
		}
	}
	for attempt := 0; attempt < 50; attempt++ {
		base, err := freePort("udp")
		if err != nil {
			return 0, err
		}
		if base+n > 65535 {
			continue
		}
		if udpRangeFree(base, n) {
			return base, nil
		}
	}
	return 0, errors.New("no range of free UDP ports found")
}

// fleetPortLow is the lowest port a fleet takes: above the registered
// services' ports and the bench scripts' fixed ports (23990-26199).
const fleetPortLow = 27000

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 0 || lo > 65535 {
		return 32768
	}
	return lo
}

// udpRangeFree reports whether ports base..base+n-1 can all be bound.
func udpRangeFree(base, n int) bool {
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return false
		}
		held = append(held, c)
	}
	return true
}
