// Package config loads and validates the exporter's YAML configuration: the
// modules (credentials and session settings per group of BMCs) and the
// target groups served for service discovery.
//
// The format is a superset of prometheus-community/ipmi_exporter's
// ipmi_remote.yml: its files load as they are, with a warning for every
// FreeIPMI-only setting that this exporter ignores.
//
// There is no implicit module. A scrape without module= uses the module
// named "default"; if the file defines none, such a scrape is refused (the
// HTTP layer answers 400). A scrape naming a module that does not exist is
// refused as well, unlike ipmi_exporter, which silently falls back to
// "default" and so may send one group's password to another group's BMCs.
package config

import (
	"strconv"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// DefaultModuleName is the module used when a scrape names none.
const DefaultModuleName = "default"

// DefaultPort is the RMCP port BMCs listen on.
const DefaultPort = 623

// Defaults for keys a module leaves out.
const (
	DefaultPrivilege   = wire.PrivilegeUser
	DefaultDriver      = DriverLAN20
	DefaultTimeout     = 10 * time.Second
	DefaultMaxSessions = 1
	DefaultWindow      = WindowAuto
	DefaultMaxWindow   = 8
	DefaultIdleTimeout = 5 * time.Minute
)

// Driver selects the IPMI LAN protocol version, named as in FreeIPMI and
// ipmi_exporter.
type Driver string

const (
	// DriverLAN20 is IPMI v2.0 RMCP+ (ipmitool -I lanplus).
	DriverLAN20 Driver = "LAN_2_0"
	// DriverLAN is IPMI v1.5 LAN (ipmitool -I lan).
	DriverLAN Driver = "LAN"
	// DriverOpenIPMI is the local BMC in band, through the Linux kernel's
	// IPMI driver (/dev/ipmi0; ipmitool -I open): no network, no session,
	// no credentials (ipmi_exporter's local mode).
	DriverOpenIPMI Driver = "OPENIPMI"
)

// AuthType is an IPMI v1.5 session authentication type for driver LAN.
type AuthType string

// IPMI v1.5 authentication types. Straight password sends the password in
// the clear and none sends nothing: neither is ever chosen by auto.
const (
	AuthTypeAuto     AuthType = ""
	AuthTypeMD5      AuthType = "md5"
	AuthTypePassword AuthType = "password"
	AuthTypeNone     AuthType = "none"
)

// CipherSuite is an RMCP+ cipher suite ID, or CipherSuiteAuto.
type CipherSuite int

// CipherSuiteAuto lets the session layer pick the strongest suite the BMC
// offers.
const CipherSuiteAuto CipherSuite = -1

func (c CipherSuite) String() string {
	if c == CipherSuiteAuto {
		return "auto"
	}
	return strconv.Itoa(int(c))
}

// supportedCipherSuites are the IPMI v2.0 (table 22-20) suite IDs built from
// algorithms the crypto package implements.
var supportedCipherSuites = [...]CipherSuite{0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17}

// LookupMode is the RAKP1 user lookup (config key name_only_lookup).
type LookupMode int

const (
	// LookupAuto (auto, the default) asks for name-only lookup first, as
	// ipmitool, FreeIPMI and other clients do, and falls back to name and
	// privilege lookup when the BMC refuses the name.
	LookupAuto LookupMode = iota
	// LookupNameOnly (true) always asks for name-only lookup.
	LookupNameOnly
	// LookupNamePrivilege (false) always asks for name and privilege
	// lookup.
	LookupNamePrivilege
)

func (l LookupMode) String() string {
	switch l {
	case LookupNameOnly:
		return "true"
	case LookupNamePrivilege:
		return "false"
	}
	return "auto"
}

// MarshalYAML writes the mode as the config file spells it: auto, true or
// false.
func (l LookupMode) MarshalYAML() (any, error) {
	switch l {
	case LookupNameOnly:
		return true, nil
	case LookupNamePrivilege:
		return false, nil
	}
	return "auto", nil
}

// WorkaroundFlag is one of FreeIPMI's workaround flag names, as
// ipmi_exporter passes them through (config key workaround_flags).
type WorkaroundFlag string

// knownWorkaroundFlags are the names FreeIPMI's tools accept (see the
// WORKAROUNDS section of ipmi-sensors(8), ipmi-sel(8) and ipmi-config(8)).
// Other names load with a warning.
var knownWorkaroundFlags = map[WorkaroundFlag]bool{
	"authcap": true, "nochecksumcheck": true, "idzero": true, "unexpectedauth": true,
	"forcepermsg": true, "endianseq": true, "noauthcodecheck": true, "intel20": true,
	"supermicro20": true, "sun20": true, "opensesspriv": true, "integritycheckvalue": true,
	"solpayloadsize": true, "solport": true, "solstatus": true, "solchannelsupport": true,
	"serialalertsdeferred": true, "incrementsolpacketsequence": true,
	"assumeio": true, "assumemaxsdrrecordcount": true, "assumebmcowner": true,
	"ignorescanningdisabled": true, "discretereading": true, "ignoreauthcode": true,
	"altbridging": true, "noinstancecheck": true, "skipchecks": true, "veryslowcommit": true,
	"slowcommit": true, "malformedack": true, "ignorestatecheck": true,
	"assumesystemevent": true, "nodiscovery": true, "spinpoll": true,
}

// Known reports whether f is a workaround flag name FreeIPMI defines.
func (f WorkaroundFlag) Known() bool { return knownWorkaroundFlags[f] }

// HasWorkaround reports whether the module lists workaround flag f.
func (m *Module) HasWorkaround(f WorkaroundFlag) bool {
	for _, have := range m.WorkaroundFlags {
		if have == f {
			return true
		}
	}
	return false
}

// Config is a loaded and validated configuration. Treat it as read-only:
// Store hands the same *Config to every scrape.
type Config struct {
	// File is the path or name the config was parsed from.
	File string `yaml:"-"`
	// Modules by name.
	Modules map[string]*Module `yaml:"modules"`
	// Targets are the groups served for HTTP service discovery.
	Targets []TargetGroup `yaml:"targets,omitempty"`
}

// Module returns the module with the given name; an empty name means
// DefaultModuleName. There is no fallback: an unknown name is reported as
// not found.
func (c *Config) Module(name string) (*Module, bool) {
	if c == nil {
		return nil, false
	}
	if name == "" {
		name = DefaultModuleName
	}
	m, ok := c.Modules[name]
	return m, ok
}

// Module is one named set of credentials and session settings.
type Module struct {
	Name string

	// SessionSettings are everything a session is opened with.
	SessionSettings

	// PasswordFile is pass_file as written (empty when pass is inline).
	PasswordFile string
	// KGFile is kg_file as written (empty when kg is inline).
	KGFile string
	// Timeout bounds one scrape's IPMI exchanges (config key in ms).
	Timeout    time.Duration
	Collectors []Collector
	// ExcludeSensorIDs are the IDs shown in the id label of sensor metrics.
	ExcludeSensorIDs []uint16
	// AllowedTargets as written; empty allows every target.
	AllowedTargets []string

	MaxSessions int
	// IdleTimeout closes a session unused for this long; 0 closes it after
	// every scrape.
	IdleTimeout time.Duration
	// SDRReadSize is the byte count per partial Get SDR read; 0 = auto.
	SDRReadSize int
	// SDRCacheDir, when set, keeps each BMC's SDR repository on disk
	// there, so that a restart of the exporter is warm (sdr_cache_dir;
	// a relative path is taken from the config file's directory).
	SDRCacheDir string
	// WorkaroundFlags are ipmi_exporter's (FreeIPMI's) workaround_flags as
	// written, so its users' configs keep meaning the same thing.
	WorkaroundFlags []WorkaroundFlag
	// SELEvents are ipmi_exporter's sel_events (sel-events collector).
	SELEvents []SELEvent
	// CredentialsFile is credentials_file as written: credentials per
	// target (Login), read again when it changes (RefreshCredentials).
	CredentialsFile string

	allowed     allowList
	credentials *credentialsFile
	// credentialSource names the credentials_file entry a module
	// returned by Login was made from.
	credentialSource string
}

// SessionSettings are a module's settings that go into a session: the
// dialer builds session.Config from them, and a reload logs in again
// exactly when they changed (Equal). A setting that changes how a
// session is opened belongs here and nowhere else; the struct must stay
// comparable.
type SessionSettings struct {
	User string
	// Password is the inline pass or the content of pass_file.
	Password  Secret
	Privilege wire.PrivilegeLevel
	Driver    Driver
	// CipherSuite is the RMCP+ suite (driver LAN_2_0).
	CipherSuite CipherSuite
	// KG is the BMC key K_g (raw bytes, at most 20); zero means none, in
	// which case RMCP+ uses the password-derived key as the spec says.
	KG Secret
	// AuthType is the IPMI v1.5 session authentication (driver LAN only):
	// AuthTypeAuto uses MD5 when the BMC offers it and nothing weaker.
	AuthType AuthType
	// Lookup is the RAKP user lookup (name_only_lookup): LookupAuto tries
	// name-only first, as ipmitool and FreeIPMI do.
	Lookup LookupMode
	// Window is how many requests a session has in flight, or
	// WindowAuto (the default): from 1 up to MaxWindow as the BMC copes.
	Window WindowSize
	// MaxWindow caps the adaptive window (max_window, default 8).
	MaxWindow int
	// Device is the IPMI device file of an in-band module (driver
	// OPENIPMI, key device); empty tries /dev/ipmi0, /dev/ipmi/0 and
	// /dev/ipmidev/0 in order.
	Device string
}

// WindowSize is the window key: a fixed number of requests in flight, or
// WindowAuto.
type WindowSize int

// WindowAuto lets each session find how many requests in flight its BMC
// handles (config key window: auto).
const WindowAuto WindowSize = -1

// MarshalYAML writes auto or the number.
func (w WindowSize) MarshalYAML() (any, error) {
	if w == WindowAuto {
		return "auto", nil
	}
	return int(w), nil
}

// Equal reports whether sessions opened with s can serve o. Secrets are
// compared by value in constant time; everything else with ==.
func (s SessionSettings) Equal(o SessionSettings) bool {
	if !s.Password.Equal(o.Password) || !s.KG.Equal(o.KG) {
		return false
	}
	s.Password, s.KG, o.Password, o.KG = Secret{}, Secret{}, Secret{}, Secret{}
	return s == o
}

// HasCollector reports whether the module runs collector c.
func (m *Module) HasCollector(c Collector) bool {
	for _, have := range m.Collectors {
		if have == c {
			return true
		}
	}
	return false
}

// ExcludesSensor reports whether the sensor with the given id is excluded.
func (m *Module) ExcludesSensor(id uint16) bool {
	for _, x := range m.ExcludeSensorIDs {
		if x == id {
			return true
		}
	}
	return false
}

// MarshalYAML writes the module in the config-file form, every setting
// in force included. Secrets show as "<secret>", and a password read from
// pass_file only as the file name.
func (m Module) MarshalYAML() (any, error) {
	out := fileModule{
		User:             setField(text(m.User)),
		PassFile:         fieldIf(text(m.PasswordFile), m.PasswordFile != ""),
		Privilege:        setField(privilege(m.Privilege)),
		Driver:           setField(m.Driver),
		CipherSuite:      setField(m.CipherSuite),
		KGFile:           fieldIf(text(m.KGFile), m.KGFile != ""),
		Timeout:          setField(millis(m.Timeout)),
		Collectors:       setField(listOf(m.Collectors, func(c Collector) text { return text(c) })),
		ExcludeSensorIDs: setField(listOf(m.ExcludeSensorIDs, func(id uint16) integer { return integer(id) })),
		AllowedTargets:   fieldIf(listOf(m.AllowedTargets, func(s string) text { return text(s) }), len(m.AllowedTargets) > 0),
		MaxSessions:      setField(integer(m.MaxSessions)),
		Window:           setField(m.Window),
		MaxWindow:        setField(integer(m.MaxWindow)),
		IdleTimeout:      setField(duration(m.IdleTimeout)),
		SDRReadSize:      setField(integer(m.SDRReadSize)),
		SDRCacheDir:      fieldIf(text(m.SDRCacheDir), m.SDRCacheDir != ""),
		NameOnlyLookup:   setField(m.Lookup),
		AuthType:         fieldIf(m.AuthType, m.Driver == DriverLAN),
		WorkaroundFlags:  setField(listOf(m.WorkaroundFlags, func(f WorkaroundFlag) text { return text(f) })),
		SELEvents:        setField(listOf(m.SELEvents, func(e SELEvent) SELEvent { return e })),
		CredentialsFile:  fieldIf(text(m.CredentialsFile), m.CredentialsFile != ""),
		Device:           fieldIf(text(m.Device), m.Device != ""),
	}
	out.Pass = fieldIf(m.Password, m.PasswordFile == "" && !m.Password.IsZero())
	out.KG = fieldIf(m.KG, m.KGFile == "" && !m.KG.IsZero())
	if m.InBand() {
		out.dropLANKeys()
	}
	return out, nil
}

// TargetGroup is one entry of the top-level targets list, served on /sd in
// the Prometheus HTTP service discovery format.
type TargetGroup struct {
	Module string            `yaml:"module"`
	Labels map[string]string `yaml:"labels,omitempty"`
	// Hosts as written: host, host:port, [v6] or [v6]:port.
	Hosts []string `yaml:"hosts"`
}

// newModule returns a module with every default applied: the one place
// defaults are set. The default collectors are catalog's.
func newModule(name string, catalog Catalog) *Module {
	return &Module{
		Name: name,
		SessionSettings: SessionSettings{
			Privilege:   DefaultPrivilege,
			Driver:      DefaultDriver,
			CipherSuite: CipherSuiteAuto,
			Lookup:      LookupAuto,
			Window:      DefaultWindow,
			MaxWindow:   DefaultMaxWindow,
		},
		Timeout:     DefaultTimeout,
		Collectors:  catalog.Defaults(),
		MaxSessions: DefaultMaxSessions,
		IdleTimeout: DefaultIdleTimeout,
	}
}

// DemoConfig builds the configuration used by --demo: one "default" module
// with the given credentials, and one target group listing targets. The
// module only allows the given targets (matched by host, ignoring the port)
// and loopback addresses, so a demo instance cannot be pointed at real
// BMCs by a scraper. Targets must already be valid (see ParseTarget);
// invalid ones are left out. The module runs catalog's default collectors.
func DemoConfig(catalog Catalog, targets []string, user, pass string) *Config {
	m := newModule(DefaultModuleName, catalog)
	m.User = user
	m.Password = NewSecret(pass)
	m.AllowedTargets = []string{"127.0.0.0/8", "::1/128"}
	hosts := make([]string, 0, len(targets))
	for _, t := range targets {
		host, _, err := ParseTarget(t)
		if err != nil {
			continue
		}
		hosts = append(hosts, t)
		m.AllowedTargets = append(m.AllowedTargets, host)
	}
	m.allowed, _ = m.allowList()
	cfg := &Config{
		File:    "<demo>",
		Modules: map[string]*Module{DefaultModuleName: m},
	}
	if len(hosts) > 0 {
		cfg.Targets = []TargetGroup{{Module: DefaultModuleName, Hosts: hosts}}
	}
	return cfg
}
