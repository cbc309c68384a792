package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
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
	maxSecretFileSize = 4096
	maxModuleNameLen  = 256
)

// Parser limits that keep hostile input (merge-key bombs, files full of
// errors) cheap. yaml.v3 itself refuses excessive aliasing.
const (
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
// it (see LogWarnings), and only for a config that loaded.
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

// Load reads, parses and validates the config file at path and the
// pass_file and kg_file it names (relative to its directory), checking
// collector names against catalog. On error the config and warnings are
// nil: warnings are only worth reading for a config that loaded.
func Load(path string, catalog Catalog) (*Config, []Warning, error) {
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
	cfg, warnings, err := Parse(data, path, catalog)
	if err != nil {
		return nil, nil, err
	}
	if w, ok := filePermissionWarning(cfg, info.Mode().Perm()); ok {
		warnings = append(warnings, w)
	}
	return cfg, warnings, nil
}

// Parse parses and validates config data; name is used in messages and its
// directory anchors relative pass_file and kg_file paths, which are read.
// Every error found is returned (collectors checked as by Load), one per
// line of err.Error(), each a *Error; warnings come only with a config.
func Parse(data []byte, name string, catalog Catalog) (*Config, []Warning, error) {
	return parseFiles(data, name, catalog, diskFiles)
}

// parse reads every file the config names with readFile (tests, fuzzing).
func parse(data []byte, name string, catalog Catalog, readFile readFileFunc) (*Config, []Warning, error) {
	return parseFiles(data, name, catalog, fileSource{secret: readFile})
}

func parseFiles(data []byte, name string, catalog Catalog, files fileSource) (*Config, []Warning, error) {
	p := &parser{file: name, dir: filepath.Dir(name), catalog: catalog, readFile: files.secret, files: files}
	var cfg *Config
	if f, lines := p.decode(data); f != nil {
		cfg = p.validate(f, lines)
	}
	if len(p.errs) > 0 {
		return nil, nil, p.joinedErrors()
	}
	sort.SliceStable(p.warnings, func(i, j int) bool { return p.warnings[i].Line < p.warnings[j].Line })
	return cfg, p.warnings, nil
}

type parser struct {
	file     string
	dir      string
	catalog  Catalog // the collectors a module may name
	readFile readFileFunc
	files    fileSource
	errs     []*Error
	warnings []Warning
	// shapeLines are the lines decode found a problem of structure on;
	// yaml.v3's own message for the same line says it less well.
	shapeLines map[int]bool
}

func (p *parser) errorf(line int, cause error, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...), Err: cause})
}

// shapeError reports a problem of structure (see shapeLines).
func (p *parser) shapeError(line int, format string, args ...any) {
	p.shapeLines[line] = true
	p.errorf(line, nil, format, args...)
}

func (p *parser) warnf(line int, format string, args ...any) {
	p.warnings = append(p.warnings, Warning{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// joinedErrors returns the errors in file order, at most maxErrorsShown.
func (p *parser) joinedErrors() error {
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	var errs []error
	for i, e := range p.errs {
		if i == maxErrorsShown {
			errs = append(errs, &Error{File: p.file, Msg: fmt.Sprintf("%d more errors not shown", len(p.errs)-i)})
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// yamlLine matches the "line N: reason" form of yaml.v3's messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError records one of yaml.v3's messages, unless decode already
// reported a problem on its line in the user's terms.
func (p *parser) yamlError(msg string, cause error) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if !p.shapeLines[line] {
			p.errorf(line, cause, "%s", m[2])
		}
		return
	}
	if len(p.shapeLines) > 0 {
		return // a fatal error without a line, after what caused it
	}
	if strings.Contains(msg, "excessive aliasing") {
		msg = "document too complex (" + msg + ")"
	}
	p.errorf(0, cause, "%s", msg)
}

// decode checks the file's structure (checkShape) and decodes it with
// yaml.v3, known fields only; nil means there is nothing to validate.
func (p *parser) decode(data []byte) (*fileConfig, map[string]moduleShape) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(0, nil, "no modules defined (the file is empty)")
		} else {
			p.yamlError(err.Error(), err)
		}
		return nil, nil
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.yamlError(err.Error(), err)
		return nil, nil
	default:
		p.errorf(second.Line, nil, "a config file holds one YAML document; found a second")
		return nil, nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = resolve(root.Content[0])
	}
	p.shapeLines = map[int]bool{}
	lines := p.checkShape(root)
	if len(p.errs) > 0 && lines == nil {
		return nil, nil
	}
	var f fileConfig
	if err := decodeKnownFields(data, &f); err != nil {
		var typeErr *yaml.TypeError
		if !errors.As(err, &typeErr) {
			p.yamlError(err.Error(), err)
			return nil, nil // decoding stopped part way: nothing to validate
		}
		for _, msg := range typeErr.Errors {
			p.yamlError(msg, err)
		}
	}
	return &f, lines
}

// decodeKnownFields decodes data into f with yaml.v3, known fields only.
// yaml.v3 panics on some malformed mappings (a mapping used as a key
// merged with <<, found by FuzzParse): that is an error in the file, not
// a reason to stop the process.
func decodeKnownFields(data []byte, f *fileConfig) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot decode the file: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(f)
}

// checkShape reports, in the user's terms, what yaml.v3 would report in
// Go's: a value of the wrong kind for a struct, map or list, and unknown
// keys. It returns each module's name line and keys, or nil if there is
// no usable modules mapping.
func (p *parser) checkShape(root *yaml.Node) map[string]moduleShape {
	fail := func(n *yaml.Node, format string, args ...any) { p.shapeError(n.Line, format, args...) }
	if isNull(root) {
		p.errorf(root.Line, nil, "no modules defined (the file is empty)")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		fail(root, "the top level must be a mapping with the keys modules and targets, not %s", kindName(root))
		return nil
	}
	top := p.checkKeys(root, reflect.TypeFor[fileConfig](), "at the top level", map[*yaml.Node]bool{})
	var lines map[string]moduleShape
	switch modules := top["modules"]; {
	case modules == nil || isNull(modules.value):
		at := root
		if modules != nil {
			at = modules.key
		}
		p.errorf(at.Line, nil, "no modules defined")
	case modules.value.Kind != yaml.MappingNode:
		fail(modules.value, "modules must be a mapping of module names to settings, not %s", kindName(modules.value))
	default:
		lines = map[string]moduleShape{}
		seen := map[*yaml.Node]bool{}
		for i := 0; i+1 < len(modules.value.Content); i += 2 {
			k, v := modules.value.Content[i], resolve(modules.value.Content[i+1])
			if k.Kind != yaml.ScalarNode {
				fail(k, "mapping keys must be strings, not %s", kindName(k))
				continue
			}
			where := fmt.Sprintf("module %q", truncateForError(k.Value))
			shape := moduleShape{line: k.Line}
			switch {
			case isNull(v):
			case v.Kind != yaml.MappingNode:
				fail(v, "%s: expected a mapping of settings, got %s", where, kindName(v))
			default:
				shape.keys = p.checkKeys(v, reflect.TypeFor[fileModule](), "in "+where, seen)
			}
			if _, dup := lines[k.Value]; !dup {
				lines[k.Value] = shape
			}
		}
	}
	if targets := top["targets"]; targets != nil && !isNull(targets.value) {
		if targets.value.Kind != yaml.SequenceNode {
			fail(targets.value, "targets: expected a list, got %s", kindName(targets.value))
			return lines
		}
		for i, item := range targets.value.Content {
			item = resolve(item)
			if item.Kind != yaml.MappingNode {
				fail(item, "targets[%d]: expected a mapping with module, labels and hosts, got %s", i, kindName(item))
				continue
			}
			keys := p.checkKeys(item, reflect.TypeFor[fileTarget](), fmt.Sprintf("in targets[%d]", i), map[*yaml.Node]bool{})
			if l := keys["labels"]; l != nil && !isNull(l.value) && l.value.Kind != yaml.MappingNode {
				fail(l.value, "targets[%d]: labels: expected a mapping of label names to values, got %s", i, kindName(l.value))
			}
		}
	}
	return lines
}

// moduleShape is where a module's name is and which keys it sets (null
// ones included, which decoding cannot tell from keys left out).
type moduleShape struct {
	line int
	keys map[string]*keyValue
}

// keyValue is one entry of a mapping.
type keyValue struct{ key, value *yaml.Node }

// checkKeys reports keys of mapping n that struct type t has no yaml tag
// for (suggesting the closest known key) and non-string keys, following
// merge keys (<<). It checks each mapping node once, so a chain of merges
// costs its length, not its expansion. It returns n's entries by key,
// merged ones included.
func (p *parser) checkKeys(n *yaml.Node, t reflect.Type, where string, seen map[*yaml.Node]bool) map[string]*keyValue {
	known := yamlKeys(t)
	own := map[string]*keyValue{}
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if seen[n] {
			return
		}
		seen[n] = true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
			switch {
			case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
				sources := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					sources = v.Content
				}
				for _, src := range sources {
					src = resolve(src)
					switch {
					case src.Kind != yaml.MappingNode:
						p.shapeError(src.Line, "a merge key (<<) takes a mapping or a list of mappings, not %s", kindName(src))
					case depth >= maxMergeDepth:
						p.shapeError(src.Line, "merge keys (<<) nested more than %d deep", maxMergeDepth)
					default:
						walk(src, depth+1)
					}
				}
			case k.Kind != yaml.ScalarNode:
				p.shapeError(k.Line, "mapping keys must be strings, not %s", kindName(k))
			case !known[k.Value]:
				var hint string
				if s := closest(k.Value, known); s != "" {
					hint = fmt.Sprintf(" (did you mean %q?)", s)
				}
				p.shapeError(k.Line, "unknown key %q %s%s", truncateForError(k.Value), where, hint)
			case own[k.Value] == nil:
				// yaml.v3 lets a mapping's own keys win over merged
				// ones, and earlier merged mappings over later ones.
				own[k.Value] = &keyValue{key: k, value: v}
			}
		}
	}
	walk(n, 0)
	return own
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
