package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClientOptions say how ipmitool or a FreeIPMI tool reaches a BMC. The same
// options serve both; names are mapped to each tool's spelling.
type ClientOptions struct {
	Host      string // default 127.0.0.1
	Port      int
	User      string
	Password  string
	Anonymous bool // log in as the null user (user 1); User is ignored
	// Interface is "lanplus" (IPMI v2.0 RMCP+, default; FreeIPMI LAN_2_0)
	// or "lan" (IPMI v1.5; FreeIPMI LAN).
	Interface string
	// CipherSuite for lanplus; "" means 3 for ipmitool (its default 17 is
	// not offered by ipmi_sim) and FreeIPMI's default otherwise.
	CipherSuite string
	// AuthType for lan: NONE, PASSWORD (straight), MD2 or MD5 (ipmitool
	// spelling; STRAIGHT_PASSWORD_KEY is accepted too).
	AuthType string
	// Privilege: USER, OPERATOR or ADMINISTRATOR ("" = tool default; ADMIN
	// is accepted too).
	Privilege string
	// Workarounds for FreeIPMI (-W); "" means opensesspriv for lanplus,
	// needed against ipmi_sim. Use "none" for no workaround flags.
	Workarounds string
	// SDRCacheDir for FreeIPMI's SDR cache; "" means a temporary directory
	// per call (the simulator's methods use one under its StateDir).
	SDRCacheDir string
	// Timeout bounds one tool run (default 30s).
	Timeout time.Duration
}

// ClientOptions returns administrator options for this simulator.
func (s *IPMISim) ClientOptions() ClientOptions {
	return ClientOptions{
		Host: "127.0.0.1", Port: s.Port, User: s.User, Password: s.Password,
		SDRCacheDir: filepath.Join(s.StateDir, "freeipmi-sdr-cache"),
	}
}

// fill completes o with this simulator's address (and SDR cache).
func (s *IPMISim) fill(o ClientOptions) ClientOptions {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = s.Port
	}
	if o.SDRCacheDir == "" {
		o.SDRCacheDir = filepath.Join(s.StateDir, "freeipmi-sdr-cache")
	}
	return o
}

func (o ClientOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 30 * time.Second
}

// IpmitoolArgs returns the ipmitool command line (without the program name)
// for the options and subcommand arguments.
func IpmitoolArgs(o ClientOptions, args ...string) []string {
	iface := o.Interface
	if iface == "" {
		iface = "lanplus"
	}
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	a := []string{"-I", iface, "-H", host, "-p", strconv.Itoa(o.Port), "-N", "2", "-R", "3"}
	if o.Anonymous {
		a = append(a, "-U", "")
	} else if o.User != "" {
		a = append(a, "-U", o.User)
	}
	a = append(a, "-P", o.Password)
	if iface == "lanplus" {
		cs := o.CipherSuite
		if cs == "" {
			cs = "3"
		}
		a = append(a, "-C", cs)
	}
	if o.AuthType != "" {
		at := strings.ToUpper(o.AuthType)
		if at == "STRAIGHT_PASSWORD_KEY" || at == "STRAIGHT" {
			at = "PASSWORD"
		}
		a = append(a, "-A", at)
	}
	if o.Privilege != "" {
		p := strings.ToUpper(o.Privilege)
		if p == "ADMIN" {
			p = "ADMINISTRATOR"
		}
		a = append(a, "-L", p)
	}
	return append(a, args...)
}

// RunIpmitool runs ipmitool with the options and returns standard output.
func RunIpmitool(ctx context.Context, o ClientOptions, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	return runTool(ctx, "ipmitool", IpmitoolArgs(o, args...)...)
}

// Ipmitool runs `ipmitool -I lanplus -C 3 -H 127.0.0.1 -p PORT -U admin -P
// password ARGS...` against the simulator.
func (s *IPMISim) Ipmitool(ctx context.Context, args ...string) (string, error) {
	return RunIpmitool(ctx, s.ClientOptions(), args...)
}

// IpmitoolAs runs ipmitool with other options (interface, suite, user...);
// the simulator's address fills in Host and Port when zero.
func (s *IPMISim) IpmitoolAs(ctx context.Context, o ClientOptions, args ...string) (string, error) {
	return RunIpmitool(ctx, s.fill(o), args...)
}

// FreeIPMIArgs returns the command line of a FreeIPMI tool (ipmi-sensors,
// ipmi-sel, ipmi-chassis, ...) for the options, without the program name.
func FreeIPMIArgs(tool string, o ClientOptions, args ...string) []string {
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	driver, lanplus := "LAN_2_0", true
	if o.Interface == "lan" {
		driver, lanplus = "LAN", false
	}
	a := []string{"-h", fmt.Sprintf("%s:%d", host, o.Port), "-D", driver, "-p", o.Password}
	if !o.Anonymous && o.User != "" {
		a = append(a, "-u", o.User)
	}
	if lanplus && o.CipherSuite != "" {
		a = append(a, "-I", o.CipherSuite)
	}
	if o.AuthType != "" {
		at := strings.ToUpper(o.AuthType)
		if at == "PASSWORD" || at == "STRAIGHT" {
			at = "STRAIGHT_PASSWORD_KEY"
		}
		a = append(a, "-a", at)
	}
	p := strings.ToUpper(o.Privilege)
	switch p {
	case "":
		p = "ADMIN"
	case "ADMINISTRATOR":
		p = "ADMIN"
	}
	a = append(a, "-l", p)
	w := o.Workarounds
	if w == "" && lanplus {
		w = "opensesspriv"
	}
	if w != "" && w != "none" {
		a = append(a, "-W", w)
	}
	// ipmi_sim repeats its first IPMI 1.5 outbound sequence number (see
	// docs/bmc-quirks.md): FreeIPMI drops that reply and retransmits, so keep
	// the retransmission timeout short.
	a = append(a, "--session-timeout=10000", "--retransmission-timeout=500")
	switch tool {
	case "ipmi-sensors", "ipmi-sel", "ipmimonitoring":
		a = append(a, "--sdr-cache-directory="+o.SDRCacheDir, "--quiet-cache")
	}
	return append(a, args...)
}

// RunFreeIPMI runs a FreeIPMI tool and returns standard output.
func RunFreeIPMI(ctx context.Context, tool string, o ClientOptions, args ...string) (string, error) {
	if o.SDRCacheDir == "" {
		dir, err := os.MkdirTemp("", "freeipmi-cache-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		o.SDRCacheDir = dir
	} else if err := os.MkdirAll(o.SDRCacheDir, 0o700); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	return runTool(ctx, tool, FreeIPMIArgs(tool, o, args...)...)
}

// FreeIPMI runs a FreeIPMI tool against the simulator as administrator
// over LAN_2_0 with -W opensesspriv.
func (s *IPMISim) FreeIPMI(ctx context.Context, tool string, args ...string) (string, error) {
	return RunFreeIPMI(ctx, tool, s.ClientOptions(), args...)
}

// FreeIPMIAs runs a FreeIPMI tool with other options; the simulator's
// address fills in Host and Port when zero.
func (s *IPMISim) FreeIPMIAs(ctx context.Context, tool string, o ClientOptions, args ...string) (string, error) {
	return RunFreeIPMI(ctx, tool, s.fill(o), args...)
}

// IPMISensorsArgs are the ipmi-sensors flags IPMISensors uses: CSV without
// header, sensor state, thresholds, bridged (satellite controller) and
// shared (compact record) sensors, and full unit names. Unreadable sensors
// are left out: without --ignore-not-available-sensors, ipmi-sensors 1.6.10
// stops with exit status 1 at the first sensor whose Get Sensor Thresholds
// fails (the 0xCC sensor).
var IPMISensorsArgs = []string{
	"--comma-separated-output", "--no-header-output", "--output-sensor-state",
	"--output-sensor-thresholds", "--bridge-sensors", "--shared-sensors",
	"--ignore-not-available-sensors", "--non-abbreviated-units",
}

// IPMISensors runs ipmi-sensors with IPMISensorsArgs plus extra and parses it.
func (s *IPMISim) IPMISensors(ctx context.Context, extra ...string) ([]IPMISensorsRow, error) {
	out, err := s.FreeIPMI(ctx, "ipmi-sensors", append(append([]string{}, IPMISensorsArgs...), extra...)...)
	if err != nil {
		return nil, err
	}
	return ParseIPMISensors(out)
}

// IPMISelInfo runs `ipmi-sel --info`.
func (s *IPMISim) IPMISelInfo(ctx context.Context) (IPMISelInfo, error) {
	out, err := s.FreeIPMI(ctx, "ipmi-sel", "--info")
	if err != nil {
		return IPMISelInfo{}, err
	}
	return ParseIPMISelInfo(out)
}

// IPMIChassisStatus runs `ipmi-chassis --get-chassis-status`.
func (s *IPMISim) IPMIChassisStatus(ctx context.Context) (ChassisStatus, error) {
	out, err := s.FreeIPMI(ctx, "ipmi-chassis", "--get-chassis-status")
	if err != nil {
		return ChassisStatus{}, err
	}
	return ParseChassisStatus(out)
}

// SDRElist runs `ipmitool sdr elist KIND` (full, compact, event, mcloc,
// fru, all, or "" for the default) and parses it.
func (s *IPMISim) SDRElist(ctx context.Context, kind string) ([]ElistEntry, error) {
	args := []string{"sdr", "elist"}
	if kind != "" {
		args = append(args, kind)
	}
	out, err := s.Ipmitool(ctx, args...)
	if err != nil {
		return nil, err
	}
	return ParseSDRElist(out)
}

// IpmitoolSensors runs `ipmitool sensor` and parses it.
func (s *IPMISim) IpmitoolSensors(ctx context.Context) ([]IpmitoolSensorRow, error) {
	out, err := s.Ipmitool(ctx, "sensor")
	if err != nil {
		return nil, err
	}
	return ParseIpmitoolSensor(out)
}

// SELInfo runs `ipmitool sel info`.
func (s *IPMISim) SELInfo(ctx context.Context) (SELInfo, error) {
	out, err := s.Ipmitool(ctx, "sel", "info")
	if err != nil {
		return SELInfo{}, err
	}
	return ParseSELInfo(out)
}

// ChassisStatus runs `ipmitool chassis status`.
func (s *IPMISim) ChassisStatus(ctx context.Context) (ChassisStatus, error) {
	out, err := s.Ipmitool(ctx, "chassis", "status")
	if err != nil {
		return ChassisStatus{}, err
	}
	return ParseChassisStatus(out)
}

// ActiveSessions runs `ipmitool session info active` and returns the BMC's
// count of active sessions, including the one ipmitool itself opened.
func (s *IPMISim) ActiveSessions(ctx context.Context) (int, error) {
	out, err := s.Ipmitool(ctx, "session", "info", "active")
	if err != nil {
		return 0, err
	}
	si, err := ParseSessionInfo(out)
	return si.ActiveSessions, err
}
