package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Limits enforced on module settings.
const (
	maxUserLen         = 16 // IPMI user names are at most 16 bytes
	maxPasswordLen20   = 20 // IPMI v2.0 passwords
	maxPasswordLen15   = 16 // IPMI v1.5 passwords
	maxKGLen           = 20 // K_g is a 20-byte key
	maxTimeoutMillis   = 3600000
	maxSessionsHard    = 64
	maxSessionsAdvised = 4 // most BMCs allow only a handful of sessions in total
	// IPMI request sequence numbers are 6 bits; more requests in flight
	// than that could not be told apart.
	maxWindow         = 63
	maxSDRReadSize    = 255
	maxRetries        = 10
	maxSecretFileSize = 4096
	maxModuleNameLen  = 256
)

// Parser limits that keep hostile input (merge-key bombs, files full of
// errors) cheap.
const (
	parseBudget    = 1 << 20 // mapping entries and list items visited
	maxMergeDepth  = 16
	maxErrorsShown = 50
)

// Error is one problem in a config file, with the line it is on (0 when the
// problem is not tied to a line).
type Error struct {
	File string
	Line int
	Msg  string
	Err  error // underlying cause, if any
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Warning is a problem that does not stop a config from loading: an ignored
// ipmi_exporter setting, a risky choice, a loose file mode. The caller logs
// it (see LogWarnings).
type Warning struct {
	File string
	Line int // 0 when not tied to a line
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
	}
	return fmt.Sprintf("%s: %s", w.File, w.Msg)
}

// readFileFunc reads pass_file and kg_file; tests and fuzzing swap it.
type readFileFunc func(path string) ([]byte, error)

// Load reads, parses and validates the config file at path, reading any
// pass_file and kg_file it names (relative paths are relative to the
// config file's directory). On error the returned config is nil; warnings
// found up to that point are still returned.
func Load(path string) (*Config, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	cfg, warnings, err := Parse(data, path)
	if err != nil {
		return nil, warnings, err
	}
	if w, ok := filePermissionWarning(cfg, info.Mode().Perm()); ok {
		warnings = append(warnings, w)
	}
	return cfg, warnings, nil
}

// filePermissionWarning warns when a config that holds inline secrets can
// be read by other users.
func filePermissionWarning(cfg *Config, perm os.FileMode) (Warning, bool) {
	if perm&0o044 == 0 {
		return Warning{}, false
	}
	var holders []string
	for name, m := range cfg.Modules {
		if (m.PasswordFile == "" && !m.Password.IsZero()) || (m.KGFile == "" && !m.KG.IsZero()) {
			holders = append(holders, name)
		}
	}
	if len(holders) == 0 {
		return Warning{}, false
	}
	sort.Strings(holders)
	return Warning{File: cfg.File, Msg: fmt.Sprintf(
		"file mode %04o lets group or others read the inline pass/kg of module(s) %s; chmod 600 the file or use pass_file/kg_file",
		perm, strings.Join(holders, ", "))}, true
}

// Parse parses and validates config data; name is used in messages and its
// directory anchors relative pass_file and kg_file paths, which are read.
func Parse(data []byte, name string) (*Config, []Warning, error) {
	return parse(data, name, readSecretFile)
}

func parse(data []byte, name string, readFile readFileFunc) (*Config, []Warning, error) {
	p := &parser{
		file:          name,
		dir:           filepath.Dir(name),
		readFile:      readFile,
		budget:        parseBudget,
		failedModules: map[string]bool{},
	}
	cfg := p.parseDocument(data)
	if len(p.errs) > 0 {
		errs := p.errs
		if p.dropped > 0 {
			errs = append(errs, &Error{File: name, Msg: fmt.Sprintf("%d more errors not shown", p.dropped)})
		}
		return nil, p.warnings, errors.Join(errs...)
	}
	return cfg, p.warnings, nil
}

type parser struct {
	file     string
	dir      string
	readFile readFileFunc
	errs     []error
	dropped  int
	warnings []Warning
	budget   int
	// failedModules are modules with errors, so target groups naming them
	// do not also report them as undefined.
	failedModules map[string]bool
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.addError(n, nil, fmt.Sprintf(format, args...))
}

func (p *parser) addError(n *yaml.Node, cause error, msg string) {
	if len(p.errs) >= maxErrorsShown {
		p.dropped++
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: msg, Err: cause})
}

func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.warnings = append(p.warnings, Warning{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// yamlLineError matches the "yaml: line N: reason" form of yaml.v3 syntax
// errors.
var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: m[2], Err: err})
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Msg: strings.TrimPrefix(msg, "yaml: "), Err: err})
}

func (p *parser) parseDocument(data []byte) *Config {
	cfg := &Config{File: p.file, Modules: map[string]*Module{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "no modules defined (the file is empty)")
		} else {
			p.syntaxError(err)
		}
		return nil
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.syntaxError(err)
		return nil
	default:
		p.errorf(&second, "a config file holds one YAML document; found a second")
		return nil
	}
	root := resolve(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = resolve(root.Content[0])
	}
	if isNull(root) {
		p.errorf(root, "no modules defined (the file is empty)")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "the top level must be a mapping with the keys modules and targets, not %s", kindName(root))
		return nil
	}
	var modulesNode, targetsNode *yaml.Node
	for _, kv := range p.pairs(root, 0) {
		switch kv.key.Value {
		case "modules":
			modulesNode = kv.value
		case "targets":
			targetsNode = kv.value
		default:
			p.errorf(kv.key, "field %s not found in type config.Config", kv.key.Value)
		}
	}
	if modulesNode == nil || isNull(modulesNode) {
		at := modulesNode
		if at == nil {
			at = root
		}
		p.errorf(at, "no modules defined")
	} else if modulesNode.Kind != yaml.MappingNode {
		p.errorf(modulesNode, "modules must be a mapping of module names to settings, not %s", kindName(modulesNode))
	} else {
		for _, kv := range p.pairs(modulesNode, 0) {
			name := kv.key.Value
			if err := checkModuleName(name); err != nil {
				p.errorf(kv.key, "module name %q: %v", truncateForError(name), err)
				continue
			}
			if m := p.parseModule(name, kv.key, kv.value); m != nil {
				cfg.Modules[name] = m
			} else {
				p.failedModules[name] = true
			}
		}
		if len(cfg.Modules) == 0 && len(p.errs) == 0 {
			p.errorf(modulesNode, "no modules defined")
		}
	}
	if targetsNode != nil {
		cfg.Targets = p.parseTargets(targetsNode, cfg)
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

// keyValue is one entry of a YAML mapping, aliases resolved.
type keyValue struct {
	key   *yaml.Node
	value *yaml.Node
}

// pairs returns a mapping's entries with YAML merge keys (<<) applied:
// the mapping's own keys win over merged ones, earlier merged mappings over
// later ones. Duplicate keys and non-string keys are reported.
func (p *parser) pairs(m *yaml.Node, depth int) []keyValue {
	var own, merged []keyValue
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if p.budget--; p.budget < 0 {
			if p.budget == -1 {
				p.errorf(m, "document too complex (more than %d mapping entries after expanding aliases)", parseBudget)
			}
			return nil
		}
		key, value := resolve(m.Content[i]), resolve(m.Content[i+1])
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			merged = append(merged, p.mergeSources(value, depth)...)
			continue
		}
		if key.Kind != yaml.ScalarNode {
			p.errorf(key, "mapping keys must be strings, not %s", kindName(key))
			continue
		}
		if prev, dup := seen[key.Value]; dup {
			p.errorf(key, "mapping key %q already defined at line %d", truncateForError(key.Value), prev.Line)
			continue
		}
		seen[key.Value] = key
		own = append(own, keyValue{key: key, value: value})
	}
	for _, kv := range merged {
		if _, dup := seen[kv.key.Value]; dup {
			continue
		}
		seen[kv.key.Value] = kv.key
		own = append(own, kv)
	}
	return own
}

// mergeSources expands the value of a << key: a mapping or a list of
// mappings.
func (p *parser) mergeSources(v *yaml.Node, depth int) []keyValue {
	if depth >= maxMergeDepth {
		p.errorf(v, "merge keys (<<) nested more than %d deep", maxMergeDepth)
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return p.pairs(v, depth+1)
	case yaml.SequenceNode:
		var out []keyValue
		for _, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.MappingNode {
				p.errorf(item, "a merge key (<<) takes a mapping or a list of mappings, not a list holding %s", kindName(item))
				continue
			}
			out = append(out, p.pairs(item, depth+1)...)
		}
		return out
	}
	p.errorf(v, "a merge key (<<) takes a mapping or a list of mappings, not %s", kindName(v))
	return nil
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the scalar %q", truncateForError(n.Value))
	case yaml.DocumentNode:
		return "a document"
	}
	return "an empty value"
}

// scalar returns the text of a scalar value; null reads as "".
func (p *parser) scalar(ctx string, v *yaml.Node) (string, bool) {
	if isNull(v) {
		return "", true
	}
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, "%s: expected a single value, got %s", ctx, kindName(v))
		return "", false
	}
	return v.Value, true
}

// integer decodes an integer scalar and checks it lies in [lo, hi].
func (p *parser) integer(ctx string, v *yaml.Node, lo, hi int64) (int64, bool) {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		p.errorf(v, "%s: expected an integer, got %s", ctx, kindName(v))
		return 0, false
	}
	var n int64
	if v.ShortTag() != "!!int" || v.Decode(&n) != nil {
		p.errorf(v, "%s: expected an integer, got %q", ctx, truncateForError(v.Value))
		return 0, false
	}
	if n < lo || n > hi {
		p.errorf(v, "%s: %d is out of range %d-%d", ctx, n, lo, hi)
		return 0, false
	}
	return n, true
}

// list returns the items of a sequence value, aliases resolved; null is an
// empty list. ok is false (and an error recorded) when v is not a list.
func (p *parser) list(ctx string, v *yaml.Node) ([]*yaml.Node, bool) {
	if isNull(v) {
		return nil, true
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "%s: expected a list, got %s", ctx, kindName(v))
		return nil, false
	}
	items := make([]*yaml.Node, 0, len(v.Content))
	for _, item := range v.Content {
		if p.budget--; p.budget < 0 {
			if p.budget == -1 {
				p.errorf(v, "document too complex (more than %d list items after expanding aliases)", parseBudget)
			}
			return nil, false
		}
		items = append(items, resolve(item))
	}
	return items, true
}

// moduleState tracks where settings came from while a module is parsed, for
// the checks that span several keys.
type moduleState struct {
	passNode, passFileNode *yaml.Node
	kgNode, kgFileNode     *yaml.Node
	driverNode, csNode     *yaml.Node
	authTypeNode           *yaml.Node
	sawAllowedTargets      bool
}

func (p *parser) parseModule(name string, nameNode, v *yaml.Node) *Module {
	ctx := fmt.Sprintf("module %q", name)
	m := newModule(name)
	if isNull(v) {
		// "name:" with nothing under it: all defaults.
		p.warnf(nameNode, "%s has no settings; it uses the defaults with an empty user name and password", ctx)
		p.warnf(nameNode, "%s has no allowed_targets: it will log in to any host a scraper names, which learns the user name (RMCP+) or a crackable proof of the password (IPMI 1.5); see docs/security.md", ctx)
		return m
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s: expected a mapping of settings, got %s", ctx, kindName(v))
		return nil
	}
	errsBefore := len(p.errs) + p.dropped
	var st moduleState
	for _, kv := range p.pairs(v, 0) {
		p.moduleKey(ctx, m, &st, kv)
	}
	p.checkModule(ctx, nameNode, m, &st)
	if len(p.errs)+p.dropped > errsBefore {
		return nil
	}
	return m
}

func (p *parser) moduleKey(ctx string, m *Module, st *moduleState, kv keyValue) {
	key, v := kv.key.Value, kv.value
	kctx := ctx + ": " + key
	switch key {
	case "user":
		if s, ok := p.scalar(kctx, v); ok {
			if len(s) > maxUserLen {
				p.errorf(v, "%s is %d bytes long; IPMI user names have at most %d", kctx, len(s), maxUserLen)
				return
			}
			m.User = s
		}
	case "pass":
		if s, ok := p.scalar(kctx, v); ok {
			st.passNode = v
			if st.passFileNode == nil {
				m.Password = NewSecret(s)
			}
		}
	case "pass_file":
		if path, ok := p.scalar(kctx, v); ok {
			st.passFileNode = v
			if secret, ok := p.secretFile(kctx, v, path); ok {
				m.PasswordFile = path
				m.Password = NewSecret(secret)
			}
		}
	case "privilege":
		if s, ok := p.scalar(kctx, v); ok {
			level, err := wire.ParsePrivilegeLevel(s)
			if err == nil && level == wire.PrivilegeCallback {
				err = errors.New("callback privilege cannot read sensors; use user, operator or admin")
			}
			if err != nil {
				p.addError(v, err, fmt.Sprintf("%s: %v", kctx, err))
				return
			}
			m.Privilege = level
		}
	case "driver":
		if s, ok := p.scalar(kctx, v); ok {
			d, err := parseDriver(s)
			if err != nil {
				p.errorf(v, "%s: %v", kctx, err)
				return
			}
			st.driverNode = v
			m.Driver = d
		}
	case "cipher_suite":
		if s, ok := p.scalar(kctx, v); ok {
			cs, err := parseCipherSuite(s)
			if err != nil {
				p.errorf(v, "%s: %v", kctx, err)
				return
			}
			st.csNode = v
			m.CipherSuite = cs
		}
	case "kg":
		if s, ok := p.scalar(kctx, v); ok {
			st.kgNode = v
			kg, err := parseKG(s)
			if err != nil {
				p.errorf(v, "%s: %v", kctx, err)
				return
			}
			if st.kgFileNode == nil {
				m.KG = NewSecret(kg)
			}
		}
	case "kg_file":
		if path, ok := p.scalar(kctx, v); ok {
			st.kgFileNode = v
			content, ok := p.secretFile(kctx, v, path)
			if !ok {
				return
			}
			kg, err := parseKG(content)
			if err != nil {
				p.errorf(v, "%s %q: %v", kctx, path, err)
				return
			}
			m.KGFile = path
			m.KG = NewSecret(kg)
		}
	case "timeout":
		if ms, ok := p.integer(kctx+" (milliseconds)", v, 0, maxTimeoutMillis); ok {
			// 0 means the default, as it does in ipmi_exporter.
			if ms > 0 {
				m.Timeout = time.Duration(ms) * time.Millisecond
			}
		}
	case "collectors":
		p.collectors(kctx, m, v)
	case "exclude_sensor_ids":
		items, ok := p.list(kctx, v)
		if !ok {
			return
		}
		ids := make([]uint16, 0, len(items))
		for _, item := range items {
			if id, ok := p.integer(kctx+" item", item, 0, 0xFFFF); ok {
				ids = append(ids, uint16(id))
			}
		}
		m.ExcludeSensorIDs = ids
	case "allowed_targets":
		p.allowedTargets(kctx, m, st, kv)
	case "max_sessions":
		if n, ok := p.integer(kctx, v, 1, maxSessionsHard); ok {
			if n > maxSessionsAdvised {
				p.warnf(v, "%s: %d sessions per BMC; most BMCs allow only a few sessions in total and people need one to log in", kctx, n)
			}
			m.MaxSessions = int(n)
		}
	case "window":
		if n, ok := p.integer(kctx, v, 1, maxWindow); ok {
			m.Window = int(n)
		}
	case "idle_timeout":
		if s, ok := p.scalar(kctx, v); ok {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				p.errorf(v, "%s: want a duration such as 5m or 30s (0 closes the session after every scrape), got %q", kctx, truncateForError(s))
				return
			}
			m.IdleTimeout = d
		}
	case "sdr_read_size":
		if n, ok := p.integer(kctx, v, 0, maxSDRReadSize); ok {
			m.SDRReadSize = int(n)
		}
	case "retries":
		if n, ok := p.integer(kctx, v, 0, maxRetries); ok {
			m.Retries = int(n)
		}
	case "name_only_lookup":
		if s, ok := p.scalar(kctx, v); ok {
			switch strings.ToLower(s) {
			case "", "auto":
				m.Lookup = LookupAuto
			case "true", "yes", "on":
				m.Lookup = LookupNameOnly
			case "false", "no", "off":
				m.Lookup = LookupNamePrivilege
			default:
				p.errorf(v, "%s: expected auto, true or false, got %q", kctx, truncateForError(s))
			}
		}
	case "workaround_flags":
		items, ok := p.list(kctx, v)
		if !ok {
			return
		}
		flags := make([]WorkaroundFlag, 0, len(items))
		for _, item := range items {
			s, ok := p.scalar(kctx+" item", item)
			if !ok {
				continue
			}
			f := WorkaroundFlag(strings.ToLower(s))
			if !f.Known() {
				p.warnf(item, "%s: unknown workaround flag %q; kept, but nothing acts on it", kctx, truncateForError(s))
			}
			flags = append(flags, f)
		}
		m.WorkaroundFlags = flags
	case "auth_type":
		if s, ok := p.scalar(kctx, v); ok {
			switch a := AuthType(strings.ToLower(s)); a {
			case "auto":
				m.AuthType = AuthTypeAuto
			case AuthTypeMD5, AuthTypePassword, AuthTypeNone:
				m.AuthType = a
			default:
				p.errorf(v, "%s: unknown IPMI v1.5 auth type %q (want auto, md5, password or none)", kctx, s)
				return
			}
			st.authTypeNode = v
		}
	case "sel_events":
		m.SELEvents = p.selEvents(kctx, v) // selevents.go
	default:
		if upstreamOnlyKeys[key] {
			p.warnf(kv.key, "%s: %s is an ipmi_exporter setting for FreeIPMI command-line tools; ignored", ctx, key)
			return
		}
		p.errorf(kv.key, "field %s not found in type config.Module", key)
	}
}

func (p *parser) collectors(kctx string, m *Module, v *yaml.Node) {
	if isNull(v) {
		return // keep the defaults
	}
	items, ok := p.list(kctx, v)
	if !ok {
		return
	}
	seen := map[Collector]bool{}
	out := make([]Collector, 0, len(items))
	for _, item := range items {
		name, ok := p.scalar(kctx+" item", item)
		if !ok {
			continue
		}
		c := Collector(name)
		switch {
		case IsCollector(c) && seen[c]:
			p.errorf(item, "%s: %s is listed twice", kctx, name)
		case IsCollector(c):
			seen[c] = true
			out = append(out, c)
		case upstreamOnlyCollector(c):
			p.warnf(item, "%s: ipmi_exporter's %s collector is not implemented here; ignored", kctx, name)
		default:
			p.errorf(item, "%s: unknown collector %q (want some of %s)", kctx, truncateForError(name), collectorNames())
		}
	}
	if len(out) == 0 {
		p.warnf(v, "%s: no collectors to run; scrapes of this module only report whether the BMC answered", kctx)
	}
	m.Collectors = out
}

func (p *parser) allowedTargets(kctx string, m *Module, st *moduleState, kv keyValue) {
	items, ok := p.list(kctx, kv.value)
	if !ok {
		return
	}
	st.sawAllowedTargets = true
	if len(items) == 0 {
		p.errorf(kv.value, "%s is empty; list the targets to allow, or leave the key out to allow every target", kctx)
		return
	}
	entries := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := p.scalar(kctx+" item", item)
		if !ok {
			continue
		}
		pat, note, err := compilePattern(s)
		if err != nil {
			p.addError(item, err, fmt.Sprintf("%s: %v", kctx, err))
			continue
		}
		if note != "" {
			p.warnf(item, "%s: %s", kctx, note)
		}
		m.allowed.add(pat)
		entries = append(entries, s)
	}
	m.AllowedTargets = entries
}

// checkModule runs the checks that depend on more than one key.
func (p *parser) checkModule(ctx string, nameNode *yaml.Node, m *Module, st *moduleState) {
	if st.passNode != nil && st.passFileNode != nil {
		p.errorf(laterNode(st.passNode, st.passFileNode), "%s: set pass or pass_file, not both", ctx)
	}
	if st.kgNode != nil && st.kgFileNode != nil {
		p.errorf(laterNode(st.kgNode, st.kgFileNode), "%s: set kg or kg_file, not both", ctx)
	}
	maxPass := maxPasswordLen20
	if m.Driver == DriverLAN {
		maxPass = maxPasswordLen15
	}
	if n := m.Password.Len(); n > maxPass {
		at := st.passNode
		if st.passFileNode != nil {
			at = st.passFileNode
		}
		p.errorf(at, "%s: the password is %d bytes long; %s allows at most %d", ctx, n, m.Driver, maxPass)
	}
	if m.Driver == DriverLAN {
		if st.kgNode != nil || st.kgFileNode != nil {
			p.errorf(laterNode(st.driverNode, firstNonNil(st.kgNode, st.kgFileNode)), "%s: kg applies only to driver LAN_2_0 (IPMI v1.5 has no BMC key)", ctx)
		}
		if st.csNode != nil && m.CipherSuite != CipherSuiteAuto {
			p.errorf(laterNode(st.driverNode, st.csNode), "%s: cipher_suite applies only to driver LAN_2_0", ctx)
		}
	}
	if st.authTypeNode != nil && m.Driver != DriverLAN && m.AuthType != AuthTypeAuto {
		p.errorf(st.authTypeNode, "%s: auth_type applies only to driver LAN (IPMI v1.5)", ctx)
	}
	switch m.AuthType {
	case AuthTypePassword:
		p.warnf(st.authTypeNode, "%s: auth_type password sends the BMC password in the clear on every session", ctx)
	case AuthTypeNone:
		p.warnf(st.authTypeNode, "%s: auth_type none has no authentication; any host on the path can use the session", ctx)
	}
	if m.CipherSuite == 0 && st.csNode != nil {
		p.warnf(st.csNode, "%s: cipher suite 0 has no authentication, integrity or encryption; any host on the path can issue commands in this session", ctx)
	}
	if !st.sawAllowedTargets {
		p.warnf(nameNode, "%s has no allowed_targets: it will log in to any host a scraper names, which learns the user name (RMCP+) or a crackable proof of the password (IPMI 1.5); see docs/security.md", ctx)
	}
}

func firstNonNil(a, b *yaml.Node) *yaml.Node {
	if a != nil {
		return a
	}
	return b
}

// laterNode returns whichever node comes last in the file, so a conflict is
// reported where the reader sees the second half of it.
func laterNode(a, b *yaml.Node) *yaml.Node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.Line > a.Line || (b.Line == a.Line && b.Column > a.Column):
		return b
	}
	return a
}

// secretFile reads pass_file or kg_file: a regular file of at most 4 KiB
// whose trailing newlines are dropped.
func (p *parser) secretFile(kctx string, v *yaml.Node, path string) (string, bool) {
	if path == "" {
		p.errorf(v, "%s: empty path", kctx)
		return "", false
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(p.dir, full)
	}
	data, err := p.readFile(full)
	if err != nil {
		p.addError(v, err, fmt.Sprintf("%s: %v", kctx, err))
		return "", false
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		p.errorf(v, "%s: %s is empty", kctx, full)
		return "", false
	}
	return s, true
}

// readSecretFile is the readFileFunc used outside tests. It refuses
// anything but a regular file (a FIFO or device could block or never end)
// and anything larger than maxSecretFileSize.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxSecretFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretFileSize)
	}
	return data, nil
}

func parseDriver(s string) (Driver, error) {
	switch strings.ToUpper(s) {
	case "", "LAN_2_0", "LAN20", "LANPLUS":
		return DriverLAN20, nil
	case "LAN":
		return DriverLAN, nil
	case "KCS", "SSIF", "OPENIPMI", "SUNBMC", "INTELDCMI", "INBAND":
		return "", fmt.Errorf("in-band driver %s is not supported; this exporter talks to BMCs over the network (LAN_2_0 or LAN)", s)
	}
	return "", fmt.Errorf("unknown driver %q (want LAN_2_0 or LAN)", truncateForError(s))
}

func parseCipherSuite(s string) (CipherSuite, error) {
	if s == "" || strings.EqualFold(s, "auto") {
		return CipherSuiteAuto, nil
	}
	n, err := strconv.Atoi(s)
	if err == nil {
		for _, cs := range supportedCipherSuites {
			if CipherSuite(n) == cs {
				return cs, nil
			}
		}
	}
	return 0, fmt.Errorf("%q is not auto or a supported cipher suite (0-3, 6-8, 11, 12, 15-17)", truncateForError(s))
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

// labelNameRE is a Prometheus label name.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (p *parser) parseTargets(v *yaml.Node, cfg *Config) []TargetGroup {
	items, ok := p.list("targets", v)
	if !ok {
		return nil
	}
	groups := make([]TargetGroup, 0, len(items))
	for i, item := range items {
		ctx := fmt.Sprintf("targets[%d]", i)
		if item.Kind != yaml.MappingNode {
			p.errorf(item, "%s: expected a mapping with module, labels and hosts, got %s", ctx, kindName(item))
			continue
		}
		g := TargetGroup{Module: DefaultModuleName}
		var moduleNode, hostsNode *yaml.Node
		for _, kv := range p.pairs(item, 0) {
			switch kv.key.Value {
			case "module":
				if s, ok := p.scalar(ctx+": module", kv.value); ok && s != "" {
					g.Module, moduleNode = s, kv.value
				}
			case "labels":
				g.Labels = p.labels(ctx+": labels", kv.value)
			case "hosts":
				hostsNode = kv.value
			default:
				p.errorf(kv.key, "field %s not found in type config.TargetGroup", kv.key.Value)
			}
		}
		m, haveModule := cfg.Modules[g.Module]
		if !haveModule && !p.failedModules[g.Module] {
			at := moduleNode
			if at == nil {
				at = item
			}
			p.errorf(at, "%s: module %q is not defined", ctx, truncateForError(g.Module))
		}
		if hostsNode == nil {
			p.errorf(item, "%s: hosts is missing", ctx)
			continue
		}
		hosts, ok := p.list(ctx+": hosts", hostsNode)
		if !ok {
			continue
		}
		if len(hosts) == 0 {
			p.errorf(hostsNode, "%s: hosts is empty", ctx)
			continue
		}
		for _, h := range hosts {
			s, ok := p.scalar(ctx+": hosts item", h)
			if !ok {
				continue
			}
			if _, _, err := ParseTarget(s); err != nil {
				p.addError(h, err, fmt.Sprintf("%s: %v", ctx, err))
				continue
			}
			if haveModule {
				if err := m.TargetAllowed(s); err != nil {
					p.addError(h, err, fmt.Sprintf("%s: %v", ctx, err))
					continue
				}
			}
			g.Hosts = append(g.Hosts, s)
		}
		groups = append(groups, g)
	}
	return groups
}

func (p *parser) labels(ctx string, v *yaml.Node) map[string]string {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s: expected a mapping of label names to values, got %s", ctx, kindName(v))
		return nil
	}
	out := map[string]string{}
	for _, kv := range p.pairs(v, 0) {
		name := kv.key.Value
		switch {
		case !labelNameRE.MatchString(name):
			p.errorf(kv.key, "%s: %q is not a valid label name", ctx, truncateForError(name))
			continue
		case strings.HasPrefix(name, "__"):
			p.errorf(kv.key, "%s: label names starting with __ are reserved for Prometheus", ctx)
			continue
		}
		value, ok := p.scalar(ctx+": "+name, kv.value)
		if !ok {
			continue
		}
		if !utf8.ValidString(value) {
			p.errorf(kv.value, "%s: %s: value is not valid UTF-8", ctx, name)
			continue
		}
		out[name] = value
	}
	return out
}
