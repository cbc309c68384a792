package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The leaf types of the file form. Each decodes one YAML value with
// UnmarshalYAML and says what is wrong with it in the user's terms; field
// and list keep that reason and the line, so that Validate reports it with
// the module and key it belongs to and goes on to the next key.

// field is one setting as written: its value, the line of the value, and
// why the value is unusable (Err). The zero field is a key left out (or
// set to null).
type field[T any] struct {
	V    T
	Line int
	Set  bool
	Err  error
}

// UnmarshalYAML keeps T's error instead of returning it, so that one bad
// value does not hide the errors after it.
func (f *field[T]) UnmarshalYAML(n *yaml.Node) error {
	f.Line, f.Set = n.Line, true
	f.Err = n.Decode(&f.V)
	return nil
}

// MarshalYAML writes the value.
func (f field[T]) MarshalYAML() (any, error) { return f.V, nil }

// IsZero makes omitempty leave out a key the file did not set.
func (f field[T]) IsZero() bool { return !f.Set }

// list is a YAML sequence of fields; an item's error stays with the item.
type list[T any] []field[T]

func (l *list[T]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("expected a list, got %s", kindName(n))
	}
	*l = make(list[T], len(n.Content))
	for i, item := range n.Content {
		if err := item.Decode(&(*l)[i]); err != nil {
			(*l)[i] = field[T]{Line: item.Line, Set: true, Err: errors.New(strings.TrimPrefix(err.Error(), "yaml: "))}
		}
	}
	return nil
}

// scalarText returns the text of a scalar node: any YAML scalar reads as
// the text written (user: 0123 is the user "0123").
func scalarText(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("expected a single value, got %s", kindName(n))
	}
	return n.Value, nil
}

// text is a string setting.
type text string

func (t *text) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	*t = text(s)
	return err
}

// integer is an integer setting; Validate checks its range.
type integer int64

func (i *integer) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected an integer, got %s", kindName(n))
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if n.ShortTag() != "!!int" || err != nil {
		return fmt.Errorf("expected an integer, got %q", truncateForError(n.Value))
	}
	*i = integer(v)
	return nil
}

// MarshalYAML writes the number.
func (i integer) MarshalYAML() (any, error) { return int64(i), nil }

// UnmarshalYAML reads a secret from a scalar. The value never appears in
// an error.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a single value, got %s", kindName(n))
	}
	*s = NewSecret(n.Value)
	return nil
}

// privilege is the privilege key.
type privilege wire.PrivilegeLevel

func (p *privilege) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	if err != nil {
		return err
	}
	level, err := wire.ParsePrivilegeLevel(s)
	if err != nil {
		return err
	}
	if level == wire.PrivilegeCallback {
		return errors.New("callback privilege cannot read sensors; use user, operator or admin")
	}
	*p = privilege(level)
	return nil
}

func (p privilege) MarshalYAML() (any, error) { return wire.PrivilegeLevel(p).String(), nil }

// UnmarshalYAML reads a driver name as FreeIPMI and ipmi_exporter spell it.
func (d *Driver) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	if err != nil {
		return err
	}
	switch strings.ToUpper(s) {
	case "", "LAN_2_0", "LAN20", "LANPLUS":
		*d = DriverLAN20
	case "LAN":
		*d = DriverLAN
	case "OPENIPMI":
		*d = DriverOpenIPMI
	case "KCS", "SSIF", "SUNBMC", "INTELDCMI", "INBAND":
		// FreeIPMI's drivers that reach the interface itself (I/O
		// ports, an I2C bus): the kernel's driver does that here.
		return fmt.Errorf("in-band driver %s is not supported; read the local BMC through the kernel's IPMI driver with driver OPENIPMI", s)
	default:
		return fmt.Errorf("unknown driver %q (want LAN_2_0, LAN or OPENIPMI)", truncateForError(s))
	}
	return nil
}

// UnmarshalYAML reads auto or a supported suite number.
func (c *CipherSuite) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	if err != nil {
		return err
	}
	if s == "" || strings.EqualFold(s, "auto") {
		*c = CipherSuiteAuto
		return nil
	}
	if v, err := strconv.Atoi(s); err == nil {
		for _, cs := range supportedCipherSuites {
			if CipherSuite(v) == cs {
				*c = cs
				return nil
			}
		}
	}
	return fmt.Errorf("%q is not auto or a supported cipher suite (0-3, 6-8, 11, 12, 15-17)", truncateForError(s))
}

// MarshalYAML writes auto or the suite number.
func (c CipherSuite) MarshalYAML() (any, error) { return c.String(), nil }

// UnmarshalYAML reads auto, md5, password or none.
func (a *AuthType) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	if err != nil {
		return err
	}
	switch v := AuthType(strings.ToLower(s)); v {
	case "auto":
		*a = AuthTypeAuto
	case AuthTypeMD5, AuthTypePassword, AuthTypeNone:
		*a = v
	default:
		return fmt.Errorf("unknown IPMI v1.5 auth type %q (want auto, md5, password or none)", truncateForError(s))
	}
	return nil
}

// MarshalYAML writes auto for AuthTypeAuto.
func (a AuthType) MarshalYAML() (any, error) {
	if a == AuthTypeAuto {
		return "auto", nil
	}
	return string(a), nil
}

// UnmarshalYAML reads auto, true or false.
func (l *LookupMode) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	if err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "", "auto":
		*l = LookupAuto
	case "true", "yes", "on":
		*l = LookupNameOnly
	case "false", "no", "off":
		*l = LookupNamePrivilege
	default:
		return fmt.Errorf("expected auto, true or false, got %q", truncateForError(s))
	}
	return nil
}

func (w *WindowSize) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	if err != nil {
		return err
	}
	if strings.EqualFold(s, "auto") {
		*w = WindowAuto
		return nil
	}
	var i integer
	if err := i.UnmarshalYAML(n); err != nil {
		return fmt.Errorf("expected auto or an integer, got %q", truncateForError(s))
	}
	*w = WindowSize(i) // range checked by validate
	return nil
}

// millis is a duration written in milliseconds (timeout, as in
// ipmi_exporter).
type millis time.Duration

func (m *millis) UnmarshalYAML(n *yaml.Node) error {
	var i integer
	if err := i.UnmarshalYAML(n); err != nil {
		return err
	}
	if i < 0 || i > maxTimeoutMillis {
		return fmt.Errorf("%d is out of range 0-%d", i, maxTimeoutMillis)
	}
	*m = millis(time.Duration(i) * time.Millisecond)
	return nil
}

func (m millis) MarshalYAML() (any, error) { return time.Duration(m).Milliseconds(), nil }

// duration is a Go duration such as 5m or 30s (idle_timeout).
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n)
	if err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration such as 5m or 30s (0 closes the session after every scrape), got %q", truncateForError(s))
	}
	*d = duration(v)
	return nil
}

func (d duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// kindName describes a node for an error message.
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
	case yaml.AliasNode:
		if n.Alias != nil {
			return kindName(n.Alias)
		}
	case yaml.DocumentNode:
		return "a document"
	}
	return "an empty value"
}

// setField is a field set to v.
func setField[T any](v T) field[T] { return field[T]{V: v, Set: true} }

// fieldIf is a field set to v when set is true, else left out.
func fieldIf[T any](v T, set bool) field[T] { return field[T]{V: v, Set: set} }

// listOf converts a slice to the file form of a list.
func listOf[E, T any](in []E, conv func(E) T) list[T] {
	out := make(list[T], len(in))
	for i, e := range in {
		out[i] = setField(conv(e))
	}
	return out
}

// yamlKeys returns the yaml tag names of struct type t's fields.
func yamlKeys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

// closest returns the known key nearest to key by edit distance, if it is
// near enough to be a typo.
func closest(key string, known map[string]bool) string {
	best, bestDist := "", max(2, len(key)/3)+1
	for k := range known {
		if d := editDistance(key, k); d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cur := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, prev+cost)
			prev = cur
		}
	}
	return row[len(b)]
}
