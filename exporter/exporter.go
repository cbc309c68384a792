// Package exporter serves one scrape of one BMC over HTTP
// (/ipmi?target=HOST[:PORT]&module=NAME), the http_sd target list (/sd),
// and ties the config store, the session pool and the collectors together.
package exporter

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
)

// Dialer opens a session to a BMC with a module's credentials.
type Dialer func(ctx context.Context, addr string, m *config.Module) (ipmi.Transport, error)

// Options configures an Exporter.
type Options struct {
	Store *config.Store
	Pool  *pool.Pool
	Dial  Dialer
	// IsSessionBroken reports errors after which the pooled session is
	// dropped and the next scrape opens a new one.
	IsSessionBroken func(error) bool
	// TimeoutOffset is subtracted from Prometheus' scrape timeout header,
	// leaving time to encode and send the response.
	TimeoutOffset time.Duration
	Logger        log.Logger
	// Registerer receives the exporter's own metrics (may be nil).
	Registerer prometheus.Registerer
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

// Exporter is the /ipmi handler.
type Exporter struct {
	opts        Options
	gzipWriters sync.Pool
	sdrWalks    prometheus.Counter
	sdrHits     prometheus.Counter
	requests    *prometheus.CounterVec
	durations   prometheus.Histogram
	windows     prometheus.Histogram
	text        *textWriter
	// tables shares sensor tables between BMCs whose SDR repositories
	// hold the same records: a fleet is a few hardware models, and the
	// table was most of a BMC's memory (docs/benchmarks.md).
	tables *collector.SensorTables
	// refusals are the (target, module) pairs whose login the BMC
	// refused, not to be logged into again for a while.
	refusals refusals
	// registryText sends the text format through a registry too, as
	// before the direct writer (tests and benchmarks compare the two).
	registryText bool
}

// New returns an Exporter.
func New(opts Options) *Exporter {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	families := collector.Families()
	textFamilies := make([]textFamily, len(families))
	for i, f := range families {
		textFamilies[i] = f
	}
	x := &Exporter{
		opts:   opts,
		text:   newTextWriter(textFamilies),
		tables: collector.NewSensorTables(),
		sdrWalks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_sdr_walks_total",
			Help: "SDR repository walks (first scrape of a BMC, or its repository changed).",
		}),
		sdrHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_sdr_cache_hits_total",
			Help: "Scrapes that used the cached SDR repository.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_scrape_requests_total",
			Help: "BMC scrape requests received over HTTP, by outcome (ok, bad_request).",
		}, []string{"outcome"}),
		windows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ipmi_fleet_exporter_request_window",
			Help:    "Requests a BMC session may have in flight at the end of each collection (window: auto finds it per BMC).",
			Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 32, 63},
		}),
		durations: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ipmi_fleet_exporter_scrape_duration_seconds",
			Help:    "Time to answer a BMC scrape request, including waiting for a shared collection.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	if opts.Registerer != nil {
		tables := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ipmi_fleet_exporter_sensor_tables",
			Help: "Sensor tables held, each shared by the BMCs whose SDR repositories hold the same records (about one per hardware model and module).",
		}, func() float64 { return float64(x.tables.Len()) })
		opts.Registerer.MustRegister(x.sdrWalks, x.sdrHits, x.requests, x.durations, x.windows, tables, x.text.fallbacks)
	}
	return x
}

// MaxQueryLength bounds the query string of a scrape request. Targets and
// module names are short; anything longer is refused before any work.
const MaxQueryLength = 4096

// ServeHTTP scrapes the BMC named by the target parameter.
func (x *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { x.durations.Observe(time.Since(start).Seconds()) }()
	badRequest := func(w http.ResponseWriter, format string, args ...any) {
		x.requests.WithLabelValues("bad_request").Inc()
		http.Error(w, reasonLine(fmt.Sprintf(format, args...)), http.StatusBadRequest)
	}
	if len(r.URL.RawQuery) > MaxQueryLength {
		badRequest(w, "query string is %d bytes, at most %d are accepted", len(r.URL.RawQuery), MaxQueryLength)
		return
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	cfg := x.opts.Store.Current()
	moduleName := q.Get("module")
	if moduleName == "" {
		moduleName = config.DefaultModuleName
	}
	m, ok := cfg.Module(moduleName)
	if !ok {
		badRequest(w, "unknown module %q", clip(moduleName))
		return
	}
	target := q.Get("target")
	if m.InBand() {
		// This machine's BMC: no target to name, check or log in to.
		if target != "" {
			badRequest(w, "module %q reads this machine's BMC in band (driver %s) and takes no 'target'; scrape /ipmi?module=%s",
				clip(m.Name), m.Driver, clip(m.Name))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r.Header, m.Timeout, x.opts.TimeoutOffset))
		defer cancel()
		x.scrape(ctx, w, r, q, LocalTarget(m), m, m)
		return
	}
	if target == "" {
		badRequest(w, "'target' parameter is missing")
		return
	}
	host, port, err := config.ParseTarget(target)
	if err != nil {
		// The error quotes the target, cut to a readable length.
		badRequest(w, "%v", err)
		return
	}
	timeout := scrapeTimeout(r.Header, m.Timeout, x.opts.TimeoutOffset)
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	addr, err := x.allowedAddr(m, host, port)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	// The credentials for this target (credentials_file), after
	// allowed_targets and before any packet: a target with none is a
	// 400 that says so, not a login with nothing.
	m.RefreshCredentials(x.opts.Logger)
	login, err := m.Login(host)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	x.scrape(ctx, w, r, q, addr, m, login)
}

// scrape answers a checked scrape request: one collection of addr (the
// pool key's target) with module m, logging in as login.
func (x *Exporter) scrape(ctx context.Context, w http.ResponseWriter, r *http.Request, q queryValues, addr string, m, login *config.Module) {
	logger := log.With(x.opts.Logger, "target", addr, "module", m.Name)
	var debug *scrapeLog
	if q.Get("debug") == "true" {
		debug = newScrapeLog()
		logger = log.With(debug.tee(x.opts.Logger), "target", addr, "module", m.Name)
		ctx = debug.withTrace(ctx)
		if m.InBand() {
			_ = debug.logger.Log("msg", "reading this machine's BMC in band", "device", deviceName(m))
		} else {
			_ = debug.logger.Log("msg", "login credentials", "user", login.User, "from", login.CredentialsSource())
		}
	}
	metrics, shared := x.collect(ctx, addr, m, login, logger)
	x.requests.WithLabelValues("ok").Inc()
	if debug != nil {
		x.writeDebug(w, debug, metrics, login, shared)
		return
	}
	x.writeMetrics(w, r, metrics, logger)
}

// writeMetrics answers with metrics in the format the scraper asked for.
// It does what promhttp does, but compresses with gzip at BestSpeed: at the
// default level gzip was over a third of the exporter's CPU per scrape
// (docs/benchmarks.md), and the highly repetitive exposition text
// compresses nearly as well at level 1. The text format is written
// directly, without a registry (text.go), unless the metrics need the
// registry's handling.
func (x *Exporter) writeMetrics(w http.ResponseWriter, r *http.Request, metrics []prometheus.Metric, logger log.Logger) {
	format := expfmt.Negotiate(r.Header)
	if !x.registryText && directTextFormat(format) {
		s := x.text.getScratch()
		defer x.text.putScratch(s)
		err := x.text.appendText(s, metrics)
		if err == nil {
			x.respond(w, r, format, logger, func(out io.Writer) error {
				_, err := out.Write(s.buf.Bytes())
				return err
			})
			return
		}
		x.text.fallbacks.WithLabelValues(fallbackReason(err)).Inc()
		level.Debug(logger).Log("msg", "writing the text exposition through a registry", "err", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(constCollector(metrics))
	families, err := reg.Gather()
	if err != nil {
		// Inconsistent series (a bug, not a BMC problem): serve what
		// gathered, as promhttp.ContinueOnError would, and say so.
		level.Error(logger).Log("msg", "gathering the scrape's metrics", "err", err)
	}
	x.respond(w, r, format, logger, func(out io.Writer) error {
		enc := expfmt.NewEncoder(out, format)
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				return err
			}
		}
		if c, ok := enc.(expfmt.Closer); ok {
			return c.Close()
		}
		return nil
	})
}

// respond sets the response headers for format and the scraper's
// Accept-Encoding, and has write write the body, gzipped if asked.
func (x *Exporter) respond(w http.ResponseWriter, r *http.Request, format expfmt.Format, logger log.Logger, write func(io.Writer) error) {
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		// A gzip writer holds about a megabyte of state: reuse them.
		gz, _ := x.gzipWriters.Get().(*gzip.Writer)
		if gz == nil {
			gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level: no error
		} else {
			gz.Reset(w)
		}
		defer func() {
			gz.Close()
			x.gzipWriters.Put(gz)
		}()
		out = gz
	}
	if err := write(out); err != nil {
		level.Debug(logger).Log("msg", "writing the scrape response", "err", err)
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.TrimSpace(params)
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// parseQuery is url.ParseQuery that refuses repeated target/module
// parameters, which would otherwise silently pick the first.
func parseQuery(raw string) (queryValues, error) {
	v, err := parseValues(raw)
	if err != nil {
		return nil, fmt.Errorf("malformed query: %w", err)
	}
	for _, k := range []string{"target", "module"} {
		if len(v[k]) > 1 {
			return nil, fmt.Errorf("parameter %q given %d times", k, len(v[k]))
		}
	}
	return v, nil
}

// allowedAddr checks the target against the module's allowed_targets
// BEFORE anything is sent to it: a multi-target exporter that
// authenticates to any host would hand that host the RAKP exchange it
// needs to crack the password offline. Nothing is resolved: IP literals
// match CIDRs, host names match name globs only. Resolving a name to
// match it against CIDRs would let whoever answers DNS for it decide
// what is allowed (and localhost passed a 127.0.0.1 entry).
func (x *Exporter) allowedAddr(m *config.Module, host string, port uint16) (string, error) {
	if err := m.TargetAllowed(host); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

// maxEcho bounds how much of a request parameter a 400 reason quotes:
// enough to recognize it, never the kilobytes a hostile client sends.
const maxEcho = 64

// clip cuts s to maxEcho bytes for an error message.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "..."
}

// maxReason bounds a 400's reason line. Errors quote what they reject
// (escaped, so a hostile byte takes four characters); the line stays
// readable whatever the input.
const maxReason = 320

// reasonLine cuts msg to maxReason bytes at a character boundary.
func reasonLine(msg string) string {
	if len(msg) <= maxReason {
		return msg
	}
	n := maxReason
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return msg[:n] + "..."
}

// collect runs one collection through the pool: concurrent scrapes of
// the same target and module share it. login is m with this target's
// credentials (Module.Login). shared reports that this call joined a
// collection another scrape started (with its own logger and context).
func (x *Exporter) collect(ctx context.Context, addr string, m, login *config.Module, logger log.Logger) (metrics []prometheus.Metric, shared bool) {
	// The scrape's duration counts from here: waiting for a slot and
	// setting up the session are part of it.
	start := time.Now()
	key := pool.Key{Target: addr, Module: m.Name}
	dial := func(ctx context.Context) (ipmi.Transport, error) {
		return x.opts.Dial(ctx, addr, login)
	}
	ran := false
	res, err := pool.Do(ctx, x.opts.Pool, key, m.MaxSessions, dial, func(ctx context.Context, c *pool.Collection[ipmi.Transport, *entryState]) ([]prometheus.Metric, error) {
		ran = true
		// current is the entry's open session, nil when there is none.
		current := func() ipmi.Transport { s, _ := c.Session(); return s }
		st := c.State()
		if st != nil && current() != nil && st.loggedIn == current() && !st.login.Equal(login.SessionSettings) {
			// How to log in to this BMC changed (a reload, or its
			// credentials_file entry: a new password, K_G, user,
			// privilege, ...): log out of the session opened with
			// the old settings; ensure opens one with the new. Only
			// this BMC's session: the others' settings did not change.
			level.Info(logger).Log("msg", "closing the session opened with the previous login settings")
			c.Drop("config_changed")
		}
		if st == nil || st.module != m {
			// New entry, or the module changed on reload: start
			// with fresh caches for the new settings. What the
			// session was opened with stays known.
			next := &entryState{module: m, collector: collector.NewState()}
			if st != nil {
				next.loggedIn, next.login = st.loggedIn, st.login
			}
			st = next
			c.SetState(st)
		}
		// idle_timeout 0 means log out after every scrape.
		if m.IdleTimeout == 0 {
			c.SetIdleTimeout(-1)
		} else {
			c.SetIdleTimeout(m.IdleTimeout)
		}
		var openErr error
		if rf := x.refusals.blocked(key, login, x.now()); current() == nil && rf != nil {
			// The BMC refused these credentials a moment ago. Logging in
			// again on every scrape would not change its mind, may lock
			// the account (many BMCs lock after a few failures), and with
			// a wrong K_G strands a half-open session on the BMC each time.
			openErr = fmt.Errorf("not logging in again before %s (refused %d times in a row): %w",
				rf.retryAt.Format(time.RFC3339), rf.failures, rf.err)
		} else {
			openErr = c.Ensure(ctx)
			var authErr *session.AuthError
			if errors.As(openErr, &authErr) {
				x.refusals.refused(key, login, openErr, x.now())
			} else if openErr == nil {
				x.refusals.accepted(key)
			}
		}
		t := &collector.Target{Module: m, State: st.collector, Logger: logger, Tables: x.tables, Start: start, Addr: addr}
		if openErr == nil {
			if st.loggedIn != current() {
				st.loggedIn, st.login = current(), login.SessionSettings
			}
			if st.session != current() {
				// One client per request the module keeps in
				// flight; they share the session.
				st.session = current()
				st.watch = &watchedTransport{Transport: current()}
				st.clients = make([]*ipmi.Client, clientsFor(m.SessionSettings))
				for i := range st.clients {
					st.clients[i] = ipmi.NewClient(st.watch)
				}
			}
			st.watch.sent.Store(0)
			st.watch.answered.Store(0)
			t.Client, t.Clients = st.clients[0], st.clients
		} else if m.InBand() {
			level.Warn(logger).Log("msg", "cannot open the IPMI device", "err", openErr)
		} else {
			level.Warn(logger).Log("msg", "cannot open BMC session", "err", openErr)
		}
		walks, hits := st.collector.SDRWalks(), st.collector.SDRCacheHits()
		metrics, broken := collector.Scrape(ctx, t, openErr, x.opts.IsSessionBroken)
		if w, ok := current().(interface{ Window() int }); ok && openErr == nil {
			n := w.Window()
			x.windows.Observe(float64(n))
			level.Debug(logger).Log("msg", "requests in flight allowed at the end of the collection", "window", n)
		}
		x.sdrWalks.Add(float64(st.collector.SDRWalks() - walks))
		x.sdrHits.Add(float64(st.collector.SDRCacheHits() - hits))
		// Requests went out on the pooled session and the BMC answered
		// none: it no longer knows the session (a reboot; many BMCs
		// drop such requests silently), or it is gone. Nothing was read,
		// whatever caches served, so every collector is down; and the
		// session is not trusted again: with a scrape deadline shorter
		// than the session's request timeout, the session layer would
		// never declare it dead by itself.
		silent := openErr == nil && st.watch.sent.Load() > 0 && st.watch.answered.Load() == 0
		if silent {
			metrics = allDown(metrics)
		}
		switch {
		case broken:
			c.Drop("error")
		case silent:
			level.Info(logger).Log("msg", "BMC answered none of the scrape's requests; logging in again next time")
			c.Discard("unanswered")
		}
		return metrics, nil
	})
	if err != nil {
		// The pool could not even start (shutting down, or no slot
		// within the deadline): report every collector down.
		level.Warn(logger).Log("msg", "scrape not run", "err", err)
		metrics, _ := collector.Scrape(ctx, &collector.Target{Module: m, Logger: logger, Start: start}, err, nil)
		return metrics, false
	}
	return res, !ran
}

func (x *Exporter) now() time.Time {
	if x.opts.Now != nil {
		return x.opts.Now()
	}
	return time.Now()
}

// SameSessionSettings reports whether sessions opened with module a can
// serve module b: everything SessionDialer puts into a session is equal. A
// reload closes the sessions of modules for which it is false.
func SameSessionSettings(a, b *config.Module) bool { return sameSessionSettings(a, b) }

// SameLogin reports whether a session to host opened with module a's
// settings can serve module b: SameSessionSettings with each module's
// credentials for host (credentials_file). A module that has none for
// host is not the same.
func SameLogin(host string, a, b *config.Module) bool {
	la, errA := a.Login(host)
	lb, errB := b.Login(host)
	return errA == nil && errB == nil && sameSessionSettings(la, lb)
}

func sameSessionSettings(a, b *config.Module) bool {
	return a.SessionSettings.Equal(b.SessionSettings)
}

// entryState is what the exporter keeps in a pool entry.
type entryState struct {
	module *config.Module
	// loggedIn is the session opened with login, the settings (this
	// target's credentials included) it logged in with.
	loggedIn ipmi.Transport
	login    config.SessionSettings

	session   ipmi.Transport
	watch     *watchedTransport
	clients   []*ipmi.Client
	collector *collector.State
}

// watchedTransport counts the requests of one collection and the answers
// to them (any answer, whatever its completion code).
type watchedTransport struct {
	ipmi.Transport
	sent, answered atomic.Int64
}

func (w *watchedTransport) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	w.sent.Add(1)
	code, resp, err := w.Transport.Exchange(ctx, target, netFn, cmd, data)
	if err == nil {
		w.answered.Add(1)
	}
	return code, resp, err
}

// upName is the fully qualified name of the collectors' ipmi_up.
const upName = `fqName: "ipmi_up"`

// allDown returns metrics with every ipmi_up set to 0.
func allDown(metrics []prometheus.Metric) []prometheus.Metric {
	out := make([]prometheus.Metric, 0, len(metrics))
	for _, m := range metrics {
		if strings.Contains(m.Desc().String(), upName) {
			var d dto.Metric
			if err := m.Write(&d); err == nil && d.GetGauge().GetValue() != 0 && len(d.GetLabel()) == 1 {
				m = prometheus.MustNewConstMetric(m.Desc(), prometheus.GaugeValue, 0, d.GetLabel()[0].GetValue())
			}
		}
		out = append(out, m)
	}
	return out
}

// scrapeTimeout is Prometheus' scrape timeout (from the header it sends)
// minus offset, capped by the module's timeout.
func scrapeTimeout(h http.Header, moduleTimeout, offset time.Duration) time.Duration {
	timeout := moduleTimeout
	if v := h.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			d := time.Duration(secs*float64(time.Second)) - offset
			if d < 100*time.Millisecond {
				d = 100 * time.Millisecond
			}
			if d < timeout {
				timeout = d
			}
		}
	}
	return timeout
}

// constCollector replays already collected metrics into a registry.
type constCollector []prometheus.Metric

func (c constCollector) Describe(chan<- *prometheus.Desc) {}
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// SDHandler serves the config's targets in the Prometheus http_sd format,
// each group labelled with __param_module so a scrape config can pass it
// on as is.
func SDHandler(store *config.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type group struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		}
		cfg := store.Current()
		groups := []group{}
		for _, g := range cfg.Targets {
			labels := map[string]string{"__param_module": g.Module}
			for k, v := range g.Labels {
				labels[k] = v
			}
			groups = append(groups, group{Targets: append([]string{}, g.Hosts...), Labels: labels})
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(groups); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}

// clientsFor is how many clients share a session: one per request the
// module may keep in flight (the adaptive window's cap; the session's own
// window holds the rest back).
func clientsFor(st config.SessionSettings) int {
	if st.Window == config.WindowAuto {
		return max(st.MaxWindow, 1)
	}
	return max(int(st.Window), 1)
}
