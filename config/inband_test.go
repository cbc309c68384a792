package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// An in-band module (driver OPENIPMI): the device key, credentials refused,
// network-only keys warned about and dropped, no target groups.
func TestInBandModule(t *testing.T) {
	files := map[string]string{"/secrets/pw": "pw\n", "/secrets/creds.yml": "- {targets: [10.0.0.1], user: u, pass: p}\n"}
	tests := []struct {
		name     string
		text     string
		err      []string // substrings of the error; nil: loads
		warnings []string // substrings, one warning each, in order
		check    func(*Module) bool
	}{
		{name: "defaults", text: "modules:\n  local:\n    driver: OPENIPMI\n",
			check: func(m *Module) bool {
				return m.InBand() && m.Driver == DriverOpenIPMI && m.Device == "" && m.User == "" &&
					len(m.AllowedTargets) == 0 && m.TargetAllowed("local") == nil
			}},
		{name: "lower case and device", text: "modules:\n  local:\n    driver: openipmi\n    device: /dev/ipmi/0/\n",
			check: func(m *Module) bool { return m.InBand() && m.Device == "/dev/ipmi/0" }},
		{name: "collectors and timeout kept", text: "modules:\n  local:\n    driver: OPENIPMI\n    collectors: [ipmi, sel]\n    timeout: 2000\n    window: 2\n",
			check: func(m *Module) bool {
				return len(m.Collectors) == 2 && m.Timeout.Milliseconds() == 2000 && m.Window == 2
			}},
		{name: "device on a LAN module", text: "modules:\n  m:\n    allowed_targets: [10.0.0.0/8]\n    device: /dev/ipmi0\n",
			err: []string{testFile + ":4:", "device applies only to driver OPENIPMI", "driver is LAN_2_0"}},
		{name: "relative device", text: "modules:\n  local:\n    driver: OPENIPMI\n    device: ipmi0\n",
			err: []string{testFile + ":4:", `"ipmi0" is not an absolute path`}},
		{name: "empty device", text: "modules:\n  local:\n    driver: OPENIPMI\n    device: \"\"\n",
			err: []string{testFile + ":4:", "device: empty path"}},
		{name: "password refused", text: "modules:\n  local:\n    driver: OPENIPMI\n    user: admin\n    pass: secret\n",
			err: []string{testFile + ":5:", "pass: driver OPENIPMI reads the local BMC through the kernel and needs no credentials"}},
		{name: "pass_file refused", text: "modules:\n  local:\n    driver: OPENIPMI\n    pass_file: /secrets/pw\n",
			err: []string{testFile + ":4:", "remove pass_file"}},
		{name: "kg refused", text: "modules:\n  local:\n    driver: OPENIPMI\n    kg: key\n",
			err: []string{testFile + ":4:", "remove kg"}},
		{name: "credentials_file refused", text: "modules:\n  local:\n    driver: OPENIPMI\n    credentials_file: /secrets/creds.yml\n",
			err: []string{testFile + ":4:", "remove credentials_file"}},
		{name: "auth_type refused", text: "modules:\n  local:\n    driver: OPENIPMI\n    auth_type: md5\n",
			err: []string{testFile + ":4:", "auth_type applies only to driver LAN"}},
		{name: "network keys ignored",
			text:     "modules:\n  local:\n    driver: OPENIPMI\n    user: admin\n    privilege: admin\n    cipher_suite: 17\n    name_only_lookup: false\n    allowed_targets: [10.0.0.0/8]\n",
			warnings: []string{"user applies to BMCs on the network; ignored for driver OPENIPMI", "privilege", "cipher_suite", "name_only_lookup", "allowed_targets"},
			check: func(m *Module) bool {
				return m.User == "" && m.Privilege == DefaultPrivilege && m.CipherSuite == CipherSuiteAuto &&
					m.Lookup == LookupAuto && m.AllowedTargets == nil && m.TargetAllowed("local") == nil
			}},
		{name: "target group of an in-band module", text: "modules:\n  local:\n    driver: OPENIPMI\ntargets:\n  - module: local\n    hosts: [10.0.0.1]\n",
			err: []string{testFile + ":5:", `module "local" reads the local BMC in band (driver OPENIPMI) and has no targets`, "/ipmi?module=local", "--local.module"}},
		{name: "other in-band drivers", text: "modules:\n  local:\n    driver: KCS\n",
			err: []string{testFile + ":3:", "in-band driver KCS is not supported", "driver OPENIPMI"}},
		{name: "unknown driver", text: "modules:\n  local:\n    driver: serial\n",
			err: []string{"unknown driver \"serial\" (want LAN_2_0, LAN or OPENIPMI)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warnings, err := parseWith(t, tc.text, files)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("loaded; want an error with %q", tc.err)
				}
				for _, want := range tc.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != len(tc.warnings) {
				t.Fatalf("warnings %v, want %d", warnings, len(tc.warnings))
			}
			for i, want := range tc.warnings {
				if !strings.Contains(warnings[i].Msg, want) || warnings[i].Line != 4+i {
					t.Errorf("warning %d: %v, want %q on line %d", i, warnings[i], want, 4+i)
				}
			}
			m := cfg.Modules["local"]
			if m == nil || !tc.check(m) {
				t.Errorf("module %+v", m)
			}
		})
	}
}

// An in-band module dumps (debug=true, the round trip) without the keys
// it does not have, and the dump loads into the same module without a
// warning.
func TestInBandModuleDump(t *testing.T) {
	cfg, _, err := parseWith(t, "modules:\n  local:\n    driver: OPENIPMI\n    device: /dev/ipmi0\n    user: ignored\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"user:", "pass", "privilege:", "cipher_suite:", "name_only_lookup:", "allowed_targets:", "auth_type:", "kg"} {
		if strings.Contains(string(dump), key) {
			t.Errorf("dump of an in-band module has %s:\n%s", key, dump)
		}
	}
	again, warnings, err := parseWith(t, string(dump), nil)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("dump loads with %v, warnings %v:\n%s", err, warnings, dump)
	}
	a, b := cfg.Modules["local"], again.Modules["local"]
	if a.Device != "/dev/ipmi0" || !a.SessionSettings.Equal(b.SessionSettings) || b.Privilege != wire.PrivilegeUser {
		t.Errorf("round trip: %+v\n%+v", a.SessionSettings, b.SessionSettings)
	}
}

// A Store's Require: the current config is checked at once, and a reload
// failing the check keeps the config in force.
func TestStoreRequireInBandModule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yml")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("modules:\n  local:\n    driver: OPENIPMI\n  lan:\n    allowed_targets: [10.0.0.0/8]\n")
	s, _, err := NewStore(path, nil, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"nope": `module "nope" is not defined in ` + path + `; the local module needs one with driver: OPENIPMI`,
		"lan":  `module "lan" has driver LAN_2_0; the local module reads this machine's BMC in band and needs driver: OPENIPMI`,
	} {
		if err := s.Require(func(c *Config) error { _, err := c.InBandModule(name); return err }); err == nil || err.Error() != want {
			t.Errorf("Require %s: %v, want %s", name, err, want)
		}
	}
	if err := s.Require(func(c *Config) error { _, err := c.InBandModule("local"); return err }); err != nil {
		t.Fatal(err)
	}
	write("modules:\n  local:\n    allowed_targets: [10.0.0.0/8]\n")
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), `module "local" has driver LAN_2_0`) {
		t.Errorf("reload to a LAN module local: %v", err)
	}
	if m, _ := s.Current().Module("local"); !m.InBand() {
		t.Error("the failed reload replaced the config")
	}
	write("modules:\n  local:\n    driver: OPENIPMI\n    device: /dev/ipmi1\n")
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Current().Module("local"); m.Device != "/dev/ipmi1" {
		t.Errorf("reload: device %q", m.Device)
	}
}
