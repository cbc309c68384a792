// Command scrapeload drives a multi-target IPMI exporter like Prometheus
// does and reports per-scrape latency, success and the exporter's cost.
//
//	scrapeload -url http://127.0.0.1:9290/ipmi -targets 127.0.0.1:20000-20049 \
//	    -module default -interval 10s -rounds 3 -timeout 10s -pid $EXPORTER_PID \
//	    [-tree] [-relay-stats http://127.0.0.1:9399/stats] [-bmcsim-control http://127.0.0.1:9999] \
//	    [-label ours] [-json out.json]
//
// It runs a cold phase (every target scraped once: the first scrape, which
// opens sessions and reads SDRs) and then a warm phase of -rounds rounds
// (or -duration; -rounds 0 is "once"). Within a round each target is
// scraped once, target i at i*interval/n into the round, never two scrapes
// of a target at once. Around each phase it samples the exporter process
// (CPU seconds from /proc/PID/stat, with -tree including forked children,
// VmRSS, open fds and sockets) and the datagram counters of bench/udpdelay
// (-relay-stats) or bmcsim (-bmcsim-control), to count BMC round trips per
// scrape. Its own CPU is reported too, to show it was not the bottleneck.
//
// Output: a markdown summary on stdout and, with -json, everything as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/bench/load"
	"github.com/ipmifleet/ipmi_fleet_exporter/bench/procstat"
)

type options struct {
	url, targets, module, label, jsonOut string
	concurrency, coldConcurrency         int
	interval, coldInterval, duration     time.Duration
	timeout                              time.Duration
	rounds                               int
	pid                                  int
	tree                                 bool
	sampleEvery                          time.Duration
	relayStats, bmcsimControl            string
	exporterMetrics                      string
	ping                                 int
	perTarget                            bool
	cpuProfile                           string
	cpuProfileSeconds                    int
	settle                               time.Duration
	skipCold, gzip, overlap              bool
	meta                                 string
}

func main() {
	o := &options{}
	flag.StringVar(&o.url, "url", "http://127.0.0.1:9290/ipmi", "exporter scrape endpoint")
	flag.StringVar(&o.targets, "targets", "", "comma-separated host:port targets; a port may be a range (20000-20049)")
	flag.StringVar(&o.module, "module", "default", "module parameter")
	flag.StringVar(&o.label, "label", "exporter", "name of this run in the output")
	flag.IntVar(&o.concurrency, "concurrency", 0, "max scrapes in flight in the warm phase (0: no cap, like Prometheus)")
	flag.IntVar(&o.coldConcurrency, "cold-concurrency", -1, "max scrapes in flight in the cold phase (-1: as -concurrency)")
	flag.DurationVar(&o.interval, "interval", 10*time.Second, "scrape interval per target (0: rounds back to back)")
	flag.DurationVar(&o.coldInterval, "cold-interval", -1, "spread of the cold round (-1: as -interval)")
	flag.DurationVar(&o.duration, "duration", 0, "warm phase length (instead of -rounds): rounds = duration/interval")
	flag.IntVar(&o.rounds, "rounds", 3, "warm rounds after the cold one (0: once)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "scrape timeout")
	flag.IntVar(&o.pid, "pid", 0, "exporter process to sample (0: none)")
	flag.BoolVar(&o.tree, "tree", false, "include the exporter's child processes (forked tools) in CPU, RSS and fds")
	flag.DurationVar(&o.sampleEvery, "sample-every", 200*time.Millisecond, "how often to sample the exporter for peaks")
	flag.StringVar(&o.relayStats, "relay-stats", "", "URL of bench/udpdelay's -stats endpoint, to count datagrams per scrape")
	flag.StringVar(&o.bmcsimControl, "bmcsim-control", "", "base URL of bmcsim's --control API, to count packets and sessions per scrape")
	flag.StringVar(&o.exporterMetrics, "exporter-metrics", "", "URL of ipmi_fleet_exporter's own /metrics, to count its requests per scrape")
	flag.IntVar(&o.ping, "ping", 0, "before the run, measure the RTT to the first target with this many RMCP pings")
	flag.BoolVar(&o.perTarget, "per-target", false, "include per-target summaries in the JSON")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "during the warm phase fetch /debug/pprof/profile from the exporter into this file, if it serves one")
	flag.IntVar(&o.cpuProfileSeconds, "cpuprofile-seconds", 20, "length of that profile")
	flag.DurationVar(&o.settle, "settle", 0, "pause between the cold and warm phases")
	flag.BoolVar(&o.gzip, "gzip", true, "ask for gzip-compressed responses, as Prometheus does by default")
	flag.BoolVar(&o.overlap, "overlap", false, "start the warm rounds on their slots while the cold round's last scrapes still run, as Prometheus does "+
		"(otherwise slots passed while the cold round ran over start late, all at once); the phases' CPU, counters and peaks then overlap by that tail")
	flag.BoolVar(&o.skipCold, "skip-cold", false, "no cold phase: every round is warm (targets already scraped)")
	flag.StringVar(&o.meta, "meta", "", "key=value,... copied into the JSON, for reports")
	flag.StringVar(&o.jsonOut, "json", "", "write the full result as JSON to this file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scrapeload:", err)
		os.Exit(1)
	}
	writeMarkdown(os.Stdout, res)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "scrapeload:", err)
			os.Exit(1)
		}
	}
}

// Result is the whole run.
type Result struct {
	Label     string            `json:"label"`
	Meta      map[string]string `json:"meta,omitempty"`
	URL       string            `json:"url"`
	Module    string            `json:"module"`
	Targets   int               `json:"targets"`
	Interval  string            `json:"interval"`
	Timeout   string            `json:"timeout"`
	PingRTTms *RTT              `json:"ping_rtt_ms,omitempty"`
	Phases    []PhaseResult     `json:"phases"`
	Profile   string            `json:"cpu_profile,omitempty"`
}

// RTT summarises ping round trips in milliseconds.
type RTT struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
}

// PhaseResult is one phase: the scrapes and what they cost.
type PhaseResult struct {
	Name   string     `json:"name"`
	Rounds int        `json:"rounds"`
	Wall   float64    `json:"wall_seconds"`
	Stats  load.Stats `json:"stats"`

	// Exporter process (tree) figures, when -pid is given.
	CPUSeconds    float64         `json:"cpu_seconds"`
	CPUPer1000    float64         `json:"cpu_seconds_per_1000_scrapes"`
	Cores         float64         `json:"cores"`
	RSSEnd        int64           `json:"rss_end_bytes"`
	TreeRSSEnd    int64           `json:"tree_rss_end_bytes"`
	HWMEnd        int64           `json:"hwm_end_bytes"`
	SocketsEnd    int             `json:"sockets_end"`
	FDsEnd        int             `json:"fds_end"`
	Peaks         *procstat.Peaks `json:"peaks,omitempty"`
	ProcessErrors string          `json:"process_error,omitempty"`

	// Datagrams relayed by bench/udpdelay toward the BMCs and back.
	RelayIn, RelayOut           int64   `json:"-"`
	RelayInPerScrape            float64 `json:"relay_in_per_scrape,omitempty"`
	RelayOutPerScrape           float64 `json:"relay_out_per_scrape,omitempty"`
	BMCPacketsInPerScrape       float64 `json:"bmcsim_packets_in_per_scrape,omitempty"`
	BMCSessionsOpenedPerScrape  float64 `json:"bmcsim_sessions_opened_per_scrape,omitempty"`
	BMCSessionsOpened           float64 `json:"bmcsim_sessions_opened,omitempty"`
	ExporterRequestsPerScrape   float64 `json:"exporter_requests_per_scrape,omitempty"`
	ExporterRetransmitsPerScrap float64 `json:"exporter_retransmits_per_scrape,omitempty"`
	ExporterHandshakes          float64 `json:"exporter_handshakes,omitempty"`

	// The load generator's own CPU (this process), to show it was not
	// the bottleneck.
	LoadgenCPUSeconds float64 `json:"loadgen_cpu_seconds"`
	LoadgenCores      float64 `json:"loadgen_cores"`

	PerTarget []TargetSummary `json:"per_target,omitempty"`
}

// TargetSummary is one target's scrapes in a phase.
type TargetSummary struct {
	Target  string  `json:"target"`
	Scrapes int     `json:"scrapes"`
	OK      int     `json:"ok"`
	P50ms   float64 `json:"p50_ms"`
	MaxMs   float64 `json:"max_ms"`
}

func run(ctx context.Context, o *options) (*Result, error) {
	targets, err := load.ParseTargets(o.targets)
	if err != nil {
		return nil, err
	}
	res := &Result{Label: o.label, URL: o.url, Module: o.module, Targets: len(targets),
		Interval: o.interval.String(), Timeout: o.timeout.String()}
	if o.meta != "" {
		res.Meta = map[string]string{}
		for _, kv := range strings.Split(o.meta, ",") {
			k, v, _ := strings.Cut(kv, "=")
			res.Meta[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if o.ping > 0 {
		rtts, err := load.PingRTT(targets[0], o.ping, time.Second)
		if err != nil {
			return nil, fmt.Errorf("ping: %w", err)
		}
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		res.PingRTTms = &RTT{Count: len(rtts), Min: ms(rtts[0]),
			P50: ms(rtts[(len(rtts)-1)/2]), P90: ms(rtts[(len(rtts)*9-1)/10])}
	}
	var sampler *procstat.Sampler
	if o.pid > 0 {
		if sampler, err = procstat.Start(o.pid, o.tree, o.sampleEvery); err != nil {
			return nil, fmt.Errorf("sampling pid %d: %w", o.pid, err)
		}
		defer sampler.Stop()
	}
	client := load.NewClient(max(len(targets), o.concurrency))
	base := load.Config{URL: o.url, Targets: targets, Module: o.module, Timeout: o.timeout, Client: client, Gzip: o.gzip}

	cold := base
	cold.Concurrency = o.concurrency
	if o.coldConcurrency >= 0 {
		cold.Concurrency = o.coldConcurrency
	}
	cold.Interval = o.interval
	if o.coldInterval >= 0 {
		cold.Interval = o.coldInterval
	}
	// The warm rounds keep the cold round's schedule when both are paced
	// by the same interval: every target's slots stay one interval apart.
	// (Starting the warm phase afresh after the cold one returned would
	// stretch each target's gap by however long the last cold scrape and
	// the counter reads took, and a BMC whose session timeout equals the
	// interval would drop every session.)
	grid, firstWarm := time.Now(), 0
	rounds := o.rounds
	if o.duration > 0 && o.interval > 0 {
		rounds = int(o.duration / o.interval)
	}
	var coldDone chan PhaseResult
	if !o.skipCold {
		cold.Start = grid
		if cold.Interval == o.interval {
			firstWarm = 1
		}
		if o.overlap && firstWarm > 0 && o.settle == 0 && o.interval > 0 && rounds > 0 {
			// The warm phase begins at its first slot, whether or not
			// the cold round's scrapes have all returned.
			coldDone = make(chan PhaseResult, 1)
			go func() { coldDone <- phase(ctx, o, "cold", cold, 1, sampler) }()
			t := time.NewTimer(time.Until(grid.Add(o.interval)))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		} else {
			res.Phases = append(res.Phases, phase(ctx, o, "cold", cold, 1, sampler))
		}
	}
	if rounds > 0 && ctx.Err() == nil {
		if o.settle > 0 {
			time.Sleep(o.settle)
		}
		warm := base
		warm.Concurrency = o.concurrency
		warm.Interval = o.interval
		if firstWarm > 0 && o.settle == 0 {
			warm.Start, warm.FirstRound = grid, firstWarm
		}
		profDone := make(chan string, 1)
		if o.cpuProfile != "" {
			go func() { profDone <- fetchProfile(ctx, o) }()
		} else {
			profDone <- ""
		}
		res.Phases = append(res.Phases, phase(ctx, o, "warm", warm, rounds, sampler))
		res.Profile = <-profDone
	}
	if coldDone != nil {
		res.Phases = append([]PhaseResult{<-coldDone}, res.Phases...)
	}
	return res, nil
}

// counters are the external counters read around a phase.
type counters struct {
	relayIn, relayOut                float64
	bmcIn, bmcSessions               float64
	expRequests, expRetx, expHandsh  float64
	relayErr, bmcErr, expMetricsErrs error
}

func readCounters(ctx context.Context, o *options) counters {
	var c counters
	if o.relayStats != "" {
		var v struct {
			In  float64 `json:"relayed_in"`
			Out float64 `json:"relayed_out"`
		}
		c.relayErr = getJSON(ctx, o.relayStats, &v)
		c.relayIn, c.relayOut = v.In, v.Out
	}
	if o.bmcsimControl != "" {
		var v struct {
			PacketsIn      float64 `json:"packets_in"`
			SessionsOpened float64 `json:"sessions_opened"`
		}
		c.bmcErr = getJSON(ctx, strings.TrimRight(o.bmcsimControl, "/")+"/api/v1/counters", &v)
		c.bmcIn, c.bmcSessions = v.PacketsIn, v.SessionsOpened
	}
	if o.exporterMetrics != "" {
		sums, err := sumMetrics(ctx, o.exporterMetrics, "ipmi_fleet_exporter_requests_total",
			"ipmi_fleet_exporter_retransmits_total", "ipmi_fleet_exporter_session_handshakes_total")
		c.expMetricsErrs = err
		c.expRequests = sums["ipmi_fleet_exporter_requests_total"]
		c.expRetx = sums["ipmi_fleet_exporter_retransmits_total"]
		c.expHandsh = sums["ipmi_fleet_exporter_session_handshakes_total"]
	}
	return c
}

func getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// sumMetrics sums every sample of the named metrics in a Prometheus text
// exposition.
func sumMetrics(ctx context.Context, u string, names ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseSums(string(body), names), nil
}

func parseSums(body string, names []string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		for _, n := range names {
			if !strings.HasPrefix(line, n) || (len(line) > len(n) && line[len(n)] != '{' && line[len(n)] != ' ') {
				continue
			}
			var v float64
			if i := strings.LastIndexByte(line, ' '); i >= 0 {
				fmt.Sscan(line[i+1:], &v)
			}
			out[n] += v
		}
	}
	return out
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func phase(ctx context.Context, o *options, name string, cfg load.Config, rounds int, sampler *procstat.Sampler) PhaseResult {
	pr := PhaseResult{Name: name, Rounds: rounds}
	c0 := readCounters(ctx, o)
	var s0 procstat.Sample
	if sampler != nil {
		sampler.Peaks() // reset
		s0, _ = sampler.Now()
	}
	lg0 := selfCPU()
	t0 := time.Now()
	scrapes := load.Run(ctx, cfg, rounds)
	pr.Wall = time.Since(t0).Seconds()
	pr.LoadgenCPUSeconds = selfCPU() - lg0
	pr.LoadgenCores = pr.LoadgenCPUSeconds / pr.Wall
	c1 := readCounters(ctx, o)
	pr.Stats = load.Summarize(scrapes, cfg.Timeout)
	n := float64(len(scrapes))
	if sampler != nil {
		s1, err := sampler.Now()
		if err != nil {
			pr.ProcessErrors = err.Error()
		} else {
			pr.CPUSeconds = s1.CPU - s0.CPU
			pr.Cores = pr.CPUSeconds / pr.Wall
			if n > 0 {
				pr.CPUPer1000 = pr.CPUSeconds / n * 1000
			}
			pr.RSSEnd, pr.TreeRSSEnd, pr.HWMEnd = s1.RSS, s1.TreeRSS, s1.HWM
			pr.SocketsEnd, pr.FDsEnd = s1.Sockets, s1.FDs
		}
		p := sampler.Peaks()
		pr.Peaks = &p
	}
	if n > 0 {
		if o.relayStats != "" && c0.relayErr == nil && c1.relayErr == nil {
			pr.RelayIn, pr.RelayOut = int64(c1.relayIn-c0.relayIn), int64(c1.relayOut-c0.relayOut)
			pr.RelayInPerScrape = (c1.relayIn - c0.relayIn) / n
			pr.RelayOutPerScrape = (c1.relayOut - c0.relayOut) / n
		}
		if o.bmcsimControl != "" && c0.bmcErr == nil && c1.bmcErr == nil {
			pr.BMCPacketsInPerScrape = (c1.bmcIn - c0.bmcIn) / n
			pr.BMCSessionsOpened = c1.bmcSessions - c0.bmcSessions
			pr.BMCSessionsOpenedPerScrape = pr.BMCSessionsOpened / n
		}
		if o.exporterMetrics != "" && c0.expMetricsErrs == nil && c1.expMetricsErrs == nil {
			pr.ExporterRequestsPerScrape = (c1.expRequests - c0.expRequests) / n
			pr.ExporterRetransmitsPerScrap = (c1.expRetx - c0.expRetx) / n
			pr.ExporterHandshakes = c1.expHandsh - c0.expHandsh
		}
	}
	for _, err := range []error{c0.relayErr, c1.relayErr, c0.bmcErr, c1.bmcErr, c0.expMetricsErrs, c1.expMetricsErrs} {
		if err != nil {
			fmt.Fprintln(os.Stderr, "scrapeload: counters:", err)
			break
		}
	}
	if o.perTarget {
		pr.PerTarget = perTarget(scrapes, cfg.Timeout)
	}
	return pr
}

func perTarget(scrapes []load.Scrape, timeout time.Duration) []TargetSummary {
	by := map[string][]load.Scrape{}
	var order []string
	for _, s := range scrapes {
		if _, ok := by[s.Target]; !ok {
			order = append(order, s.Target)
		}
		by[s.Target] = append(by[s.Target], s)
	}
	out := make([]TargetSummary, 0, len(order))
	for _, t := range order {
		st := load.Summarize(by[t], timeout)
		out = append(out, TargetSummary{Target: t, Scrapes: st.Scrapes, OK: st.OK, P50ms: st.P50, MaxMs: st.Max})
	}
	return out
}

// fetchProfile fetches a CPU profile from the exporter's /debug/pprof if
// it serves one, and says what happened.
func fetchProfile(ctx context.Context, o *options) string {
	u := o.url
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			u = u[:i+3+j]
		}
	}
	u += fmt.Sprintf("/debug/pprof/profile?seconds=%d", o.cpuProfileSeconds)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(o.cpuProfileSeconds+30)*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "not fetched: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "octet-stream") {
		return "not exposed: " + u + " answered " + resp.Status
	}
	f, err := os.Create(o.cpuProfile)
	if err != nil {
		return "not written: " + err.Error()
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return "not written: " + err.Error()
	}
	return "written to " + o.cpuProfile
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func writeMarkdown(w io.Writer, r *Result) {
	fmt.Fprintf(w, "### %s: %d targets, module %s, interval %s, timeout %s\n\n", r.Label, r.Targets, r.Module, r.Interval, r.Timeout)
	if r.PingRTTms != nil {
		fmt.Fprintf(w, "RMCP ping RTT to the first target: min %.3f ms, p50 %.3f ms, p90 %.3f ms (%d pings)\n\n",
			r.PingRTTms.Min, r.PingRTTms.P50, r.PingRTTms.P90, r.PingRTTms.Count)
	}
	fmt.Fprintln(w, "| phase | scrapes | ok | inside timeout | p50 ms | p90 ms | p99 ms | max ms | CPU s/1000 scrapes | cores | RSS MiB (tree) | sockets (peak) | datagrams/scrape in/out | loadgen cores |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range r.Phases {
		peakSock := 0
		if p.Peaks != nil {
			peakSock = p.Peaks.Sockets
		}
		fmt.Fprintf(w, "| %s | %d | %.1f%% | %.1f%% | %.1f | %.1f | %.1f | %.1f | %.2f | %.3f | %.1f (%.1f) | %d (%d) | %.1f / %.1f | %.3f |\n",
			p.Name, p.Stats.Scrapes, 100*p.Stats.OKFraction, 100*p.Stats.InsideFrac, p.Stats.P50, p.Stats.P90, p.Stats.P99, p.Stats.Max,
			p.CPUPer1000, p.Cores, mib(p.RSSEnd), mib(p.TreeRSSEnd), p.SocketsEnd, peakSock,
			p.RelayInPerScrape, p.RelayOutPerScrape, p.LoadgenCores)
	}
	for _, p := range r.Phases {
		if len(p.Stats.FirstErrors) > 0 {
			fmt.Fprintf(w, "\n%s errors: %s\n", p.Name, strings.Join(p.Stats.FirstErrors, "; "))
		}
	}
	if r.Profile != "" {
		fmt.Fprintf(w, "\nCPU profile: %s\n", r.Profile)
	}
	fmt.Fprintln(w)
}
