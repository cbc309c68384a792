package hardening

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
)

// transcript collects every HTTP response (status line, headers, body)
// a test received.
type transcript struct{ b strings.Builder }

func (tr *transcript) do(t testing.TB, client *http.Client, method, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&tr.b, "%s %s -> %s\n", method, url, resp.Status)
	_ = resp.Header.Write(&tr.b)
	tr.b.Write(body)
	tr.b.WriteString("\n")
	return resp.StatusCode, string(body)
}

// requireNoSecret fails if any secret shows up in text as is, hex-encoded
// (either case) or base64-encoded.
func requireNoSecret(t testing.TB, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		forms := map[string]string{
			"plain":      s,
			"hex":        hex.EncodeToString([]byte(s)),
			"HEX":        strings.ToUpper(hex.EncodeToString([]byte(s))),
			"base64":     base64.StdEncoding.EncodeToString([]byte(s)),
			"base64-raw": base64.RawStdEncoding.EncodeToString([]byte(s)),
		}
		for form, v := range forms {
			if i := strings.Index(text, v); i >= 0 {
				lo, hi := max(i-120, 0), min(i+len(v)+40, len(text))
				t.Errorf("%s contains a secret (%s): ...%s...", where, form, text[lo:hi])
			}
		}
	}
}

// TestSecretsRotateAndNeverShow runs the exporter binary at debug level
// with pass_file and kg_file, scrapes BMCs that accept and refuse the
// credentials, rotates both files and reloads (the new password and key
// are used, the old ones no more), requests every endpoint including error
// pages and a failed reload, and then requires that no log line and no
// HTTP response contains a password or K_G, in the clear, hex or base64.
func TestSecretsRotateAndNeverShow(t *testing.T) {
	t.Parallel() // its own exporter process and BMCs
	const (
		passOld = "Old-pass-7c1e"
		passNew = "New-pass-93ab"
		passKG  = "Kg-user-pass-5d"
		kgOld   = "kg-old-key-k1x9"
		kgNew   = "kg-new-key-k2y8"
		inline  = "Inline-pass-0f3e"
	)
	user := func(pw string) []simulator.User {
		return []simulator.User{{Name: "monitor", Password: pw, Privilege: wire.PrivilegeUser}}
	}
	fOld := startFleet(t, fleetOpts{users: user(passOld)})
	fNew := startFleet(t, fleetOpts{users: user(passNew)})
	fKGOld := startFleet(t, fleetOpts{users: user(passKG), kg: []byte(kgOld)})
	fKGNew := startFleet(t, fleetOpts{users: user(passKG), kg: []byte(kgNew)})
	silent := startFleet(t, fleetOpts{users: user(passOld), faults: simulator.Faults{Silent: true}})
	closedPort := listenBystander(t, "127.0.0.1")
	closedTarget := closedPort.addrPort().String()
	closedPort.conn.Close() // nothing listens there now: ICMP port unreachable

	dir := t.TempDir()
	writeFile(t, dir, "pw", passOld+"\n", 0o600)
	writeFile(t, dir, "pw-kg", passKG+"\n", 0o600)
	writeFile(t, dir, "kg", kgOld+"\n", 0o600)
	config := `modules:
  default:
    user: monitor
    pass_file: pw
    allowed_targets: [127.0.0.0/8]
  keyed:
    user: monitor
    pass_file: pw-kg
    kg_file: kg
    allowed_targets: [127.0.0.0/8]
  stranger:
    user: nobody
    pass_file: pw
    allowed_targets: [127.0.0.0/8]
`
	cfg := writeFile(t, dir, "config.yml", config, 0o600)
	p := startProc(t, "--config.file="+cfg, "--log.level=debug")
	p.waitReady(t)
	tr := &transcript{}
	scrape := func(module string, f *simulator.Fleet) scrapeResult {
		t.Helper()
		url := p.url("/ipmi?module=" + module + "&target=" + f.BMC(0).Addr().String())
		r := scrapeURL(t, p.client, url, 5*time.Second)
		fmt.Fprintf(&tr.b, "GET %s -> %d\n%s\n", url, r.status, r.body)
		return r
	}

	requireAllUp(t, "old password, before rotation", scrape("default", fOld))
	requireAllDown(t, "new password, before rotation", scrape("default", fNew))
	requireAllUp(t, "old K_G, before rotation", scrape("keyed", fKGOld))
	requireAllDown(t, "new K_G, before rotation", scrape("keyed", fKGNew))
	requireAllDown(t, "unknown user", scrape("stranger", fNew))
	requireAllDown(t, "silent BMC", scrape("default", silent))
	r := scrapeURL(t, p.client, p.url("/ipmi?target="+closedTarget), 5*time.Second)
	requireAllDown(t, "closed port", r)
	tr.b.WriteString(r.body)

	// Rotate both secrets and reload.
	writeFile(t, dir, "pw", passNew+"\n", 0o600)
	writeFile(t, dir, "kg", kgNew+"\n", 0o600)
	if code, body := tr.do(t, p.client, http.MethodPost, p.url("/-/reload"), nil); code != http.StatusOK {
		t.Fatalf("reload: HTTP %d: %s", code, body)
	}
	requireAllUp(t, "new password after rotation", scrape("default", fNew))
	requireAllUp(t, "new K_G after rotation", scrape("keyed", fKGNew))
	// The sessions opened with the old secrets are not used any more.
	requireAllDown(t, "old password after rotation", scrape("default", fOld))
	requireAllDown(t, "old K_G after rotation", scrape("keyed", fKGOld))
	requireNoBMCSessions(t, fOld)
	// A wrong K_G shows only in RAKP4, after the BMC has activated the
	// session: the console cannot sign a Close Session the BMC accepts,
	// so the BMC keeps that one session until its timeout (the old
	// session itself was logged out).
	requireStranded(t, fKGOld, 1)

	// Every other endpoint, error pages included.
	for _, c := range []struct {
		method, path string
	}{
		{"GET", "/metrics"}, {"GET", "/sd"}, {"GET", "/"}, {"GET", "/-/healthy"}, {"GET", "/-/ready"},
		{"GET", "/-/reload"}, {"GET", "/nonexistent"}, {"GET", "/ipmi"}, {"GET", "/ipmi?target=10.0.0.1&module=nope"},
		{"GET", "/ipmi?target=bad:port"}, {"GET", "/metrics?target=" + fOld.BMC(0).Addr().String() + "&module=keyed"},
	} {
		tr.do(t, p.client, c.method, p.url(c.path), nil)
	}
	// A reload that fails on a config holding an inline secret.
	writeFile(t, dir, "config.yml", config+"  broken:\n    user: x\n    pass: \""+inline+"\"\n    kg: \"0xZZ"+inline+"\"\n    no_such_key: 1\n", 0o600)
	if code, _ := tr.do(t, p.client, http.MethodPost, p.url("/-/reload"), nil); code != http.StatusInternalServerError {
		t.Fatalf("reload of a broken config: HTTP %d", code)
	}
	tr.do(t, p.client, http.MethodGet, p.url("/metrics"), nil)
	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t, 30*time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	requireNoBMCSessions(t, fOld, fNew, silent)
	requireStranded(t, fKGOld, 1)
	requireStranded(t, fKGNew, 1) // from the scrape before the rotation

	logs := p.out.String()
	if !strings.Contains(logs, "level=debug") {
		t.Fatal("no debug log line: the run did not log at debug level")
	}
	if !strings.Contains(logs, "wrong_password") && !strings.Contains(logs, "wrong password") {
		t.Error("the logs never mention the wrong password: the failures did not happen")
	}
	secrets := []string{passOld, passNew, passKG, kgOld, kgNew, inline}
	requireNoSecret(t, "the exporter's log", logs, secrets...)
	requireNoSecret(t, "the HTTP responses", tr.b.String(), secrets...)
}

// requireStranded checks that the fleet's first BMC holds exactly n
// sessions, which a console with a wrong K_G cannot log out of.
func requireStranded(t testing.TB, f *simulator.Fleet, n int) {
	t.Helper()
	if got := f.BMC(0).ActiveSessions(); got != n {
		t.Errorf("BMC %s holds %d sessions, want the %d stranded by a wrong K_G: %v", f.BMC(0).Addr(), got, n, f.BMC(0).Sessions())
	}
}

// TestWorldReadableConfigWarns: a config holding an inline pass that group
// or others can read is warned about at start; one only the owner reads,
// or one with pass_file, is not.
func TestWorldReadableConfigWarns(t *testing.T) {
	t.Parallel() // its own exporter process and BMCs
	const warning = "lets group or others read the inline pass/kg"
	inline := moduleYAML("default", simUser, simPassword, "")
	dir := t.TempDir()
	writeFile(t, dir, "pw", simPassword, 0o600)
	fromFile := "modules:\n  default:\n    user: monitor\n    pass_file: pw\n"
	for _, c := range []struct {
		name, body string
		mode       uint32
		warn       bool
	}{
		{"inline-0644", inline, 0o644, true},
		{"inline-0640", inline, 0o640, true},
		{"inline-0600", inline, 0o600, false},
		{"passfile-0644", fromFile, 0o644, false},
	} {
		cfg := writeFile(t, dir, c.name+".yml", c.body, os.FileMode(c.mode))
		p := startProc(t, "--config.file="+cfg)
		p.waitReady(t)
		p.signal(t, syscall.SIGTERM)
		if code := p.waitExit(t, 30*time.Second); code != 0 {
			t.Fatalf("%s: exit code %d", c.name, code)
		}
		out := p.out.String()
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, warning) {
				line = l
			}
		}
		switch {
		case c.warn && line == "":
			t.Errorf("%s: no warning at start:\n%s", c.name, out)
		case c.warn && !strings.Contains(line, "level=warn"):
			t.Errorf("%s: the warning is not at warn level: %s", c.name, line)
		case !c.warn && line != "":
			t.Errorf("%s: unexpected warning: %s", c.name, line)
		}
		requireNoSecret(t, c.name+" log", out, simPassword)
	}
}
