package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"gopkg.in/yaml.v3"
)

const (
	inlinePassword = "pw-Inline-9f3a"
	filePassword   = "pw-FromFile-77c1"
	inlineKG       = "kg-Inline-5e2b"
)

func secretConfig(t *testing.T) *Config {
	t.Helper()
	text := `modules:
  inline:
    user: alice
    pass: ` + inlinePassword + `
    kg: ` + inlineKG + `
    allowed_targets: [10.0.0.0/8]
  fromfile:
    user: bob
    pass_file: /run/secrets/pw
    kg_file: /run/secrets/kg
    allowed_targets: [10.0.0.0/8]
targets:
  - module: inline
    hosts: [10.0.0.1]
`
	cfg, _, err := parseWith(t, text, map[string]string{
		"/run/secrets/pw": filePassword + "\n",
		"/run/secrets/kg": "0x" + fmt.Sprintf("%x", "kg-FromFile-0d4e") + "\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Modules["inline"].Password.Reveal() != inlinePassword || cfg.Modules["fromfile"].Password.Reveal() != filePassword {
		t.Fatal("secrets not loaded")
	}
	return cfg
}

var secretValues = []string{inlinePassword, filePassword, inlineKG, "kg-FromFile-0d4e",
	fmt.Sprintf("%x", inlinePassword), fmt.Sprintf("%x", filePassword)}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range secretValues {
		if strings.Contains(out, s) {
			t.Errorf("%s reveals %q:\n%s", what, s, out)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg := secretConfig(t)
	inline, fromFile := cfg.Modules["inline"], cfg.Modules["fromfile"]
	values := map[string]any{
		"config":        cfg,
		"*config":       *cfg,
		"modules map":   cfg.Modules,
		"module ptr":    inline,
		"module value":  *inline,
		"file module":   *fromFile,
		"secret":        inline.Password,
		"secret ptr":    &inline.Password,
		"kg":            inline.KG,
		"slice":         []Secret{inline.Password, fromFile.Password},
		"anon struct":   struct{ S Secret }{inline.Password},
		"unexported in": struct{ s Secret }{inline.Password},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			assertNoSecret(t, name+" "+verb, fmt.Sprintf(verb, v))
		}
	}
	if got := fmt.Sprint(inline.Password); got != "<secret>" {
		t.Errorf("Sprint(secret) = %q", got)
	}
	if got := fmt.Sprintf("%q", inline.Password); got != `"<secret>"` {
		t.Errorf("%%q of secret = %s", got)
	}

	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "yaml.Marshal", string(out))
	if !strings.Contains(string(out), "pass: <secret>") || !strings.Contains(string(out), "pass_file: /run/secrets/pw") {
		t.Errorf("yaml dump lacks placeholders:\n%s", out)
	}

	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "json.Marshal", string(js))

	var buf bytes.Buffer
	logger := log.NewLogfmtLogger(&buf)
	_ = logger.Log("module", inline, "pass", inline.Password, "cfg", cfg)
	assertNoSecret(t, "go-kit log", buf.String())
}

func TestYAMLDumpRoundTrips(t *testing.T) {
	// A dump of a config without inline secrets loads back to the same
	// settings, so the dump is a faithful view of the effective config.
	text := oneModule("    user: u\n    privilege: operator\n    driver: LAN\n    timeout: 1500\n    collectors: [sel]\n    exclude_sensor_ids: [4]\n    max_sessions: 2\n    window: 3\n    idle_timeout: 1m30s\n    sdr_read_size: 16\n    name_only_lookup: true\n")
	cfg, _, err := parseWith(t, text, nil)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, warnings, err := parseWith(t, string(dump), nil)
	if err != nil {
		t.Fatalf("dump does not load: %v\n%s", err, dump)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	a, b := cfg.Modules["m"], again.Modules["m"]
	if fmt.Sprintf("%+v", *a) != fmt.Sprintf("%+v", *b) {
		t.Errorf("round trip changed the module:\n%+v\n%+v", *a, *b)
	}
}

func TestErrorsDoNotRevealSecrets(t *testing.T) {
	long := "pw-TooLong-" + strings.Repeat("z", 20)
	tests := []string{
		oneModule("    pass: " + long + "\n"),
		oneModule("    kg: " + long + "\n"),
		oneModule("    kg: 0x" + fmt.Sprintf("%x", long) + "\n"),
		oneModule("    driver: LAN\n    kg: " + inlineKG + "\n"),
		oneModule("    pass: [" + long + "]\n"),
	}
	for _, text := range tests {
		_, warnings, err := parseWith(t, text, nil)
		if err == nil {
			t.Errorf("no error for %q", text)
			continue
		}
		for _, s := range []string{long, inlineKG, fmt.Sprintf("%x", long)} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error reveals the secret: %v", err)
			}
			for _, w := range warnings {
				if strings.Contains(w.String(), s) {
					t.Errorf("warning reveals the secret: %v", w)
				}
			}
		}
	}
}

func TestSecretMethods(t *testing.T) {
	var zero Secret
	if !zero.IsZero() || zero.Reveal() != "" || zero.Len() != 0 || len(zero.Bytes()) != 0 {
		t.Error("zero secret not empty")
	}
	if !NewSecret("").IsZero() {
		t.Error("NewSecret(\"\") not zero")
	}
	s := NewSecret("abc")
	if s.String() != "<secret>" || s.GoString() != "<secret>" {
		t.Error("String/GoString reveal the value")
	}
	b := s.Bytes()
	b[0] = 'X'
	if s.Reveal() != "abc" {
		t.Error("Bytes shares memory with the secret")
	}
	if !s.Equal(NewSecret("abc")) || s.Equal(NewSecret("abd")) || s.Equal(zero) || !zero.Equal(NewSecret("")) {
		t.Error("Equal wrong")
	}
}
