package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/exporter"
	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is the production /ipmi handler over a real pool and the production
// session dialer, logging at debug level into logs.
type env struct {
	url    string
	srv    *httptest.Server
	pool   *pool.Pool
	logs   *syncBuffer
	client *http.Client
	once   sync.Once
}

// defaultModule is a module as a new user writes it: credentials and
// nothing else, so every other setting is the exporter's default
// (privilege user, cipher_suite auto, LAN_2_0, the default collectors).
func defaultModule(user, pass string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "modules:\n  default:\n    user: %q\n    pass: %q\n    timeout: 8000\n", user, pass)
	for _, l := range extra {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	return b.String()
}

func startExporter(t testing.TB, yaml string) *env {
	t.Helper()
	return startExporterWith(t, yaml, nil)
}

// startExporterWith starts the exporter from yaml, registering its own
// metrics with reg when not nil.
func startExporterWith(t testing.TB, yaml string, reg prometheus.Registerer) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	store, warnings, err := config.NewStore(path, nil, collector.Catalog())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	for _, w := range warnings {
		t.Logf("config warning: %s", w)
	}
	e := &env{logs: &syncBuffer{}}
	logger := level.NewFilter(log.NewLogfmtLogger(e.logs), level.AllowDebug())
	e.pool = pool.New(pool.Options{MaxInFlight: 64, IdleTimeout: time.Hour, Logger: logger}, nil)
	x := exporter.New(exporter.Options{
		Store:           store,
		Pool:            e.pool,
		Dial:            exporter.SessionDialer(nil),
		IsSessionBroken: exporter.IsSessionBroken,
		TimeoutOffset:   500 * time.Millisecond,
		Logger:          logger,
		Registerer:      reg,
	})
	mux := http.NewServeMux()
	mux.Handle("/ipmi", x)
	e.srv = httptest.NewServer(mux)
	e.url = e.srv.URL
	e.client = &http.Client{}
	t.Cleanup(func() {
		e.close()
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.logs.String())
		}
	})
	return e
}

// close stops the HTTP server and closes the pool, logging out of every
// BMC. Idempotent.
func (e *env) close() {
	e.once.Do(func() {
		e.srv.Close()
		e.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		e.pool.Close(ctx)
	})
}

// result is one /ipmi answer.
type result struct {
	status   int
	body     string
	families map[string]*dto.MetricFamily
	up       map[string]float64
}

// scrape GETs /ipmi like Prometheus with a 10 s scrape timeout and checks
// the exposition: parseable, no two series with the same labels, and
// promtool check metrics clean.
func (e *env) scrape(t testing.TB, target string) result {
	t.Helper()
	const timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/ipmi?target="+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", timeout.Seconds()))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("GET /ipmi: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET /ipmi: reading the body: %v", err)
	}
	r := result{status: resp.StatusCode, body: string(body), up: map[string]float64{}}
	if r.status != http.StatusOK {
		t.Fatalf("GET /ipmi: status %d: %s", r.status, body)
	}
	checkExposition(t, r.body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	r.families, err = p.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("unparseable exposition: %v\n%s", err, r.body)
	}
	for _, m := range r.families["ipmi_up"].GetMetric() {
		r.up[label(m, "collector")] = m.GetGauge().GetValue()
	}
	return r
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// series returns the metrics of a family whose labels include all of want.
func (r result) series(name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range r.families[name].GetMetric() {
		ok := true
		for k, v := range want {
			ok = ok && label(m, k) == v
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// checkExposition fails the test when the text holds two samples with the
// same metric name and labels (Prometheus rejects the whole scrape then)
// or when promtool check metrics finds a problem.
func checkExposition(t testing.TB, text string) {
	t.Helper()
	if dups := duplicateSeries(text); len(dups) > 0 {
		t.Errorf("duplicate series (Prometheus would reject the scrape):\n%s", strings.Join(dups, "\n"))
	}
	promtoolCheck(t, text)
}

// duplicateSeries lists the series that occur more than once. It reads
// the text line by line so it sees exactly what Prometheus would; labels
// are put in order so that the same set written in two orders counts as
// the same series.
func duplicateSeries(text string) []string {
	seen := map[string]int{}
	var dups []string
	p := expfmt.NewTextParser(model.UTF8Validation)
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Parse each sample alone: the text parser merges repeated
		// series of a family silently in some versions.
		mfs, err := p.TextToMetricFamilies(strings.NewReader(line + "\n"))
		if err != nil {
			dups = append(dups, "unparseable: "+line+": "+err.Error())
			continue
		}
		for name, mf := range mfs {
			for _, m := range mf.GetMetric() {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+"="+fmt.Sprintf("%q", l.GetValue()))
				}
				sort.Strings(ls)
				key := name + "{" + strings.Join(ls, ",") + "}"
				seen[key]++
				if seen[key] == 2 {
					dups = append(dups, key)
				}
			}
		}
	}
	return dups
}

// promtoolCheck runs promtool check metrics on the exposition. The only
// lint accepted is the counter-style suffix of ipmi_sel_logs_count, a name
// kept for ipmi_exporter compatibility.
func promtoolCheck(t testing.TB, text string) {
	t.Helper()
	promtool := testbed.RequireTool(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("promtool: %v", err)
	}
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "ipmi_sel_logs_count") {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 || len(out) == 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The duplicate check itself: the same series twice (labels in any order)
// is found, distinct ones are not.
func TestDuplicateSeriesCheck(t *testing.T) {
	text := "# TYPE ipmi_up gauge\n" +
		"ipmi_up{collector=\"ipmi\"} 1\n" +
		"ipmi_up{collector=\"sel\"} 1\n" +
		"ipmi_fan_speed_rpm{id=\"93\",name=\"FAN1_F_Speed\"} 6900\n" +
		"ipmi_fan_speed_rpm{name=\"FAN1_F_Speed\",id=\"93\"} 6900\n"
	dups := duplicateSeries(text)
	if len(dups) != 1 || !strings.Contains(dups[0], "FAN1_F_Speed") {
		t.Fatalf("duplicates = %v, want the fan series once", dups)
	}
	if d := duplicateSeries("a 1\nb 2\na{x=\"1\"} 3\n"); len(d) != 0 {
		t.Fatalf("distinct series reported as duplicates: %v", d)
	}
}
