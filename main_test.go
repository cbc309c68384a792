package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// binary is the exporter built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipmi_fleet_exporter-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ipmi_fleet_exporter")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the exporter:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is a running exporter whose output the test can wait on.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	done   chan struct{}
	err    error
	listen string
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct{ p *process }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func start(t *testing.T, args ...string) *process {
	t.Helper()
	return startArgv(t, append([]string{binary, "--web.listen-address=" + freePort(t), "--log.level=debug"}, args...))
}

// startArgv runs argv (argv[0] is the binary) and serves on the address
// of its last --web.listen-address flag.
func startArgv(t *testing.T, argv []string) *process {
	t.Helper()
	p := &process{done: make(chan struct{})}
	for _, a := range argv {
		if v, ok := strings.CutPrefix(a, "--web.listen-address="); ok {
			p.listen = v
		}
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("exporter output:\n%s", p.output())
		}
	})
	return p
}

// waitExit waits for the process to end and returns its exit code.
func (p *process) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("exporter still running after %s", within)
	}
	if p.cmd.ProcessState == nil {
		t.Fatal("no process state")
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *process) url(path string) string { return "http://" + p.listen + path }

// waitReady polls /-/ready until it answers.
func (p *process) waitReady(t *testing.T) {
	t.Helper()
	p.waitPath(t, "/-/ready")
}

// waitPath polls path until it answers 200, failing the test if the
// exporter exits first.
func (p *process) waitPath(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("exporter exited: %v\n%s", p.err, p.output())
		default:
		}
		if resp, err := http.Get(p.url(path)); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("exporter: %s not answering 200 within 30s", path)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func startFleet(t *testing.T, n int) *simulator.Fleet {
	t.Helper()
	p, err := model.LoadProfile("edge-node")
	if err != nil {
		t.Fatal(err)
	}
	f, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
		Count:      n,
		BMC:        simulator.BMCConfig{Users: []simulator.User{{Name: "monitor", Password: "pw-from-file", Privilege: wire.PrivilegeUser}}},
		NewHandler: simulator.ModelHandlers(p, 1, nil, model.Quirks{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "ipmi_fleet_exporter.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodConfig = `modules:
  default:
    user: monitor
    pass_file: password
    allowed_targets: [127.0.0.0/8]
`

func TestConfigErrorAtStartExitsWithFileLineReason(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "modules:\n  default:\n    user: monitor\n    pass: x\n    passwd: typo\n")
	p := start(t, "--config.file="+path)
	if code := p.waitExit(t, 30*time.Second); code == 0 {
		t.Fatalf("exit code 0 for a broken config")
	}
	out := p.output()
	if !strings.Contains(out, path+":5") || !strings.Contains(out, "passwd") {
		t.Fatalf("output does not name file:line and the reason:\n%s", out)
	}
}

func TestReloadFailureKeepsConfig(t *testing.T) {
	fleet := startFleet(t, 1)
	target := fleet.BMC(0).Addr().String()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file\n"), 0o600)
	path := writeConfig(t, dir, goodConfig)
	p := start(t, "--config.file="+path)
	p.waitReady(t)
	scrapeOK := func() {
		t.Helper()
		code, body := get(t, p.url("/ipmi?target="+target))
		if code != 200 || !strings.Contains(body, `ipmi_up{collector="ipmi"} 1`) {
			t.Fatalf("scrape: HTTP %d\n%s", code, body)
		}
	}
	reloadOK := regexp.MustCompile(`(?m)^ipmi_fleet_exporter_config_last_reload_successful (\d)`)
	reloadStatus := func() string {
		_, body := get(t, p.url("/metrics"))
		m := reloadOK.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no reload status metric in /metrics")
		}
		return m[1]
	}
	scrapeOK()
	if s := reloadStatus(); s != "1" {
		t.Fatalf("reload status %s at start", s)
	}
	writeConfig(t, dir, goodConfig+"    bogus_key: 1\n")
	if code, body := post(t, p.url("/-/reload")); code != http.StatusInternalServerError || !strings.Contains(body, "bogus_key") {
		t.Fatalf("reload of a broken config: HTTP %d %q", code, body)
	}
	if s := reloadStatus(); s != "0" {
		t.Fatalf("reload status %s after a failed reload", s)
	}
	scrapeOK() // the old configuration is still in force

	// SIGHUP with the configuration fixed recovers.
	writeConfig(t, dir, goodConfig)
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for reloadStatus() != "1" {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the fixed config")
		}
		time.Sleep(20 * time.Millisecond)
	}
	scrapeOK()
}

func TestSIGTERMClosesEveryBMCSession(t *testing.T) {
	fleet := startFleet(t, 4)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file"), 0o600)
	path := writeConfig(t, dir, goodConfig)
	p := start(t, "--config.file="+path)
	p.waitReady(t)
	for _, b := range fleet.BMCs() {
		if code, body := get(t, p.url("/ipmi?target="+b.Addr().String())); code != 200 || !strings.Contains(body, `ipmi_up{collector="sel"} 1`) {
			t.Fatalf("scrape %s: %d\n%s", b.Addr(), code, body)
		}
	}
	if c := fleet.Counters(); c.SessionsActive != 4 {
		t.Fatalf("%d sessions active before SIGTERM", c.SessionsActive)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if c := fleet.Counters(); c.SessionsActive != 0 || c.SessionsClosed != 4 {
		t.Fatalf("after SIGTERM: %d sessions active, %d closed with Close Session", c.SessionsActive, c.SessionsClosed)
	}
}

func TestDemoServesMetricsAndSaysHow(t *testing.T) {
	p := start(t, "--demo")
	started := time.Now()
	curl := regexp.MustCompile(`curl '(http://[^']+/ipmi\?target=[^']+)'`)
	var urls []string
	deadline := time.Now().Add(30 * time.Second)
	for len(urls) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the demo printed no scrape command")
		}
		sc := bufio.NewScanner(strings.NewReader(p.output()))
		for sc.Scan() {
			if m := curl.FindStringSubmatch(sc.Text()); m != nil {
				urls = append(urls, m[1])
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(urls) != 3 {
		t.Fatalf("demo printed %d targets, want 3 (one per profile)", len(urls))
	}
	p.waitReady(t)
	for _, u := range urls {
		code, body := get(t, u)
		if code != 200 || !strings.Contains(body, `ipmi_up{collector="ipmi"} 1`) || !strings.Contains(body, "ipmi_temperature_celsius{") {
			t.Fatalf("demo scrape %s: HTTP %d\n%.2000s", u, code, body)
		}
	}
	t.Logf("demo served real metrics %s after start", time.Since(started).Round(time.Millisecond))
	_, sd := get(t, p.url("/sd"))
	if !strings.Contains(sd, `"__param_module":"default"`) {
		t.Fatalf("/sd: %s", sd)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("demo exit code %d", code)
	}
}

// scrapeDuration is the ipmi_scrape_duration_seconds of a scrape body.
var scrapeDurationRe = regexp.MustCompile(`(?m)^ipmi_scrape_duration_seconds ([0-9.e+-]+)$`)

// TestScrapeDurationCoversLogin: a BMC that never answers the login
// spends the whole scrape timeout in session set-up, and
// ipmi_scrape_duration_seconds says so (it counted only the collectors,
// 2e-05 s, so "duration near the timeout" could not be seen).
func TestScrapeDurationCoversLogin(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file"), 0o600)
	path := writeConfig(t, dir, goodConfig)
	p := start(t, "--config.file="+path, "--scrape.timeout-offset=0s")
	p.waitReady(t)
	req, err := http.NewRequest(http.MethodGet, p.url("/ipmi?target="+silent.LocalAddr().String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 1.5
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprint(timeout))
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began).Seconds()
	m := scrapeDurationRe.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no ipmi_scrape_duration_seconds:\n%s", body)
	}
	var d float64
	fmt.Sscan(m[1], &d)
	if !strings.Contains(string(body), `ipmi_up{collector="ipmi"} 0`) {
		t.Fatalf("the silent BMC's scrape is not down:\n%s", body)
	}
	// The scrape lasted about the timeout; the metric must say about as
	// much (not more than the request took, not much less).
	if d < 0.8*timeout || d > took {
		t.Fatalf("ipmi_scrape_duration_seconds %v for a scrape that took %.3fs against a %vs timeout", d, took, timeout)
	}
}

// TestPprofOnlyWhenEnabled: the landing page links /debug/pprof only when
// the exporter serves it (it linked the profiles and answered 404).
func TestPprofOnlyWhenEnabled(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file"), 0o600)
	path := writeConfig(t, dir, goodConfig)
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprint("enabled=", enabled), func(t *testing.T) {
			args := []string{"--config.file=" + path}
			if enabled {
				args = append(args, "--web.enable-pprof")
			}
			p := start(t, args...)
			p.waitReady(t)
			_, landing := get(t, p.url("/"))
			linked := strings.Contains(landing, "debug/pprof")
			code, _ := get(t, p.url("/debug/pprof/heap?debug=1"))
			if linked != enabled || (code == 200) != enabled {
				t.Fatalf("--web.enable-pprof=%v: landing page links pprof %v, /debug/pprof/heap answers %d", enabled, linked, code)
			}
			// Every link on the landing page answers.
			for _, m := range regexp.MustCompile(`href="(/[^"]*)"`).FindAllStringSubmatch(landing, -1) {
				// A one-second CPU profile proves the link as well as a minute.
				link := strings.Replace(m[1], "seconds=60", "seconds=1", 1)
				if code, _ := get(t, p.url(link)); code != 200 {
					t.Errorf("landing page link %s answers %d", m[1], code)
				}
			}
		})
	}
}

// TestDemoPortTaken: with the listen port taken, --demo prints no banner
// (it pointed at the other process) and says which address failed and how
// to choose another.
func TestDemoPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	p := startArgv(t, []string{binary, "--demo", "--web.listen-address=" + taken.Addr().String()})
	if code := p.waitExit(t, 30*time.Second); code == 0 {
		t.Fatal("exit code 0 with the listen port taken")
	}
	out := p.output()
	if strings.Contains(out, "curl ") {
		t.Errorf("the demo announced scrape commands for a port it could not bind:\n%s", out)
	}
	if !strings.Contains(out, taken.Addr().String()) || !strings.Contains(out, "--web.listen-address") {
		t.Errorf("the failure names neither the address nor --web.listen-address:\n%s", out)
	}
}

// TestDemoBannerNamesBoundPort: --web.listen-address with port 0 binds
// some free port, and the banner names that port.
func TestDemoBannerNamesBoundPort(t *testing.T) {
	p := startArgv(t, []string{binary, "--demo", "--web.listen-address=127.0.0.1:0"})
	curl := regexp.MustCompile(`curl '(http://127\.0\.0\.1:(\d+))/ipmi\?target=[^']+'`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := curl.FindStringSubmatch(p.output()); m != nil {
			if m[2] == "0" {
				t.Fatalf("banner names port 0:\n%s", p.output())
			}
			p.listen = "127.0.0.1:" + m[2]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.waitReady(t)
}

// TestToolkitLogLinesHaveOneTimeAndCaller: exporter-toolkit's lines
// ("Listening on") come through the slog bridge with one ts and one caller,
// in both formats (they had ts, time and two callers).
func TestToolkitLogLinesHaveOneTimeAndCaller(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file"), 0o600)
	path := writeConfig(t, dir, goodConfig)
	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			p := start(t, "--config.file="+path, "--log.format="+format)
			p.waitReady(t)
			var line string
			for _, l := range strings.Split(p.output(), "\n") {
				if strings.Contains(l, "Listening on") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no 'Listening on' line:\n%s", p.output())
			}
			if format == "logfmt" {
				if n := strings.Count(line, " caller="); n != 1 ||
					!strings.HasPrefix(line, "ts=") || strings.Contains(line, " time=") || strings.Count(line, "ts=") != 1 {
					t.Fatalf("want one ts first and one caller: %s", line)
				}
				if !regexp.MustCompile(` caller=tls_config\.go:\d+ `).MatchString(line) {
					t.Fatalf("caller does not name exporter-toolkit's code: %s", line)
				}
				return
			}
			// JSON objects cannot show a duplicate once decoded: read the
			// keys in order.
			dec := json.NewDecoder(strings.NewReader(line))
			if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
				t.Fatalf("not a JSON object: %s", line)
			}
			keys := map[string]int{}
			var caller string
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				k := tok.(string)
				keys[k]++
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if k == "caller" {
					caller, _ = v.(string)
				}
			}
			if keys["ts"] != 1 || keys["caller"] != 1 || keys["time"] != 0 || !strings.HasPrefix(caller, "tls_config.go:") {
				t.Fatalf("want one ts and one caller (exporter-toolkit's): %s", line)
			}
		})
	}
}

// TestAllowedTargetsNeverResolveNames: CIDRs match IP literals only and
// names match name globs only, as config.example.yml says: localhost is
// refused by 127.0.0.0/8 (it passed, after resolving) and allowed by a
// localhost entry.
func TestAllowedTargetsNeverResolveNames(t *testing.T) {
	fleet := startFleet(t, 1)
	port := fleet.BMC(0).Addr().Port()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file"), 0o600)
	path := writeConfig(t, dir, goodConfig+`  byname:
    user: monitor
    pass_file: password
    allowed_targets: [localhost]
`)
	p := start(t, "--config.file="+path)
	p.waitReady(t)
	for _, c := range []struct {
		target, module string
		code           int
	}{
		{fmt.Sprintf("localhost:%d", port), "default", http.StatusBadRequest},
		{fmt.Sprintf("127.0.0.1:%d", port), "default", http.StatusOK},
		{fmt.Sprintf("localhost:%d", port), "byname", http.StatusOK},
		{fmt.Sprintf("127.0.0.1:%d", port), "byname", http.StatusBadRequest},
	} {
		code, body := get(t, p.url(fmt.Sprintf("/ipmi?target=%s&module=%s", c.target, c.module)))
		if code != c.code {
			t.Errorf("target %s module %s: HTTP %d, want %d\n%.300s", c.target, c.module, code, c.code, body)
		}
		if code == http.StatusBadRequest && !strings.Contains(body, "not in allowed_targets") {
			t.Errorf("target %s module %s: reason %q", c.target, c.module, body)
		}
	}
}

// TestURLTargetSaysWhatIsExpected: target=http://host is refused with a
// reason that says a host or host:port is expected (it said `port
// "//host" is not a number`).
func TestURLTargetSaysWhatIsExpected(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file"), 0o600)
	path := writeConfig(t, dir, goodConfig)
	p := start(t, "--config.file="+path)
	p.waitReady(t)
	for _, target := range []string{"http://127.0.0.1", "https://127.0.0.1:623/"} {
		code, body := get(t, p.url("/ipmi?target="+url.QueryEscape(target)))
		if code != http.StatusBadRequest || !strings.Contains(body, "expected a host or host:port") {
			t.Errorf("target %s: HTTP %d %q", target, code, body)
		}
	}
}

// TestReloadLogAgreesWithMetrics: the sessions a reload closes, for a
// module removed and for a module whose login settings changed, are the
// ones its log line counts and the ones sessions_closed_total counts (the
// line said sessions_closed=0 while reason="config_changed" went up at the
// next scrape).
func TestReloadLogAgreesWithMetrics(t *testing.T) {
	// One BMC per module: with max_sessions 1 two modules on one BMC
	// take turns, closing each other's session.
	fleet := startFleet(t, 2)
	target := fleet.BMC(0).Addr().String()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("pw-from-file"), 0o600)
	other := `  other:
    user: monitor
    pass_file: password
    allowed_targets: [127.0.0.0/8]
`
	path := writeConfig(t, dir, goodConfig+other)
	p := start(t, "--config.file="+path)
	p.waitReady(t)
	for i, module := range []string{"default", "other"} {
		if code, body := get(t, p.url("/ipmi?target="+fleet.BMC(i).Addr().String()+"&module="+module)); code != 200 || !strings.Contains(body, `ipmi_up{collector="ipmi"} 1`) {
			t.Fatalf("scrape with %s: HTTP %d\n%.1000s", module, code, body)
		}
	}
	// "other" goes; "default" logs in with a different window.
	writeConfig(t, dir, goodConfig+"    window: 2\n")
	if code, body := post(t, p.url("/-/reload")); code != 200 {
		t.Fatalf("reload: HTTP %d %s", code, body)
	}
	if code, _ := get(t, p.url("/ipmi?target="+target)); code != 200 {
		t.Fatalf("scrape after reload: HTTP %d", code)
	}
	logged := 0
	for _, m := range regexp.MustCompile(`msg="configuration reloaded" sessions_closed=(\d+)`).FindAllStringSubmatch(p.output(), -1) {
		n := 0
		fmt.Sscan(m[1], &n)
		logged += n
	}
	_, metrics := get(t, p.url("/metrics"))
	counted := 0.0
	for _, m := range regexp.MustCompile(`(?m)^ipmi_fleet_exporter_sessions_closed_total\{reason="(removed|config_changed)"\} (\S+)$`).FindAllStringSubmatch(metrics, -1) {
		var v float64
		fmt.Sscan(m[2], &v)
		counted += v
	}
	if logged != 2 || counted != 2 {
		t.Fatalf("reload log says %d sessions closed, sessions_closed_total{reason=~\"removed|config_changed\"} says %v; want 2 and 2", logged, counted)
	}
}

// TestMissingConfigSaysWhatToDo: started without a configuration file, the
// exporter names the file and says to copy config.example.yml or use --demo.
func TestMissingConfigSaysWhatToDo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipmi_fleet_exporter.yml")
	p := start(t, "--config.file="+path)
	if code := p.waitExit(t, 30*time.Second); code == 0 {
		t.Fatal("exit code 0 without a configuration file")
	}
	out := p.output()
	for _, want := range []string{path, "config.example.yml", "--demo"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure does not mention %s:\n%s", want, out)
		}
	}
}
