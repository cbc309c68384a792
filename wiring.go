package main

import (
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

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
}

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
	}
	reg.MustRegister(m.handshakes, m.handshakeDuration, m.requests, m.requestDuration, m.retransmits, m.opened, m.closed)
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
