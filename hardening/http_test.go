package hardening

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHugeQueryGets400 sends a 10 MB query string to the real server in
// main.go (the built binary): Go's HTTP server refuses request heads over
// http.Server.MaxHeaderBytes with its own 431 before any handler runs,
// so the exporter must let such a head through to the handler, which
// refuses it with a one-line 400 before parsing it, on /ipmi and on
// /metrics?target= alike. The exporter keeps serving afterwards.
func TestHugeQueryGets400(t *testing.T) {
	t.Parallel() // its own exporter process and BMCs
	fleet := startFleet(t, fleetOpts{})
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.yml", moduleYAML("default", simUser, simPassword, ""), 0o600)
	p := startProc(t, "--config.file="+cfg)
	p.waitReady(t)

	huge := "target=" + fleet.BMC(0).Addr().String() + "&pad=" + strings.Repeat("x", 10<<20)
	for _, path := range []string{"/ipmi", "/metrics"} {
		resp, err := p.client.Get(p.url(path + "?" + huge))
		if err != nil {
			t.Fatalf("%s with a 10 MB query: %v", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := scrapeResult{status: resp.StatusCode, body: string(body)}
		requireOneLine400(t, path+" with a 10 MB query", r, "at most")
	}
	if n := fleet.BMC(0).Counters().PacketsIn; n != 0 {
		t.Fatalf("the BMC received %d packets for refused requests", n)
	}
	// Still serving, and the BMC is reachable through it.
	r := scrapeURL(t, p.client, p.url("/ipmi?target="+fleet.BMC(0).Addr().String()), promTimeout)
	requireAllUp(t, "scrape after the huge requests", r)
	resp, err := p.client.Get(p.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	requireNoBMCSessions(t, fleet)
}
