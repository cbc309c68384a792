package exporter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	simmodel "github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// startBMCAt starts one simulated BMC on a loopback address of its own
// (credentials_file matches hosts, not ports) with the given users.
func startBMCAt(t *testing.T, addr string, users ...simulator.User) *simulator.BMC {
	t.Helper()
	p, err := simmodel.LoadProfile("edge-node")
	if err != nil {
		t.Fatal(err)
	}
	f, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:       netip.AddrPortFrom(netip.MustParseAddr(addr), 0),
		Count:      1,
		BMC:        simulator.BMCConfig{Users: users},
		NewHandler: simulator.ModelHandlers(p, 1, func() time.Time { return testEpoch }, simmodel.Quirks{}),
		Seed:       1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f.BMC(0)
}

func writePrivate(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// credsHarness serves an exporter whose config comes from a file (so it
// reloads) with a credentials_file beside it.
type credsHarness struct {
	*harness
	store     *config.Store
	credsPath string
}

func newCredsHarness(t *testing.T, moduleExtra, creds string) *credsHarness {
	t.Helper()
	dir := t.TempDir()
	credsPath := filepath.Join(dir, "creds.yml")
	writePrivate(t, credsPath, creds)
	cfgPath := filepath.Join(dir, "config.yml")
	writePrivate(t, cfgPath, `modules:
  default:
    credentials_file: creds.yml
    allowed_targets: [127.0.0.0/8]
    collectors: [ipmi, bmc]
`+moduleExtra+`targets:
  - hosts: [127.0.0.2, 127.0.0.3]
`)
	reg := prometheus.NewRegistry()
	store, _, err := config.NewStore(cfgPath, reg, collector.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	p := pool.New(pool.Options{MaxInFlight: 8}, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	x := New(Options{
		Registerer:      reg,
		Store:           store,
		Pool:            p,
		Dial:            SessionDialer(nil),
		IsSessionBroken: IsSessionBroken,
		Logger:          log.NewNopLogger(),
	})
	mux := http.NewServeMux()
	mux.Handle("/", x)
	mux.Handle("/sd", SDHandler(store))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &credsHarness{harness: &harness{srv: srv, pool: p, reg: reg}, store: store, credsPath: credsPath}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestCredentialsFilePerBMC: one module, two BMCs with different
// passwords, each logged into with its own; a target with no entry (and
// no module fallback) is refused with the reason before any packet; a
// changed password for one BMC logs in again there only, at its next
// scrape; a reload with a broken file keeps the credentials in force;
// no password shows in /sd or debug=true.
func TestCredentialsFilePerBMC(t *testing.T) {
	a := startBMCAt(t, "127.0.0.2",
		simulator.User{Name: "monitor", Password: "pw-bmc-a", Privilege: wire.PrivilegeUser},
		simulator.User{Name: "rotated", Password: "pw-bmc-a-new", Privilege: wire.PrivilegeUser})
	b := startBMCAt(t, "127.0.0.3", simulator.User{Name: "monitor", Password: "pw-bmc-b", Privilege: wire.PrivilegeUser})
	c := startBMCAt(t, "127.0.0.4", simulator.User{Name: "monitor", Password: "pw-bmc-c", Privilege: wire.PrivilegeUser})
	secrets := []string{"pw-bmc-a", "pw-bmc-b", "pw-bmc-c"} // pw-bmc-a-new contains pw-bmc-a

	h := newCredsHarness(t, "", `- targets: [127.0.0.2]
  user: monitor
  pass: pw-bmc-a
- targets: [127.0.0.3]
  user: monitor
  pass: pw-bmc-b
`)
	for _, bmc := range []*simulator.BMC{a, b} {
		if mfs, text := h.scrape(t, bmc.Addr().String()); !allUp(t, mfs) {
			t.Fatalf("%s: not every collector up:\n%s", bmc.Addr(), text)
		}
	}
	if a.Counters().SessionsOpened != 1 || b.Counters().SessionsOpened != 1 {
		t.Fatalf("sessions opened: a %d, b %d", a.Counters().SessionsOpened, b.Counters().SessionsOpened)
	}

	// No entry and no module user or pass: 400 with the reason, nothing
	// sent.
	status, body := get(t, h.srv.URL+"/?target="+c.Addr().String())
	if status != http.StatusBadRequest || !strings.Contains(body, "no entry of credentials_file creds.yml matches target") {
		t.Fatalf("target without credentials: HTTP %d %q", status, body)
	}
	if got := c.Counters().PacketsIn; got != 0 {
		t.Fatalf("the BMC without credentials received %d packets", got)
	}
	// allowed_targets still comes first.
	if status, body := get(t, h.srv.URL+"/?target=10.1.1.1"); status != http.StatusBadRequest || !strings.Contains(body, "not in allowed_targets") {
		t.Fatalf("target outside allowed_targets: HTTP %d %q", status, body)
	}

	// Rotation: BMC a's entry changes. a logs in again with the new
	// credentials at a scrape after the change; b keeps its session.
	writePrivate(t, h.credsPath, `- targets: [127.0.0.2]
  user: rotated
  pass: pw-bmc-a-new
- targets: [127.0.0.3]
  user: monitor
  pass: pw-bmc-b
`)
	deadline := time.Now().Add(5 * config.CredentialsCheckInterval)
	for a.Counters().SessionsOpened < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("BMC a not logged into again within %v of the change", 5*config.CredentialsCheckInterval)
		}
		if mfs, text := h.scrape(t, a.Addr().String()); !allUp(t, mfs) {
			t.Fatalf("scrape of a during the rotation:\n%s", text)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if mfs, text := h.scrape(t, a.Addr().String()); !allUp(t, mfs) {
		t.Fatalf("a after the rotation:\n%s", text)
	}
	sessions := a.Sessions()
	if len(sessions) != 1 || a.Counters().SessionsClosed != 1 {
		t.Fatalf("a after the rotation: %d sessions (%+v), %d closed; want the old one closed and one open", len(sessions), sessions, a.Counters().SessionsClosed)
	}
	if mfs, _ := h.scrape(t, b.Addr().String()); !allUp(t, mfs) || b.Counters().SessionsOpened != 1 {
		t.Fatalf("b logged in %d times; its credentials did not change", b.Counters().SessionsOpened)
	}

	// A reload with a broken file: refused, the reload metric says so,
	// the credentials in force stay, and nobody logs in again.
	writePrivate(t, h.credsPath, "- targets: [127.0.0.2]\n  user: rotated\n  pass: pw-bmc-a-broken\n  bogus: 1\n")
	if _, err := h.store.Reload(); err == nil || strings.Contains(err.Error(), "pw-bmc") {
		t.Fatalf("reload with a broken credentials file: %v", err)
	}
	if v := gauge(t, h.reg, "ipmi_fleet_exporter_config_last_reload_successful"); v != 0 {
		t.Fatalf("last_reload_successful = %v after a failed reload", v)
	}
	for _, bmc := range []*simulator.BMC{a, b} {
		if mfs, text := h.scrape(t, bmc.Addr().String()); !allUp(t, mfs) {
			t.Fatalf("%s after the failed reload:\n%s", bmc.Addr(), text)
		}
	}
	if a.Counters().SessionsOpened != 2 || b.Counters().SessionsOpened != 1 {
		t.Fatalf("a failed reload logged in again: a %d, b %d", a.Counters().SessionsOpened, b.Counters().SessionsOpened)
	}

	// Nothing shows a password: not /sd, not debug=true.
	_, sd := get(t, h.srv.URL+"/sd")
	debug := h.debugScrape(t, a.Addr().String())
	for _, text := range []string{sd, debug} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("a password shows:\n%s", text)
			}
		}
	}
	for _, want := range []string{"user: rotated", "credentials_file: creds.yml", `from="credentials_file creds.yml, entry 1 (line 1)"`} {
		if !strings.Contains(debug, want) {
			t.Errorf("debug=true does not show %q:\n%s", want, debug)
		}
	}
}

// With a fallback, a target no entry matches logs in with the module's
// own user and pass.
func TestCredentialsFileFallback(t *testing.T) {
	a := startBMCAt(t, "127.0.0.5", simulator.User{Name: "fleet", Password: "pw-fleet", Privilege: wire.PrivilegeUser})
	h := newCredsHarness(t, "    user: fleet\n    pass: pw-fleet\n", "- {targets: [127.0.0.9], user: other, pass: pw-other}\n")
	if mfs, text := h.scrape(t, a.Addr().String()); !allUp(t, mfs) {
		t.Fatalf("fallback login:\n%s", text)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not registered", name)
	return 0
}
