// Command benchreport turns the JSON files bench/compare.sh and
// bench/scale.sh collect (one per bench/scrapeload run) into markdown
// tables with ratios. Repeated runs (meta rep=1,2,...) are reduced to the
// median of each figure.
//
//	benchreport compare DIR
//	benchreport scale DIR
//	benchreport ab DIR
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// result is the part of scrapeload's JSON used here.
type result struct {
	Label     string            `json:"label"`
	Meta      map[string]string `json:"meta"`
	Targets   int               `json:"targets"`
	Interval  string            `json:"interval"`
	PingRTTms *struct {
		P50 float64 `json:"p50"`
	} `json:"ping_rtt_ms"`
	Phases []phase `json:"phases"`
}

type phase struct {
	Name  string  `json:"name"`
	Wall  float64 `json:"wall_seconds"`
	Stats struct {
		Scrapes     int      `json:"scrapes"`
		OKFraction  float64  `json:"ok_fraction"`
		InsideFrac  float64  `json:"inside_timeout_fraction"`
		P50         float64  `json:"p50_ms"`
		P99         float64  `json:"p99_ms"`
		Max         float64  `json:"max_ms"`
		LateMax     float64  `json:"late_max_ms"`
		QueuedMax   float64  `json:"queued_max_ms"`
		FirstErrors []string `json:"first_errors"`
	} `json:"stats"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPer1000 float64 `json:"cpu_seconds_per_1000_scrapes"`
	Cores      float64 `json:"cores"`
	RSSEnd     int64   `json:"rss_end_bytes"`
	TreeRSSEnd int64   `json:"tree_rss_end_bytes"`
	Peaks      *struct {
		RSS     int64 `json:"rss_bytes"`
		TreeRSS int64 `json:"tree_rss_bytes"`
		Sockets int   `json:"sockets"`
		FDs     int   `json:"fds"`
		Procs   int   `json:"procs"`
	} `json:"peaks"`
	SocketsEnd        int     `json:"sockets_end"`
	RelayIn           float64 `json:"relay_in_per_scrape"`
	BMCPacketsIn      float64 `json:"bmcsim_packets_in_per_scrape"`
	BMCSessions       float64 `json:"bmcsim_sessions_opened"`
	ExpRequests       float64 `json:"exporter_requests_per_scrape"`
	ExpRetransmits    float64 `json:"exporter_retransmits_per_scrape"`
	ExpHandshakes     float64 `json:"exporter_handshakes"`
	LoadgenCores      float64 `json:"loadgen_cores"`
	LoadgenCPUSeconds float64 `json:"loadgen_cpu_seconds"`
}

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "compare" && os.Args[1] != "scale" && os.Args[1] != "ab") {
		fmt.Fprintln(os.Stderr, "usage: benchreport compare|scale|ab DIR")
		os.Exit(2)
	}
	rs, err := loadDir(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	switch os.Args[1] {
	case "compare":
		compareReport(os.Stdout, rs)
	case "scale":
		scaleReport(os.Stdout, rs)
	case "ab":
		abReport(os.Stdout, rs)
	}
}

func loadDir(dir string) ([]result, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Meta != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func (r *result) phase(name string) *phase {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// set selects results and reduces a figure over repetitions.
type set []result

func (s set) where(kv ...string) set {
	var out set
	for _, r := range s {
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Meta[kv[i]] != kv[i+1] {
				ok = false
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// med is the median of f over the results that have the phase; NaN if
// none.
func (s set) med(phaseName string, f func(*result, *phase) float64) float64 {
	var v []float64
	for i := range s {
		if p := s[i].phase(phaseName); p != nil {
			if x := f(&s[i], p); !math.IsNaN(x) {
				v = append(v, x)
			}
		}
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func sizes(rs []result) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		if n := r.Meta["n"]; !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { a, _ := strconv.Atoi(out[i]); b, _ := strconv.Atoi(out[j]); return a < b })
	return out
}

func num(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// pair renders "ours / theirs (×ratio)" with ratio = a/b.
func pair(a, b float64, prec int) string {
	return fmt.Sprintf("%s / %s (%s)", num(a, prec), num(b, prec), num(a/b, 2))
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return num(100*x, 1) + "%"
}

var (
	p50     = func(_ *result, p *phase) float64 { return p.Stats.P50 }
	p99     = func(_ *result, p *phase) float64 { return p.Stats.P99 }
	okFrac  = func(_ *result, p *phase) float64 { return p.Stats.OKFraction }
	inside  = func(_ *result, p *phase) float64 { return p.Stats.InsideFrac }
	cpuK    = func(_ *result, p *phase) float64 { return p.CPUPer1000 }
	relayIn = func(_ *result, p *phase) float64 { return p.RelayIn }
	rssEnd  = func(_ *result, p *phase) float64 { return float64(p.RSSEnd) / (1 << 20) }
	treePk  = func(_ *result, p *phase) float64 {
		if p.Peaks == nil {
			return math.NaN()
		}
		return float64(p.Peaks.TreeRSS) / (1 << 20)
	}
	sockPk = func(_ *result, p *phase) float64 {
		if p.Peaks == nil {
			return math.NaN()
		}
		return float64(p.Peaks.Sockets)
	}
	loadgen = func(_ *result, p *phase) float64 { return p.LoadgenCores }
	retx    = func(_ *result, p *phase) float64 { return p.ExpRetransmits }
	ping    = func(r *result, _ *phase) float64 {
		if r.PingRTTms == nil {
			return math.NaN()
		}
		return r.PingRTTms.P50
	}
)

func compareReport(w io.Writer, all []result) {
	rs := set(all)
	ns := sizes(all)
	reps := 0
	for _, r := range all {
		n, _ := strconv.Atoi(r.Meta["rep"])
		reps = max(reps, n)
	}
	fmt.Fprintf(w, "Medians over %d repetition(s). Cells: ours / theirs (ours÷theirs) unless noted. "+
		"ok = HTTP 200, every ipmi_up 1, inside the timeout.\n\n", reps)

	fmt.Fprintln(w, "#### Latency per scrape, 0 ms added RTT (ms)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| BMCs | cold p50 | cold p99 | warm p50 | warm p99 | ok cold, warm: ours | theirs |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, n := range ns {
		o := rs.where("n", n, "rtt", "0ms", "who", "ours", "kind", "spread")
		t := rs.where("n", n, "rtt", "0ms", "who", "theirs", "kind", "spread")
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s, %s | %s, %s |\n", n,
			pair(o.med("cold", p50), t.med("cold", p50), 1), pair(o.med("cold", p99), t.med("cold", p99), 1),
			pair(o.med("warm", p50), t.med("warm", p50), 1), pair(o.med("warm", p99), t.med("warm", p99), 1),
			pct(o.med("cold", okFrac)), pct(o.med("warm", okFrac)), pct(t.med("cold", okFrac)), pct(t.med("warm", okFrac)))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "#### Cost, 0 ms added RTT")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU = utime+stime (+cutime+cstime and live children for the FreeIPMI exporter, which forks "+
		"tools) from /proc, per 1,000 scrapes; *tput* = back-to-back warm rounds (concurrency TPUT_CONCURRENCY, default 4), *spread* = the "+
		"Prometheus-like warm rounds (includes idle time). Ratio here: theirs÷ours. RSS: ours at the end of "+
		"the warm rounds; theirs: peak of the exporter plus its live children (sampled every 200 ms). "+
		"Round trips: datagrams the relay forwarded toward the BMCs per scrape.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| BMCs | CPU s/1,000 warm (tput) | ×less | CPU s/1,000 warm (spread) | ×less | CPU s/1,000 cold | RSS MiB ours / theirs (peak, tree) | round trips cold | round trips warm | sockets peak | loadgen cores |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range ns {
		o := rs.where("n", n, "rtt", "0ms", "who", "ours")
		t := rs.where("n", n, "rtt", "0ms", "who", "theirs")
		os_, ts := o.where("kind", "spread"), t.where("kind", "spread")
		ot, tt := o.where("kind", "tput"), t.where("kind", "tput")
		a, b := ot.med("warm", cpuK), tt.med("warm", cpuK)
		c, d := os_.med("warm", cpuK), ts.med("warm", cpuK)
		fmt.Fprintf(w, "| %s | %s / %s | %s | %s / %s | %s | %s / %s | %s / %s | %s / %s | %s / %s | %s / %s | %s |\n", n,
			num(a, 2), num(b, 1), num(b/a, 1), num(c, 2), num(d, 1), num(d/c, 1),
			num(os_.med("cold", cpuK), 1), num(ts.med("cold", cpuK), 1),
			num(os_.med("warm", rssEnd), 1), num(ts.med("warm", treePk), 1),
			num(os_.med("cold", relayIn), 1), num(ts.med("cold", relayIn), 1),
			num(os_.med("warm", relayIn), 1), num(ts.med("warm", relayIn), 1),
			num(os_.med("warm", sockPk), 0), num(ts.med("warm", sockPk), 0),
			num(max(ot.med("warm", loadgen), os_.med("warm", loadgen)), 3))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "#### 5 ms added RTT: window 1, 4, 8 against the FreeIPMI exporter")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| BMCs | warm p50 ms: w1 / w4 / w8 / theirs | ×faster (theirs÷ours) w1 / w4 / w8 | warm p99 ms: w1 / w4 / w8 / theirs | cold p50 ms: w1 / theirs | ok warm: w1 / w4 / w8 / theirs | retransmits per warm scrape w1 / w4 / w8 | round trips warm: ours / theirs |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, n := range ns {
		s := rs.where("n", n, "rtt", "5ms", "kind", "spread")
		w1, w4, w8 := s.where("who", "ours", "module", "w1"), s.where("who", "ours", "module", "w4"), s.where("who", "ours", "module", "w8")
		t := s.where("who", "theirs")
		tp := t.med("warm", p50)
		fmt.Fprintf(w, "| %s | %s / %s / %s / %s | %s / %s / %s | %s / %s / %s / %s | %s / %s | %s / %s / %s / %s | %s / %s / %s | %s / %s |\n", n,
			num(w1.med("warm", p50), 1), num(w4.med("warm", p50), 1), num(w8.med("warm", p50), 1), num(tp, 1),
			num(tp/w1.med("warm", p50), 1), num(tp/w4.med("warm", p50), 1), num(tp/w8.med("warm", p50), 1),
			num(w1.med("warm", p99), 1), num(w4.med("warm", p99), 1), num(w8.med("warm", p99), 1), num(t.med("warm", p99), 1),
			num(w1.med("cold", p50), 1), num(t.med("cold", p50), 1),
			pct(w1.med("warm", okFrac)), pct(w4.med("warm", okFrac)), pct(w8.med("warm", okFrac)), pct(t.med("warm", okFrac)),
			num(w1.med("warm", retx), 2), num(w4.med("warm", retx), 2), num(w8.med("warm", retx), 2),
			num(w1.med("warm", relayIn), 1), num(t.med("warm", relayIn), 1))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "#### The physical floor")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "floor = round trips per warm scrape (ours, window 1, counted at the relay) × RTT (median of 50 RMCP "+
		"pings through the same relay to the first BMC, ipmi_sim's own answer time included). "+
		"Ratio = warm p50 ÷ floor; with a window above 1 requests overlap, so the ratio can go below 1.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| BMCs | added RTT | ping RTT ms | round trips / warm scrape | floor ms | warm p50 ms w1 (÷floor) | w4 (÷floor) | w8 (÷floor) | theirs (÷floor) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, rtt := range []string{"0ms", "5ms"} {
		for _, n := range ns {
			s := rs.where("n", n, "rtt", rtt, "kind", "spread")
			w1 := s.where("who", "ours", "module", "w1")
			rt := w1.med("warm", relayIn)
			r := w1.med("warm", ping)
			floor := rt * r
			cell := func(x set) string {
				v := x.med("warm", p50)
				return fmt.Sprintf("%s (%s)", num(v, 1), num(v/floor, 2))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, rtt, num(r, 3), num(rt, 1), num(floor, 1),
				cell(w1), cell(s.where("who", "ours", "module", "w4")), cell(s.where("who", "ours", "module", "w8")),
				cell(s.where("who", "theirs")))
		}
	}
	fmt.Fprintln(w)
	errorsSection(w, all)
}

func errorsSection(w io.Writer, all []result) {
	var lines []string
	for _, r := range all {
		for _, p := range r.Phases {
			if len(p.Stats.FirstErrors) > 0 {
				lines = append(lines, fmt.Sprintf("- %s %s %s: %s", metaString(r.Meta), r.Label, p.Name,
					strings.Join(p.Stats.FirstErrors, "; ")))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	sort.Strings(lines)
	fmt.Fprintln(w, "#### Failed scrapes (first distinct errors per run)")
	fmt.Fprintln(w)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

func metaString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func scaleReport(w io.Writer, all []result) {
	rs := set(all).where("kind", "scale")
	ns := sizes(rs)
	fmt.Fprintln(w, "| BMCs | added latency | warm scrapes | exporter cores | CPU s / 1,000 scrapes | RSS MiB (peak) | RSS KiB per BMC | p50 ms | p99 ms | max ms | inside 10 s | ok | sockets (peak) | BMC packets / scrape | sessions opened in warm rounds | loadgen cores | cold p99 ms |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range ns {
		for _, lat := range []string{"0ms", "5ms"} {
			s := rs.where("n", n, "latency", lat)
			if len(s) == 0 {
				continue
			}
			nf, _ := strconv.ParseFloat(n, 64)
			scrapes := s.med("warm", func(_ *result, p *phase) float64 { return float64(p.Stats.Scrapes) })
			cores := s.med("warm", func(_ *result, p *phase) float64 { return p.Cores })
			rss := s.med("warm", rssEnd)
			peak := s.med("warm", func(_ *result, p *phase) float64 {
				if p.Peaks == nil {
					return math.NaN()
				}
				return float64(p.Peaks.RSS) / (1 << 20)
			})
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s | %s | %s |\n",
				n, lat, num(scrapes, 0), num(cores, 3), num(s.med("warm", cpuK), 2), num(rss, 0), num(peak, 0), num(rss*1024/nf, 1),
				num(s.med("warm", p50), 1), num(s.med("warm", p99), 1),
				num(s.med("warm", func(_ *result, p *phase) float64 { return p.Stats.Max }), 0),
				pct(s.med("warm", inside)), pct(s.med("warm", okFrac)),
				num(s.med("warm", func(_ *result, p *phase) float64 { return float64(p.SocketsEnd) }), 0), num(s.med("warm", sockPk), 0),
				num(s.med("warm", func(_ *result, p *phase) float64 { return p.BMCPacketsIn }), 1),
				num(s.med("warm", func(_ *result, p *phase) float64 { return p.BMCSessions }), 0),
				num(s.med("warm", loadgen), 3), num(s.med("cold", p99), 0))
		}
	}
	fmt.Fprintln(w)
	errorsSection(w, rs)
}

// abReport is bench/abcpu.sh's table: CPU per 1,000 warm scrapes of each
// build, every repetition and the median, and the median's ratio to the
// first build's (meta build=NAME, order=I, rep=R).
func abReport(w io.Writer, all []result) {
	rs := set(all).where("kind", "ab")
	type build struct {
		name  string
		order int
	}
	var builds []build
	seen := map[string]bool{}
	for _, r := range rs {
		if b := r.Meta["build"]; !seen[b] {
			seen[b] = true
			o, _ := strconv.Atoi(r.Meta["order"])
			builds = append(builds, build{b, o})
		}
	}
	sort.Slice(builds, func(i, j int) bool { return builds[i].order < builds[j].order })
	fmt.Fprintln(w, "| build | CPU s / 1,000 warm scrapes, per repetition | median | ÷ first | round trips per scrape | ok |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	var first float64
	for i, b := range builds {
		s := rs.where("build", b.name)
		sort.Slice(s, func(i, j int) bool {
			a, _ := strconv.Atoi(s[i].Meta["rep"])
			b, _ := strconv.Atoi(s[j].Meta["rep"])
			return a < b
		})
		var each []string
		for k := range s {
			if p := s[k].phase("warm"); p != nil {
				each = append(each, num(p.CPUPer1000, 2))
			}
		}
		m := s.med("warm", cpuK)
		if i == 0 {
			first = m
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", b.name, strings.Join(each, ", "), num(m, 2),
			num(m/first, 2), num(s.med("warm", relayIn), 1), pct(s.med("warm", okFrac)))
	}
}
