package exporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
)

// scrapeLog is the log of one scrape with debug=true (blackbox_exporter's
// convention): the exporter's log lines for it, and what the session did
// on its behalf (each request's outcome and completion code, retransmits,
// dropped replies, the login's steps), so a user sees why a collector is
// down without access to the server's log. Secrets never reach it: the
// session traces user names and privileges, never passwords or keys.
type scrapeLog struct {
	start  time.Time
	mu     sync.Mutex
	buf    bytes.Buffer
	logger log.Logger
}

func newScrapeLog() *scrapeLog {
	l := &scrapeLog{start: time.Now()}
	l.logger = log.NewLogfmtLogger(log.NewSyncWriter(&lockedWriter{l}))
	return l
}

// lockedWriter writes into the scrape log's buffer under its lock.
type lockedWriter struct{ l *scrapeLog }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.buf.Write(p)
}

// Trace makes the scrape log a session.Tracer.
func (l *scrapeLog) Trace(event string, keyvals ...any) {
	kv := append([]any{"t", time.Since(l.start).Round(time.Microsecond), "session", event}, keyvals...)
	_ = l.logger.Log(kv...)
}

// tee returns a logger that writes to both the server's logger and the
// scrape log.
func (l *scrapeLog) tee(server log.Logger) log.Logger {
	return log.LoggerFunc(func(kv ...any) error {
		_ = server.Log(kv...)
		return l.logger.Log(append([]any{"t", time.Since(l.start).Round(time.Microsecond)}, kv...)...)
	})
}

// withTrace returns ctx traced into the scrape log.
func (l *scrapeLog) withTrace(ctx context.Context) context.Context {
	return session.WithTracer(ctx, l)
}

// writeDebug answers a debug=true scrape: the log, the metrics in the text
// format, and the module's configuration with its secrets hidden.
func (x *Exporter) writeDebug(w http.ResponseWriter, l *scrapeLog, metrics []prometheus.Metric, m *config.Module, shared bool) {
	var out bytes.Buffer
	out.WriteString("Logs for the scrape:\n")
	l.mu.Lock()
	out.Write(l.buf.Bytes())
	l.mu.Unlock()
	if shared {
		out.WriteString("(this scrape shared a collection already running for the same target and module: its session log is not shown; scrape again)\n")
	}
	out.WriteString("\n\nMetrics that would have been returned:\n")
	s := x.text.getScratch()
	defer x.text.putScratch(s)
	if err := x.text.appendText(s, metrics); err != nil {
		fmt.Fprintf(&out, "(cannot write the metrics as text: %v)\n", err)
	} else {
		out.Write(s.buf.Bytes())
	}
	out.WriteString("\n\nModule configuration:\n")
	if b, err := yaml.Marshal(m); err != nil {
		fmt.Fprintf(&out, "(cannot show the module: %v)\n", err)
	} else {
		out.Write(b)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(out.Bytes())
}
