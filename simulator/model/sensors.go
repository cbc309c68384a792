package model

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// sensorAt finds the sensor with this number owned by ctl at lun. A
// sensor of another controller is not found here even when its number
// matches: it must be read at its owner's address.
func (b *BMC) sensorAt(ctl *controllerDef, lun, number uint8) *sensorDef {
	i, ok := b.p.byAddr[sensorAddr{channel: ctl.channel, addr: ctl.addr, lun: lun, number: number}]
	if !ok {
		return nil
	}
	return &b.p.sensors[i]
}

func (b *BMC) getSensorReading(ctl *controllerDef, lun uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetSensorReadingRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	d := b.sensorAt(ctl, lun, req.Number)
	if d == nil || d.kind == kindEventOnly {
		// Event-only sensors have no reading to return.
		return wire.CCRequestedDataNotPresent, nil
	}
	t := b.clock()
	b.mu.Lock()
	if cc := b.quirks.readingCC(d); cc != 0 {
		b.mu.Unlock()
		return cc, nil
	}
	falseScanDisabled := b.quirks.FalseScanningDisabled
	if d.absent {
		empty := b.quirks.EmptyReadingForAbsent
		b.mu.Unlock()
		if empty {
			return wire.CCOK, []byte{}
		}
		return wire.CCRequestedDataNotPresent, nil
	}
	r := b.readingLocked(d, t)
	b.mu.Unlock()
	resp := command.GetSensorReadingResponse{
		Reading:            r.raw,
		ScanningDisabled:   d.scanningDisabled,
		ReadingUnavailable: r.unavailable,
		States:             r.states,
	}
	if r.unavailable {
		resp.Reading, resp.States = 0, 0
	} else if falseScanDisabled {
		resp.ScanningDisabled = true
	}
	if d.kind == kindThreshold {
		// Threshold sensors send one status byte whose reserved bits 7:6
		// are "returned as 1b" (IPMI v2.0 table 35-15).
		resp.Len = 3
		resp.States = resp.States&uint16(command.AllThresholds) | 0xC0
		if dr := b.Quirks().DiscreteReading; dr != "" && dr == d.name {
			// Its SDR says discrete: no threshold bits, no states.
			resp.States = 0
		}
	}
	return respond(&resp, 4)
}

func (b *BMC) getSensorThresholds(ctl *controllerDef, lun uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetSensorThresholdsRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	d := b.sensorAt(ctl, lun, req.Number)
	if d == nil {
		return wire.CCRequestedDataNotPresent, nil
	}
	if d.kind != kindThreshold {
		return wire.CCCommandIllegalForSensor, nil
	}
	resp := d.thresholds.Response()
	return respond(&resp, 7)
}

func (b *BMC) getSensorReadingFactors(ctl *controllerDef, lun uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetSensorReadingFactorsRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	d := b.sensorAt(ctl, lun, req.Number)
	if d == nil {
		return wire.CCRequestedDataNotPresent, nil
	}
	if d.kind != kindThreshold {
		return wire.CCCommandIllegalForSensor, nil
	}
	// One set of factors covers every reading: the next reading at which
	// they would change is past the end of the range.
	resp := command.GetSensorReadingFactorsResponse{NextReading: 0xFF, Factors: d.factors}
	return respond(&resp, 1+command.ReadingFactorsLen)
}

func (b *BMC) getDeviceSDRInfo(ctl *controllerDef, lun uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetDeviceSDRInfoRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	resp := command.GetDeviceSDRInfoResponse{Count: ctl.lunSensors[lun]}
	if req.CountSDRs {
		resp.Count = ctl.lunRecords[lun]
	}
	for l, n := range ctl.lunRecords {
		if n > 0 {
			resp.LUNsWithSensors |= 1 << l
		}
	}
	return respond(&resp, 6)
}
