package collector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The bmc collector: Get Device ID, Get System GUID and the system
// firmware version (Get System Info Parameters, parameter 1), read on the
// first scrape and again after deviceInfoTTL or an SDR repository change;
// in between a scrape costs no round trip.
//
// Labels as ipmi_exporter's bmc-info based ones: firmware_revision is
// "major.minor" (ipmitool's "%u.%02x"), manufacturer_id is
// "<name> (<IANA number>)" for the vendors FreeIPMI names that way and
// the bare number otherwise, system_firmware_version is "N/A" when the BMC
// does not have the parameter. guid is empty when Get System GUID fails.

var bmcInfoFamily = newFamily("bmc_info",
	"Constant metric with value '1' providing details about the BMC.", prometheus.GaugeValue, "firmware_revision", "manufacturer_id", "system_firmware_version", "guid")

// notAvailable is ipmi_exporter's value for a missing system firmware
// version.
const notAvailable = "N/A"

// deviceInfo is the cached result of the bmc collector.
type deviceInfo struct {
	metric     prometheus.Metric
	read       time.Time
	generation uint64 // State.sdrGeneration when read
}

// manufacturerName returns FreeIPMI's name of a few common IANA
// enterprise numbers.
func manufacturerName(id uint32) string {
	switch id {
	case 343:
		return "Intel Corporation"
	case 674:
		return "Dell Inc."
	case 10876:
		return "Super Micro Computer Inc."
	}
	return ""
}

func manufacturerLabel(id uint32) string {
	if name := manufacturerName(id); name != "" {
		return fmt.Sprintf("%s (%d)", name, id)
	}
	return strconv.FormatUint(uint64(id), 10)
}

type bmcCollector struct{}

func (bmcCollector) Name() config.Collector { return config.CollectorBMC }

func (bmcCollector) Families() []*Family {
	return []*Family{bmcInfoFamily}
}

func (bmcCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	st := t.State
	now := st.now()
	if d := st.device; d != nil && d.generation == st.sdrGeneration && now.Sub(d.read) < deviceInfoTTL && !now.Before(d.read) {
		ch <- d.metric
		return nil
	}
	dev, err := t.Client.DeviceID(ctx)
	if err != nil {
		return fmt.Errorf("reading the device ID: %w", err)
	}
	logger := loggerOf(t)
	// The GUID and the system firmware version are optional: a BMC that
	// answers with a completion code (or garbage) just lacks them.
	guid := ""
	if g, err := t.Client.SystemGUID(ctx); err == nil {
		guid = g.Format(g.DetectEncoding(now))
	} else if !optionalValueMissing(err) {
		return fmt.Errorf("reading the system GUID: %w", err)
	} else {
		level.Debug(logger).Log("msg", "no system GUID", "err", err)
	}
	sysFW, err := systemFirmwareVersion(ctx, t)
	if err != nil {
		if !optionalValueMissing(err) {
			return fmt.Errorf("reading the system firmware version: %w", err)
		}
		level.Debug(logger).Log("msg", "no system firmware version", "err", err)
		sysFW = notAvailable
	}
	st.device = &deviceInfo{
		metric: bmcInfoFamily.metric(1, dev.FirmwareRevision(), manufacturerLabel(dev.ManufacturerID),
			labelValue(sysFW), guid),
		read:       now,
		generation: st.sdrGeneration,
	}
	ch <- st.device.metric
	return nil
}

// errUnusable marks an answer that was read but cannot be used.
var errUnusable = errors.New("unusable answer")

// optionalValueMissing reports errors that mean the BMC does not have an
// optional value, as opposed to a failed session or deadline.
func optionalValueMissing(err error) bool {
	var ce *wire.CompletionCodeError
	return errors.As(err, &ce) || errors.Is(err, wire.ErrShort) || errors.Is(err, wire.ErrMalformed) ||
		errors.Is(err, errUnusable)
}

// Get System Info Parameters (IPMI v2.0 section 22.14a). The command
// package does not have it; these two types are its client side.
const (
	cmdGetSystemInfoParameters  uint8 = 0x59
	sysInfoParamFirmwareVersion uint8 = 1
	// sysInfoMaxSets bounds the 16-byte blocks read for one string.
	sysInfoMaxSets = 16
)

type getSystemInfoRequest struct {
	Parameter, Set uint8
}

func (*getSystemInfoRequest) Op() command.Op {
	return command.Op{NetFn: wire.NetFnApp, Cmd: cmdGetSystemInfoParameters}
}

// AppendTo: get the parameter (not only its revision), block selector 0.
func (r *getSystemInfoRequest) AppendTo(b []byte) []byte {
	return append(b, 0x00, r.Parameter, r.Set, 0x00)
}

func (r *getSystemInfoRequest) Unmarshal(data []byte) error {
	if len(data) < 4 {
		return fmt.Errorf("get system info parameters request: %d bytes, want 4: %w", len(data), wire.ErrShort)
	}
	r.Parameter, r.Set = data[1], data[2]
	return nil
}

// getSystemInfoResponse is the parameter revision and the parameter data.
type getSystemInfoResponse struct {
	Revision uint8
	Data     []byte
}

func (r *getSystemInfoResponse) AppendTo(b []byte) []byte {
	return append(append(b, r.Revision), r.Data...)
}

func (r *getSystemInfoResponse) Unmarshal(data []byte) error {
	if len(data) < 1 {
		return fmt.Errorf("get system info parameters response: empty: %w", wire.ErrShort)
	}
	r.Revision = data[0]
	r.Data = append(r.Data[:0], data[1:]...)
	return nil
}

// systemFirmwareVersion reads parameter 1: set 0 holds the encoding, the
// length and the first 14 bytes, sets 1.. 16 bytes each.
func systemFirmwareVersion(ctx context.Context, t *Target) (string, error) {
	var resp getSystemInfoResponse
	req := getSystemInfoRequest{Parameter: sysInfoParamFirmwareVersion}
	if err := t.Client.Do(ctx, &req, &resp); err != nil {
		return "", err
	}
	if len(resp.Data) < 3 || resp.Data[0] != 0 {
		return "", fmt.Errorf("system firmware version: set 0 is %d bytes: %w", len(resp.Data), wire.ErrMalformed)
	}
	encoding, length := resp.Data[1]&0x0F, int(resp.Data[2])
	str := append([]byte(nil), resp.Data[3:]...)
	for set := uint8(1); len(str) < length && set < sysInfoMaxSets; set++ {
		req.Set = set
		if err := t.Client.Do(ctx, &req, &resp); err != nil {
			return "", err
		}
		if len(resp.Data) < 2 || resp.Data[0] != set {
			return "", fmt.Errorf("system firmware version: set %d malformed: %w", set, wire.ErrMalformed)
		}
		str = append(str, resp.Data[1:]...)
	}
	if len(str) > length {
		str = str[:length]
	}
	var s string
	switch encoding {
	case 0: // ASCII + Latin-1
		runes := make([]rune, len(str))
		for i, c := range str {
			runes[i] = rune(c)
		}
		s = string(runes)
	case 1: // UTF-8
		s = string(str)
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
	default:
		return "", fmt.Errorf("system firmware version: string encoding %d not supported: %w", encoding, errUnusable)
	}
	s = strings.TrimRight(s, "\x00 ")
	if s == "" {
		return "", fmt.Errorf("system firmware version: empty: %w", errUnusable)
	}
	return s, nil
}
