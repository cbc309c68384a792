package main

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// listen binds every --web.listen-address, so that a taken port is
// reported before anything is served or announced. It returns nil
// listeners (and no error) where exporter-toolkit must bind itself:
// systemd socket activation and vsock addresses.
func listen(f *web.FlagConfig) ([]net.Listener, error) {
	if f.WebSystemdSocket != nil && *f.WebSystemdSocket {
		return nil, nil
	}
	for _, addr := range *f.WebListenAddresses {
		if strings.HasPrefix(addr, "vsock://") {
			return nil, nil
		}
	}
	var listeners []net.Listener
	for _, addr := range *f.WebListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, fmt.Errorf("cannot listen on %s (%w); choose another address with --web.listen-address, for example --web.listen-address=:9291", addr, err)
		}
		listeners = append(listeners, l)
	}
	return listeners, nil
}

// hostOf returns the host part of a host:port pool key.
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// sessionMetrics turns session events into the exporter's own metrics.
type sessionMetrics struct {
	handshakes        *prometheus.CounterVec
	handshakeDuration prometheus.Histogram
	requests          *prometheus.CounterVec
	requestDuration   *prometheus.HistogramVec
	retransmits       *prometheus.CounterVec
	opened, closed    prometheus.Counter
	dropped           *prometheus.CounterVec
	reopens           *prometheus.CounterVec
}

var (
	_ session.DropObserver   = (*sessionMetrics)(nil)
	_ session.ReopenObserver = (*sessionMetrics)(nil)
)

func newSessionMetrics(reg prometheus.Registerer) *sessionMetrics {
	m := &sessionMetrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_session_handshakes_total",
			Help: "BMC session setups (RMCP+ or IPMI 1.5), by result.",
		}, []string{"result"}),
		handshakeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ipmi_fleet_exporter_session_handshake_duration_seconds",
			Help:    "Time a BMC session setup took.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_requests_total",
			Help: "IPMI requests sent to BMCs, by command and result.",
		}, []string{"command", "result"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ipmi_fleet_exporter_request_duration_seconds",
			Help:    "Latency of one IPMI request, including retransmits.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"command"}),
		retransmits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_retransmits_total",
			Help: "IPMI requests retransmitted after no answer, by command.",
		}, []string{"command"}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_bmc_sessions_opened_total",
			Help: "Sessions established with BMCs (including transparent re-establishing).",
		}),
		closed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_bmc_sessions_ended_total",
			Help: "Sessions closed on, or abandoned by, BMCs.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_replies_dropped_total",
			Help: "Datagrams from BMCs the exporter dropped, by reason (checksum, integrity, sequence, unknown_session, malformed, unexpected_response, late_or_duplicate). A BMC whose replies are all dropped otherwise looks unreachable.",
		}, []string{"reason"}),
		reopens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_session_reopens_total",
			Help: "Logins again within a scrape because the session looked gone, by reason (presumed_expired, stale_probe, timeout, session_gone, login_retry): each costs the BMC a login.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.handshakes, m.handshakeDuration, m.requests, m.requestDuration, m.retransmits, m.opened, m.closed, m.dropped, m.reopens)
	return m
}

func (m *sessionMetrics) Handshake(result session.HandshakeResult, took time.Duration) {
	m.handshakes.WithLabelValues(string(result)).Inc()
	m.handshakeDuration.Observe(took.Seconds())
}

func (m *sessionMetrics) Request(command string, result session.RequestResult, _ wire.CompletionCode, took time.Duration) {
	m.requests.WithLabelValues(command, string(result)).Inc()
	m.requestDuration.WithLabelValues(command).Observe(took.Seconds())
}

func (m *sessionMetrics) Retransmit(command string) { m.retransmits.WithLabelValues(command).Inc() }
func (m *sessionMetrics) SessionOpened()            { m.opened.Inc() }
func (m *sessionMetrics) SessionClosed()            { m.closed.Inc() }

// ReplyDropped makes sessionMetrics a session.DropObserver.
func (m *sessionMetrics) ReplyDropped(reason string) { m.dropped.WithLabelValues(reason).Inc() }

// SessionReopened makes sessionMetrics a session.ReopenObserver.
func (m *sessionMetrics) SessionReopened(reason string) { m.reopens.WithLabelValues(reason).Inc() }
