package main

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/exporter"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// newDialer maps a module's settings onto a session configuration.
func newDialer(observer session.Observer) exporter.Dialer {
	return func(ctx context.Context, addr string, m *config.Module) (ipmi.Transport, error) {
		cfg := session.Config{
			Host:           addr,
			Username:       m.User,
			Password:       m.Password.Bytes(),
			KG:             m.KG.Bytes(),
			Privilege:      m.Privilege,
			CipherSuite:    int(m.CipherSuite),
			NameOnlyLookup: m.NameOnlyLookup,
			Window:         m.Window,
			Observer:       observer,
		}
		if m.CipherSuite == config.CipherSuiteAuto {
			cfg.CipherSuite = session.CipherSuiteAuto
		}
		if m.Driver == config.DriverLAN {
			cfg.Driver = session.DriverLAN
		}
		s, err := session.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// isSessionBroken reports errors after which a pooled session is dropped:
// the session layer already re-established it once within the call.
func isSessionBroken(err error) bool {
	return errors.Is(err, session.ErrSessionLost) ||
		errors.Is(err, session.ErrUnreachable) ||
		errors.Is(err, session.ErrClosed) ||
		errors.Is(err, session.ErrProtocol)
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
