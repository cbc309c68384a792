package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalidTarget is wrapped by every error ParseTarget returns.
var ErrInvalidTarget = errors.New("invalid target")

// maxHostnameLen is the longest DNS name in text form (RFC 1035 2.3.4,
// without the trailing dot).
const maxHostnameLen = 253

// maxLabelLen is the longest DNS label.
const maxLabelLen = 63

func targetError(target, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidTarget, truncateForError(target), fmt.Sprintf(format, args...))
}

// truncateForError keeps hostile over-long input out of error messages and
// logs.
func truncateForError(s string) string {
	const keep = 80
	if len(s) <= keep {
		return s
	}
	return s[:keep] + "..."
}

// ParseTarget splits a scrape target into host and port. It accepts host,
// host:port, [v6], [v6]:port and a bare IPv6 literal; the port defaults to
// DefaultPort. The host comes back as written (IPv6 without brackets). It
// resolves nothing. Errors wrap ErrInvalidTarget.
func ParseTarget(s string) (host string, port uint16, err error) {
	if s == "" {
		return "", 0, targetError(s, "empty")
	}
	if strings.Contains(s, "://") {
		// A URL (target=http://bmc), whose "//bmc" would otherwise be
		// reported as a port that is not a number.
		return "", 0, targetError(s, "expected a host or host:port ([address]:port for IPv6), not a URL")
	}
	port = DefaultPort
	var portText string
	hasPort := false
	switch {
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, targetError(s, "missing ']' after IPv6 address")
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, targetError(s, "unexpected %q after ']'", truncateForError(rest))
			}
			portText, hasPort = rest[1:], true
		}
		if err := checkIPv6(host); err != nil {
			return "", 0, targetError(s, "%v", err)
		}
	case strings.Count(s, ":") > 1:
		// Two or more colons: only an IPv6 literal reads this way. A port
		// after a bare IPv6 address would be ambiguous, so it needs brackets.
		host = s
		if err := checkIPv6(host); err != nil {
			return "", 0, targetError(s, "%v (to give a port with an IPv6 address, write [address]:port)", err)
		}
	default:
		host = s
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, portText, hasPort = s[:i], s[i+1:], true
		}
		if err := checkHost(host); err != nil {
			return "", 0, targetError(s, "%v", err)
		}
	}
	if hasPort {
		p, err := parsePort(portText)
		if err != nil {
			return "", 0, targetError(s, "%v", err)
		}
		port = p
	}
	return host, port, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("empty port")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("port %q is not a number", truncateForError(s))
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %s out of range 1-65535", truncateForError(s))
	}
	return uint16(n), nil
}

// checkIPv6 accepts an IPv6 literal with an optional zone made of
// interface-name characters.
func checkIPv6(s string) error {
	if s == "" {
		return errors.New("empty IPv6 address")
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is6() {
		return fmt.Errorf("%q is not an IPv6 address", truncateForError(s))
	}
	if zone := addr.Zone(); zone != "" {
		for i := 0; i < len(zone); i++ {
			c := zone[i]
			if !isAlnum(c) && c != '.' && c != '-' && c != '_' {
				return fmt.Errorf("invalid character %q in IPv6 zone", c)
			}
		}
	}
	return nil
}

// checkHost accepts an IPv4 literal or a DNS host name.
func checkHost(s string) error {
	if s == "" {
		return errors.New("empty host")
	}
	if addr, err := netip.ParseAddr(s); err == nil && addr.Is4() {
		return nil
	}
	return checkHostname(s)
}

// checkHostname validates a DNS name: labels of letters, digits, '-' and
// '_' (common in internal zones), no label starting or ending with '-', at
// most 253 characters, and a last label that is not all digits (such a name
// is a mistyped IPv4 address).
func checkHostname(s string) error {
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return errors.New("empty host name")
	}
	if len(name) > maxHostnameLen {
		return fmt.Errorf("host name is %d characters long, more than %d", len(name), maxHostnameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("invalid character %q in host name", c)
		}
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		switch {
		case label == "":
			return errors.New("empty label in host name")
		case len(label) > maxLabelLen:
			return fmt.Errorf("host name label is %d characters long, more than %d", len(label), maxLabelLen)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("host name label %q starts or ends with '-'", truncateForError(label))
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return fmt.Errorf("%q is neither an IPv4 address nor a host name", truncateForError(s))
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// TargetNotAllowedError is returned when a module's allowed_targets does not
// cover a target. The HTTP layer answers it with 403.
type TargetNotAllowedError struct {
	Module string
	Target string
}

func (e *TargetNotAllowedError) Error() string {
	return fmt.Sprintf("target %q is not in allowed_targets of module %q", truncateForError(e.Target), e.Module)
}

// TargetAllowed checks target (host, host:port, [v6]:port) against the
// module's allowed_targets before any packet is sent. It resolves nothing:
// host globs match the name as written (case-insensitively, ignoring a
// trailing dot) and CIDRs match IP literals only, so a host name is never
// allowed by a CIDR (localhost does not pass 127.0.0.0/8): resolving it
// first would let whoever answers DNS for the name decide what the module
// may log in to. It returns an
// error wrapping ErrInvalidTarget for a malformed target, a
// *TargetNotAllowedError for one outside the list, and nil otherwise (always
// nil for a valid target when allowed_targets is empty).
func (m *Module) TargetAllowed(target string) error {
	host, _, err := ParseTarget(target)
	if err != nil {
		return err
	}
	allowed, restricted := m.allowList()
	if !restricted || allowed.matchHost(host) {
		return nil
	}
	return &TargetNotAllowedError{Module: m.Name, Target: target}
}

// allowList returns the compiled allowed_targets and whether the module
// restricts targets at all. Modules from Parse and DemoConfig come compiled;
// a Module built as a literal elsewhere (tests, other packages) is compiled
// here on each call, so setting AllowedTargets by hand never silently allows
// everything. Entries that do not compile match nothing.
func (m *Module) allowList() (list allowList, restricted bool) {
	if len(m.AllowedTargets) == 0 {
		return allowList{}, false
	}
	if !m.allowed.empty() {
		return m.allowed, true
	}
	for _, s := range m.AllowedTargets {
		if p, _, err := compilePattern(s); err == nil {
			list.add(p)
		}
	}
	return list, true
}

// allowList is a compiled allowed_targets list.
type allowList struct {
	prefixes []netip.Prefix
	globs    []string // lower case, no trailing dot
}

func (a *allowList) empty() bool { return len(a.prefixes) == 0 && len(a.globs) == 0 }

func (a *allowList) add(p pattern) {
	if p.glob != "" {
		a.globs = append(a.globs, p.glob)
	} else {
		a.prefixes = append(a.prefixes, p.prefix)
	}
}

// matchHost matches a host as ParseTarget returns it: IP literals against
// the prefixes, names against the globs.
func (a *allowList) matchHost(host string) bool {
	if addr, err := netip.ParseAddr(host); err == nil {
		return a.matchAddr(addr)
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, g := range a.globs {
		if matchGlob(g, name) {
			return true
		}
	}
	return false
}

func (a *allowList) matchAddr(addr netip.Addr) bool {
	// The zone says which interface to use, not which host; an IPv4-mapped
	// IPv6 address is the IPv4 host.
	addr = addr.WithZone("").Unmap()
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// pattern is one compiled allowed_targets entry: a prefix or a glob.
type pattern struct {
	prefix netip.Prefix
	glob   string
}

// compilePattern parses an allowed_targets entry: a CIDR, an IP address
// (optionally in brackets), or a host glob in which '*' stands for any run
// of characters within one label. The returned note, if not empty, is worth
// a warning.
func compilePattern(s string) (p pattern, note string, err error) {
	if s == "" {
		return p, "", errors.New("empty entry")
	}
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return p, "", fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		if prefix.Addr().Zone() != "" {
			return p, "", fmt.Errorf("%q: a CIDR cannot have an IPv6 zone", s)
		}
		if prefix.Addr().Is4In6() {
			prefix = netip.PrefixFrom(prefix.Addr().Unmap(), max(prefix.Bits()-96, 0))
		}
		if masked := prefix.Masked(); masked != prefix {
			note = fmt.Sprintf("allowed_targets entry %s has host bits set; it means %s", s, masked)
			prefix = masked
		}
		return pattern{prefix: prefix}, note, nil
	}
	literal := s
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") {
			return p, "", fmt.Errorf("%q: allowed_targets match hosts, not ports; write the address without a port", s)
		}
		literal = s[1 : len(s)-1]
	}
	if addr, err := netip.ParseAddr(literal); err == nil {
		if addr.Zone() != "" {
			return p, "", fmt.Errorf("%q: drop the IPv6 zone, addresses are matched without it", s)
		}
		addr = addr.Unmap()
		return pattern{prefix: netip.PrefixFrom(addr, addr.BitLen())}, "", nil
	} else if literal != s {
		return p, "", fmt.Errorf("%q is not an IPv6 address in brackets", s)
	}
	if strings.Contains(s, ":") {
		return p, "", fmt.Errorf("%q: allowed_targets match hosts, not ports; write the host without a port", s)
	}
	glob := strings.ToLower(strings.TrimSuffix(s, "."))
	if allDigitsDotsStars(glob) {
		return p, "", fmt.Errorf("%q looks like an IPv4 wildcard; globs match host names only, write a CIDR such as 10.0.0.0/24", s)
	}
	// A glob must be a valid host name once every '*' is read as a letter.
	if err := checkHostname(strings.ReplaceAll(glob, "*", "x")); err != nil {
		return p, "", fmt.Errorf("%q is not a CIDR, IP address or host glob: %w", s, err)
	}
	return pattern{glob: glob}, "", nil
}

// allDigitsDotsStars reports whether s reads like 10.0.*.* : digits, dots
// and stars only, with at least one digit.
func allDigitsDotsStars(s string) bool {
	digit := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c != '.' && c != '*':
			return false
		}
	}
	return digit
}

// matchGlob reports whether name matches glob, where '*' matches any run of
// characters other than '.'. Both are lower case. The matcher backtracks
// only to the most recent '*', so it runs in O(len(glob)*len(name)).
func matchGlob(glob, name string) bool {
	g, n := 0, 0
	starG, starN := -1, 0
	for n < len(name) {
		switch {
		case g < len(glob) && glob[g] == '*':
			starG, starN = g, n
			g++
		case g < len(glob) && glob[g] == name[n]:
			g++
			n++
		case starG >= 0 && name[starN] != '.':
			// Let the last '*' swallow one more character, but never a dot.
			starN++
			g, n = starG+1, starN
		default:
			return false
		}
	}
	for g < len(glob) && glob[g] == '*' {
		g++
	}
	return g == len(glob)
}
