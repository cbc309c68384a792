package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The sm-lan-mode collector: Supermicro's OEM LAN mode (netFn 30h, command
// 70h, sub-function 0Ch), ipmi_config_lan_mode 0 dedicated, 1 shared, 2
// failover, as ipmi_exporter's sm-lan-mode collector.
//
// Where ipmi_exporter fails (ipmi_up 0, "Unexpected number of octets"):
//   - a reply with bytes after the mode (its issue 139): the mode is the
//     first byte, the rest is ignored;
//   - a BMC that is not Supermicro (its issue 94: a Dell BMC answering
//     C1h): it is not asked at all. Get Device ID's manufacturer is read
//     once and remembered for smLANRetryInterval; such a BMC, and a
//     Supermicro board that answers the command with "invalid command" or
//     "invalid data" completion codes (boards before X9), report the
//     collector up with no ipmi_config_lan_mode series, as the dcmi
//     collector does for a BMC without DCMI: nothing failed, there is
//     nothing to report, and a "collector down" alert on a mixed fleet
//     would otherwise fire forever.
//
// What still fails the collector: no answer, insufficient privilege
// (ipmi_exporter raises its session to ADMINISTRATOR for this command; a
// BMC that refuses it at the module's privilege needs privilege admin),
// and a mode byte other than 0-2.

const collectorSMLANMode config.Collector = "sm-lan-mode"

// smLANRetryInterval is how long "not a Supermicro BMC" or "does not
// support the command" is believed.
const smLANRetryInterval = 30 * time.Minute

// supermicroIDs are the manufacturer IDs Supermicro BMCs report: their
// IANA number, and 47488 (B980h), which some boards send instead
// (FreeIPMI's IPMI_IANA_ENTERPRISE_ID_SUPERMICRO_WORKAROUND).
var supermicroIDs = [...]uint32{command.SupermicroManufacturerID, 47488}

var smLANModeFamily = newFamily("config_lan_mode",
	"Returns configured LAN mode (0=dedicated, 1=shared, 2=failover).", prometheus.GaugeValue)

// smLANState is what the collector remembers about one BMC.
type smLANState struct {
	unsupported string // why there is no LAN mode to read; "" = ask
	retryAt     time.Time
	supermicro  bool // Get Device ID said so (a manufacturer does not change)
}

type smLANModeCollector struct{}

func (smLANModeCollector) Name() config.Collector { return collectorSMLANMode }

func (smLANModeCollector) Families() []*Family { return []*Family{smLANModeFamily} }

func (smLANModeCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	st := &t.State.smLAN
	now := t.State.now()
	if st.unsupported != "" && now.Before(st.retryAt) {
		return nil
	}
	logger := loggerOf(t)
	notSupported := func(why string, err error) error {
		st.unsupported, st.retryAt = why, now.Add(smLANRetryInterval)
		level.Info(logger).Log("msg", "no Supermicro LAN mode on this BMC; asking again later", "reason", why,
			"retry_in", smLANRetryInterval, "err", err)
		return nil
	}
	if !st.supermicro {
		dev, err := t.Client.DeviceID(ctx)
		if err != nil {
			return fmt.Errorf("reading the device ID: %w", err)
		}
		if !isSupermicro(dev.ManufacturerID) {
			return notSupported(fmt.Sprintf("manufacturer %s is not Supermicro", manufacturerLabel(dev.ManufacturerID)), nil)
		}
		st.supermicro = true
	}
	var resp command.GetSupermicroLANModeResponse
	if err := t.Client.Do(ctx, &command.GetSupermicroLANModeRequest{}, &resp); err != nil {
		if wire.IsCompletionCode(err, wire.CCInsufficientPrivilege) {
			return fmt.Errorf("reading the Supermicro LAN mode needs a higher session privilege (ipmi_exporter raises its session to ADMINISTRATOR for it: module privilege admin): %w", err)
		}
		if dcmiUnsupported(err) || wire.IsCompletionCode(err, wire.CCParameterOutOfRange) ||
			wire.IsCompletionCode(err, wire.CCNotSupportedInPresentState) {
			return notSupported("the BMC does not support the LAN mode command", err)
		}
		return fmt.Errorf("reading the Supermicro LAN mode: %w", err)
	}
	st.unsupported = ""
	if resp.Extra > 0 {
		level.Debug(logger).Log("msg", "Supermicro LAN mode reply has bytes after the mode; ignored", "extra", resp.Extra)
	}
	if resp.Mode > command.SupermicroLANFailover {
		return fmt.Errorf("unexpected Supermicro LAN mode 0x%02x: %w", uint8(resp.Mode), wire.ErrMalformed)
	}
	ch <- smLANModeFamily.metric(float64(resp.Mode))
	return nil
}

func isSupermicro(id uint32) bool {
	for _, s := range supermicroIDs {
		if id == s {
			return true
		}
	}
	return false
}
