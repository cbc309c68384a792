package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"
)

// credModule is a module "m" naming the credentials file creds.yml, with
// the given other settings (indented by four spaces).
func credModule(settings string) string {
	return "modules:\n  m:\n    allowed_targets: [0.0.0.0/0, \"::/0\", \"*.example.com\", \"*.*.example.com\"]\n    credentials_file: creds.yml\n" + settings
}

// The first entry matching a target wins, whether it lists the target
// exactly or by pattern; unmatched targets fall back to the module's own
// user and pass; names match globs and addresses match CIDRs, never the
// other way round.
func TestCredentialsFirstMatchWins(t *testing.T) {
	creds := `
- targets: [bmc-*.rack1.example.com]
  user: rack1
  pass: pw-rack1
- targets: [10.1.0.0/16, "2001:db8::/64"]
  user: net
  pass: pw-net
- targets: [10.1.2.3, BMC-7.rack1.example.com.]
  user: exact
  pass_file: secrets/exact
  kg: 0x0102
- targets: [10.1.2.4, "[2001:db8:1::1]"]
  user: exact4
  pass: pw-exact4
`
	files := map[string]string{"creds.yml": creds, "secrets/exact": "pw-exact\n"}
	cfg, warnings, err := parseWith(t, credModule("    user: fallback\n    pass: pw-fallback\n"), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	m := cfg.Modules["m"]
	for _, tc := range []struct{ host, user, pass, kg string }{
		{"bmc-7.rack1.example.com", "rack1", "pw-rack1", ""}, // entry 1 before entry 3's exact name
		{"10.1.2.3", "net", "pw-net", ""},                    // entry 2's CIDR before entry 3's address
		{"10.2.2.3", "fallback", "pw-fallback", ""},
		{"10.1.2.4", "net", "pw-net", ""},
		{"2001:db8::5", "net", "pw-net", ""},
		{"2001:db8:1::1", "exact4", "pw-exact4", ""},
		{"::ffff:10.1.9.9", "net", "pw-net", ""}, // IPv4-mapped is the IPv4 host
		{"bmc-1.rack2.example.com", "fallback", "pw-fallback", ""},
	} {
		got, err := m.Login(tc.host)
		if err != nil {
			t.Errorf("%s: %v", tc.host, err)
			continue
		}
		if got.User != tc.user || got.Password.Reveal() != tc.pass || got.KG.Reveal() != tc.kg {
			t.Errorf("%s: logs in as %q, want %q with its password and key", tc.host, got.User, tc.user)
		}
		if got.Name != "m" || got.Timeout != m.Timeout || !got.HasCollector(CollectorIPMI) {
			t.Errorf("%s: the entry's module lost the module's other settings", tc.host)
		}
	}

	// Exact entries are found whatever their place when nothing before
	// them matches.
	files["creds.yml"] = "- {targets: [10.9.0.0/16], user: a, pass: a}\n- {targets: [10.1.2.3, BMC-7.example.com.], user: b, pass_file: secrets/exact, kg: 0x0102}\n"
	cfg, _, err = parseWith(t, credModule("    user: fallback\n"), files)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"10.1.2.3", "bmc-7.example.com", "Bmc-7.Example.com."} {
		got, err := cfg.Modules["m"].Login(host)
		if err != nil || got.User != "b" || got.Password.Reveal() != "pw-exact" || got.KG.Reveal() != "\x01\x02" {
			t.Errorf("%s: got %v, %v; want user b with the pass_file's password and the key", host, got, err)
		}
	}
}

// A target no entry matches, in a module with neither user nor pass, has
// no credentials: Login says so (the HTTP layer answers 400).
func TestCredentialsNoMatchNoFallback(t *testing.T) {
	files := map[string]string{"creds.yml": "- {targets: [10.0.0.1], user: u, pass: p}\n"}
	cfg, _, err := parseWith(t, credModule(""), files)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules["m"]
	if got, err := m.Login("10.0.0.1"); err != nil || got.User != "u" {
		t.Fatalf("listed target: %v, %v", got, err)
	}
	_, err = m.Login("10.0.0.2")
	var noCreds *NoCredentialsError
	if !errors.As(err, &noCreds) || !strings.Contains(err.Error(), "creds.yml") || !strings.Contains(err.Error(), `"10.0.0.2"`) {
		t.Fatalf("unlisted target without fallback: %v", err)
	}
	// A module without credentials_file is itself, always.
	cfg, _, err = parseWith(t, oneModule(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cfg.Modules["m"].Login("10.0.0.2"); err != nil || got != cfg.Modules["m"] {
		t.Fatalf("module without credentials_file: %v, %v", got, err)
	}
}

// Every mistake in a credentials file is an error with the file and line,
// and no error quotes a password or key.
func TestCredentialsErrors(t *testing.T) {
	const secret = "Sup3rSecretValue"
	for _, tc := range []struct{ name, creds, module, want string }{
		{"empty", "", "", "creds.yml: no entries"},
		{"not a list", "targets: [10.0.0.1]\nuser: u\npass: " + secret + "\n", "", "creds.yml:1: expected a list"},
		{"entry not a mapping", "- " + secret + "\n", "", "creds.yml:1: entry 1: expected a mapping"},
		{"no targets", "- user: u\n  pass: " + secret + "\n", "", "creds.yml:1: entry 1: targets is missing"},
		{"empty targets", "- {targets: [], user: u, pass: " + secret + "}\n", "", "entry 1: targets is missing or empty"},
		{"bad target", "- {targets: [10.0.*.*], user: u, pass: " + secret + "}\n", "", "creds.yml:1: entry 1: targets: \"10.0.*.*\" looks like an IPv4 wildcard"},
		{"target with port", "- {targets: [\"bmc:623\"], user: u, pass: " + secret + "}\n", "", "not ports"},
		{"no user", "- targets: [10.0.0.1]\n  pass: " + secret + "\n", "", "creds.yml:1: entry 1: user is missing"},
		{"long user", "- {targets: [10.0.0.1], user: " + strings.Repeat("u", 17) + ", pass: " + secret + "}\n", "", "user is 17 bytes long"},
		{"no pass", "- {targets: [10.0.0.1], user: u}\n", "", "entry 1: set pass or pass_file"},
		{"pass and pass_file", "- {targets: [10.0.0.1], user: u, pass: " + secret + ", pass_file: pw}\n", "", "set pass or pass_file, not both"},
		{"missing pass_file", "- {targets: [10.0.0.1], user: u, pass_file: nope}\n", "", "entry 1: pass_file: open nope"},
		{"long pass", "- {targets: [10.0.0.1], user: u, pass: " + secret + secret + "}\n", "", "the password is 32 bytes long; LAN_2_0 allows at most 20"},
		{"long pass LAN", "- {targets: [10.0.0.1], user: u, pass: " + secret + "0}\n", "    driver: LAN\n    user: x\n", "LAN allows at most 16"},
		{"kg with LAN", "- {targets: [10.0.0.1], user: u, pass: x, kg: " + secret + "}\n", "    driver: LAN\n    user: x\n", "kg applies only to driver LAN_2_0"},
		{"bad kg", "- {targets: [10.0.0.1], user: u, pass: x, kg: 0x" + secret + "}\n", "", "entry 1: kg: a key starting with 0x"},
		{"unknown key", "- {targets: [10.0.0.1], user: u, passwd: " + secret + "}\n", "", `creds.yml:1: unknown key "passwd" in entry 1 (did you mean "pass"?)`},
		{"pass a list", "- {targets: [10.0.0.1], user: u, pass: [" + secret + "]}\n", "", "entry 1: pass: expected a single value, got a list"},
		{"syntax", "- {targets: [10.0.0.1], user: u, pass: \"" + secret + "\n", "", "creds.yml:"},
		{"two documents", "- {targets: [10.0.0.1], user: u, pass: " + secret + "}\n---\n- {}\n", "", "found a second"},
		{"missing file", "", "", "cannot read"},
		{"second entry", "- {targets: [10.0.0.1], user: u, pass: x}\n- {targets: [10.0.0.2], user: u}\n", "", "creds.yml:2: entry 2: set pass or pass_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"creds.yml": tc.creds, "pw": "x"}
			if tc.name == "missing file" {
				delete(files, "creds.yml")
			}
			cfg, _, err := parseWith(t, credModule(tc.module), files)
			if err == nil {
				t.Fatalf("loaded: %+v", cfg.Modules["m"])
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), strings.ToLower(secret)) {
				t.Errorf("error quotes the secret: %q", err)
			}
			var cfgErr *Error
			if !errors.As(err, &cfgErr) {
				t.Errorf("error %v is not a *config.Error", err)
			}
		})
	}
}

// The module's YAML (what debug=true shows) names the credentials file;
// a module returned by Login shows its user and hides its password, or
// names its pass_file.
func TestCredentialsMarshalHidesSecrets(t *testing.T) {
	files := map[string]string{
		"creds.yml": "- {targets: [10.0.0.1], user: one, pass: pw-inline-1, kg: kg-inline}\n- {targets: [10.0.0.2], user: two, pass_file: p2}\n",
		"p2":        "pw-from-file\n",
	}
	cfg, _, err := parseWith(t, credModule("    user: fallback\n    pass: pw-fallback\n"), files)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules["m"]
	for _, host := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		login, err := m.Login(host)
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(login)
		if err != nil {
			t.Fatal(err)
		}
		text := string(out)
		for _, secret := range []string{"pw-inline-1", "kg-inline", "pw-from-file", "pw-fallback"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s: the module's YAML shows a secret:\n%s", host, text)
			}
		}
		if !strings.Contains(text, "credentials_file: creds.yml") || !strings.Contains(text, "user: "+login.User) {
			t.Errorf("%s: YAML does not name the file and the user:\n%s", host, text)
		}
		src := login.CredentialsSource()
		if host == "10.0.0.2" && (!strings.Contains(text, "pass_file: p2") || !strings.Contains(src, "entry 2 (line 2)")) {
			t.Errorf("%s: YAML or source does not name the entry's pass_file:\n%s\n%s", host, text, src)
		}
		if host == "10.0.0.3" && !strings.Contains(src, "no entry") {
			t.Errorf("fallback source %q", src)
		}
	}
}

// writeMode writes a file with the given mode (whatever the umask).
func writeMode(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// A credentials file holding an inline pass or kg is checked like the
// config: readable by group or others draws a warning; one holding only
// pass_file paths does not.
func TestCredentialsFileModeWarning(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yml")
	writeMode(t, cfgPath, credModule("    user: u\n"), 0o600)
	writeMode(t, filepath.Join(dir, "pw"), "x\n", 0o600)
	for _, tc := range []struct {
		creds string
		mode  os.FileMode
		warn  bool
	}{
		{"- {targets: [10.0.0.1], user: u, pass: inline}\n", 0o644, true},
		{"- {targets: [10.0.0.1], user: u, pass: x, kg: inline}\n", 0o640, true},
		{"- {targets: [10.0.0.1], user: u, pass: inline}\n", 0o600, false},
		{"- {targets: [10.0.0.1], user: u, pass_file: pw}\n", 0o644, false},
	} {
		writeMode(t, filepath.Join(dir, "creds.yml"), tc.creds, tc.mode)
		_, warnings, err := Load(cfgPath, testCatalog)
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, w := range warnings {
			if strings.Contains(w.Msg, "file mode") && w.File == filepath.Join(dir, "creds.yml") {
				got = true
			}
			if strings.Contains(w.String(), "inline\"") {
				t.Errorf("warning quotes a secret: %s", w)
			}
		}
		if got != tc.warn {
			t.Errorf("%q mode %04o: file mode warning %v, want %v (%v)", tc.creds, tc.mode, got, tc.warn, warnings)
		}
	}
}

// recordingLogger keeps every log line.
type recordingLogger struct{ lines []string }

func (l *recordingLogger) Log(kv ...any) error {
	var b bytes.Buffer
	_ = log.NewLogfmtLogger(&b).Log(kv...)
	l.lines = append(l.lines, b.String())
	return nil
}

// forceCheck lets the next RefreshCredentials check the files now.
func forceCheck(m *Module) { m.credentials.nextCheck.Store(0) }

// A changed credentials file, or a changed pass_file it names, is read
// again at the next check; a change that does not load keeps the
// credentials in force and is logged once; checks are rate-limited.
func TestCredentialsRefresh(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yml")
	credsPath := filepath.Join(dir, "creds.yml")
	writeMode(t, cfgPath, credModule("    user: fallback\n"), 0o600)
	writeMode(t, filepath.Join(dir, "pw-b"), "pw-b-1\n", 0o600)
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: pw-a-1}\n- {targets: [10.0.0.2], user: b, pass_file: pw-b}\n", 0o600)
	cfg, _, err := Load(cfgPath, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules["m"]
	pass := func(host string) string {
		t.Helper()
		l, err := m.Login(host)
		if err != nil {
			t.Fatal(err)
		}
		return l.Password.Reveal()
	}
	logger := &recordingLogger{}
	loginA := func() *Module { l, _ := m.Login("10.0.0.1"); return l }
	before := loginA()
	m.RefreshCredentials(logger)
	if got := loginA(); got != before || len(logger.lines) != 0 {
		t.Fatalf("an unchanged file was read again (%v)", logger.lines)
	}

	// The credentials file changes: read again at the next check, not
	// before the check interval.
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: pw-a-2}\n- {targets: [10.0.0.2], user: b, pass_file: pw-b}\n", 0o600)
	m.RefreshCredentials(logger)
	if pass("10.0.0.1") != "pw-a-1" {
		t.Fatal("checked again within CredentialsCheckInterval")
	}
	forceCheck(m)
	m.RefreshCredentials(logger)
	if pass("10.0.0.1") != "pw-a-2" || pass("10.0.0.2") != "pw-b-1" {
		t.Fatalf("after the change: %q, %q", pass("10.0.0.1"), pass("10.0.0.2"))
	}

	// A pass_file it names changes.
	writeMode(t, filepath.Join(dir, "pw-b"), "pw-b-2-longer\n", 0o600)
	forceCheck(m)
	m.RefreshCredentials(logger)
	if pass("10.0.0.2") != "pw-b-2-longer" {
		t.Fatalf("pass_file change not seen: %q", pass("10.0.0.2"))
	}

	// A broken change keeps what is in force, logged once.
	logger.lines = nil
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: pw-a-3-broken\n", 0o600)
	for range 3 {
		forceCheck(m)
		m.RefreshCredentials(logger)
	}
	if pass("10.0.0.1") != "pw-a-2" {
		t.Fatalf("a broken file replaced the credentials: %q", pass("10.0.0.1"))
	}
	if len(logger.lines) != 1 || !strings.Contains(logger.lines[0], "does not load") {
		t.Fatalf("log lines for one broken change: %q", logger.lines)
	}
	if strings.Contains(logger.lines[0], "pw-a") {
		t.Fatalf("the log line quotes a password: %s", logger.lines[0])
	}
	// Fixed: read again.
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: pw-a-4}\n", 0o600)
	forceCheck(m)
	m.RefreshCredentials(logger)
	if pass("10.0.0.1") != "pw-a-4" || pass("10.0.0.2") != "" {
		t.Fatalf("after the fix: %q, %q (10.0.0.2 falls back to the module)", pass("10.0.0.1"), pass("10.0.0.2"))
	}
	// Removed, then back: the removal keeps what is in force.
	if err := os.Remove(credsPath); err != nil {
		t.Fatal(err)
	}
	forceCheck(m)
	m.RefreshCredentials(logger)
	if pass("10.0.0.1") != "pw-a-4" {
		t.Fatal("a removed file dropped the credentials")
	}
	// Replaced by rename, as a Kubernetes Secret volume or an atomic
	// writer does.
	tmp := filepath.Join(dir, "creds.tmp")
	writeMode(t, tmp, "- {targets: [10.0.0.1], user: a, pass: pw-a-5}\n", 0o600)
	if err := os.Rename(tmp, credsPath); err != nil {
		t.Fatal(err)
	}
	forceCheck(m)
	m.RefreshCredentials(logger)
	if pass("10.0.0.1") != "pw-a-5" {
		t.Fatalf("renamed-in file not read: %q", pass("10.0.0.1"))
	}
}

// A reload with a broken credentials file fails: the old config, and so
// the old credentials, stay in force, and the reload metric says 0.
func TestCredentialsReloadBrokenFileKeepsOld(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yml")
	credsPath := filepath.Join(dir, "creds.yml")
	writeMode(t, cfgPath, credModule(""), 0o600)
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: pw-old}\n", 0o600)
	reg := prometheus.NewRegistry()
	store, _, err := NewStore(cfgPath, reg, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: pw-new, bogus: 1}\n", 0o600)
	if _, err := store.Reload(); err == nil || !strings.Contains(err.Error(), `unknown key "bogus"`) || strings.Contains(err.Error(), "pw-new") {
		t.Fatalf("reload with a broken credentials file: %v", err)
	}
	if v := testutil.ToFloat64(store.lastReloadSuccessful); v != 0 {
		t.Fatalf("last_reload_successful = %v", v)
	}
	l, err := store.Current().Modules["m"].Login("10.0.0.1")
	if err != nil || l.Password.Reveal() != "pw-old" {
		t.Fatalf("after the failed reload: %v, %v", l, err)
	}
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: pw-new}\n", 0o600)
	if _, err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(store.lastReloadSuccessful); v != 1 {
		t.Fatalf("last_reload_successful = %v", v)
	}
	if l, _ := store.Current().Modules["m"].Login("10.0.0.1"); l.Password.Reveal() != "pw-new" {
		t.Fatal("the reload did not read the new password")
	}
}

// A scrape-time check costs one stat per file, once per interval: many
// concurrent callers never read the file more than once per change.
func TestCredentialsRefreshConcurrent(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yml")
	credsPath := filepath.Join(dir, "creds.yml")
	writeMode(t, cfgPath, credModule("    user: u\n"), 0o600)
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: one}\n", 0o600)
	cfg, _, err := Load(cfgPath, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules["m"]
	writeMode(t, credsPath, "- {targets: [10.0.0.1], user: a, pass: two}\n", 0o600)
	forceCheck(m)
	logger := &lockedLogger{}
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				m.RefreshCredentials(logger)
				if _, err := m.Login("10.0.0.1"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	if n := logger.count(); n != 1 {
		t.Fatalf("%d re-reads logged for one change", n)
	}
}

// lockedLogger counts log lines from many goroutines.
type lockedLogger struct {
	mu    sync.Mutex
	lines int
}

func (l *lockedLogger) Log(...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines++
	return nil
}

func (l *lockedLogger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// FuzzCredentials feeds arbitrary bytes as a credentials file: a table or
// located errors, never a panic, never an error quoting the content of a
// pass_file (the inputs cannot hold it; TestCredentialsErrors checks
// inline passwords, which the fuzzer may move to where a key goes).
func FuzzCredentials(f *testing.F) {
	for _, seed := range []string{
		"", "- {targets: [10.0.0.1], user: u, pass: hunter2}\n",
		"- targets: [\"*.example.com\", 10.0.0.0/8, \"[::1]\"]\n  user: u\n  pass_file: pw\n  kg: 0x0102\n",
		"[{\"targets\": [\"10.0.0.1\"], \"user\": \"u\", \"pass\": \"hunter2\"}]",
		"- &a {targets: [10.0.0.1], user: u, pass: hunter2}\n- *a\n- {<<: *a, user: v}\n",
	} {
		f.Add([]byte(seed))
	}
	base := newModule("m", testCatalog)
	base.CredentialsFile = "creds.yml"
	files := fileSource{secret: fakeFiles(map[string]string{"pw": "file-secret-9\n"})}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &parser{file: "creds.yml", dir: ".", files: files, readFile: files.secret, shapeLines: map[int]bool{}}
		out := p.credentialTable(data, base)
		if len(p.errs) > 0 {
			for _, e := range p.errs {
				if e.File != "creds.yml" {
					t.Fatalf("error %v not in the file", e)
				}
				if strings.Contains(e.Error(), "file-secret-9") {
					t.Fatalf("error quotes the password: %v", e)
				}
			}
			return
		}
		for _, e := range out.table.entries {
			if len(e.User) > maxUserLen || e.Password.Len() > maxPasswordLen20 || e.KG.Len() > maxKGLen {
				t.Fatalf("entry exceeds a limit: %q", e.User)
			}
		}
		for _, host := range []string{"10.0.0.1", "a.example.com", "::1"} {
			if i := out.table.lookup(host); i >= len(out.table.entries) {
				t.Fatalf("lookup(%s) = %d of %d entries", host, i, len(out.table.entries))
			}
		}
	})
}
