// Package load is a Prometheus-like scrape load generator for multi-target
// exporters: each target is scraped one request at a time, its scrapes
// spread over an interval the way Prometheus spreads targets, and every
// scrape's latency and outcome are recorded. A scrape succeeds when it
// answers HTTP 200 within the timeout and every ipmi_up sample in the body
// is 1 (and there is at least one).
package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes the scrapes of one phase.
type Config struct {
	// URL is the exporter's scrape endpoint, e.g. http://127.0.0.1:9290/ipmi.
	URL     string
	Targets []string
	Module  string
	// Concurrency caps requests in flight across targets; 0 is no cap,
	// as in Prometheus.
	Concurrency int
	// Interval spreads each round's scrapes over this long, target i
	// starting at i*Interval/len(Targets) into the round. 0 starts every
	// target at once and runs rounds back to back.
	Interval time.Duration
	// Timeout bounds each scrape; it is also sent as
	// X-Prometheus-Scrape-Timeout-Seconds.
	Timeout time.Duration
	Client  *http.Client
	// Gzip asks for a gzip-compressed response, as Prometheus does by
	// default, and decompresses it.
	Gzip bool
	// Start is the origin of the schedule (default: when Run is called)
	// and FirstRound the index of the first round run: round r of target
	// i is due at Start + r*Interval + offset(i). A phase that continues
	// an earlier one passes the earlier Start and its round count, so the
	// targets keep their slots (and their BMC sessions see the same idle
	// time) across phases, as they would under Prometheus.
	Start      time.Time
	FirstRound int
}

// Scrape is the outcome of one request.
type Scrape struct {
	Target  string        `json:"target"`
	Round   int           `json:"round"`
	Latency time.Duration `json:"latency_ns"`
	// Queued is time spent waiting for a concurrency slot (not in Latency).
	Queued time.Duration `json:"queued_ns,omitempty"`
	// Late is how far behind its slot the scrape started, because the
	// target's previous scrape overran the interval.
	Late   time.Duration `json:"late_ns,omitempty"`
	Status int           `json:"status"`
	Up     int           `json:"up"`
	Down   int           `json:"down"`
	Bytes  int           `json:"bytes"`
	Err    string        `json:"err,omitempty"`
}

// OK reports whether the scrape succeeded inside timeout.
func (s *Scrape) OK(timeout time.Duration) bool {
	return s.Err == "" && s.Status == http.StatusOK && s.Up > 0 && s.Down == 0 && s.Latency <= timeout
}

// NewClient returns an HTTP client suited to many concurrent scrapes of
// one exporter.
func NewClient(maxIdle int) *http.Client {
	if maxIdle < 16 {
		maxIdle = 16
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxIdle,
		MaxIdleConnsPerHost: maxIdle,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}}
}

// Run scrapes every target rounds times and returns the scrapes, in no
// particular order. Cancelling ctx stops scheduling new scrapes.
func Run(ctx context.Context, cfg Config, rounds int) []Scrape {
	if cfg.Client == nil {
		cfg.Client = NewClient(cfg.Concurrency)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	var sem chan struct{}
	if cfg.Concurrency > 0 {
		sem = make(chan struct{}, cfg.Concurrency)
	}
	n := len(cfg.Targets)
	out := make([][]Scrape, n)
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
	}
	var wg sync.WaitGroup
	for i, target := range cfg.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var offset time.Duration
			if n > 0 {
				offset = time.Duration(int64(cfg.Interval) * int64(i) / int64(n))
			}
			res := make([]Scrape, 0, rounds)
			for r := cfg.FirstRound; r < cfg.FirstRound+rounds; r++ {
				var late time.Duration
				if cfg.Interval > 0 {
					slot := start.Add(time.Duration(r)*cfg.Interval + offset)
					if d := time.Until(slot); d > 0 {
						select {
						case <-ctx.Done():
							out[i] = res
							return
						case <-time.After(d):
						}
					} else {
						late = -d
					}
				}
				if ctx.Err() != nil {
					break
				}
				var queued time.Duration
				if sem != nil {
					q := time.Now()
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						out[i] = res
						return
					}
					queued = time.Since(q)
				}
				s := scrapeOnce(ctx, cfg, target)
				if sem != nil {
					<-sem
				}
				s.Round, s.Queued, s.Late = r, queued, late
				res = append(res, s)
			}
			out[i] = res
		}()
	}
	wg.Wait()
	var all []Scrape
	for _, r := range out {
		all = append(all, r...)
	}
	return all
}

var (
	upPrefix = []byte("ipmi_up{")
)

// scrapeOnce performs one scrape and checks its body.
func scrapeOnce(ctx context.Context, cfg Config, target string) Scrape {
	s := Scrape{Target: target}
	u := cfg.URL + "?target=" + url.QueryEscape(target)
	if cfg.Module != "" {
		u += "&module=" + url.QueryEscape(cfg.Module)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(cfg.Timeout.Seconds(), 'f', -1, 64))
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	if cfg.Gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	t0 := time.Now()
	resp, err := cfg.Client.Do(req)
	if err != nil {
		s.Latency = time.Since(t0)
		s.Err = classify(err)
		return s
	}
	var body []byte
	if resp.Header.Get("Content-Encoding") == "gzip" {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(resp.Body); err == nil {
			body, err = io.ReadAll(zr)
		}
	} else {
		body, err = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	s.Latency = time.Since(t0)
	s.Status = resp.StatusCode
	s.Bytes = len(body)
	if err != nil {
		s.Err = classify(err)
		return s
	}
	s.Up, s.Down = countUp(body)
	return s
}

func classify(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// countUp counts ipmi_up samples equal to 1 and the others.
func countUp(body []byte) (up, down int) {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if !bytes.HasPrefix(line, upPrefix) {
			continue
		}
		j := bytes.LastIndexByte(line, ' ')
		if j < 0 {
			down++
			continue
		}
		v, err := strconv.ParseFloat(string(bytes.TrimSpace(line[j+1:])), 64)
		if err == nil && v == 1 {
			up++
		} else {
			down++
		}
	}
	return up, down
}

// Stats summarises scrapes.
type Stats struct {
	Scrapes int `json:"scrapes"`
	// OK scrapes answered 200 within the timeout with every ipmi_up 1.
	OK int `json:"ok"`
	// InsideTimeout scrapes answered (any status) within the timeout.
	InsideTimeout int     `json:"inside_timeout"`
	OKFraction    float64 `json:"ok_fraction"`
	InsideFrac    float64 `json:"inside_timeout_fraction"`
	Timeouts      int     `json:"timeouts"`
	HTTPErrors    int     `json:"http_errors"`
	UpFailures    int     `json:"up_failures"`
	OtherErrors   int     `json:"other_errors"`
	// Latency percentiles and maximum, in milliseconds, over every scrape
	// (failed ones included; a timed-out scrape counts as its timeout).
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
	// QueuedMax is the longest wait for a concurrency slot and LateMax
	// the longest delay behind schedule, in milliseconds: large values
	// mean the generator, not the exporter, set the pace.
	QueuedMax float64 `json:"queued_max_ms"`
	LateMax   float64 `json:"late_max_ms"`
	Late      int     `json:"late_scrapes"`
	BytesMean float64 `json:"bytes_mean"`
	// FirstErrors lists up to five distinct error descriptions.
	FirstErrors []string `json:"first_errors,omitempty"`
}

// Summarize computes Stats for scrapes against timeout.
func Summarize(scrapes []Scrape, timeout time.Duration) Stats {
	st := Stats{Scrapes: len(scrapes)}
	if len(scrapes) == 0 {
		return st
	}
	lat := make([]float64, 0, len(scrapes))
	var sum, bytesSum float64
	seen := map[string]bool{}
	for i := range scrapes {
		s := &scrapes[i]
		ms := float64(s.Latency) / 1e6
		lat = append(lat, ms)
		sum += ms
		bytesSum += float64(s.Bytes)
		st.QueuedMax = math.Max(st.QueuedMax, float64(s.Queued)/1e6)
		st.LateMax = math.Max(st.LateMax, float64(s.Late)/1e6)
		if s.Late > 100*time.Millisecond {
			st.Late++
		}
		if s.OK(timeout) {
			st.OK++
		}
		if s.Err != "timeout" && s.Latency <= timeout {
			st.InsideTimeout++
		}
		var desc string
		switch {
		case s.Err == "timeout" || s.Latency > timeout:
			st.Timeouts++
			desc = "timeout"
		case s.Err != "":
			st.OtherErrors++
			desc = s.Err
		case s.Status != http.StatusOK:
			st.HTTPErrors++
			desc = "HTTP " + strconv.Itoa(s.Status)
		case s.Up == 0 || s.Down > 0:
			st.UpFailures++
			desc = fmt.Sprintf("ipmi_up: %d of %d collectors down", s.Down, s.Up+s.Down)
		}
		if desc != "" && !seen[desc] && len(st.FirstErrors) < 5 {
			seen[desc] = true
			st.FirstErrors = append(st.FirstErrors, s.Target+": "+desc)
		}
	}
	slices.Sort(lat)
	st.P50 = Percentile(lat, 50)
	st.P90 = Percentile(lat, 90)
	st.P99 = Percentile(lat, 99)
	st.Max = lat[len(lat)-1]
	st.Mean = sum / float64(len(lat))
	st.BytesMean = bytesSum / float64(len(lat))
	st.OKFraction = float64(st.OK) / float64(st.Scrapes)
	st.InsideFrac = float64(st.InsideTimeout) / float64(st.Scrapes)
	return st
}

// Percentile returns the p-th percentile (nearest rank) of sorted values.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ParseTargets expands a comma-separated list of host:port items, where
// a port may be a range (127.0.0.1:20000-20049).
func ParseTargets(spec string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		host, port, err := net.SplitHostPort(item)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", item, err)
		}
		lo, hi, isRange := strings.Cut(port, "-")
		if !isRange {
			out = append(out, item)
			continue
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b || a < 1 || b > 65535 {
			return nil, fmt.Errorf("target %q: bad port range", item)
		}
		for p := a; p <= b; p++ {
			out = append(out, net.JoinHostPort(host, strconv.Itoa(p)))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no targets")
	}
	return out, nil
}
