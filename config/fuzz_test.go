package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the loader. It must return a config or
// an error, never panic, and every error must be a *config.Error located in
// the file. Secret files come from a fixed fake so the fuzzer cannot make
// the loader read real files.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "modules:\n", "modules: {m: {}}\n",
		oneModule("    user: a\n    pass: b\n    kg: 0x0102\n    cipher_suite: 17\n"),
		oneModule("    pass_file: pw\n    kg_file: kg\n"),
		"modules:\n  a: &a {user: x, allowed_targets: [bmc-*.ex.com, \"[::1]\"]}\n  b: {<<: *a}\ntargets:\n  - module: a\n    labels: {r: x}\n    hosts: [\"bmc-1.ex.com:623\", \"::1\"]\n",
		"modules: {m: {collectors: [ipmi, sm-lan-mode], workaround_flags: [x]}}\n---\n",
	} {
		f.Add([]byte(seed))
	}
	for _, path := range []string{"testdata/ipmi_remote.yml", "../config.example.yml"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	files := fakeFiles(map[string]string{"pw": "secret\n", "kg": "0x00ff\n"})
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("parse took over 10s on %q", data)) })
		defer watchdog.Stop()
		cfg, _, err := parse(data, testFile, testCatalog, files)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			var cfgErr *Error
			if !errors.As(err, &cfgErr) {
				t.Fatalf("error %v (%T) is not a *config.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), testFile+":") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(cfg.Modules) == 0 {
			t.Fatal("config without modules accepted")
		}
		for name, m := range cfg.Modules {
			if m.Name != name || m.Timeout <= 0 || m.MaxSessions < 1 || (m.Window < 1 && m.Window != WindowAuto) || m.MaxWindow < 1 || m.MaxWindow > maxWindow {
				t.Fatalf("module %q has invalid settings: %+v", name, m)
			}
			if len(m.User) > maxUserLen || m.Password.Len() > maxPasswordLen20 || m.KG.Len() > maxKGLen {
				t.Fatalf("module %q exceeds a length limit", name)
			}
		}
		for _, g := range cfg.Targets {
			m, ok := cfg.Module(g.Module)
			if !ok {
				t.Fatalf("target group names missing module %q", g.Module)
			}
			for _, h := range g.Hosts {
				if err := m.TargetAllowed(h); err != nil {
					t.Fatalf("accepted host %q fails TargetAllowed: %v", h, err)
				}
			}
		}
	})
}

// FuzzParseTarget checks that ParseTarget never panics, that what it
// accepts it returns consistently, and that TargetAllowed agrees with it.
func FuzzParseTarget(f *testing.F) {
	for _, seed := range []string{
		"10.0.0.1", "10.0.0.1:623", "bmc-1.example.com", "[::1]:6230", "::1", "fe80::1%eth0",
		"[fe80::1%eth0]:1", "bmc:65536", "[::1", "", ".", "a..b", strings.Repeat("a", 254),
	} {
		f.Add(seed)
	}
	m := moduleAllowing(f, "10.0.0.0/8", "2001:db8::/32", "bmc-*.example.com")
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := ParseTarget(s)
		allowedErr := m.TargetAllowed(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTarget) {
				t.Fatalf("error %v does not wrap ErrInvalidTarget", err)
			}
			if !errors.Is(allowedErr, ErrInvalidTarget) {
				t.Fatalf("TargetAllowed(%q) = %v for an invalid target", s, allowedErr)
			}
			if host != "" || port != 0 {
				t.Fatal("values returned with an error")
			}
			return
		}
		if host == "" || port == 0 {
			t.Fatalf("ParseTarget(%q) = %q, %d", s, host, port)
		}
		if len(strings.TrimSuffix(host, ".")) > maxHostnameLen {
			t.Fatalf("over-long host %q accepted", host)
		}
		var notAllowed *TargetNotAllowedError
		if allowedErr != nil && !errors.As(allowedErr, &notAllowed) {
			t.Fatalf("TargetAllowed(%q) = %v for a valid target", s, allowedErr)
		}
		// host (bracketed if IPv6) with the port parses back the same.
		again := host
		if strings.Contains(host, ":") {
			again = "[" + host + "]"
		}
		h2, p2, err := ParseTarget(again + ":" + strconv.Itoa(int(port)))
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("round trip of %q: %q %d %v", s, h2, p2, err)
		}
	})
}
