package exporter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/inband"
)

// localTarget is the pool key's target of an in-band module that leaves
// the device to the default search.
const localTarget = "local"

// LocalTarget is the target an in-band module's scrapes are pooled and
// logged under: its device file, or "local" when it searches the default
// ones. Modules naming the same device share its max_sessions.
func LocalTarget(m *config.Module) string {
	if m.Device != "" {
		return m.Device
	}
	return localTarget
}

// deviceName is the device an in-band module opens, as a log shows it.
func deviceName(m *config.Module) string {
	if m.Device != "" {
		return m.Device
	}
	return "the first of /dev/ipmi0, /dev/ipmi/0, /dev/ipmidev/0"
}

// openInBand opens this machine's BMC through the kernel's IPMI driver.
// Its errors (no device with the modules to load, permission denied with
// the device's owner and mode, ...) become the scrape's reason for
// ipmi_up 0, in the log and in debug=true.
func openInBand(m *config.Module) (ipmi.Transport, error) {
	t, err := inband.Open(inBandOptions(m.SessionSettings))
	if err != nil {
		return nil, err
	}
	return t, nil
}

// inBandOptions builds the in-band transport's settings from a module's:
// every config.SessionSettings field an in-band module has goes into it.
func inBandOptions(st config.SessionSettings) inband.Options {
	return inband.Options{Device: st.Device}
}

// LocalHandler serves /metrics in local mode (--local.module): the
// exporter's own metrics from own and a scrape of this machine's BMC with
// the in-band module called module, as ipmi_exporter's /metrics does in
// its local mode, so the Prometheus jobs and dashboards made for it keep
// working. The module is looked up at each request (a reload may change
// it); the store is expected to require that it stays an in-band one
// (config.Store.Require).
func (x *Exporter) LocalHandler(own prometheus.Gatherer, module string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() { x.durations.Observe(time.Since(start).Seconds()) }()
		m, err := x.opts.Store.Current().InBandModule(module)
		if err != nil {
			level.Error(x.opts.Logger).Log("msg", "cannot scrape the local BMC", "err", err)
			http.Error(w, reasonLine(err.Error()), http.StatusInternalServerError)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r.Header, m.Timeout, x.opts.TimeoutOffset))
		defer cancel()
		addr := LocalTarget(m)
		metrics, _ := x.collect(ctx, addr, m, m, log.With(x.opts.Logger, "target", addr, "module", m.Name))
		x.requests.WithLabelValues("ok").Inc()
		local := prometheus.NewRegistry()
		local.MustRegister(constCollector(metrics))
		// ContinueOnError: a series that fails a check (a bug) leaves the
		// rest of the page, as the scrape handler does.
		promhttp.HandlerFor(prometheus.Gatherers{own, local}, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError,
			ErrorLog:      promLogger{x.opts.Logger},
		}).ServeHTTP(w, r)
	})
}

// promLogger logs promhttp's errors through go-kit.
type promLogger struct{ logger log.Logger }

func (l promLogger) Println(v ...any) {
	level.Error(l.logger).Log("msg", "serving /metrics", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}
