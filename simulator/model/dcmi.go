package model

import (
	"math"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// DCMI conformance reported by Get DCMI Capabilities Info.
const (
	dcmiMajor, dcmiMinor = 1, 5
	dcmiParamRevision    = 2
	// powerSamples is how many points of the power model the statistics
	// of one Get Power Reading evaluate, spread evenly over the window.
	powerSamples = 60
)

// dcmiRollingPeriods returns the rolling average periods offered for
// power reading mode 2: 30 s, 1 min, 5 min, 15 min, 1 h, 1 day.
func dcmiRollingPeriods() [6]command.DCMIRollingAveragePeriod {
	return [...]command.DCMIRollingAveragePeriod{30, 0x40 | 1, 0x40 | 5, 0x40 | 15, 0x80 | 1, 0xC0 | 1}
}

func (b *BMC) dcmiGetCapabilities(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	if !b.p.power.DCMI {
		return wire.CCInvalidCommand, nil
	}
	var req command.GetDCMICapabilitiesRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	resp := command.GetDCMICapabilitiesResponse{MajorVersion: dcmiMajor, MinorVersion: dcmiMinor, ParameterRevision: dcmiParamRevision}
	switch req.Parameter {
	case command.DCMIParamSupportedCapabilities:
		resp.Data = command.AppendDCMISupportedCapabilities(nil, &command.DCMISupportedCapabilities{
			Identification: true, SELLogging: true, ChassisPower: true, TemperatureMonitor: true,
			PowerManagement: true, OOBPrimaryLAN: true,
		})
	case command.DCMIParamMandatoryAttributes:
		// SEL: capacity in bits 11:0, no rollover; identification: GUID;
		// temperature monitoring: inlet, processor, baseboard; sampling 1 s.
		sel := uint16(b.p.selCapacity) & 0x0FFF
		resp.Data = []byte{byte(sel), byte(sel >> 8), 0x01, 0x07, 1}
	case command.DCMIParamOptionalAttributes:
		// Power management lives in the BMC (20h), channel 0, revision 1.
		resp.Data = []byte{bmcAddress << 1, 0x01}
	case command.DCMIParamManageabilityAccess:
		resp.Data = []byte{b.p.lan.channel, command.DCMIChannelNotAvailable, command.DCMIChannelNotAvailable}
	case command.DCMIParamEnhancedPowerStatistics:
		resp.Data = append(resp.Data, byte(len(dcmiRollingPeriods())))
		for _, p := range dcmiRollingPeriods() {
			resp.Data = append(resp.Data, byte(p))
		}
	default:
		return wire.CCParameterOutOfRange, nil
	}
	return respond(&resp, 4+len(resp.Data))
}

func (b *BMC) dcmiGetPowerReading(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	if !b.p.power.DCMI {
		return wire.CCInvalidCommand, nil
	}
	var req command.GetPowerReadingRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	window := b.p.power.StatsWindow
	switch req.Mode {
	case command.DCMIPowerSystemStatistics:
	case command.DCMIPowerEnhancedStatistics:
		p := command.DCMIRollingAveragePeriod(req.ModeAttributes)
		supported := false
		for _, s := range dcmiRollingPeriods() {
			supported = supported || s == p
		}
		if !supported {
			return wire.CCParameterOutOfRange, nil
		}
		window = p.Duration()
	default:
		return wire.CCInvalidDataField, nil
	}
	t := b.clock()
	resp := b.powerReading(t, window)
	return respond(&resp, 18)
}

// powerReading evaluates the power model now and at powerSamples points
// over the window before it; a powered-off host reports an inactive
// measurement of zero.
func (b *BMC) powerReading(t time.Time, window time.Duration) command.GetPowerReadingResponse {
	b.mu.Lock()
	on, fixed, watts := b.powerOn, b.powerFixed, b.powerWatts
	b.mu.Unlock()
	resp := command.GetPowerReadingResponse{
		Timestamp:              uint32(timestamp(t)),
		StatisticsPeriodMillis: uint32(window.Milliseconds()),
		MeasurementActive:      on,
	}
	if !on {
		return resp
	}
	if fixed {
		w := clampWatts(watts)
		resp.CurrentWatts, resp.MinimumWatts, resp.MaximumWatts, resp.AverageWatts = w, w, w, w
		return resp
	}
	cur := b.powerModel(t)
	lo, hi, sum := cur, cur, 0.0
	step := window / powerSamples
	// Align the samples to whole steps so the statistics change only when
	// a new step begins, like a BMC's sampled history.
	end := t.Truncate(step)
	for i := 0; i < powerSamples; i++ {
		w := b.powerModel(end.Add(-time.Duration(i) * step))
		lo, hi, sum = math.Min(lo, w), math.Max(hi, w), sum+w
	}
	resp.CurrentWatts = clampWatts(cur)
	resp.MinimumWatts = clampWatts(lo)
	resp.MaximumWatts = clampWatts(hi)
	resp.AverageWatts = clampWatts(sum / powerSamples)
	return resp
}

// powerModel is watts + drift*sin(2πt/period + phase) + noise*u(second).
func (b *BMC) powerModel(t time.Time) float64 {
	p := &b.p.power
	v := p.Watts
	key := b.seed ^ 0xD1B54A32D192ED03
	if p.Drift != 0 {
		period := p.DriftPeriod.Seconds()
		phase := 2 * math.Pi * unit01(mix64(key))
		secs := float64(t.UnixNano()) / 1e9
		v += p.Drift * math.Sin(2*math.Pi*fraction(secs/period)+phase)
	}
	if p.Noise != 0 {
		v += p.Noise * (2*unit01(mix64(key+uint64(t.Unix())*0x9E3779B97F4A7C15)) - 1)
	}
	return v
}

func clampWatts(w float64) uint16 {
	return uint16(math.Round(math.Max(0, math.Min(w, 0xFFFF))))
}
