package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// keySamples sets each documented module key to a value other than its
// default. TestEveryKeyIsRead fails for a key without a sample, so a new
// key cannot be added without showing that something reads it.
var keySamples = map[string]string{
	"user":               "user: someone",
	"pass":               "pass: pw",
	"pass_file":          "pass_file: /secrets/pw",
	"privilege":          "privilege: operator",
	"driver":             "driver: LAN",
	"cipher_suite":       "cipher_suite: 17",
	"kg":                 "kg: key",
	"kg_file":            "kg_file: /secrets/kg",
	"timeout":            "timeout: 1234",
	"collectors":         "collectors: [lan]",
	"exclude_sensor_ids": "exclude_sensor_ids: [7]",
	"allowed_targets":    "allowed_targets: [192.0.2.0/24]",
	"max_sessions":       "max_sessions: 2",
	"window":             "window: 2",
	"max_window":         "max_window: 4",
	"idle_timeout":       "idle_timeout: 1m",
	"sdr_read_size":      "sdr_read_size: 16",
	"sdr_cache_dir":      "sdr_cache_dir: /var/cache/ipmi_fleet_exporter",
	"name_only_lookup":   "name_only_lookup: true",
	"auth_type":          "auth_type: md5\n    driver: LAN",
	"workaround_flags":   "workaround_flags: [intel20]",
	"sel_events":         "sel_events: [{name: a, regex: b}]",
	"credentials_file":   "credentials_file: /secrets/creds.yml",
	"device":             "driver: OPENIPMI\n    device: /dev/ipmi1",
}

// Every key a module documents changes the module it loads into: the key
// is read by something.
func TestEveryKeyIsRead(t *testing.T) {
	files := map[string]string{"/secrets/pw": "pw\n", "/secrets/kg": "kg\n",
		"/secrets/creds.yml": "- {targets: [10.0.0.1], user: u, pass: p}\n"}
	base, _, err := parseWith(t, oneModule(""), files)
	if err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf("%#v", *base.Modules["m"])
	for _, key := range moduleKeys {
		sample, ok := keySamples[key]
		if !ok {
			t.Errorf("key %s has no sample in keySamples", key)
			continue
		}
		text := "modules:\n  m:\n    " + sample + "\n"
		if key != "allowed_targets" {
			text = oneModule("    " + sample + "\n")
		}
		cfg, _, err := parseWith(t, text, files)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		m := *cfg.Modules["m"]
		got := fmt.Sprintf("%#v", m)
		if got == def && m.Password.Equal(base.Modules["m"].Password) && m.KG.Equal(base.Modules["m"].KG) {
			t.Errorf("%q loads into the same module as the defaults: nothing reads %s", sample, key)
		}
	}
}

// deprecatedKeysWarn: a key accepted only to be ignored loads with a
// warning.
func TestDeprecatedKeysWarn(t *testing.T) {
	for key := range deprecatedKeys {
		_, warnings, err := parseWith(t, oneModule("    "+key+": 3\n"), nil)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if len(warnings) != 1 || warnings[0].Line != 4 || !strings.Contains(warnings[0].Msg, key) {
			t.Errorf("%s: warnings %v", key, warnings)
		}
	}
}

// Every key set in config.example.yml round-trips: the loaded config,
// marshaled and loaded again, is the same (secrets aside, which marshal
// as "<secret>"), and the dump writes each key the example sets.
func TestExampleRoundTrips(t *testing.T) {
	data := mustRead(t, "../config.example.yml")
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(path, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := parseWith(t, string(dump), nil)
	if err != nil {
		t.Fatalf("dump does not load: %v\n%s", err, dump)
	}
	if len(again.Modules) != len(cfg.Modules) || !reflect.DeepEqual(again.Targets, cfg.Targets) {
		t.Fatalf("round trip changed modules or targets:\n%s", dump)
	}
	for name, m := range cfg.Modules {
		a, b := *m, *again.Modules[name]
		if !b.Password.IsZero() && b.Password.Reveal() != secretPlaceholder || !b.KG.IsZero() && b.KG.Reveal() != secretPlaceholder {
			t.Errorf("module %s: a secret came back as something else than the placeholder", name)
		}
		a.Password, a.KG, b.Password, b.KG = Secret{}, Secret{}, Secret{}, Secret{}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("module %s changed in the round trip:\n%+v\n%+v", name, a, b)
		}
	}
	written := moduleKeysIn(t, dump)
	for key := range moduleKeysIn(t, data) {
		if !written[key] {
			t.Errorf("the dump does not write %s", key)
		}
	}
}

// moduleKeysIn returns the keys the modules of a config file set.
func moduleKeysIn(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	var doc struct {
		Modules map[string]map[string]yaml.Node `yaml:"modules"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range doc.Modules {
		for k := range m {
			keys[k] = true
		}
	}
	return keys
}

// readmeKey is a key in the README's configuration example.
var readmeKey = regexp.MustCompile(`(?m)^\s*-?\s*([a-z_]+):`)

// The README's configuration example uses only keys that exist.
func TestREADMEConfigKeysExist(t *testing.T) {
	readme := string(mustRead(t, "../README.md"))
	_, section, ok := strings.Cut(readme, "\n## Configuration\n")
	if !ok {
		t.Fatal(`README.md has no "## Configuration" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("no yaml block in the README's Configuration section")
	}
	block, _, _ = strings.Cut(block, "```")
	known := map[string]bool{}
	for _, typ := range []reflect.Type{reflect.TypeFor[fileConfig](), reflect.TypeFor[fileModule](), reflect.TypeFor[fileTarget]()} {
		for k := range yamlKeys(typ) {
			known[k] = true
		}
	}
	var found []string
	for _, m := range readmeKey.FindAllStringSubmatch(block, -1) {
		key := m[1]
		found = append(found, key)
		if !known[key] && key != "default" && key != "rack" {
			t.Errorf("README.md configuration example uses %s, which is not a config key", key)
		}
		if deprecatedKeys[key] {
			t.Errorf("README.md configuration example uses the deprecated key %s", key)
		}
	}
	sort.Strings(found)
	if len(found) < 5 {
		t.Errorf("found only keys %v in the README's configuration example", found)
	}
}
