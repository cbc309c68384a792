package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

const testFile = "ipmi_fleet_exporter.yml"

// fakeFiles serves pass_file/kg_file content from a map keyed by the path
// the parser asks for (relative paths are joined to ".").
func fakeFiles(files map[string]string) readFileFunc {
	return func(path string) ([]byte, error) {
		if s, ok := files[path]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
}

func parseWith(t *testing.T, text string, files map[string]string) (*Config, []Warning, error) {
	t.Helper()
	return parse([]byte(text), testFile, testCatalog, fakeFiles(files))
}

// oneModule wraps module settings (indented by four spaces) in a file with
// a single module "m" that has allowed_targets, so no warning is expected
// unless the settings cause one.
func oneModule(settings string) string {
	return "modules:\n  m:\n    allowed_targets: [10.0.0.0/8]\n" + settings
}

func TestModuleKeys(t *testing.T) {
	files := map[string]string{
		"/secrets/pw":      "from-file\n",
		"pw.txt":           "relative\r\n",
		"/secrets/kg.hex":  "0x0102\n",
		"/secrets/kg.text": "plainkey\n",
	}
	tests := []struct {
		name     string
		settings string
		check    func(*Module) bool
	}{
		{"defaults", "", func(m *Module) bool {
			return m.User == "" && m.Password.IsZero() && m.Privilege == wire.PrivilegeUser &&
				m.Driver == DriverLAN20 && m.CipherSuite == CipherSuiteAuto && m.KG.IsZero() &&
				m.Timeout == 10*time.Second && reflect.DeepEqual(m.Collectors, testCatalog.Defaults()) &&
				len(m.ExcludeSensorIDs) == 0 && m.MaxSessions == 1 && m.Window == WindowAuto && m.MaxWindow == 8 &&
				m.IdleTimeout == 5*time.Minute && m.SDRReadSize == 0 &&
				m.Lookup == LookupAuto && len(m.WorkaroundFlags) == 0 && m.Name == "m"
		}},
		{"user", "    user: admin\n", func(m *Module) bool { return m.User == "admin" }},
		{"numeric user stays text", "    user: 0123\n", func(m *Module) bool { return m.User == "0123" }},
		{"pass", "    pass: hunter2\n", func(m *Module) bool { return m.Password.Reveal() == "hunter2" && m.PasswordFile == "" }},
		{"empty pass", "    pass: \"\"\n", func(m *Module) bool { return m.Password.IsZero() }},
		{"pass_file absolute", "    pass_file: /secrets/pw\n", func(m *Module) bool {
			return m.Password.Reveal() == "from-file" && m.PasswordFile == "/secrets/pw"
		}},
		{"pass_file relative, CRLF trimmed", "    pass_file: pw.txt\n", func(m *Module) bool { return m.Password.Reveal() == "relative" }},
		{"privilege user", "    privilege: user\n", func(m *Module) bool { return m.Privilege == wire.PrivilegeUser }},
		{"privilege operator", "    privilege: OPERATOR\n", func(m *Module) bool { return m.Privilege == wire.PrivilegeOperator }},
		{"privilege admin", "    privilege: admin\n", func(m *Module) bool { return m.Privilege == wire.PrivilegeAdmin }},
		{"privilege administrator", "    privilege: administrator\n", func(m *Module) bool { return m.Privilege == wire.PrivilegeAdmin }},
		{"driver LAN_2_0", "    driver: LAN_2_0\n", func(m *Module) bool { return m.Driver == DriverLAN20 }},
		{"driver lanplus", "    driver: lanplus\n", func(m *Module) bool { return m.Driver == DriverLAN20 }},
		{"driver LAN", "    driver: LAN\n", func(m *Module) bool { return m.Driver == DriverLAN }},
		{"cipher_suite auto", "    cipher_suite: auto\n", func(m *Module) bool { return m.CipherSuite == CipherSuiteAuto }},
		{"cipher_suite 3", "    cipher_suite: 3\n", func(m *Module) bool { return m.CipherSuite == 3 }},
		{"cipher_suite 17", "    cipher_suite: 17\n", func(m *Module) bool { return m.CipherSuite == 17 }},
		{"kg hex", "    kg: 0x0102ff\n", func(m *Module) bool { return m.KG.Reveal() == "\x01\x02\xff" && m.KGFile == "" }},
		{"kg text", "    kg: mybmckey\n", func(m *Module) bool { return m.KG.Reveal() == "mybmckey" }},
		{"kg 20 bytes hex", "    kg: 0x" + strings.Repeat("ab", 20) + "\n", func(m *Module) bool { return m.KG.Len() == 20 }},
		{"kg_file hex", "    kg_file: /secrets/kg.hex\n", func(m *Module) bool {
			return m.KG.Reveal() == "\x01\x02" && m.KGFile == "/secrets/kg.hex"
		}},
		{"kg_file text", "    kg_file: /secrets/kg.text\n", func(m *Module) bool { return m.KG.Reveal() == "plainkey" }},
		{"timeout", "    timeout: 2500\n", func(m *Module) bool { return m.Timeout == 2500*time.Millisecond }},
		{"timeout 0 is default", "    timeout: 0\n", func(m *Module) bool { return m.Timeout == DefaultTimeout }},
		{"collectors", "    collectors: [sel, lan]\n", func(m *Module) bool {
			return reflect.DeepEqual(m.Collectors, []Collector{CollectorSEL, CollectorLAN}) &&
				m.HasCollector(CollectorLAN) && !m.HasCollector(CollectorIPMI)
		}},
		{"collectors null keeps default", "    collectors:\n", func(m *Module) bool { return reflect.DeepEqual(m.Collectors, testCatalog.Defaults()) }},
		{"exclude_sensor_ids", "    exclude_sensor_ids: [2, 0x1d, 65535]\n", func(m *Module) bool {
			return reflect.DeepEqual(m.ExcludeSensorIDs, []uint16{2, 29, 65535}) && m.ExcludesSensor(29) && !m.ExcludesSensor(3)
		}},
		{"max_sessions", "    max_sessions: 3\n", func(m *Module) bool { return m.MaxSessions == 3 }},
		{"window", "    window: 63\n", func(m *Module) bool { return m.Window == 63 }},
		{"window auto", "    window: auto\n", func(m *Module) bool { return m.Window == WindowAuto }},
		{"max_window", "    max_window: 16\n", func(m *Module) bool { return m.MaxWindow == 16 }},
		{"idle_timeout", "    idle_timeout: 90s\n", func(m *Module) bool { return m.IdleTimeout == 90*time.Second }},
		{"idle_timeout 0", "    idle_timeout: 0s\n", func(m *Module) bool { return m.IdleTimeout == 0 }},
		{"sdr_read_size", "    sdr_read_size: 32\n", func(m *Module) bool { return m.SDRReadSize == 32 }},
		{"name_only_lookup true", "    name_only_lookup: true\n", func(m *Module) bool { return m.Lookup == LookupNameOnly }},
		{"name_only_lookup false", "    name_only_lookup: false\n", func(m *Module) bool { return m.Lookup == LookupNamePrivilege }},
		{"name_only_lookup auto", "    name_only_lookup: auto\n", func(m *Module) bool { return m.Lookup == LookupAuto }},
		{"workaround_flags", "    workaround_flags: [opensesspriv, Intel20]\n", func(m *Module) bool {
			return reflect.DeepEqual(m.WorkaroundFlags, []WorkaroundFlag{"opensesspriv", "intel20"}) && m.HasWorkaround("intel20") && !m.HasWorkaround("sun20")
		}},
		{"auth_type", "    driver: LAN\n    auth_type: MD5\n", func(m *Module) bool { return m.AuthType == AuthTypeMD5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := parseWith(t, oneModule(tt.settings), files)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(warnings) != 0 {
				t.Errorf("unexpected warnings: %v", warnings)
			}
			m, ok := cfg.Module("m")
			if !ok {
				t.Fatal("module m missing")
			}
			if !tt.check(m) {
				t.Errorf("unexpected module: %+v", m)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	files := map[string]string{
		"/secrets/pw":    "pw\n",
		"/secrets/empty": "\n\n",
		"/secrets/long":  strings.Repeat("x", 21),
		"/secrets/badkg": "0xzz",
	}
	tests := []struct {
		name string
		text string
		want string // full "file:line: message" or a prefix of it
	}{
		{"syntax error", "modules:\n  m:\n    user: [\n", testFile + ":3: did not find expected node content"},
		{"tab indentation", "modules:\n\tm: {}\n", testFile + ":2: found character that cannot start any token"},
		{"empty file", "", testFile + ": no modules defined"},
		{"comment only", "# nothing\n", testFile + ": no modules defined"},
		{"top level list", "- a\n", testFile + ":1: the top level must be a mapping"},
		{"second document", "modules: {m: {}}\n---\nmodules: {}\n", testFile + ":2: a config file holds one YAML document"},
		{"unknown top-level key", "modules: {m: {}}\nmodule: {}\n", testFile + ":2: unknown key \"module\" at the top level (did you mean \"modules\"?)"},
		{"no modules key", "targets: []\n", testFile + ":1: no modules defined"},
		{"null modules", "modules:\n", testFile + ":1: no modules defined"},
		{"modules is a list", "modules: [a]\n", testFile + ":1: modules must be a mapping"},
		{"module is a list", "modules:\n  m: [a]\n", testFile + ":2: module \"m\": expected a mapping"},
		{"module name with space", "modules:\n  \"a b\": {}\n", testFile + ":2: module name \"a b\": contains ' '"},
		{"duplicate module", "modules:\n  m: {}\n  m: {}\n", testFile + ":3: mapping key \"m\" already defined at line 2"},
		{"unknown module key", oneModule("    user: a\n    passwd: b\n"), testFile + ":5: unknown key \"passwd\" in module \"m\" (did you mean \"pass\"?)"},
		{"user too long", oneModule("    user: " + strings.Repeat("u", 17) + "\n"), testFile + ":4: module \"m\": user is 17 bytes long"},
		{"user is a list", oneModule("    user: [a]\n"), testFile + ":4: module \"m\": user: expected a single value, got a list"},
		{"pass and pass_file", oneModule("    pass: a\n    pass_file: /secrets/pw\n"), testFile + ":5: module \"m\": set pass or pass_file, not both"},
		{"pass_file missing", oneModule("    pass_file: /secrets/nope\n"), testFile + ":4: module \"m\": pass_file: open /secrets/nope: file does not exist"},
		{"pass_file empty path", oneModule("    pass_file: \"\"\n"), testFile + ":4: module \"m\": pass_file: empty path"},
		{"pass_file empty content", oneModule("    pass_file: /secrets/empty\n"), testFile + ":4: module \"m\": pass_file: /secrets/empty is empty"},
		{"pass too long for LAN_2_0", oneModule("    pass: " + strings.Repeat("p", 21) + "\n"), testFile + ":4: module \"m\": the password is 21 bytes long; LAN_2_0 allows at most 20"},
		{"pass_file too long", oneModule("    pass_file: /secrets/long\n"), testFile + ":4: module \"m\": the password is 21 bytes long"},
		{"pass too long for LAN", oneModule("    driver: LAN\n    pass: " + strings.Repeat("p", 17) + "\n"), testFile + ":5: module \"m\": the password is 17 bytes long; LAN allows at most 16"},
		{"privilege unknown", oneModule("    privilege: root\n"), testFile + ":4: module \"m\": privilege: unknown privilege level \"root\""},
		{"privilege callback", oneModule("    privilege: callback\n"), testFile + ":4: module \"m\": privilege: callback privilege cannot read sensors"},
		{"driver unknown", oneModule("    driver: serial\n"), testFile + ":4: module \"m\": driver: unknown driver \"serial\""},
		{"driver in-band", oneModule("    driver: KCS\n"), testFile + ":4: module \"m\": driver: in-band driver KCS is not supported"},
		{"cipher_suite unsupported", oneModule("    cipher_suite: 4\n"), testFile + ":4: module \"m\": cipher_suite: \"4\" is not auto or a supported cipher suite"},
		{"cipher_suite text", oneModule("    cipher_suite: best\n"), testFile + ":4: module \"m\": cipher_suite: \"best\" is not auto"},
		{"cipher_suite with LAN", oneModule("    driver: LAN\n    cipher_suite: 3\n"), testFile + ":5: module \"m\": cipher_suite applies only to driver LAN_2_0"},
		{"kg with LAN", oneModule("    kg: abc\n    driver: LAN\n"), testFile + ":5: module \"m\": kg applies only to driver LAN_2_0"},
		{"auth_type with LAN_2_0", oneModule("    auth_type: md5\n"), testFile + ":4: module \"m\": auth_type applies only to driver LAN"},
		{"unknown auth_type", oneModule("    driver: LAN\n    auth_type: md2\n"), testFile + ":5: module \"m\": auth_type: unknown IPMI v1.5 auth type"},
		{"kg and kg_file", oneModule("    kg_file: /secrets/pw\n    kg: abc\n"), testFile + ":5: module \"m\": set kg or kg_file, not both"},
		{"kg too long", oneModule("    kg: " + strings.Repeat("k", 21) + "\n"), testFile + ":4: module \"m\": kg: key is 21 bytes long"},
		{"kg hex too long", oneModule("    kg: 0x" + strings.Repeat("ab", 21) + "\n"), testFile + ":4: module \"m\": kg: hex key has 42 digits"},
		{"kg bad hex", oneModule("    kg: 0x123\n"), testFile + ":4: module \"m\": kg: a key starting with 0x must be followed by an even number of hex digits"},
		{"kg empty hex", oneModule("    kg: 0x\n"), testFile + ":4: module \"m\": kg: a key starting with 0x"},
		{"kg empty", oneModule("    kg: \"\"\n"), testFile + ":4: module \"m\": kg: empty key"},
		{"kg_file bad content", oneModule("    kg_file: /secrets/badkg\n"), testFile + ":4: module \"m\": kg_file \"/secrets/badkg\": a key starting with 0x"},
		{"kg_file missing", oneModule("    kg_file: /secrets/nope\n"), testFile + ":4: module \"m\": kg_file: open /secrets/nope"},
		{"timeout duration text", oneModule("    timeout: 10s\n"), testFile + ":4: module \"m\": timeout (milliseconds): expected an integer, got \"10s\""},
		{"timeout negative", oneModule("    timeout: -1\n"), testFile + ":4: module \"m\": timeout (milliseconds): -1 is out of range 0-3600000"},
		{"timeout float", oneModule("    timeout: 1.5\n"), testFile + ":4: module \"m\": timeout (milliseconds): expected an integer, got \"1.5\""},
		{"collector unknown", oneModule("    collectors:\n      - ipmi\n      - ipmii\n"), testFile + ":6: module \"m\": collectors: unknown collector \"ipmii\""},
		{"collector twice", oneModule("    collectors: [ipmi, ipmi]\n"), testFile + ":4: module \"m\": collectors: ipmi is listed twice"},
		{"collectors not a list", oneModule("    collectors: ipmi\n"), testFile + ":4: module \"m\": collectors: expected a list"},
		{"collector is a mapping", oneModule("    collectors:\n      - {a: b}\n"), testFile + ":5: module \"m\": collectors item: expected a single value, got a mapping"},
		{"exclude id too big", oneModule("    exclude_sensor_ids: [1, 65536]\n"), testFile + ":4: module \"m\": exclude_sensor_ids item: 65536 is out of range 0-65535"},
		{"exclude id text", oneModule("    exclude_sensor_ids:\n      - fan\n"), testFile + ":5: module \"m\": exclude_sensor_ids item: expected an integer, got \"fan\""},
		{"allowed_targets empty", "modules:\n  m:\n    allowed_targets: []\n", testFile + ":3: module \"m\": allowed_targets is empty"},
		{"allowed_targets bad CIDR", "modules:\n  m:\n    allowed_targets:\n      - 10.0.0.0/33\n", testFile + ":4: module \"m\": allowed_targets: \"10.0.0.0/33\" is not a CIDR"},
		{"allowed_targets with port", "modules:\n  m:\n    allowed_targets: [\"bmc1:623\"]\n", testFile + ":3: module \"m\": allowed_targets: \"bmc1:623\": allowed_targets match hosts, not ports"},
		{"allowed_targets v6 with port", "modules:\n  m:\n    allowed_targets: [\"[::1]:623\"]\n", testFile + ":3: module \"m\": allowed_targets: \"[::1]:623\": allowed_targets match hosts, not ports"},
		{"allowed_targets IPv4 wildcard", "modules:\n  m:\n    allowed_targets: [\"10.0.*.*\"]\n", testFile + ":3: module \"m\": allowed_targets: \"10.0.*.*\" looks like an IPv4 wildcard"},
		{"allowed_targets bad glob", "modules:\n  m:\n    allowed_targets: [\"bmc_*.exa mple.com\"]\n", testFile + ":3: module \"m\": allowed_targets: \"bmc_*.exa mple.com\" is not a CIDR, IP address or host glob"},
		{"allowed_targets zone", "modules:\n  m:\n    allowed_targets: [\"fe80::1%eth0\"]\n", testFile + ":3: module \"m\": allowed_targets: \"fe80::1%eth0\": drop the IPv6 zone"},
		{"max_sessions 0", oneModule("    max_sessions: 0\n"), testFile + ":4: module \"m\": max_sessions: 0 is out of range 1-64"},
		{"window 64", oneModule("    window: 64\n"), testFile + ":4: module \"m\": window: 64 is out of range 1-63"},
		{"idle_timeout bare number", oneModule("    idle_timeout: 300\n"), testFile + ":4: module \"m\": idle_timeout: want a duration such as 5m"},
		{"idle_timeout negative", oneModule("    idle_timeout: -1m\n"), testFile + ":4: module \"m\": idle_timeout: want a duration"},
		{"sdr_read_size 256", oneModule("    sdr_read_size: 256\n"), testFile + ":4: module \"m\": sdr_read_size: 256 is out of range 0-255"},
		{"misspelt key", "modules:\n  default:\n    colectors: [ipmi]\n", testFile + ":3: unknown key \"colectors\" in module \"default\" (did you mean \"collectors\"?)"},
		{"unrelated key", oneModule("    frobnicate: 1\n"), testFile + ":4: unknown key \"frobnicate\" in module \"m\""},
		{"name_only_lookup text", oneModule("    name_only_lookup: maybe\n"), testFile + ":4: module \"m\": name_only_lookup: expected auto, true or false, got \"maybe\""},
		{"merge of a scalar", oneModule("    <<: 3\n"), testFile + ":4: a merge key (<<) takes a mapping or a list of mappings"},
		{"non-string key", "modules:\n  m:\n    [a]: b\n", testFile + ":3: mapping keys must be strings"},
		{"targets not a list", "modules: {m: {}}\ntargets: {}\n", testFile + ":2: targets: expected a list"},
		{"target group not a mapping", "modules: {m: {}}\ntargets: [a]\n", testFile + ":2: targets[0]: expected a mapping"},
		{"target group unknown key", "modules: {default: {}}\ntargets:\n  - hosts: [a]\n    host: b\n", testFile + ":4: unknown key \"host\" in targets[0] (did you mean \"hosts\"?)"},
		{"target group unknown module", "modules: {m: {}}\ntargets:\n  - module: x\n    hosts: [a]\n", testFile + ":3: targets[0]: module \"x\" is not defined"},
		{"target group default module missing", "modules: {m: {}}\ntargets:\n  - hosts: [a]\n", testFile + ":3: targets[0]: module \"default\" is not defined"},
		{"target group without hosts", "modules: {m: {}}\ntargets:\n  - module: m\n", testFile + ":3: targets[0]: hosts is missing"},
		{"target group empty hosts", "modules: {m: {}}\ntargets:\n  - module: m\n    hosts: []\n", testFile + ":4: targets[0]: hosts is empty"},
		{"target bad port", "modules: {m: {}}\ntargets:\n  - module: m\n    hosts:\n      - ok.example.com\n      - bmc:0\n", testFile + ":6: targets[0]: invalid target \"bmc:0\": port 0 out of range 1-65535"},
		{"target bad host", "modules: {m: {}}\ntargets:\n  - module: m\n    hosts: [\"bad host\"]\n", testFile + ":4: targets[0]: invalid target \"bad host\": invalid character ' ' in host name"},
		{"target not allowed", "modules:\n  m:\n    allowed_targets: [10.0.0.0/8]\ntargets:\n  - module: m\n    hosts: [192.0.2.1]\n", testFile + ":6: targets[0]: target \"192.0.2.1\" is not in allowed_targets of module \"m\""},
		{"label bad name", "modules: {m: {}}\ntargets:\n  - module: m\n    labels: {\"a-b\": c}\n    hosts: [h1]\n", testFile + ":4: targets[0]: labels: \"a-b\" is not a valid label name"},
		{"label reserved", "modules: {m: {}}\ntargets:\n  - module: m\n    labels:\n      __address__: x\n    hosts: [h1]\n", testFile + ":5: targets[0]: labels: label names starting with __ are reserved"},
		{"labels a list", "modules: {m: {}}\ntargets:\n  - module: m\n    labels: [a]\n    hosts: [h1]\n", testFile + ":4: targets[0]: labels: expected a mapping of label names to values, got a list"},
		{"label value list", "modules: {m: {}}\ntargets:\n  - module: m\n    labels:\n      rack: [a]\n    hosts: [h1]\n", testFile + ":5: targets[0]: labels: rack: expected a single value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseWith(t, tt.text, files)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("config returned along with error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n  %s\nwant prefix:\n  %s", err, tt.want)
			}
			var cfgErr *Error
			if !errors.As(err, &cfgErr) || cfgErr.File != testFile {
				t.Errorf("error %v is not a *config.Error for %s", err, testFile)
			}
		})
	}
}

func TestErrorWrapsCause(t *testing.T) {
	_, _, err := parseWith(t, oneModule("    pass_file: /nope\n"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	_, _, err = parseWith(t, "modules:\n  m:\n    allowed_targets: [x]\ntargets:\n  - module: m\n    hosts: [\"a b\"]\n", nil)
	if !errors.Is(err, ErrInvalidTarget) {
		t.Errorf("error %v does not wrap ErrInvalidTarget", err)
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, _, err := parseWith(t, oneModule("    user: [a]\n    window: 0\n    max_sessions: -1\n"), nil)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 errors, got %d:\n%s", len(lines), err)
	}
	for i, want := range []string{":4:", ":5:", ":6:"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("error %d %q lacks %s", i, lines[i], want)
		}
	}
}

func TestErrorCountCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("modules:\n")
	for i := 0; i < 200; i++ {
		b.WriteString("  m" + strings.Repeat("x", i) + ": {bogus: 1}\n")
	}
	_, _, err := parseWith(t, b.String(), nil)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrorsShown+1 || !strings.Contains(lines[len(lines)-1], "more errors not shown") {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // "line: substring" checks, in order
	}{
		{"no allowed_targets", "modules:\n  m:\n    user: a\n", []string{
			testFile + ":2: module \"m\" has no allowed_targets",
		}},
		{"empty module", "modules:\n  m:\n", []string{
			testFile + ":2: module \"m\" has no settings",
			testFile + ":2: module \"m\" has no allowed_targets",
		}},
		{"FreeIPMI-only keys", oneModule("    workaround_flags: [authcap]\n    collector_cmd: {ipmi: sudo}\n    default_args: {ipmi: [-v]}\n    custom_args: {ipmi: [-v]}\n    sel_events: [{name: a, regex: b}]\n"), []string{
			testFile + ":5: module \"m\": collector_cmd is an ipmi_exporter setting",
			testFile + ":6: module \"m\": default_args is an ipmi_exporter setting",
			testFile + ":7: module \"m\": custom_args is an ipmi_exporter setting",
		}},
		{"unknown workaround flag", oneModule("    workaround_flags: [authcap, frobnicate]\n"), []string{
			testFile + ":4: module \"m\": workaround_flags: unknown workaround flag \"frobnicate\"",
		}},
		{"upstream collectors", oneModule("    collectors: [ipmi, bmc-watchdog, sm-lan-mode, sel-events, bmc-device-id]\n"), []string{
			testFile + ":4: module \"m\": collectors: ipmi_exporter's bmc-device-id collector is not implemented here",
		}},
		{"no collectors left", oneModule("    collectors:\n      - bmc-device-id\n"), []string{
			testFile + ":5: module \"m\": collectors: ipmi_exporter's bmc-device-id collector",
			testFile + ":5: module \"m\": collectors: no collectors to run",
		}},
		{"empty collectors", oneModule("    collectors: []\n"), []string{
			testFile + ":4: module \"m\": collectors: no collectors to run",
		}},
		{"cipher suite 0", oneModule("    cipher_suite: 0\n"), []string{
			testFile + ":4: module \"m\": cipher suite 0 has no authentication",
		}},
		{"many sessions", oneModule("    max_sessions: 5\n"), []string{
			testFile + ":4: module \"m\": max_sessions: 5 sessions per BMC",
		}},
		{"CIDR host bits", "modules:\n  m:\n    allowed_targets: [10.1.2.3/8]\n", []string{
			testFile + ":3: module \"m\": allowed_targets: allowed_targets entry 10.1.2.3/8 has host bits set; it means 10.0.0.0/8",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings, err := parseWith(t, tt.text, nil)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(warnings) != len(tt.want) {
				t.Fatalf("got %d warnings, want %d: %v", len(warnings), len(tt.want), warnings)
			}
			for i, want := range tt.want {
				if got := warnings[i].String(); !strings.HasPrefix(got, want) {
					t.Errorf("warning %d:\n  %s\nwant prefix:\n  %s", i, got, want)
				}
			}
		})
	}
}

func TestMergeKeysAndAliases(t *testing.T) {
	text := `
base: &base
  user: shared
  pass: pw
  allowed_targets: &nets [10.0.0.0/8]
modules:
  a:
    <<: *base
  b:
    <<: *base
    user: override
    collectors: &cols [ipmi]
  c:
    <<: [{user: first}, *base]
    allowed_targets: *nets
    collectors: *cols
`
	// Unknown top-level keys are errors, so anchors cannot live in a
	// separate "base" section.
	_, _, err := parseWith(t, text, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown key "base" at the top level`) {
		t.Fatalf("want unknown field error for base, got %v", err)
	}

	// Anchors defined inside a module work.
	text = `
modules:
  a: &base
    user: shared
    pass: pw
    allowed_targets: &nets [10.0.0.0/8]
  b:
    <<: *base
    user: override
    collectors: &cols [ipmi]
  c:
    <<: [{user: first}, *base]
    allowed_targets: *nets
    collectors: *cols
`
	cfg, warnings, err := parseWith(t, text, nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	a, b, c := cfg.Modules["a"], cfg.Modules["b"], cfg.Modules["c"]
	if a.User != "shared" || b.User != "override" || c.User != "first" {
		t.Errorf("users: %q %q %q", a.User, b.User, c.User)
	}
	if b.Password.Reveal() != "pw" || c.Password.Reveal() != "pw" {
		t.Error("merged password missing")
	}
	if !reflect.DeepEqual(c.Collectors, []Collector{CollectorIPMI}) || !reflect.DeepEqual(c.AllowedTargets, []string{"10.0.0.0/8"}) {
		t.Errorf("aliases not followed: %v %v", c.Collectors, c.AllowedTargets)
	}
	if b.TargetAllowed("10.1.1.1") != nil || b.TargetAllowed("192.0.2.1") == nil {
		t.Error("merged allowed_targets not compiled")
	}
}

func TestMergeBombIsBounded(t *testing.T) {
	// Each level merges the previous one twice: 2^30 entries if expanded
	// naively.
	var b strings.Builder
	b.WriteString("modules:\n  l0: &l0 {user: a}\n")
	for i := 1; i <= 30; i++ {
		prev := "*l" + strconv.Itoa(i-1)
		b.WriteString("  l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " {<<: [" + prev + ", " + prev + "]}\n")
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := parseWith(t, b.String(), nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error for a merge bomb")
		}
		if !strings.Contains(err.Error(), "merge keys (<<) nested more than") && !strings.Contains(err.Error(), "document too complex") {
			t.Errorf("unexpected error: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("parse of a merge bomb did not finish")
	}
}

func TestTargets(t *testing.T) {
	text := `
modules:
  default:
    allowed_targets: [10.0.0.0/8, "bmc-*.example.com", "[::1]"]
  other:
    allowed_targets: [192.0.2.0/24]
targets:
  - labels: {rack: r1, zone: ""}
    hosts: [10.0.0.1, "bmc-a.example.com:6230", "[::1]:623", "::1"]
  - module: other
    hosts: [192.0.2.9]
`
	cfg, warnings, err := parseWith(t, text, nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	want := []TargetGroup{
		{Module: "default", Labels: map[string]string{"rack": "r1", "zone": ""}, Hosts: []string{"10.0.0.1", "bmc-a.example.com:6230", "[::1]:623", "::1"}},
		{Module: "other", Hosts: []string{"192.0.2.9"}},
	}
	if !reflect.DeepEqual(cfg.Targets, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", cfg.Targets, want)
	}
}

func TestConfigModuleLookup(t *testing.T) {
	cfg, _, err := parseWith(t, "modules:\n  default: {allowed_targets: [h]}\n  x: {allowed_targets: [h]}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want string
		ok   bool
	}{{"", "default", true}, {"default", "default", true}, {"x", "x", true}, {"y", "", false}} {
		m, ok := cfg.Module(tt.name)
		if ok != tt.ok || (ok && m.Name != tt.want) {
			t.Errorf("Module(%q) = %v, %v", tt.name, m, ok)
		}
	}
	cfg, _, err = parseWith(t, "modules:\n  x: {allowed_targets: [h]}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Module(""); ok {
		t.Error("Module(\"\") found a module in a config without default")
	}
	var nilCfg *Config
	if _, ok := nilCfg.Module(""); ok {
		t.Error("nil config found a module")
	}
}

func TestUpstreamRemoteConfig(t *testing.T) {
	cfg, warnings, err := Parse(mustRead(t, "testdata/ipmi_remote.yml"), "testdata/ipmi_remote.yml", testCatalog)
	if err != nil {
		t.Fatalf("upstream example does not load: %v", err)
	}
	if len(cfg.Modules) != 5 {
		t.Errorf("got %d modules", len(cfg.Modules))
	}
	def := cfg.Modules["default"]
	if def.User != "default_user" || def.Password.Reveal() != "example_pw" || def.Driver != DriverLAN20 ||
		def.Privilege != wire.PrivilegeUser || def.Timeout != 10*time.Second ||
		!reflect.DeepEqual(def.Collectors, []Collector{CollectorBMC, CollectorIPMI, CollectorChassis}) ||
		!reflect.DeepEqual(def.ExcludeSensorIDs, []uint16{2, 29, 32, 50, 52, 55}) {
		t.Errorf("default module: %+v", def)
	}
	if m := cfg.Modules["dcmi"]; m.Privilege != wire.PrivilegeAdmin || !reflect.DeepEqual(m.Collectors, []Collector{CollectorDCMI}) {
		t.Errorf("dcmi module: %+v", m)
	}
	if m := cfg.Modules["thatspecialhost"]; m.Driver != DriverLAN || !reflect.DeepEqual(m.Collectors, []Collector{CollectorIPMI, CollectorSEL}) {
		t.Errorf("thatspecialhost module: %+v", m)
	}
	if m := cfg.Modules["newer"]; m.Privilege != wire.PrivilegeOperator ||
		!reflect.DeepEqual(m.Collectors, []Collector{CollectorBMC, "bmc-watchdog", CollectorIPMI, CollectorChassis, CollectorDCMI,
			CollectorSEL, "sel-events", "sm-lan-mode"}) ||
		len(m.SELEvents) != 1 || m.SELEvents[0].Name != "correctable_memory_error" ||
		!m.SELEvents[0].Regex.MatchString("Correctable memory error ; Event Data3 = 34h") {
		t.Errorf("newer module: %+v", m)
	}
	var text []string
	for _, w := range warnings {
		text = append(text, w.String())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		"custom_args is an ipmi_exporter setting",
		"collector_cmd is an ipmi_exporter setting",
		"default_args is an ipmi_exporter setting",
		"module \"default\" has no allowed_targets",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning containing %q in:\n%s", want, all)
		}
	}
	if m := cfg.Modules["thatspecialhost"]; !reflect.DeepEqual(m.WorkaroundFlags, []WorkaroundFlag{"discretereading"}) {
		t.Errorf("thatspecialhost workaround_flags: %v", m.WorkaroundFlags)
	}
	// 5 modules without allowed_targets, 2x custom_args, collector_cmd,
	// default_args (sel_events and every collector named are implemented).
	if len(warnings) != 9 {
		t.Errorf("got %d warnings, want 9:\n%s", len(warnings), all)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// moduleKeys are every key a module accepts but those accepted only to be
// ignored (deprecatedKeys); the example config must document each.
var moduleKeys = documentedModuleKeys()

// deprecatedKeys load with a warning and are not documented.
var deprecatedKeys = map[string]bool{"retries": true, "collector_cmd": true, "default_args": true, "custom_args": true}

func documentedModuleKeys() []string {
	var keys []string
	for k := range yamlKeys(reflect.TypeFor[fileModule]()) {
		if !deprecatedKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func TestExampleConfig(t *testing.T) {
	const example = "../config.example.yml"
	data := mustRead(t, example)
	// The checked-out file's mode depends on the umask; a deployed copy
	// would be private, so test one.
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := Load(path, testCatalog)
	if err != nil {
		t.Fatalf("example config does not load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("example config has warnings: %v", warnings)
	}
	def, ok := cfg.Module("")
	if !ok || len(def.AllowedTargets) == 0 {
		t.Error("example default module has no allowed_targets")
	}
	if len(cfg.Targets) == 0 {
		t.Error("example has no targets")
	}
	text := string(data)
	for _, key := range append(moduleKeys, "modules", "targets", "module", "labels", "hosts") {
		if !containsKey(text, key) {
			t.Errorf("config.example.yml does not document %s", key)
		}
	}
}

// containsKey reports whether text has a line "key:" or "# key:" or "- key:".
func containsKey(text, key string) bool {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "#")
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "- ")
		if strings.HasPrefix(line, key+":") {
			return true
		}
	}
	return false
}

func TestLoadPermissionWarning(t *testing.T) {
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "pw")
	if err := os.WriteFile(secretPath, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inline := oneModule("    pass: pw\n")
	inlineKG := oneModule("    kg: key\n")
	fromFile := oneModule("    pass_file: pw\n")
	tests := []struct {
		name string
		text string
		mode os.FileMode
		warn bool
	}{
		{"inline pass 0600", inline, 0o600, false},
		{"inline pass 0640", inline, 0o640, true},
		{"inline pass 0604", inline, 0o604, true},
		{"inline pass 0620 (group write only)", inline, 0o620, false},
		{"inline kg 0644", inlineKG, 0o644, true},
		{"pass_file 0644", fromFile, 0o644, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "config.yml")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, warnings, err := Load(path, testCatalog)
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, w := range warnings {
				if strings.Contains(w.Msg, "lets group or others read the inline pass/kg of module(s) m") {
					got = true
				}
			}
			if got != tt.warn {
				t.Errorf("permission warning = %v, want %v (warnings %v)", got, tt.warn, warnings)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Load(filepath.Join(dir, "missing.yml"), testCatalog)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(path, []byte(oneModule("    pass_file: nope\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Load(path, testCatalog)
	want := path + ":4: module \"m\": pass_file: open " + filepath.Join(dir, "nope")
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want prefix %s", err, want)
	}
}

func TestSecretFileMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := readSecretFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxSecretFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readSecretFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

func TestTargetGroupOfBrokenModuleReportsOnce(t *testing.T) {
	_, _, err := parseWith(t, "modules:\n  m:\n    window: 0\ntargets:\n  - module: m\n    hosts: [h]\n", nil)
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "not defined") || !strings.Contains(err.Error(), ":3: module \"m\": window") {
		t.Errorf("error: %v", err)
	}
}

func TestSELEvents(t *testing.T) {
	cfg, _, err := Parse([]byte(oneModule("    collectors: [sel-events]\n    sel_events:\n      - {name: ecc, regex: 'Correctable ECC.*'}\n      - name: psu\n        regex: Power Supply\n")), "t.yml", testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	ev := cfg.Modules["m"].SELEvents
	if len(ev) != 2 || ev[0].Name != "ecc" || ev[1].Name != "psu" || !ev[0].Regex.MatchString("Correctable ECC") {
		t.Fatalf("sel_events: %+v", ev)
	}
	for _, bad := range []string{
		"    sel_events:\n      - {name: x, regex: '(['}\n",
		"    sel_events:\n      - {name: x}\n",
		"    sel_events:\n      - {regex: x}\n",
		"    sel_events:\n      - {name: x, regex: y, color: red}\n",
		"    sel_events: [x]\n",
	} {
		if _, _, err := Parse([]byte(oneModule(bad)), "t.yml", testCatalog); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
