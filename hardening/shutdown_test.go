package hardening

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
)

// outcome classifies one HTTP exchange with an exporter that is going away.
type outcome int

const (
	complete    outcome = iota // 200 with a whole, parseable exposition
	refused                    // no connection (or closed before any byte of a response)
	halfWritten                // a response that was cut, or is not a scrape's
)

// getOutcome GETs url and classifies what came back.
func getOutcome(client *http.Client, url string, timeout time.Duration) (outcome, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", timeout.Seconds()))
	resp, err := client.Do(req)
	if err != nil {
		return refused, err.Error()
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return halfWritten, fmt.Sprintf("HTTP %d, body cut after %d bytes: %v", resp.StatusCode, len(body), err)
	}
	if resp.StatusCode != http.StatusOK {
		return halfWritten, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, truncate(string(body), 200))
	}
	mfs, err := parseExposition(string(body))
	if err != nil {
		return halfWritten, fmt.Sprintf("unparseable exposition (%d bytes): %v", len(body), err)
	}
	if mfs["ipmi_scrape_duration_seconds"] == nil {
		return halfWritten, fmt.Sprintf("exposition without ipmi_scrape_duration_seconds (%d bytes)", len(body))
	}
	if up := upValues(mfs); len(up) != 5 {
		return halfWritten, fmt.Sprintf("exposition with %d ipmi_up series", len(up))
	}
	return complete, ""
}

func isConnRefused(msg string) bool { return strings.Contains(msg, "connection refused") }

// TestShutdownUnderLoad sends SIGTERM to the exporter binary while
// scrapes are running and more keep coming. Every request the exporter
// started on is answered in full (the BMC it was for saw packets, so the
// handler ran); every other one finds no connection; and after the exit
// no BMC holds a session.
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel() // its own exporter process and BMCs
	const bmcs = 160
	fleet := startFleet(t, fleetOpts{count: bmcs, faults: simulator.Faults{Latency: 25 * time.Millisecond}})
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.yml", moduleYAML("default", simUser, simPassword, ""), 0o600)
	p := startProc(t, "--config.file="+cfg, "--web.shutdown-grace=20s")
	p.waitReady(t)

	// Each request scrapes a BMC nobody scraped before, so the BMC's
	// packet counter tells whether the exporter worked on that request.
	var next atomic.Int64
	type result struct {
		bmc    int
		out    outcome
		detail string
	}
	results := make(chan result, bmcs)
	returned := make([]atomic.Bool, bmcs)
	keepAlive := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	oneShot := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer keepAlive.CloseIdleConnections()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 24 {
		client := keepAlive
		if w%2 == 1 {
			client = oneShot
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(next.Add(1)) - 1
				if i >= bmcs {
					return
				}
				out, detail := getOutcome(client, p.url("/ipmi?target="+fleet.BMC(i).Addr().String()), 15*time.Second)
				returned[i].Store(true)
				results <- result{i, out, detail}
				if out == refused {
					return // the exporter is gone
				}
			}
		}()
	}
	// SIGTERM once many scrapes are in the middle of their BMC work.
	waitFor(t, 30*time.Second, "12 scrapes in flight", func() (bool, string) {
		inFlight := 0
		for i := range bmcs {
			if fleet.BMC(i).Counters().PacketsIn > 0 && !returned[i].Load() {
				inFlight++
			}
		}
		return inFlight >= 12, fmt.Sprintf("%d in flight", inFlight)
	})
	p.signal(t, syscall.SIGTERM)
	code := p.waitExit(t, 30*time.Second)
	close(stop)
	wg.Wait()
	close(results)

	var completed, refusals, inFlightAtTerm int
	for r := range results {
		packets := fleet.BMC(r.bmc).Counters().PacketsIn
		switch {
		case r.out == halfWritten:
			t.Errorf("scrape of BMC %d: half-written response: %s", r.bmc, r.detail)
		case r.out == refused && packets > 0:
			t.Errorf("scrape of BMC %d: the exporter talked to the BMC (%d packets) but the client got no response: %s", r.bmc, packets, r.detail)
		case r.out == refused:
			refusals++
			if !isConnRefused(r.detail) {
				t.Logf("scrape of BMC %d closed before any response byte (not accepted): %s", r.bmc, r.detail)
			}
		default:
			completed++
		}
	}
	for i := range bmcs {
		if !returned[i].Load() && fleet.BMC(i).Counters().PacketsIn > 0 {
			inFlightAtTerm++
		}
	}
	t.Logf("%d complete, %d refused; exit code %d", completed, refusals, code)
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if refusals == 0 {
		t.Error("no request was refused: the load did not outlast the exporter")
	}
	requireNoBMCSessions(t, fleet)
}

// TestReloadUnderLoad reloads, while scrapes of every target and module
// run, a config that removes a module and takes targets out of another
// one's allowed_targets: the BMCs then hold no session of the removed
// module or for the removed targets, while the rest keep being scraped;
// SIGTERM afterwards leaves no session at all.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel() // its own exporter process and BMCs
	users := []simulator.User{
		{Name: "keeper", Password: "keeper-pw-1", Privilege: wire.PrivilegeUser},
		{Name: "goner", Password: "goner-pw-2", Privilege: wire.PrivilegeUser},
	}
	kept := startFleet(t, fleetOpts{count: 3, addr: "127.0.0.1", users: users, faults: simulator.Faults{Latency: 15 * time.Millisecond}})
	dropped := startFleet(t, fleetOpts{count: 3, addr: "127.0.0.3", users: users, faults: simulator.Faults{Latency: 15 * time.Millisecond}})
	before := `modules:
  keep:
    user: keeper
    pass: keeper-pw-1
    max_sessions: 2
    allowed_targets: [127.0.0.1, 127.0.0.3]
  gone:
    user: goner
    pass: goner-pw-2
    max_sessions: 2
    allowed_targets: [127.0.0.0/8]
`
	after := `modules:
  keep:
    user: keeper
    pass: keeper-pw-1
    max_sessions: 2
    allowed_targets: [127.0.0.1]
`
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.yml", before, 0o600)
	p := startProc(t, "--config.file="+cfg)
	p.waitReady(t)

	var targets []string
	for _, f := range []*simulator.Fleet{kept, dropped} {
		for _, b := range f.BMCs() {
			targets = append(targets, b.Addr().String())
		}
	}
	var reloaded atomic.Bool
	var okAfter, badAfter atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				module := []string{"keep", "gone"}[i%2]
				target := targets[(i/2)%len(targets)]
				resp, err := client.Get(p.url("/ipmi?module=" + module + "&target=" + target))
				if err != nil {
					errs <- err.Error()
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err.Error()
					return
				}
				wasReloaded := reloaded.Load()
				switch {
				case resp.StatusCode == http.StatusOK:
					if wasReloaded {
						okAfter.Add(1)
					}
				case resp.StatusCode == http.StatusBadRequest && wasReloaded:
					badAfter.Add(1)
				default:
					errs <- fmt.Sprintf("%s %s: HTTP %d: %s", module, target, resp.StatusCode, body)
					return
				}
			}
		}()
	}
	sessionsOf := func(f *simulator.Fleet, user string) int {
		n := 0
		for _, b := range f.BMCs() {
			for _, s := range b.Sessions() {
				if s.User == user && s.State == "active" {
					n++
				}
			}
		}
		return n
	}
	waitFor(t, 30*time.Second, "sessions of both modules on every BMC", func() (bool, string) {
		g, k := sessionsOf(kept, "goner")+sessionsOf(dropped, "goner"), sessionsOf(kept, "keeper")+sessionsOf(dropped, "keeper")
		return g == 6 && k == 6, fmt.Sprintf("goner %d, keeper %d", g, k)
	})
	writeFile(t, dir, "config.yml", after, 0o600)
	reloaded.Store(true)
	if code, body := post(t, p.client, p.url("/-/reload")); code != http.StatusOK {
		t.Fatalf("reload: HTTP %d: %s", code, body)
	}
	waitFor(t, 10*time.Second, "the removed module's and targets' sessions closed on the BMCs", func() (bool, string) {
		g, d := sessionsOf(kept, "goner")+sessionsOf(dropped, "goner"), sessionsOf(dropped, "keeper")
		return g == 0 && d == 0, fmt.Sprintf("%d sessions of the removed module, %d for removed targets", g, d)
	})
	// The rest is still scraped over its pooled sessions.
	waitFor(t, 10*time.Second, "successful scrapes after the reload", func() (bool, string) {
		return okAfter.Load() >= 20 && badAfter.Load() >= 20, fmt.Sprintf("%d ok, %d refused", okAfter.Load(), badAfter.Load())
	})
	if n := sessionsOf(kept, "keeper"); n != 3 {
		t.Errorf("the kept BMCs hold %d sessions of the kept module, want 3", n)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// Nothing was reopened for what the reload removed.
	if g, d := sessionsOf(kept, "goner")+sessionsOf(dropped, "goner"), sessionsOf(dropped, "keeper"); g+d != 0 {
		t.Errorf("after the load: %d sessions of the removed module, %d for removed targets", g, d)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t, 30*time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	requireNoBMCSessions(t, kept, dropped)
}

func post(t testing.TB, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestShutdownGraceExpires sends SIGTERM while a scrape runs that needs
// longer than --web.shutdown-grace: the exporter must still exit soon
// after the grace period, answer that scrape with what it has, and log
// out of the BMC rather than leave the session behind.
func TestShutdownGraceExpires(t *testing.T) {
	t.Parallel() // its own exporter process and BMCs
	fleet := startFleet(t, fleetOpts{faults: simulator.Faults{Latency: 300 * time.Millisecond}})
	bmc := fleet.BMC(0)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.yml", moduleYAML("default", simUser, simPassword, ""), 0o600)
	p := startProc(t, "--config.file="+cfg, "--web.shutdown-grace=1s")
	p.waitReady(t)

	type res struct {
		out    outcome
		detail string
	}
	done := make(chan res, 1)
	go func() {
		out, detail := getOutcome(p.client, p.url("/ipmi?target="+bmc.Addr().String()), 30*time.Second)
		done <- res{out, detail}
	}()
	// The cold scrape needs about 50 round trips (15s); SIGTERM once the
	// session is up and the collectors are reading.
	waitFor(t, 20*time.Second, "the scrape to reach the collectors", func() (bool, string) {
		return bmc.Counters().Command("get_chassis_status") > 0, ""
	})
	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	code := p.waitExit(t, 20*time.Second)
	took := time.Since(start)
	r := <-done
	t.Logf("exit %d after %v; scrape: %v %s", code, took.Round(time.Millisecond), r.out, r.detail)
	if code != 0 {
		t.Errorf("exit code %d", code)
	}
	if took > 6*time.Second {
		t.Errorf("exit took %v with a 1s grace period", took)
	}
	if r.out != complete {
		t.Errorf("the scrape running at SIGTERM got no complete answer: %s", r.detail)
	}
	if n := bmc.ActiveSessions(); n != 0 {
		t.Errorf("the BMC still holds %d session(s) after the exporter exited: %v", n, bmc.Sessions())
	}
}
