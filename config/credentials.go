package config

// Credentials per BMC: a module's credentials_file.
//
// The file is a YAML list of entries, each mapping targets (host globs,
// IP addresses, CIDRs, matched as allowed_targets matches them) to a user,
// a password (pass or pass_file) and optionally a BMC key (kg or kg_file).
// The first entry that matches a target wins; a target no entry matches
// uses the module's own user and pass.
//
// Why this format: JSON is YAML, so whatever an SRE's secret store emits
// (a Vault agent or consul-template template, jq over `vault kv get
// -format=json`, Helm's toJson/toYaml, an external-secrets template) is a
// valid file, and passwords need no quoting rules beyond YAML's or JSON's.
// pass_file lets the list itself hold no secret: with a Kubernetes Secret
// mounted as a directory (one file per key), the list can live in a
// ConfigMap and point at /run/secrets/bmc/<name>. Telegraf puts the
// password in each server's URL and gebn/bmc_exporter keeps a map of exact
// addresses; a list with patterns and first-match-wins covers both and
// the common fleet shape (one password per rack or per vendor, a few
// exceptions listed first). CSV was left out: a password with a comma or
// a quote needs quoting rules that generated files often get wrong.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"gopkg.in/yaml.v3"
)

// CredentialsCheckInterval is how often, at most, a scrape checks whether
// a credentials_file (or a pass_file or kg_file it names) changed: one
// stat per file, by one scrape, whatever the scrape rate.
const CredentialsCheckInterval = time.Second

// Limits of a credentials_file.
const (
	maxCredentialsFileSize = 32 << 20
	maxCredentialEntries   = 1 << 20
)

// NoCredentialsError is returned by Module.Login for a target that no
// credentials_file entry matches when the module has no user or pass of
// its own. The HTTP layer answers it with 400, before any packet.
type NoCredentialsError struct {
	Module string
	Target string
	File   string
}

func (e *NoCredentialsError) Error() string {
	return fmt.Sprintf("no entry of credentials_file %s matches target %q, and module %q has no user or pass of its own to fall back on",
		e.File, truncateForError(e.Target), e.Module)
}

// fileCredential is one entry of a credentials_file as written.
type fileCredential struct {
	Targets  field[list[text]] `yaml:"targets"`
	User     field[text]       `yaml:"user"`
	Pass     field[Secret]     `yaml:"pass"`
	PassFile field[text]       `yaml:"pass_file"`
	KG       field[Secret]     `yaml:"kg"`
	KGFile   field[text]       `yaml:"kg_file"`
}

// fileSource is how the parser reads the files a config names. Tests and
// fuzzing give only secret (nothing then touches the disk); Parse gives
// all three.
type fileSource struct {
	secret readFileFunc
	// credentials reads a credentials_file and returns the mode and
	// identity of what it read; nil reads it with secret and no info.
	credentials func(path string) ([]byte, fs.FileInfo, error)
	// stat is os.Stat; nil turns off change detection.
	stat func(path string) (fs.FileInfo, error)
}

// diskFiles reads from the file system.
var diskFiles = fileSource{secret: readSecretFile, credentials: readCredentialsFile, stat: os.Stat}

func (s fileSource) readCredentials(path string) ([]byte, fs.FileInfo, error) {
	if s.credentials == nil {
		data, err := s.secret(path)
		return data, nil, err
	}
	return s.credentials(path)
}

// readCredentialsFile reads a regular file of at most
// maxCredentialsFileSize bytes, with the info of the file it read (not of
// whatever the path names a moment later).
func readCredentialsFile(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialsFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxCredentialsFileSize {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, maxCredentialsFileSize)
	}
	return data, info, nil
}

// credentialsFile is a module's credentials_file: the table in force, and
// what it takes to notice that the file changed and read it again.
type credentialsFile struct {
	path  string // full path
	base  *Module
	files fileSource
	now   func() time.Time

	current atomic.Pointer[credentialTable]
	// nextCheck (Unix nanoseconds) rate-limits change checks.
	nextCheck atomic.Int64

	// mu is held by the one scrape checking for a change; the others go
	// on with the table in force.
	mu sync.Mutex
	// stamps are the files the last attempt read, successful or not: a
	// broken file is not parsed again until it changes again.
	stamps []fileStamp
}

// credentialTable is one successful read of a credentials_file.
type credentialTable struct {
	entries []*Module // the module with each entry's credentials
	// exact maps an IP address or a host name (lower case, no trailing
	// dot) to the first entry listing exactly it.
	exact map[string]int
	// wild are the other patterns, in file order.
	wild []wildPattern
}

type wildPattern struct {
	entry int
	list  allowList
}

// fileStamp identifies a file's content without reading it: what stat
// said when it was read (nil info: the file could not be read).
type fileStamp struct {
	path string
	info fs.FileInfo
}

func (s fileStamp) same(info fs.FileInfo) bool {
	if s.info == nil || info == nil {
		return s.info == nil && info == nil
	}
	return os.SameFile(s.info, info) && s.info.Size() == info.Size() &&
		s.info.ModTime().Equal(info.ModTime()) && s.info.Mode() == info.Mode()
}

// Login returns the module to log in to host with (host as ParseTarget
// returns it): for a module with a credentials_file, a copy of the module
// carrying the first matching entry's user, password and K_G; otherwise,
// or when no entry matches, the module itself. It sends nothing and
// resolves nothing. Without a match and without a user or pass of the
// module's own, it returns a *NoCredentialsError.
func (m *Module) Login(host string) (*Module, error) {
	c := m.credentials
	if c == nil {
		return m, nil
	}
	if t := c.current.Load(); t != nil {
		if i := t.lookup(host); i >= 0 {
			return t.entries[i], nil
		}
	}
	if m.User == "" && m.Password.IsZero() {
		return nil, &NoCredentialsError{Module: m.Name, Target: host, File: m.CredentialsFile}
	}
	return m, nil
}

// CredentialsSource says where the credentials of a module returned by
// Login come from, for a debug=true scrape: never the credentials
// themselves.
func (m *Module) CredentialsSource() string {
	switch {
	case m.credentialSource != "":
		return m.credentialSource
	case m.CredentialsFile != "":
		return "the module's own user and pass (no entry of credentials_file " + m.CredentialsFile + " matches)"
	}
	return "the module's own user and pass"
}

// RefreshCredentials reads the module's credentials_file again if it, or
// a pass_file or kg_file it names, changed since it was last read. It
// checks at most once per CredentialsCheckInterval, and only one caller
// at a time (the others go on at once with the credentials in force). A
// file that no longer loads leaves the credentials in force and is
// logged, once per change. A module without credentials_file does
// nothing.
func (m *Module) RefreshCredentials(logger log.Logger) {
	c := m.credentials
	if c == nil || c.files.stat == nil {
		return
	}
	now := c.now()
	if now.UnixNano() < c.nextCheck.Load() || !c.mu.TryLock() {
		return
	}
	defer c.mu.Unlock()
	c.nextCheck.Store(now.Add(CredentialsCheckInterval).UnixNano())
	if !c.changed() {
		return
	}
	t, stamps, warnings, err := loadCredentials(c.path, c.base, c.files)
	c.stamps = stamps
	logger = log.With(logger, "module", m.Name, "credentials_file", m.CredentialsFile)
	if err != nil {
		level.Error(logger).Log("msg", "credentials_file changed but does not load; keeping the credentials in force", "err", err)
		return
	}
	LogWarnings(logger, warnings)
	c.current.Store(t)
	level.Info(logger).Log("msg", "credentials_file read again", "entries", len(t.entries))
}

// changed reports whether any file the last attempt read differs now.
func (c *credentialsFile) changed() bool {
	for _, s := range c.stamps {
		info, err := c.files.stat(s.path)
		if err != nil {
			info = nil
		}
		if !s.same(info) {
			return true
		}
	}
	return false
}

// lookup returns the index of the first entry matching host, or -1.
func (t *credentialTable) lookup(host string) int {
	best := -1
	if i, ok := t.exact[exactKey(host)]; ok {
		best = i
	}
	for _, w := range t.wild {
		if best >= 0 && w.entry >= best {
			break
		}
		if w.list.matchHost(host) {
			return w.entry
		}
	}
	return best
}

// exactKey is how a host is looked up in credentialTable.exact: an IP
// address without zone (IPv4-mapped IPv6 as IPv4), a name in lower case
// without a trailing dot.
func exactKey(host string) string {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.WithZone("").Unmap().String()
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// credentialsFile reads the module's credentials_file key, last, when
// every other setting of the module is known.
func (p *parser) credentialsFile(ctx string, m *Module, f field[text]) {
	if f.Err != nil {
		p.errorf(f.Line, f.Err, "%s: credentials_file: %v", ctx, f.Err)
		return
	}
	if !f.Set {
		return
	}
	path := string(f.V)
	if path == "" {
		p.errorf(f.Line, nil, "%s: credentials_file: empty path", ctx)
		return
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(p.dir, full)
	}
	m.CredentialsFile = path
	c := &credentialsFile{path: full, base: m, files: p.files, now: time.Now}
	t, stamps, warnings, err := loadCredentials(full, m, p.files)
	if err != nil {
		var cerr *credentialsError
		if errors.As(err, &cerr) {
			p.errs = append(p.errs, cerr.errs...)
		} else {
			p.errorf(f.Line, err, "%s: credentials_file: %v", ctx, err)
		}
		return
	}
	p.warnings = append(p.warnings, warnings...)
	c.stamps = stamps
	c.current.Store(t)
	m.credentials = c
}

// credentialsError carries the located errors of a credentials_file.
type credentialsError struct{ errs []*Error }

func (e *credentialsError) Error() string {
	errs := make([]error, len(e.errs))
	for i, x := range e.errs {
		errs[i] = x
	}
	return errors.Join(errs...).Error()
}

func (e *credentialsError) Unwrap() []error {
	errs := make([]error, len(e.errs))
	for i, x := range e.errs {
		errs[i] = x
	}
	return errs
}

// loadCredentials reads and validates the credentials_file at path for
// module base. It returns the files it read (for change detection) even
// when it fails. Errors never quote a password or key.
func loadCredentials(path string, base *Module, files fileSource) (*credentialTable, []fileStamp, []Warning, error) {
	p := &parser{file: path, dir: filepath.Dir(path), files: files, readFile: files.secret, shapeLines: map[int]bool{}}
	var stamps []fileStamp
	data, info, err := files.readCredentials(path)
	stamps = append(stamps, fileStamp{path: path, info: info})
	if err != nil {
		return nil, stamps, nil, &credentialsError{errs: []*Error{{File: path, Msg: fmt.Sprintf("cannot read: %v", err), Err: err}}}
	}
	if files.stat != nil {
		// Secret files are stamped before they are read: a change after
		// the stat is seen at the next check.
		p.readFile = func(name string) ([]byte, error) {
			info, err := files.stat(name)
			if err != nil {
				info = nil
			}
			stamps = append(stamps, fileStamp{path: name, info: info})
			return files.secret(name)
		}
	}
	t := p.credentialTable(data, base)
	if len(p.errs) > 0 {
		if len(p.errs) > maxErrorsShown {
			more := len(p.errs) - maxErrorsShown
			p.errs = append(p.errs[:maxErrorsShown], &Error{File: path, Msg: fmt.Sprintf("%d more errors not shown", more)})
		}
		return nil, stamps, nil, &credentialsError{errs: p.errs}
	}
	if info != nil && info.Mode().Perm()&0o044 != 0 && t.inlineSecrets {
		p.warnf(0, "file mode %04o lets group or others read the inline pass/kg it holds; chmod 600 the file or use pass_file/kg_file", info.Mode().Perm())
	}
	return t.table, stamps, p.warnings, nil
}

// parsedCredentials is a table and whether any entry holds an inline
// secret (for the file mode warning).
type parsedCredentials struct {
	table         *credentialTable
	inlineSecrets bool
}

// credentialTable parses a credentials_file's content.
func (p *parser) credentialTable(data []byte, base *Module) parsedCredentials {
	out := parsedCredentials{table: &credentialTable{exact: map[string]int{}}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(0, nil, "no entries (the file is empty)")
		} else {
			p.yamlError(err.Error(), err)
		}
		return out
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.yamlError(err.Error(), err)
		return out
	default:
		p.errorf(second.Line, nil, "a credentials file holds one YAML document; found a second")
		return out
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = resolve(root.Content[0])
	}
	switch {
	case isNull(root):
		p.errorf(root.Line, nil, "no entries")
		return out
	case root.Kind != yaml.SequenceNode:
		p.errorf(root.Line, nil, "expected a list of entries, each with targets, user and pass or pass_file; got %s", shapeName(root))
		return out
	case len(root.Content) > maxCredentialEntries:
		p.errorf(root.Line, nil, "%d entries; at most %d are read", len(root.Content), maxCredentialEntries)
		return out
	}
	keyType := reflect.TypeFor[fileCredential]()
	seen := map[*yaml.Node]bool{}
	for i, item := range root.Content {
		item = resolve(item)
		where := fmt.Sprintf("entry %d", i+1)
		if item.Kind != yaml.MappingNode {
			p.errorf(item.Line, nil, "%s: expected a mapping with targets, user and pass or pass_file, got %s", where, shapeName(item))
			continue
		}
		before := len(p.errs)
		p.checkKeys(item, keyType, "in "+where, seen)
		if len(p.errs) > before {
			// Not decoded: yaml.v3 panics on a mapping used as a key.
			continue
		}
		var fc fileCredential
		if err := item.Decode(&fc); err != nil {
			p.yamlError(err.Error(), err)
			continue
		}
		entry, inline, ok := p.credential(where, item.Line, &fc, base)
		if !ok {
			continue
		}
		out.inlineSecrets = out.inlineSecrets || inline
		idx := len(out.table.entries)
		out.table.entries = append(out.table.entries, entry)
		for _, t := range fc.Targets.V {
			pat, _, _ := compilePattern(string(t.V)) // validated by credential
			switch {
			case pat.glob != "" && !strings.Contains(pat.glob, "*"):
				if _, dup := out.table.exact[pat.glob]; !dup {
					out.table.exact[pat.glob] = idx
				}
			case pat.glob == "" && pat.prefix.IsSingleIP():
				key := pat.prefix.Addr().String()
				if _, dup := out.table.exact[key]; !dup {
					out.table.exact[key] = idx
				}
			default:
				var l allowList
				l.add(pat)
				out.table.wild = append(out.table.wild, wildPattern{entry: idx, list: l})
			}
		}
	}
	return out
}

// shapeName is kindName without the value of a scalar, which in a
// credentials file may be a password.
func shapeName(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		return "a single value"
	}
	return kindName(n)
}

// credential validates one entry and returns the module to log in with.
func (p *parser) credential(where string, line int, fc *fileCredential, base *Module) (*Module, bool, bool) {
	before := len(p.errs)
	ok := func(key string, at int, set bool, err error) bool {
		if err != nil {
			p.errorf(at, err, "%s: %s: %v", where, key, err)
			return false
		}
		return set
	}
	switch {
	case fc.Targets.Err != nil:
		p.errorf(fc.Targets.Line, fc.Targets.Err, "%s: targets: %v", where, fc.Targets.Err)
	case !fc.Targets.Set || len(fc.Targets.V) == 0:
		p.errorf(max(line, fc.Targets.Line), nil, "%s: targets is missing or empty; list the host globs, addresses or CIDRs it is for", where)
	}
	for _, t := range fc.Targets.V {
		if !ok("targets item", t.Line, t.Set, t.Err) {
			continue
		}
		_, note, err := compilePattern(string(t.V))
		if err != nil {
			p.errorf(t.Line, err, "%s: targets: %v", where, err)
		} else if note != "" {
			p.warnf(t.Line, "%s: targets: %s", where, note)
		}
	}
	m := *base
	m.credentials = nil
	m.PasswordFile, m.KGFile = "", ""
	m.Password, m.KG = Secret{}, Secret{}
	m.credentialSource = fmt.Sprintf("credentials_file %s, %s (line %d)", base.CredentialsFile, where, line)
	if !fc.User.Set && fc.User.Err == nil {
		p.errorf(line, nil, "%s: user is missing (write user: \"\" for the anonymous user)", where)
	} else if ok("user", fc.User.Line, fc.User.Set, fc.User.Err) {
		if len(fc.User.V) > maxUserLen {
			p.errorf(fc.User.Line, nil, "%s: user is %d bytes long; IPMI user names have at most %d", where, len(fc.User.V), maxUserLen)
		}
		m.User = string(fc.User.V)
	}
	fm := &fileModule{Pass: fc.Pass, PassFile: fc.PassFile, KG: fc.KG, KGFile: fc.KGFile}
	if !fc.Pass.Set && !fc.PassFile.Set && fc.Pass.Err == nil && fc.PassFile.Err == nil {
		p.errorf(line, nil, "%s: set pass or pass_file", where)
	}
	p.secrets(where, &m, fm, ok)
	maxPass := maxPasswordLen20
	if m.Driver == DriverLAN {
		maxPass = maxPasswordLen15
	}
	if n := m.Password.Len(); n > maxPass {
		p.errorf(max(fc.Pass.Line, fc.PassFile.Line), nil, "%s: the password is %d bytes long; %s allows at most %d", where, n, m.Driver, maxPass)
	}
	if m.Driver == DriverLAN && (fc.KG.Set || fc.KGFile.Set) {
		p.errorf(max(fc.KG.Line, fc.KGFile.Line), nil, "%s: kg applies only to driver LAN_2_0 (module %q uses LAN)", where, base.Name)
	}
	if len(p.errs) > before {
		return nil, false, false
	}
	inline := (fc.Pass.Set && !m.Password.IsZero()) || fc.KG.Set
	return &m, inline, true
}
