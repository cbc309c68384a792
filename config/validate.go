package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// fileConfig is the file's form of a Config, as yaml.v3 decodes it with
// known fields only. The yaml tags are the config keys. Adding a module key
// touches: a field of fileModule (with a leaf type that says what is wrong
// with a value), its reading in validateModule into a Module field (into
// SessionSettings if it changes how a session is opened), Module.MarshalYAML,
// config.example.yml and keySamples; TestEveryKeyIsRead, TestExampleConfig
// and TestExampleRoundTrips fail for a key left out of one of them.
type fileConfig struct {
	Modules map[string]*fileModule `yaml:"modules"`
	Targets []fileTarget           `yaml:"targets,omitempty"`
}

// fileModule is one module as written.
type fileModule struct {
	User             field[text]           `yaml:"user,omitempty"`
	Pass             field[Secret]         `yaml:"pass,omitempty"`
	PassFile         field[text]           `yaml:"pass_file,omitempty"`
	Privilege        field[privilege]      `yaml:"privilege,omitempty"`
	Driver           field[Driver]         `yaml:"driver,omitempty"`
	CipherSuite      field[CipherSuite]    `yaml:"cipher_suite,omitempty"`
	KG               field[Secret]         `yaml:"kg,omitempty"`
	KGFile           field[text]           `yaml:"kg_file,omitempty"`
	Timeout          field[millis]         `yaml:"timeout,omitempty"`
	Collectors       field[list[text]]     `yaml:"collectors,omitempty"`
	ExcludeSensorIDs field[list[integer]]  `yaml:"exclude_sensor_ids,omitempty"`
	AllowedTargets   field[list[text]]     `yaml:"allowed_targets,omitempty"`
	MaxSessions      field[integer]        `yaml:"max_sessions,omitempty"`
	Window           field[WindowSize]     `yaml:"window,omitempty"`
	MaxWindow        field[integer]        `yaml:"max_window,omitempty"`
	IdleTimeout      field[duration]       `yaml:"idle_timeout,omitempty"`
	SDRReadSize      field[integer]        `yaml:"sdr_read_size,omitempty"`
	SDRCacheDir      field[text]           `yaml:"sdr_cache_dir,omitempty"`
	NameOnlyLookup   field[LookupMode]     `yaml:"name_only_lookup,omitempty"`
	AuthType         field[AuthType]       `yaml:"auth_type,omitempty"`
	WorkaroundFlags  field[list[text]]     `yaml:"workaround_flags,omitempty"`
	SELEvents        field[list[SELEvent]] `yaml:"sel_events,omitempty"`
	CredentialsFile  field[text]           `yaml:"credentials_file,omitempty"`
	Device           field[text]           `yaml:"device,omitempty"`

	// Accepted so that older files and ipmi_exporter's load, with a
	// warning: retries was never read (a request is retransmitted until
	// the module's timeout), the others drive FreeIPMI's command-line
	// tools.
	Retries      field[ignored] `yaml:"retries,omitempty"`
	CollectorCmd field[ignored] `yaml:"collector_cmd,omitempty"`
	DefaultArgs  field[ignored] `yaml:"default_args,omitempty"`
	CustomArgs   field[ignored] `yaml:"custom_args,omitempty"`
}

// fileTarget is one target group as written.
type fileTarget struct {
	Module field[text]            `yaml:"module,omitempty"`
	Labels map[string]field[text] `yaml:"labels,omitempty"`
	Hosts  field[list[text]]      `yaml:"hosts"`
}

// ignored accepts any value.
type ignored struct{}

func (*ignored) UnmarshalYAML(*yaml.Node) error { return nil }

// validate turns the file form into a Config, reporting every problem with
// its line. lines are the module names' lines and keys from checkShape.
func (p *parser) validate(f *fileConfig, lines map[string]moduleShape) *Config {
	cfg := &Config{File: p.file, Modules: map[string]*Module{}}
	names := make([]string, 0, len(f.Modules))
	for name := range f.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	failed := map[string]bool{}
	for _, name := range names {
		shape := lines[name]
		if err := checkModuleName(name); err != nil {
			p.errorf(shape.line, nil, "module name %q: %v", truncateForError(name), err)
			failed[name] = true
			continue
		}
		before := len(p.errs)
		m := p.validateModule(name, f.Modules[name], shape)
		if len(p.errs) > before {
			failed[name] = true
			continue
		}
		cfg.Modules[name] = m
	}
	if len(cfg.Modules) == 0 && len(p.errs) == 0 {
		p.errorf(0, nil, "no modules defined")
	}
	for i, t := range f.Targets {
		if g, ok := p.validateTarget(cfg, fmt.Sprintf("targets[%d]", i), t, failed); ok {
			cfg.Targets = append(cfg.Targets, g)
		}
	}
	return cfg
}

func checkModuleName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	if len(name) > maxModuleNameLen {
		return fmt.Errorf("longer than %d bytes", maxModuleNameLen)
	}
	if !utf8.ValidString(name) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("contains %q; module names are used in URLs, use no spaces or control characters", r)
		}
	}
	return nil
}

// validateModule builds a module from its file form: defaults (newModule)
// for what it leaves out, every error and warning reported.
func (p *parser) validateModule(name string, fm *fileModule, shape moduleShape) *Module {
	ctx := fmt.Sprintf("module %q", name)
	m := newModule(name, p.catalog)
	if fm == nil {
		p.warnf(shape.line, "%s has no settings: it logs in with no user name and no password; see docs/security.md", ctx)
		fm = &fileModule{}
	}
	// ok reports whether a key is set and usable, reporting it if not.
	ok := func(key string, line int, set bool, err error) bool {
		if err != nil {
			p.errorf(line, err, "%s: %s: %v", ctx, key, err)
			return false
		}
		return set
	}
	inRange := func(key string, f field[integer], lo, hi int64) (int, bool) {
		if !ok(key, f.Line, f.Set, f.Err) {
			return 0, false
		}
		if int64(f.V) < lo || int64(f.V) > hi {
			p.errorf(f.Line, nil, "%s: %s: %d is out of range %d-%d", ctx, key, f.V, lo, hi)
			return 0, false
		}
		return int(f.V), true
	}

	if ok("user", fm.User.Line, fm.User.Set, fm.User.Err) {
		if len(fm.User.V) > maxUserLen {
			p.errorf(fm.User.Line, nil, "%s: user is %d bytes long; IPMI user names have at most %d", ctx, len(fm.User.V), maxUserLen)
		}
		m.User = string(fm.User.V)
	}
	if ok("privilege", fm.Privilege.Line, fm.Privilege.Set, fm.Privilege.Err) {
		m.Privilege = wire.PrivilegeLevel(fm.Privilege.V)
	}
	if ok("driver", fm.Driver.Line, fm.Driver.Set, fm.Driver.Err) {
		m.Driver = fm.Driver.V
	}
	if ok("cipher_suite", fm.CipherSuite.Line, fm.CipherSuite.Set, fm.CipherSuite.Err) {
		m.CipherSuite = fm.CipherSuite.V
	}
	if ok("auth_type", fm.AuthType.Line, fm.AuthType.Set, fm.AuthType.Err) {
		m.AuthType = fm.AuthType.V
	}
	if ok("name_only_lookup", fm.NameOnlyLookup.Line, fm.NameOnlyLookup.Set, fm.NameOnlyLookup.Err) {
		m.Lookup = fm.NameOnlyLookup.V
	}
	if ok("timeout (milliseconds)", fm.Timeout.Line, fm.Timeout.Set, fm.Timeout.Err) && fm.Timeout.V > 0 {
		m.Timeout = time.Duration(fm.Timeout.V) // 0 means the default, as in ipmi_exporter
	}
	if ok("idle_timeout", fm.IdleTimeout.Line, fm.IdleTimeout.Set, fm.IdleTimeout.Err) {
		m.IdleTimeout = time.Duration(fm.IdleTimeout.V)
	}
	if n, set := inRange("max_sessions", fm.MaxSessions, 1, maxSessionsHard); set {
		if n > maxSessionsAdvised {
			p.warnf(fm.MaxSessions.Line, "%s: max_sessions: %d sessions per BMC; most BMCs allow only a few sessions in total and people need one to log in", ctx, n)
		}
		m.MaxSessions = n
	}
	if ok("window", fm.Window.Line, fm.Window.Set, fm.Window.Err) {
		if w := fm.Window.V; w != WindowAuto && (w < 1 || w > maxWindow) {
			p.errorf(fm.Window.Line, nil, "%s: window: %d is out of range 1-%d (or auto)", ctx, w, maxWindow)
		} else {
			m.Window = w
		}
	}
	if n, set := inRange("max_window", fm.MaxWindow, 1, maxWindow); set {
		m.MaxWindow = n
	}
	if n, set := inRange("sdr_read_size", fm.SDRReadSize, 0, maxSDRReadSize); set {
		m.SDRReadSize = n
	}
	if ok("sdr_cache_dir", fm.SDRCacheDir.Line, fm.SDRCacheDir.Set, fm.SDRCacheDir.Err) {
		// Created (0700) when the first repository is stored.
		if dir := string(fm.SDRCacheDir.V); dir == "" {
			p.errorf(fm.SDRCacheDir.Line, nil, "%s: sdr_cache_dir: empty path (leave the key out for no disk cache)", ctx)
		} else if filepath.IsAbs(dir) {
			m.SDRCacheDir = filepath.Clean(dir)
		} else {
			m.SDRCacheDir = filepath.Join(p.dir, dir)
		}
	}
	p.secrets(ctx, m, fm, ok)
	if ok("collectors", fm.Collectors.Line, fm.Collectors.Set, fm.Collectors.Err) {
		m.Collectors = p.collectors(ctx, fm.Collectors)
	}
	if ok("exclude_sensor_ids", fm.ExcludeSensorIDs.Line, fm.ExcludeSensorIDs.Set, fm.ExcludeSensorIDs.Err) {
		for _, item := range fm.ExcludeSensorIDs.V {
			if id, set := inRange("exclude_sensor_ids item", item, 0, 0xFFFF); set {
				m.ExcludeSensorIDs = append(m.ExcludeSensorIDs, uint16(id))
			}
		}
	}
	if ok("workaround_flags", fm.WorkaroundFlags.Line, fm.WorkaroundFlags.Set, fm.WorkaroundFlags.Err) {
		for _, item := range fm.WorkaroundFlags.V {
			if ok("workaround_flags item", item.Line, item.Set, item.Err) {
				flag := WorkaroundFlag(strings.ToLower(string(item.V)))
				if !flag.Known() {
					p.warnf(item.Line, "%s: workaround_flags: unknown workaround flag %q; kept, but nothing acts on it", ctx, truncateForError(string(item.V)))
				}
				m.WorkaroundFlags = append(m.WorkaroundFlags, flag)
			}
		}
	}
	if ok("sel_events", fm.SELEvents.Line, fm.SELEvents.Set, fm.SELEvents.Err) {
		for _, item := range fm.SELEvents.V {
			if ok("sel_events item", item.Line, item.Set, item.Err) {
				m.SELEvents = append(m.SELEvents, item.V)
			}
		}
	}
	p.allowedTargets(ctx, m, fm, shape)

	for key, f := range map[string]field[ignored]{"collector_cmd": fm.CollectorCmd, "default_args": fm.DefaultArgs, "custom_args": fm.CustomArgs} {
		if f.Set {
			p.warnf(f.Line, "%s: %s is an ipmi_exporter setting for FreeIPMI command-line tools; ignored", ctx, key)
		}
	}
	if fm.Retries.Set {
		p.warnf(fm.Retries.Line, "%s: retries is no longer read and will be removed: an unanswered request is sent again until the module's timeout", ctx)
	}
	p.crossChecks(ctx, m, fm)
	p.inBand(ctx, m, fm)
	// Last: each entry's module is a copy of this one with the entry's
	// credentials.
	p.credentialsFile(ctx, m, fm.CredentialsFile)
	return m
}

// secrets reads pass, pass_file, kg and kg_file.
func (p *parser) secrets(ctx string, m *Module, fm *fileModule, ok func(string, int, bool, error) bool) {
	if fm.Pass.Set && fm.PassFile.Set {
		p.errorf(max(fm.Pass.Line, fm.PassFile.Line), nil, "%s: set pass or pass_file, not both", ctx)
	}
	if fm.KG.Set && fm.KGFile.Set {
		p.errorf(max(fm.KG.Line, fm.KGFile.Line), nil, "%s: set kg or kg_file, not both", ctx)
	}
	if ok("pass", fm.Pass.Line, fm.Pass.Set, fm.Pass.Err) {
		m.Password = fm.Pass.V
	}
	if ok("pass_file", fm.PassFile.Line, fm.PassFile.Set, fm.PassFile.Err) {
		if s, read := p.secretFile(ctx+": pass_file", fm.PassFile); read {
			m.PasswordFile, m.Password = string(fm.PassFile.V), NewSecret(s)
		}
	}
	if ok("kg", fm.KG.Line, fm.KG.Set, fm.KG.Err) {
		if kg, err := parseKG(fm.KG.V.Reveal()); err != nil {
			p.errorf(fm.KG.Line, nil, "%s: kg: %v", ctx, err)
		} else {
			m.KG = NewSecret(kg)
		}
	}
	if ok("kg_file", fm.KGFile.Line, fm.KGFile.Set, fm.KGFile.Err) {
		if s, read := p.secretFile(ctx+": kg_file", fm.KGFile); read {
			if kg, err := parseKG(s); err != nil {
				p.errorf(fm.KGFile.Line, nil, "%s: kg_file %q: %v", ctx, fm.KGFile.V, err)
			} else {
				m.KGFile, m.KG = string(fm.KGFile.V), NewSecret(kg)
			}
		}
	}
}

// secretFile reads pass_file or kg_file: a regular file of at most 4 KiB
// whose trailing newlines are dropped.
func (p *parser) secretFile(kctx string, f field[text]) (string, bool) {
	path := string(f.V)
	if path == "" {
		p.errorf(f.Line, nil, "%s: empty path", kctx)
		return "", false
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(p.dir, full)
	}
	data, err := p.readFile(full)
	if err != nil {
		p.errorf(f.Line, err, "%s: %v", kctx, err)
		return "", false
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		p.errorf(f.Line, nil, "%s: %s is empty", kctx, full)
		return "", false
	}
	return s, true
}

// parseKG decodes a BMC key: 0x followed by hex digits, or plain text; at
// most 20 bytes either way. A plain-text key that starts with 0x must be
// written in hex.
func parseKG(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty key; leave kg out to use none")
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		digits := s[2:]
		if len(digits) > 2*maxKGLen {
			return "", fmt.Errorf("hex key has %d digits; K_g is at most %d bytes (%d digits)", len(digits), maxKGLen, 2*maxKGLen)
		}
		b, err := hex.DecodeString(digits)
		if err != nil || len(b) == 0 {
			return "", errors.New("a key starting with 0x must be followed by an even number of hex digits")
		}
		return string(b), nil
	}
	if len(s) > maxKGLen {
		return "", fmt.Errorf("key is %d bytes long; K_g is at most %d bytes", len(s), maxKGLen)
	}
	return s, nil
}

// collectors checks collector names against the catalog.
func (p *parser) collectors(ctx string, f field[list[text]]) []Collector {
	seen := map[Collector]bool{}
	out := []Collector{}
	for _, item := range f.V {
		if item.Err != nil {
			p.errorf(item.Line, item.Err, "%s: collectors item: %v", ctx, item.Err)
			continue
		}
		c := Collector(item.V)
		switch {
		case p.catalog.Has(c) && seen[c]:
			p.errorf(item.Line, nil, "%s: collectors: %s is listed twice", ctx, c)
		case p.catalog.Has(c):
			seen[c] = true
			out = append(out, c)
		case p.catalog.upstreamOnly(c):
			p.warnf(item.Line, "%s: collectors: ipmi_exporter's %s collector is not implemented here; ignored", ctx, c)
		default:
			p.errorf(item.Line, nil, "%s: collectors: unknown collector %q (want some of %s)", ctx, truncateForError(string(c)), p.catalog)
		}
	}
	if len(out) == 0 {
		p.warnf(f.Line, "%s: collectors: no collectors to run; scrapes of this module only report whether the BMC answered", ctx)
	}
	return out
}

func (p *parser) allowedTargets(ctx string, m *Module, fm *fileModule, shape moduleShape) {
	f := fm.AllowedTargets
	kctx := ctx + ": allowed_targets"
	if m.InBand() {
		return // no targets: inBand warns if the key is set
	}
	if !f.Set {
		if kv := shape.keys["allowed_targets"]; kv != nil {
			// A key with nothing after it: every entry commented out.
			p.errorf(kv.key.Line, nil, "%s is empty; list the targets to allow, or leave the key out to allow every target", kctx)
			return
		}
		p.warnf(shape.line, "%s has no allowed_targets: it will log in to any host a scraper names, which learns the user name (RMCP+) or a crackable proof of the password (IPMI 1.5); see docs/security.md", ctx)
		return
	}
	if f.Err != nil {
		p.errorf(f.Line, f.Err, "%s: %v", kctx, f.Err)
		return
	}
	if len(f.V) == 0 {
		p.errorf(f.Line, nil, "%s is empty; list the targets to allow, or leave the key out to allow every target", kctx)
		return
	}
	m.AllowedTargets = []string{}
	for _, item := range f.V {
		if item.Err != nil {
			p.errorf(item.Line, item.Err, "%s item: %v", kctx, item.Err)
			continue
		}
		pat, note, err := compilePattern(string(item.V))
		if err != nil {
			p.errorf(item.Line, err, "%s: %v", kctx, err)
			continue
		}
		if note != "" {
			p.warnf(item.Line, "%s: %s", kctx, note)
		}
		m.allowed.add(pat)
		m.AllowedTargets = append(m.AllowedTargets, string(item.V))
	}
}

// crossChecks are the checks that depend on more than one key.
func (p *parser) crossChecks(ctx string, m *Module, fm *fileModule) {
	maxPass := maxPasswordLen20
	if m.Driver == DriverLAN {
		maxPass = maxPasswordLen15
	}
	if n := m.Password.Len(); n > maxPass {
		line := fm.Pass.Line
		if fm.PassFile.Set {
			line = fm.PassFile.Line
		}
		p.errorf(line, nil, "%s: the password is %d bytes long; %s allows at most %d", ctx, n, m.Driver, maxPass)
	}
	if m.Driver == DriverLAN {
		if fm.KG.Set || fm.KGFile.Set {
			p.errorf(max(fm.Driver.Line, fm.KG.Line, fm.KGFile.Line), nil, "%s: kg applies only to driver LAN_2_0 (IPMI v1.5 has no BMC key)", ctx)
		}
		if fm.CipherSuite.Set && m.CipherSuite != CipherSuiteAuto {
			p.errorf(max(fm.Driver.Line, fm.CipherSuite.Line), nil, "%s: cipher_suite applies only to driver LAN_2_0", ctx)
		}
	}
	if fm.AuthType.Set && m.Driver != DriverLAN && m.AuthType != AuthTypeAuto {
		p.errorf(fm.AuthType.Line, nil, "%s: auth_type applies only to driver LAN (IPMI v1.5)", ctx)
	}
	switch m.AuthType {
	case AuthTypePassword:
		p.warnf(fm.AuthType.Line, "%s: auth_type password sends the BMC password in the clear on every session", ctx)
	case AuthTypeNone:
		p.warnf(fm.AuthType.Line, "%s: auth_type none has no authentication; any host on the path can use the session", ctx)
	}
	if m.CipherSuite == 0 && fm.CipherSuite.Set {
		p.warnf(fm.CipherSuite.Line, "%s: cipher suite 0 has no authentication, integrity or encryption; any host on the path can issue commands in this session", ctx)
	}
}

// labelNameRE is a Prometheus label name.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (p *parser) validateTarget(cfg *Config, ctx string, t fileTarget, failed map[string]bool) (TargetGroup, bool) {
	g := TargetGroup{Module: DefaultModuleName}
	line := t.Hosts.Line
	if t.Module.Err != nil {
		p.errorf(t.Module.Line, t.Module.Err, "%s: module: %v", ctx, t.Module.Err)
	} else if t.Module.V != "" {
		g.Module, line = string(t.Module.V), t.Module.Line
	}
	m, haveModule := cfg.Modules[g.Module]
	if !haveModule && !failed[g.Module] {
		p.errorf(line, nil, "%s: module %q is not defined", ctx, truncateForError(g.Module))
	}
	if haveModule && m.InBand() {
		p.errorf(line, nil, "%s: module %q reads the local BMC in band (driver %s) and has no targets; scrape /ipmi?module=%s without target, or use --local.module", ctx, g.Module, DriverOpenIPMI, g.Module)
		return g, false
	}
	if len(t.Labels) > 0 {
		g.Labels = map[string]string{}
	}
	names := make([]string, 0, len(t.Labels))
	for name := range t.Labels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := t.Labels[name]
		switch {
		case !labelNameRE.MatchString(name):
			p.errorf(v.Line, nil, "%s: labels: %q is not a valid label name", ctx, truncateForError(name))
		case strings.HasPrefix(name, "__"):
			p.errorf(v.Line, nil, "%s: labels: label names starting with __ are reserved for Prometheus", ctx)
		case v.Err != nil:
			p.errorf(v.Line, v.Err, "%s: labels: %s: %v", ctx, name, v.Err)
		case !utf8.ValidString(string(v.V)):
			p.errorf(v.Line, nil, "%s: labels: %s: value is not valid UTF-8", ctx, name)
		default:
			g.Labels[name] = string(v.V)
		}
	}
	switch {
	case t.Hosts.Err != nil:
		p.errorf(t.Hosts.Line, t.Hosts.Err, "%s: hosts: %v", ctx, t.Hosts.Err)
		return g, false
	case !t.Hosts.Set:
		p.errorf(max(line, t.Module.Line), nil, "%s: hosts is missing", ctx)
		return g, false
	case len(t.Hosts.V) == 0:
		p.errorf(t.Hosts.Line, nil, "%s: hosts is empty", ctx)
		return g, false
	}
	for _, h := range t.Hosts.V {
		if h.Err != nil {
			p.errorf(h.Line, h.Err, "%s: hosts item: %v", ctx, h.Err)
			continue
		}
		s := string(h.V)
		if _, _, err := ParseTarget(s); err != nil {
			p.errorf(h.Line, err, "%s: %v", ctx, err)
			continue
		}
		if haveModule {
			if err := m.TargetAllowed(s); err != nil {
				p.errorf(h.Line, err, "%s: %v", ctx, err)
				continue
			}
		}
		g.Hosts = append(g.Hosts, s)
	}
	return g, true
}
