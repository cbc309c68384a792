// Package pathbench drives the exporter's scrape path in-process, for CPU
// and allocation profiles of a warm scrape: the /ipmi handler, the pool,
// the collectors, the ipmi client and the RMCP+ session (crypto, UDP
// sockets) against simulated BMCs (dual-socket-1u) served in the same
// process. The two sides are told apart in profiles by the pprof label
// side=exporter or side=bmc:
//
//	go test ./bench/pathbench -run '^$' -bench . -benchtime 3000x -cpuprofile /tmp/cpu.out -memprofile /tmp/mem.out
//	go tool pprof -tagfocus side=exporter -top /tmp/cpu.out
//
// The wiring copies main's (wiring.go): a session per (target, module)
// opened with session.Open, and an observer that updates Prometheus
// counters and histograms per request.
package pathbench

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/exporter"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

var heapProfile = flag.String("heapprofile", "", "BenchmarkHeapPerBMC: write a heap profile here while the sessions are open")

const (
	user     = "monitor"
	password = "bench-password"
)

// observer mirrors main's sessionMetrics.
type observer struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	retransmits *prometheus.CounterVec
	handshakes  *prometheus.CounterVec
}

func newObserver(reg prometheus.Registerer) *observer {
	o := &observer{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"command", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "request_duration_seconds",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"command"}),
		retransmits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "retransmits_total"}, []string{"command"}),
		handshakes:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "handshakes_total"}, []string{"result"}),
	}
	reg.MustRegister(o.requests, o.duration, o.retransmits, o.handshakes)
	return o
}

func (o *observer) Handshake(r session.HandshakeResult, _ time.Duration) {
	o.handshakes.WithLabelValues(string(r)).Inc()
}
func (o *observer) Request(cmd string, r session.RequestResult, _ wire.CompletionCode, took time.Duration) {
	o.requests.WithLabelValues(cmd, string(r)).Inc()
	o.duration.WithLabelValues(cmd).Observe(took.Seconds())
}
func (o *observer) Retransmit(cmd string) { o.retransmits.WithLabelValues(cmd).Inc() }
func (o *observer) SessionOpened()        {}
func (o *observer) SessionClosed()        {}

// bench is an exporter and its BMCs.
type bench struct {
	fleet   *simulator.Fleet
	handler http.Handler
	pool    *pool.Pool
	targets []string
}

func setup(tb testing.TB, bmcs, window int) *bench {
	tb.Helper()
	p, err := model.LoadProfile("dual-socket-1u")
	if err != nil {
		tb.Fatal(err)
	}
	var fleet *simulator.Fleet
	// Goroutines inherit pprof labels: the BMCs' serving goroutines are
	// labelled side=bmc.
	pprof.Do(context.Background(), pprof.Labels("side", "bmc"), func(context.Context) {
		fleet, err = simulator.NewFleet(simulator.FleetConfig{
			Addr:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0),
			Count: bmcs,
			BMC: simulator.BMCConfig{
				Users: []simulator.User{{Name: user, Password: password, Privilege: wire.PrivilegeUser}},
			},
			NewHandler: simulator.ModelHandlers(p, 1, nil, model.Quirks{}),
			Seed:       1,
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { fleet.Close() })
	var targets []string
	for _, b := range fleet.BMCs() {
		targets = append(targets, b.Addr().String())
	}
	cfg := config.DemoConfig(collector.Catalog(), targets, user, password)
	m, _ := cfg.Module(config.DefaultModuleName)
	m.Window = config.WindowSize(window)
	m.Collectors = []config.Collector{config.CollectorIPMI, config.CollectorSEL, config.CollectorChassis, config.CollectorDCMI, config.CollectorBMC}
	reg := prometheus.NewRegistry()
	store, err := config.NewFixedStore(cfg, reg)
	if err != nil {
		tb.Fatal(err)
	}
	obs := newObserver(reg)
	pl := pool.New(pool.Options{MaxInFlight: 512, IdleTimeout: 5 * time.Minute}, reg)
	tb.Cleanup(func() { pl.Close(context.Background()) })
	dial := func(ctx context.Context, addr string, m *config.Module) (ipmi.Transport, error) {
		return session.Open(ctx, session.Config{
			Host: addr, Username: m.User, Password: m.Password.Bytes(), Privilege: m.Privilege,
			CipherSuite: session.CipherSuiteAuto, Window: int(m.Window), Observer: obs,
		})
	}
	x := exporter.New(exporter.Options{
		Store: store, Pool: pl, Dial: dial,
		IsSessionBroken: func(err error) bool { return false },
		TimeoutOffset:   500 * time.Millisecond,
	})
	return &bench{fleet: fleet, handler: x, pool: pl, targets: targets}
}

// scrape runs one scrape of target and checks it.
func (b *bench) scrape(tb testing.TB, target string) {
	req := httptest.NewRequest(http.MethodGet, "/ipmi?target="+target, nil)
	req.Header.Set("Accept-Encoding", "gzip") // as Prometheus asks
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("scrape %s: HTTP %d: %s", target, rec.Code, rec.Body.String())
	}
	body := rec.Body.String()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			tb.Fatal(err)
		}
		body = string(raw)
	}
	if !strings.Contains(body, `ipmi_up{collector="ipmi"} 1`) {
		tb.Fatalf("scrape %s: sensors not read:\n%s", target, grepUp(body))
	}
}

func grepUp(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "ipmi_up") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestScrape keeps the harness from rotting: one cold and one warm scrape.
func TestScrape(t *testing.T) {
	b := setup(t, 1, 1)
	b.scrape(t, b.targets[0])
	b.scrape(t, b.targets[0])
}

// BenchmarkWarmScrape measures one warm scrape (session open, SDR cached)
// of one BMC, round after round, with the given window.
func BenchmarkWarmScrape(b *testing.B) {
	for _, window := range []int{1, 8} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			bn := setup(b, 4, window)
			pprof.Do(context.Background(), pprof.Labels("side", "exporter"), func(context.Context) {
				for _, t := range bn.targets {
					bn.scrape(b, t) // cold: goroutines it starts are labelled too
				}
			})
			in0 := bn.fleet.Counters().PacketsIn
			b.ReportAllocs()
			b.ResetTimer()
			pprof.Do(context.Background(), pprof.Labels("side", "exporter"), func(context.Context) {
				for i := 0; i < b.N; i++ {
					bn.scrape(b, bn.targets[i%len(bn.targets)])
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(bn.fleet.Counters().PacketsIn-in0)/float64(b.N), "packets/op")
		})
	}
}

// BenchmarkColdScrape measures a first scrape: handshake, SDR walk, and
// the readings, on a fresh BMC each time.
func BenchmarkColdScrape(b *testing.B) {
	bn := setup(b, b.N, 1)
	in0 := bn.fleet.Counters().PacketsIn
	b.ReportAllocs()
	b.ResetTimer()
	pprof.Do(context.Background(), pprof.Labels("side", "exporter"), func(context.Context) {
		for i := 0; i < b.N; i++ {
			bn.scrape(b, bn.targets[i])
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(bn.fleet.Counters().PacketsIn-in0)/float64(b.N), "packets/op")
}

// BenchmarkHeapPerBMC scrapes many simulated BMCs once each and reports
// the live heap the exporter side keeps per BMC (session, SDR cache,
// collector state), measured after a GC. b.N is ignored beyond running
// the measurement; use -benchtime 1x. A heap profile (-memprofile) taken
// written with -heapprofile FILE shows what holds it.
func BenchmarkHeapPerBMC(b *testing.B) {
	const bmcs = 500
	if *heapProfile != "" {
		runtime.MemProfileRate = 1 // every allocation, for exact per-BMC figures
	}
	bn := setup(b, bmcs, 1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for _, t := range bn.targets {
		bn.scrape(b, t)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if *heapProfile != "" {
		f, err := os.Create(*heapProfile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/bmcs, "heap-bytes/BMC")
	b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/bmcs, "objects/BMC")
	if bn.pool.Len() != bmcs {
		b.Fatalf("pool holds %d sessions, want %d", bn.pool.Len(), bmcs)
	}
}
