package collector

import (
	"context"
	"errors"
	"fmt"
	"time"
	"weak"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/fru"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The fru collector: ipmi_fru_info, one series per FRU inventory device
// (the BMC's own FRU 0, and each logical FRU device a FRU Device Locator
// record of the SDR names, bridged when it sits behind a satellite
// controller), its labels the fields of the chassis, board and product
// areas as ipmitool's "fru print" shows them. Inventory changes when
// hardware does, so the devices are read once per session and again after
// the SDR repository changed (hot plug, firmware update); in between a
// scrape replays the series and costs no round trip. The SDR is the ipmi
// collector's when the module has it (it runs first); without it this
// collector keeps the repository current itself (one Get SDR Repository
// Info per scrape).
//
// Label values: "" for an absent area or field; chassis_type is ipmitool's
// name of the SMBIOS type; board_mfg_date is RFC 3339 in UTC (ipmitool
// prints it in local time); binary fields are hex. A device that is absent
// or holds no valid FRU data is left out (debug log); non-logical FRU
// devices (SEEPROMs on private buses) are not read.

const collectorFRU config.Collector = "fru"

var fruInfoFamily = newFamily("fru_info",
	"Constant metric with value '1' describing one FRU inventory device.", prometheus.GaugeValue,
	"fru", "chassis_type", "chassis_part_number", "chassis_serial",
	"board_manufacturer", "board_product", "board_serial", "board_part_number", "board_mfg_date",
	"product_manufacturer", "product_name", "product_part_number", "product_version", "product_serial", "asset_tag")

// fruCache is the inventory read for one session and SDR generation.
type fruCache struct {
	metrics    []prometheus.Metric
	session    weak.Pointer[ipmi.Client] // the client it was read on
	generation uint64                    // State.sdrGeneration
	sdrKnown   bool                      // read with the SDR's locators
}

// fruDevice is one device to read.
type fruDevice struct {
	target wire.Target
	id     uint8
	name   string
}

type fruCollector struct{}

func (fruCollector) Name() config.Collector { return collectorFRU }

func (fruCollector) Families() []*Family { return []*Family{fruInfoFamily} }

func (fruCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	st := t.State
	logger := loggerOf(t)
	var sdrErr error
	if !moduleOf(t).HasCollector(config.CollectorIPMI) {
		_, sdrErr = prepareSensors(ctx, t)
	}
	if c := st.fru; c != nil && c.session.Value() == t.Client && c.generation == st.sdrGeneration &&
		c.sdrKnown == (st.repo != nil) {
		for _, m := range c.metrics {
			ch <- m
		}
		return nil
	}
	devices := fruDevices(st.repo)
	cache := &fruCache{session: weak.Make(t.Client), generation: st.sdrGeneration, sdrKnown: st.repo != nil}
	seen := make(map[string]bool, len(devices))
	var failed error
	for _, d := range devices {
		var r fru.Requester = t.Client
		if !d.target.IsBMC() {
			r = bridged{t.Client, d.target}
		}
		info, err := fru.Read(ctx, r, d.id)
		if err != nil {
			var ce *wire.CompletionCodeError
			if errors.Is(err, fru.ErrNoDevice) || errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrShort) || errors.As(err, &ce) {
				level.Debug(logger).Log("msg", "FRU device skipped", "fru", d.name, "err", err)
				continue
			}
			failed = err // no answer: try again next scrape
			break
		}
		for _, p := range info.Problems {
			level.Debug(logger).Log("msg", "FRU data problem", "fru", d.name, "err", p)
		}
		if seen[d.name] {
			level.Warn(logger).Log("msg", "two FRU devices with the same name; the second is left out", "fru", d.name)
			continue
		}
		seen[d.name] = true
		m := fruMetric(d.name, info)
		cache.metrics = append(cache.metrics, m)
		ch <- m
	}
	if failed != nil {
		return fmt.Errorf("reading FRU inventory: %w", failed)
	}
	st.fru = cache
	if sdrErr != nil {
		// FRU 0 was read; the locators will be once the SDR can be.
		st.fru.sdrKnown = false
		return fmt.Errorf("reading the SDR repository for FRU locators: %w", sdrErr)
	}
	return nil
}

// fruDevices lists FRU 0 of the BMC and the logical FRU devices the SDR
// names, in record order, named as ipmitool's "fru print" names them.
func fruDevices(repo *sdr.Repository) []fruDevice {
	bmc := wire.Target{Addr: wire.BMCSlaveAddress}
	devices := []fruDevice{{target: bmc, id: 0, name: "Builtin FRU Device (ID 0)"}}
	if repo == nil {
		return devices
	}
	for _, rec := range repo.Records {
		l, ok := rec.(*sdr.FRUDeviceLocator)
		if !ok || !l.Logical {
			continue
		}
		tgt := wire.Target{Channel: l.Channel, Addr: l.AccessAddress, LUN: l.AccessLUN}
		name := fmt.Sprintf("%s (ID %d)", l.Name(), l.DeviceID)
		if tgt.IsBMC() && l.DeviceID == 0 {
			devices[0].name = name // the BMC's own, named by its record
			continue
		}
		devices = append(devices, fruDevice{target: tgt, id: l.DeviceID, name: name})
	}
	return devices
}

func fruMetric(name string, info *fru.Info) prometheus.Metric {
	var v [15]string
	v[0] = name
	if c := info.Chassis; c != nil {
		v[1], v[2], v[3] = fru.ChassisTypeName(c.Type), c.PartNumber.String(), c.Serial.String()
	}
	if b := info.Board; b != nil {
		v[4], v[5], v[6], v[7] = b.Manufacturer.String(), b.Product.String(), b.Serial.String(), b.PartNumber.String()
		if !b.MfgDate.IsZero() {
			v[8] = b.MfgDate.UTC().Format(time.RFC3339)
		}
	}
	if p := info.Product; p != nil {
		v[9], v[10], v[11], v[12], v[13], v[14] = p.Manufacturer.String(), p.Name.String(), p.PartNumber.String(),
			p.Version.String(), p.Serial.String(), p.AssetTag.String()
	}
	for i := range v {
		v[i] = labelValue(v[i])
	}
	return fruInfoFamily.metric(1, v[:]...)
}

// bridged sends requests to a controller behind the BMC.
type bridged struct {
	c      *ipmi.Client
	target wire.Target
}

func (b bridged) Do(ctx context.Context, req command.Request, resp command.Response) error {
	return b.c.DoTarget(ctx, b.target, req, resp)
}
