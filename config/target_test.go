package config

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 63)+".", 4) // 256 chars
	tests := []struct {
		in      string
		host    string
		port    uint16
		wantErr string // substring; empty means success
	}{
		{in: "10.0.0.1", host: "10.0.0.1", port: 623},
		{in: "10.0.0.1:6230", host: "10.0.0.1", port: 6230},
		{in: "bmc1", host: "bmc1", port: 623},
		{in: "bmc-1.example.com", host: "bmc-1.example.com", port: 623},
		{in: "bmc-1.example.com.", host: "bmc-1.example.com.", port: 623},
		{in: "BMC_1.Example.COM:1", host: "BMC_1.Example.COM", port: 1},
		{in: "bmc:65535", host: "bmc", port: 65535},
		{in: "bmc:0623", host: "bmc", port: 623},
		{in: "[::1]", host: "::1", port: 623},
		{in: "[::1]:6230", host: "::1", port: 6230},
		{in: "::1", host: "::1", port: 623},
		{in: "2001:db8::10", host: "2001:db8::10", port: 623},
		{in: "[2001:db8::10]:623", host: "2001:db8::10", port: 623},
		{in: "fe80::1%eth0", host: "fe80::1%eth0", port: 623},
		{in: "[fe80::1%eth0]:623", host: "fe80::1%eth0", port: 623},
		{in: "::ffff:10.0.0.1", host: "::ffff:10.0.0.1", port: 623},
		{in: strings.Repeat("a", 63) + ".com", host: strings.Repeat("a", 63) + ".com", port: 623},
		{in: long[:253], host: long[:253], port: 623},

		{in: "", wantErr: "empty"},
		{in: ":623", wantErr: "empty host"},
		{in: "bmc:", wantErr: "empty port"},
		{in: "bmc:0", wantErr: "port 0 out of range 1-65535"},
		{in: "bmc:65536", wantErr: "port 65536 out of range"},
		{in: "bmc:99999999999999999999", wantErr: "out of range"},
		{in: "bmc:-1", wantErr: "is not a number"},
		{in: "bmc:+1", wantErr: "is not a number"},
		{in: "bmc:abc", wantErr: "is not a number"},
		{in: "bmc: 623", wantErr: "is not a number"},
		// A URL pasted as the target: say what is expected, not that
		// "//bmc" is not a port.
		{in: "http://bmc", wantErr: "expected a host or host:port"},
		{in: "https://10.0.0.1:623/", wantErr: "expected a host or host:port"},
		{in: "lanplus://[::1]:623", wantErr: "expected a host or host:port"},
		{in: "[::1]:", wantErr: "empty port"},
		{in: "[::1]:0", wantErr: "out of range"},
		{in: "[::1", wantErr: "missing ']'"},
		{in: "[::1]623", wantErr: "unexpected \"623\" after ']'"},
		{in: "[]", wantErr: "empty IPv6 address"},
		{in: "[10.0.0.1]", wantErr: "is not an IPv6 address"},
		{in: "[bmc]:623", wantErr: "is not an IPv6 address"},
		{in: "::1:623:x", wantErr: "write [address]:port"},
		{in: "2001:db8::1:99999", wantErr: "write [address]:port"},
		{in: "fe80::1%e/0", wantErr: "invalid character '/' in IPv6 zone"},
		{in: long, wantErr: "more than 253"},
		{in: strings.Repeat("a", 64) + ".com", wantErr: "label is 64 characters long"},
		{in: "bad host", wantErr: "invalid character ' '"},
		{in: "bmc/1", wantErr: "invalid character '/'"},
		{in: "bmc\x00", wantErr: "invalid character '\\x00'"},
		{in: "bmç.example.com", wantErr: "invalid character"},
		{in: "a..b", wantErr: "empty label"},
		{in: ".", wantErr: "empty host name"},
		{in: "-bmc.example.com", wantErr: "starts or ends with '-'"},
		{in: "bmc-.example.com", wantErr: "starts or ends with '-'"},
		{in: "10.0.0.256", wantErr: "neither an IPv4 address nor a host name"},
		{in: "10.0.0", wantErr: "neither an IPv4 address nor a host name"},
		{in: "1234", wantErr: "neither an IPv4 address nor a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			host, port, err := ParseTarget(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseTarget(%q) = %q, %d; want error containing %q", tt.in, host, port, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidTarget) {
					t.Errorf("error %v does not wrap ErrInvalidTarget", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTarget(%q): %v", tt.in, err)
			}
			if host != tt.host || port != tt.port {
				t.Errorf("ParseTarget(%q) = %q, %d; want %q, %d", tt.in, host, port, tt.host, tt.port)
			}
		})
	}
}

func TestParseTargetErrorTruncatesInput(t *testing.T) {
	_, _, err := ParseTarget(strings.Repeat("x", 10000) + " ")
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("error not truncated: %d bytes", len(err.Error()))
	}
}

func moduleAllowing(t testing.TB, patterns ...string) *Module {
	t.Helper()
	m := newModule("m", testCatalog)
	for _, s := range patterns {
		p, _, err := compilePattern(s)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", s, err)
		}
		m.allowed.add(p)
		m.AllowedTargets = append(m.AllowedTargets, s)
	}
	return m
}

func TestTargetAllowed(t *testing.T) {
	m := moduleAllowing(t,
		"10.0.0.0/8",
		"192.0.2.7",
		"2001:db8::/32",
		"[::1]",
		"::ffff:198.51.100.0/120",
		"bmc-*.example.com",
		"*.lab.example.net",
		"exact.example.org.",
		"r*-bmc*.dc1",
	)
	tests := []struct {
		target string
		ok     bool
	}{
		{"10.1.2.3", true},
		{"10.1.2.3:623", true},
		{"11.0.0.1", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"::ffff:10.0.0.1", true}, // IPv4-mapped form of an allowed address
		{"198.51.100.20", true},   // IPv4 form of an allowed mapped prefix
		{"198.51.101.20", false},
		{"2001:db8::1", true},
		{"[2001:db8:ffff::1]:6230", true},
		{"2001:db9::1", false},
		{"::1", true},
		{"[::1]:623", true},
		{"::2", false},
		{"[fe80::1%eth0]", false},
		{"bmc-r1.example.com", true},
		{"BMC-R1.Example.Com", true},
		{"bmc-r1.example.com.", true},
		{"bmc-r1.example.com:623", true},
		{"bmc-x.y.example.com", false},
		{"bmc-x.example.com.evil.net", false},
		{"xbmc-1.example.com", false},
		{"a.lab.example.net", true},
		{"a.b.lab.example.net", false},
		{"lab.example.net", false},
		{"exact.example.org", true},
		{"exact.example.org.", true},
		{"other.example.org", false},
		{"r12-bmc3.dc1", true},
		{"r-bmc.dc1", true},
		{"r1.x-bmc.dc1", false},
		{"10.0.0.1.nip.io", false}, // a name is not an address
		{"localhost", false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			err := m.TargetAllowed(tt.target)
			if tt.ok {
				if err != nil {
					t.Errorf("TargetAllowed(%q): %v", tt.target, err)
				}
				return
			}
			var notAllowed *TargetNotAllowedError
			if !errors.As(err, &notAllowed) {
				t.Fatalf("TargetAllowed(%q) = %v, want *TargetNotAllowedError", tt.target, err)
			}
			if notAllowed.Module != "m" || notAllowed.Target != tt.target {
				t.Errorf("error fields: %+v", notAllowed)
			}
		})
	}
}

func TestTargetAllowedWithoutList(t *testing.T) {
	m := newModule("open", testCatalog)
	for _, target := range []string{"10.0.0.1", "anything.example.com:623", "[::1]"} {
		if err := m.TargetAllowed(target); err != nil {
			t.Errorf("TargetAllowed(%q) = %v with no allowed_targets", target, err)
		}
	}
	if err := m.TargetAllowed("bad target"); !errors.Is(err, ErrInvalidTarget) {
		t.Errorf("malformed target: %v", err)
	}
}

// globRegexp is an independent implementation of matchGlob.
func globRegexp(glob string) *regexp.Regexp {
	parts := strings.Split(glob, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, "[^.]*") + "$")
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"*", "bmc", true},
		{"*", "", true},
		{"*", "a.b", false},
		{"a*", "a", true},
		{"*a", "bba", true},
		{"*a*", "xay", true},
		{"*a*", "ba.a", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXc", false},
		{"a**b", "ab", true},
		{"*.b", "a.c.b", false},
		{"*.*.b", "a.c.b", true},
		{"bmc-*.x", "bmc-.x", true},
		{"bmc-*.x", "bmc-a.b.x", false},
	}
	for _, tt := range tests {
		if got := matchGlob(tt.glob, tt.name); got != tt.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
		if ref := globRegexp(tt.glob).MatchString(tt.name); ref != tt.want {
			t.Errorf("reference disagrees with the table for %q, %q", tt.glob, tt.name)
		}
	}
}

func FuzzMatchGlob(f *testing.F) {
	f.Add("a*b*c", "aXbYc")
	f.Add("*.*.b", "a.c.b")
	f.Add("*a*", "ba.a")
	f.Fuzz(func(t *testing.T, glob, name string) {
		// Globs and names reach matchGlob only after validation as ASCII
		// host names; the regexp oracle needs valid UTF-8 anyway.
		if len(glob) > 64 || len(name) > 64 || !isASCII(glob) || !isASCII(name) {
			return
		}
		if got, want := matchGlob(glob, name), globRegexp(glob).MatchString(name); got != want {
			t.Errorf("matchGlob(%q, %q) = %v, regexp says %v", glob, name, got, want)
		}
	})
}

func TestCompilePattern(t *testing.T) {
	tests := []struct {
		in      string
		prefix  string
		glob    string
		note    bool
		wantErr string
	}{
		{in: "10.0.0.0/8", prefix: "10.0.0.0/8"},
		{in: "10.1.2.3/8", prefix: "10.0.0.0/8", note: true},
		{in: "10.0.0.1", prefix: "10.0.0.1/32"},
		{in: "::1", prefix: "::1/128"},
		{in: "[::1]", prefix: "::1/128"},
		{in: "2001:db8::/32", prefix: "2001:db8::/32"},
		{in: "::ffff:10.0.0.0/104", prefix: "10.0.0.0/8"},
		{in: "::ffff:10.0.0.1", prefix: "10.0.0.1/32"},
		{in: "BMC-*.Example.com.", glob: "bmc-*.example.com"},
		{in: "*", glob: "*"},
		{in: "", wantErr: "empty entry"},
		{in: "10.0.0.0/", wantErr: "is not a CIDR"},
		{in: "fe80::%eth0/64", wantErr: "is not a CIDR"},
		{in: "[::1", wantErr: "not ports"},
		{in: "[bmc]", wantErr: "not an IPv6 address in brackets"},
		{in: "host:623", wantErr: "not ports"},
		{in: "10.*", wantErr: "looks like an IPv4 wildcard"},
		{in: "*.*", glob: "*.*"},
		{in: "1*.*", wantErr: "looks like an IPv4 wildcard"},
		{in: "a b", wantErr: "is not a CIDR, IP address or host glob"},
		{in: "-*.example.com", wantErr: "starts or ends with '-'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, note, err := compilePattern(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("compilePattern(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("compilePattern(%q): %v", tt.in, err)
			}
			if tt.prefix != "" && p.prefix != netip.MustParsePrefix(tt.prefix) {
				t.Errorf("prefix %v, want %s", p.prefix, tt.prefix)
			}
			if p.glob != tt.glob {
				t.Errorf("glob %q, want %q", p.glob, tt.glob)
			}
			if (note != "") != tt.note {
				t.Errorf("note %q, want note=%v", note, tt.note)
			}
		})
	}
}

func TestDemoConfig(t *testing.T) {
	cfg := DemoConfig(testCatalog, []string{"127.0.0.1:6230", "[::1]:6231", "sim.local", "bad target"}, "admin", "s3cret")
	m, ok := cfg.Module("")
	if !ok {
		t.Fatal("demo config has no default module")
	}
	if m.User != "admin" || m.Password.Reveal() != "s3cret" || m.Driver != DriverLAN20 || m.Timeout != DefaultTimeout {
		t.Errorf("demo module: %+v", m)
	}
	if len(cfg.Targets) != 1 || strings.Join(cfg.Targets[0].Hosts, ",") != "127.0.0.1:6230,[::1]:6231,sim.local" {
		t.Errorf("demo targets: %+v", cfg.Targets)
	}
	for _, target := range []string{"127.0.0.1:6230", "127.0.0.2", "[::1]:1", "sim.local:623", "SIM.local"} {
		if err := m.TargetAllowed(target); err != nil {
			t.Errorf("demo refuses %s: %v", target, err)
		}
	}
	for _, target := range []string{"10.0.0.1", "other.local", "bad"} {
		if err := m.TargetAllowed(target); err == nil {
			t.Errorf("demo allows %s", target)
		}
	}
	empty := DemoConfig(testCatalog, nil, "", "")
	if err := empty.Modules[DefaultModuleName].TargetAllowed("192.0.2.1"); err == nil {
		t.Error("demo without targets allows a foreign host")
	}
	if len(empty.Targets) != 0 {
		t.Errorf("demo without targets has target groups: %+v", empty.Targets)
	}
}

func TestTargetAllowedOnHandBuiltModule(t *testing.T) {
	// A Module literal built outside Parse must not allow everything just
	// because its compiled list is empty.
	m := &Module{Name: "lit", AllowedTargets: []string{"10.0.0.0/8", "bmc-*.example.com", "not a pattern"}}
	for target, ok := range map[string]bool{
		"10.1.1.1": true, "bmc-1.example.com": true, "192.0.2.1": false, "other.example.com": false,
	} {
		if err := m.TargetAllowed(target); (err == nil) != ok {
			t.Errorf("TargetAllowed(%q) = %v, want ok=%v", target, err, ok)
		}
	}
	onlyBad := &Module{Name: "bad", AllowedTargets: []string{"not a pattern"}}
	if err := onlyBad.TargetAllowed("10.0.0.1"); err == nil {
		t.Error("module whose only entry is invalid allows a target")
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
