package collector

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The lan collector: the addressing of the BMC's LAN channel, read with
// Get LAN Configuration Parameters every scrape (six round trips: the
// address may come from DHCP). The channel is found once: the first of
// channels 1-11 that answers for parameter 3 (IP address); channel 1
// almost always. The IPMI specification, and the simulator, require
// OPERATOR privilege for this command.
//
// A BMC that answers every channel with a completion code (0xC1, invalid
// command, on BMCs without the command) has no LAN channel to report. Like
// the dcmi collector's BMCs without DCMI, that is remembered for
// lanRetryInterval: the collector is up, with no series, and costs no
// round trip, instead of 11 requests every scrape.

// lanRetryInterval is how long a BMC on which no channel answered Get LAN
// Configuration Parameters is believed to have none.
const lanRetryInterval = 30 * time.Minute

var lanInfoFamily = newFamily("bmc_lan_info",
	"Constant metric with value '1' describing the addressing of the BMC's LAN channel.", prometheus.GaugeValue, "ip_source", "ip", "netmask", "mac", "gateway_ip")

// Channel numbers 1-11 are implementation specific (0 is the primary
// IPMB, 12-13 reserved, 14 "this channel", 15 the system interface).
const (
	firstLANCandidate = 1
	lastLANCandidate  = 11
)

type lanCollector struct{}

func (lanCollector) Name() config.Collector { return config.CollectorLAN }

func (lanCollector) Families() []*Family {
	return []*Family{lanInfoFamily}
}

func (lanCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	st := t.State
	now := st.now()
	if !st.lanChannelKnown {
		if st.lanNone != nil && now.Before(st.lanRetryAt) {
			return nil
		}
		c, err := findLANChannel(ctx, t.Client)
		var none *noLANChannelError
		switch {
		case errors.As(err, &none):
			st.lanNone, st.lanRetryAt = err, now.Add(lanRetryInterval)
			level.Info(loggerOf(t)).Log("msg", "no LAN channel answers Get LAN Configuration Parameters; asking again later",
				"retry_in", lanRetryInterval, "err", err)
			return nil
		case err != nil:
			if perr := privilegeError(t, config.CollectorLAN, "Get LAN Configuration Parameters", err); perr != nil {
				return perr
			}
			return err
		}
		st.lanChannel, st.lanChannelKnown, st.lanNone = c, true, nil
	}
	cfg, err := t.Client.LANConfig(ctx, st.lanChannel)
	if err != nil {
		if perr := privilegeError(t, config.CollectorLAN, "Get LAN Configuration Parameters", err); perr != nil {
			return perr
		}
		return fmt.Errorf("reading LAN channel %d: %w", st.lanChannel, err)
	}
	if !cfg.HasIPAddressSource && !cfg.IPAddress.IsValid() && cfg.MACAddress == nil {
		// Nothing at all: the channel is not (or no longer) a LAN
		// channel. Look again next time.
		st.lanChannelKnown = false
		return fmt.Errorf("LAN channel %d answers no addressing parameter", st.lanChannel)
	}
	source := ""
	if cfg.HasIPAddressSource {
		source = cfg.IPAddressSource.String()
	}
	mac := ""
	if cfg.MACAddress != nil {
		mac = cfg.MACAddress.String()
	}
	ch <- lanInfoFamily.metric(1, source, addrLabel(cfg.IPAddress), addrLabel(cfg.SubnetMask), mac,
		addrLabel(cfg.DefaultGateway))
	return nil
}

func addrLabel(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// noLANChannelError is findLANChannel's answer when every candidate
// channel answered with a completion code.
type noLANChannelError struct{ last error }

func (e *noLANChannelError) Error() string {
	return fmt.Sprintf("no LAN channel among channels %d-%d: %v", firstLANCandidate, lastLANCandidate, e.last)
}

func (e *noLANChannelError) Unwrap() error { return e.last }

// findLANChannel probes channels 1-11 with Get LAN Configuration
// Parameters (IP address): a non-LAN channel answers with a completion
// code. Insufficient privilege ends the search at once, as it applies to
// every channel. When every channel answered with a completion code, the
// error is a *noLANChannelError.
func findLANChannel(ctx context.Context, c *ipmi.Client) (uint8, error) {
	var resp command.GetLANConfigResponse
	var last error
	for ch := uint8(firstLANCandidate); ch <= lastLANCandidate; ch++ {
		req := command.GetLANConfigRequest{Channel: ch, Parameter: command.LANParamIPAddress}
		err := c.Do(ctx, &req, &resp)
		if err == nil {
			return ch, nil
		}
		var ce *wire.CompletionCodeError
		if !errors.As(err, &ce) || ce.Code == wire.CCInsufficientPrivilege {
			return 0, fmt.Errorf("looking for the LAN channel: %w", err)
		}
		last = err
	}
	return 0, &noLANChannelError{last: last}
}
