package config

import (
	"crypto/subtle"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// secretPlaceholder is what every printing and marshaling path shows instead
// of a secret's value.
const secretPlaceholder = "<secret>"

// Secret holds a password or BMC key. Printing it with any fmt verb,
// marshaling it to YAML, JSON or text, or logging it shows "<secret>"; only
// Reveal returns the value.
//
// The value sits behind a pointer so that even reflection-based printing of
// a struct that keeps a Secret in an unexported field (where fmt cannot call
// methods) shows an address, not the bytes.
type Secret struct {
	value *string
}

// NewSecret wraps s. An empty s gives the zero Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{value: &s}
}

// Reveal returns the secret value. Call it only where the value is put on
// the wire or into a key derivation, never to log or display it.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// Bytes returns a copy of the secret value as bytes.
func (s Secret) Bytes() []byte { return []byte(s.Reveal()) }

// Len returns the length of the value in bytes.
func (s Secret) Len() int { return len(s.Reveal()) }

// IsZero reports whether the secret is empty. yaml.v3 uses it for omitempty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// Equal compares two secrets in constant time (for equal lengths), so that
// comparing configs on reload leaks nothing through timing.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

// String returns "<secret>".
func (s Secret) String() string { return secretPlaceholder }

// GoString returns "<secret>" for %#v.
func (s Secret) GoString() string { return secretPlaceholder }

// Format prints "<secret>" for every verb, including %d, %x and %q, which
// fmt would otherwise apply to the underlying fields.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", secretPlaceholder)
		return
	}
	_, _ = f.Write([]byte(secretPlaceholder))
}

// MarshalYAML keeps the value out of YAML dumps of a config.
func (s Secret) MarshalYAML() (any, error) { return secretPlaceholder, nil }

// MarshalText keeps the value out of JSON (and anything else text-based).
func (s Secret) MarshalText() ([]byte, error) { return []byte(secretPlaceholder), nil }

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
