// Command ipmi_fleet_exporter is a Prometheus exporter for server BMCs over
// the IPMI v2.0 LAN interface, built for fleets: long-lived RMCP+ sessions
// per target, a cached SDR repository, and no subprocesses.
//
// This file holds flags, HTTP routes and wiring only.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/exporter"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
)

const exporterName = "ipmi_fleet_exporter"

type flags struct {
	configFile    string
	logLevel      string
	logFormat     string
	demo          bool
	demoCount     int
	timeoutOffset time.Duration
	maxInFlight   int
	shutdownGrace time.Duration
	pprof         bool
	localModule   string
	web           *web.FlagConfig
}

func main() {
	fillVersion()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string) (*flags, error) {
	f := &flags{}
	app := kingpin.New(exporterName, "Prometheus exporter for server BMCs over IPMI v2.0 LAN (RMCP+), built for fleets.")
	app.Flag("config.file", "Path to the configuration file.").Default(exporterName + ".yml").StringVar(&f.configFile)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info").EnumVar(&f.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").
		Default("logfmt").EnumVar(&f.logFormat, "logfmt", "json")
	app.Flag("demo", "Serve simulated BMCs in-process and scrape them, ignoring --config.file.").BoolVar(&f.demo)
	app.Flag("demo.bmcs", "Number of simulated BMCs in --demo.").Default("3").IntVar(&f.demoCount)
	app.Flag("scrape.timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time to send the response.").
		Default("500ms").DurationVar(&f.timeoutOffset)
	app.Flag("scrape.max-in-flight", "Bound on BMC collections running at once across all targets (0 = unlimited).").
		Default("512").IntVar(&f.maxInFlight)
	app.Flag("web.shutdown-grace", "How long shutdown waits for running scrapes before closing sessions.").
		Default("10s").DurationVar(&f.shutdownGrace)
	// Off by default, as in node_exporter: profiles show the process'
	// memory and cost CPU to take, and the exporter's port is often
	// reachable from more places than its operators.
	app.Flag("local.module", "Scrape this machine's BMC with the in-band module NAME (driver: OPENIPMI) on /metrics, next to the exporter's own metrics, as ipmi_exporter's local mode does.").
		PlaceHolder("NAME").StringVar(&f.localModule)
	app.Flag("web.enable-pprof", "Serve Go's runtime profiles on /debug/pprof/ (and link them on the landing page).").
		BoolVar(&f.pprof)
	f.web = kingpinflag.AddFlags(app, ":9290")
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}
	return f, nil
}

func newLogger(f *flags, w *os.File) (log.Logger, *slog.Logger) {
	var base log.Logger
	if f.logFormat == "json" {
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	// Depth 5 skips go-kit's level and filter wrappers, so caller names our code.
	logger := log.With(base, "ts", log.DefaultTimestampUTC, "caller", log.Caller(5))
	var allow level.Option
	var slogLevel slog.Level
	switch f.logLevel {
	case "debug":
		allow, slogLevel = level.AllowDebug(), slog.LevelDebug
	case "warn":
		allow, slogLevel = level.AllowWarn(), slog.LevelWarn
	case "error":
		allow, slogLevel = level.AllowError(), slog.LevelError
	default:
		allow, slogLevel = level.AllowInfo(), slog.LevelInfo
	}
	logger = level.NewFilter(logger, allow)
	// exporter-toolkit logs through slog; send it to the same output. The
	// bridge brings the record's own time and caller, so it gets the
	// output without ours (a line had two of each), with the time under
	// our key.
	bridge := level.NewFilter(slogRecordFields{base}, allow)
	return logger, slog.New(sloggokit.NewGoKitHandler(bridge, slogLevel))
}

// slogRecordFields puts the slog bridge's "time" and "caller" first, as
// "ts" (UTC, as log.DefaultTimestampUTC writes it) and "caller", so its
// lines read like the exporter's own.
type slogRecordFields struct{ next log.Logger }

func (l slogRecordFields) Log(keyvals ...any) error {
	ts, caller := any(nil), any(nil)
	rest := make([]any, 0, len(keyvals)+4)
	for i := 0; i+1 < len(keyvals); i += 2 {
		switch keyvals[i] {
		case slog.TimeKey:
			if t, ok := keyvals[i+1].(time.Time); ok {
				ts = t.UTC().Format(time.RFC3339Nano)
				continue
			}
		case "caller":
			caller = keyvals[i+1]
			continue
		}
		rest = append(rest, keyvals[i], keyvals[i+1])
	}
	if len(keyvals)%2 == 1 {
		rest = append(rest, keyvals[len(keyvals)-1])
	}
	if ts == nil {
		ts = time.Now().UTC().Format(time.RFC3339Nano)
	}
	head := []any{"ts", ts}
	if caller != nil {
		head = append(head, "caller", caller)
	}
	return l.next.Log(append(head, rest...)...)
}

func run(args []string, stdout, stderr *os.File) int {
	f, err := parseFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", exporterName, err)
		return 2
	}
	logger, slogger := newLogger(f, stderr)
	level.Info(logger).Log("msg", "starting "+exporterName, "version", version.Info())

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(exporterName),
	)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	var store *config.Store
	var demo *demoFleet
	if f.demo {
		demo, err = startDemo(ctx, f.demoCount, logger)
		if err != nil {
			level.Error(logger).Log("msg", "cannot start the demo BMCs", "err", err)
			return 1
		}
		defer demo.Close()
		store, err = config.NewFixedStore(demo.Config, reg)
	} else {
		var warnings []config.Warning
		store, warnings, err = config.NewStore(f.configFile, reg, collector.Catalog())
		config.LogWarnings(logger, warnings)
	}
	if err != nil {
		if !f.demo && errors.Is(err, fs.ErrNotExist) {
			// The first thing a newcomer meets: say what to do.
			level.Error(logger).Log("msg", "cannot load configuration", "err", err,
				"hint", "copy config.example.yml to "+f.configFile+" and edit it (or name another file with --config.file), or try --demo, which needs none")
			return 1
		}
		config.LogErrors(logger, "cannot load configuration", err)
		return 1
	}
	if f.localModule != "" {
		// Checked now and at every reload: a reload that takes the
		// module away, or makes it a LAN one, is refused.
		err := store.Require(func(c *config.Config) error {
			_, err := c.InBandModule(f.localModule)
			if err != nil {
				return fmt.Errorf("--local.module: %w", err)
			}
			return nil
		})
		if err != nil {
			level.Error(logger).Log("msg", "cannot serve the local BMC on /metrics", "err", err)
			return 1
		}
	}

	observer := newSessionMetrics(reg)
	p := pool.New(pool.Options{
		MaxInFlight: f.maxInFlight,
		IdleTimeout: config.DefaultIdleTimeout, // each module sets its own

		Logger: logger,
	}, reg)
	// Every 5 s: idle sessions closed, and keep-alives sent to BMCs that
	// drop idle sessions (at 20 s of quiet, before the 30 s such BMCs
	// commonly allow).
	go p.Run(ctx, 5*time.Second)

	x := exporter.New(exporter.Options{
		Store:           store,
		Pool:            p,
		Dial:            exporter.SessionDialer(observer),
		IsSessionBroken: exporter.IsSessionBroken,
		TimeoutOffset:   f.timeoutOffset,
		Logger:          logger,
		Registerer:      reg,
	})

	reload := func() error {
		previous := store.Current()
		warnings, err := store.Reload()
		config.LogWarnings(logger, warnings)
		if err != nil {
			config.LogErrors(logger, "reload failed, keeping the previous configuration", err)
			return err
		}
		cfg := store.Current()
		// Sessions for modules that are gone, or whose settings
		// changed, are closed; they reopen on the next scrape.
		removed := p.Retain(func(k pool.Key) bool {
			m, ok := cfg.Module(k.Module)
			if ok && m.InBand() {
				return k.Target == exporter.LocalTarget(m)
			}
			return ok && m.TargetAllowed(hostOf(k.Target)) == nil
		})
		// Sessions logged in with settings the reload changed (password,
		// K_G, user, privilege, ...) are closed now rather than at their
		// next scrape, so this line and sessions_closed_total agree.
		changed := p.Evict(func(k pool.Key) bool {
			was, ok1 := previous.Module(k.Module)
			is, ok2 := cfg.Module(k.Module)
			return ok1 && ok2 && !exporter.SameLogin(hostOf(k.Target), was, is)
		}, "config_changed")
		level.Info(logger).Log("msg", "configuration reloaded", "sessions_closed", removed+changed,
			"sessions_closed_removed", removed, "sessions_closed_config_changed", changed)
		return nil
	}

	mux := http.NewServeMux()
	var metricsHandler http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	if f.localModule != "" {
		// Local mode: this machine's BMC next to the exporter's own.
		metricsHandler = x.LocalHandler(reg, f.localModule)
	}
	mux.Handle("/ipmi", x)
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		// ipmi_exporter compatibility: /metrics?target=… scrapes a BMC.
		// An over-long query goes to the scrape handler unparsed, which
		// refuses it with a 400.
		if len(r.URL.RawQuery) > exporter.MaxQueryLength || r.URL.Query().Has("target") {
			x.ServeHTTP(w, r)
			return
		}
		metricsHandler.ServeHTTP(w, r)
	})
	mux.Handle("/sd", exporter.SDHandler(store))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "Healthy.") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "Ready.") })
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := reload(); err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %v", err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded.")
	})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "IPMI Fleet Exporter",
		Description: "Prometheus exporter for server BMCs over IPMI v2.0 LAN",
		Version:     version.Info(),
		// The toolkit links /debug/pprof unless told not to.
		Profiling: strconv.FormatBool(f.pprof),
		Form: web.LandingForm{
			Action: "/ipmi",
			Inputs: []web.LandingFormInput{
				{Label: "Target", Type: "text", Name: "target", Placeholder: "BMC address[:port]"},
				{Label: "Module", Type: "text", Name: "module", Value: "default"},
			},
		},
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Exporter metrics"},
			{Address: "/sd", Text: "Service discovery (http_sd)"},
		},
	})
	if err != nil {
		level.Error(logger).Log("msg", "landing page", "err", err)
		return 1
	}
	mux.Handle("/", landing)
	if f.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// Go answers a request head over MaxHeaderBytes with its own
		// 431 before any handler runs (and below TLS a listener cannot
		// answer instead). The scrape handler refuses queries over
		// exporter.MaxQueryLength with a one-line 400 that says so;
		// heads up to maxRequestHead reach it (docs/security.md).
		MaxHeaderBytes: maxRequestHead,
		// A scrape can take up to the module timeout; writes must not be
		// cut before it.
		WriteTimeout: 5 * time.Minute,
	}
	// Bind before saying anything about the address: with the port taken
	// (9290 is also ipmi_exporter's), the demo's banner would point at
	// another process.
	listeners, err := listen(f.web)
	if err != nil {
		level.Error(logger).Log("msg", "cannot serve HTTP", "err", err)
		p.Close(context.Background())
		return 1
	}
	if demo != nil {
		demo.PrintUsage(stdout, listeners)
	}

	// Signals are ours before anything is served: a supervisor that
	// saw /-/ready and stops us at once must get a clean shutdown, not
	// the default action of SIGTERM.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	serveErr := make(chan error, 1)
	go func() {
		if listeners == nil {
			serveErr <- web.ListenAndServe(srv, f.web, slogger)
			return
		}
		serveErr <- web.ServeMultiple(listeners, srv, f.web, slogger)
	}()
	for {
		select {
		case err := <-serveErr:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				level.Error(logger).Log("msg", "HTTP server failed", "err", err)
				p.Close(context.Background())
				return 1
			}
			return 0
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				_ = reload()
				continue
			}
			level.Info(logger).Log("msg", "shutting down", "signal", sig)
			shutdownCtx, cancel := context.WithTimeout(context.Background(), f.shutdownGrace)
			// Stop accepting scrapes and let running ones finish and
			// write their whole response, then log out of every BMC.
			httpErr := srv.Shutdown(shutdownCtx)
			// After the grace period the pool cuts the collections still
			// running short, and logs out of their BMCs too.
			p.Close(shutdownCtx)
			cancel()
			if httpErr != nil {
				level.Warn(logger).Log("msg", "scrapes still running after the shutdown grace period were cut short", "err", httpErr)
				// Their handlers now answer with what they have: let
				// them write it.
				finishCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := srv.Shutdown(finishCtx); err != nil {
					level.Warn(logger).Log("msg", "HTTP shutdown", "err", err)
				}
				cancel()
			}
			level.Info(logger).Log("msg", "all BMC sessions closed")
			return 0
		}
	}
}

// maxRequestHead is the largest request head (request line and headers)
// the server reads: a query string of up to 10 MiB gets the scrape
// handler's 400, anything longer Go's 431. Reading a head that long costs
// about 1.7 times its size in memory, per connection, for at most
// ReadHeaderTimeout (Go's default limit, 1 MiB, costs a tenth of that).
const maxRequestHead = 11 << 20
