package model

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// supermicroOEM answers Supermicro's OEM command (netFn 30h, command 70h)
// for a profile whose manufacturer is Supermicro: sub-function 0Ch reads
// and sets the LAN mode (dedicated after power-on). Other sub-functions,
// and every BMC of another manufacturer, answer C1h (invalid command), as
// the Dell BMC of ipmi_exporter issue 94 does.
func (b *BMC) supermicroOEM(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	if b.p.device.ManufacturerID != command.SupermicroManufacturerID {
		return wire.CCInvalidCommand, nil
	}
	switch {
	case command.IsSupermicroLANModeGet(data):
		b.mu.Lock()
		resp := command.GetSupermicroLANModeResponse{Mode: b.lanMode}
		b.mu.Unlock()
		return respond(&resp, 1)
	case command.IsSupermicroLANModeSet(data):
		var req command.SetSupermicroLANModeRequest
		if err := req.Unmarshal(data); err != nil {
			return decodeError(err), nil
		}
		if req.Mode > command.SupermicroLANFailover {
			return wire.CCInvalidDataField, nil
		}
		b.mu.Lock()
		b.lanMode = req.Mode
		b.mu.Unlock()
		return wire.CCOK, []byte{}
	}
	return wire.CCInvalidCommand, nil
}

// SetLANMode sets the Supermicro LAN mode the BMC reports (tests and the
// control API).
func (b *BMC) SetLANMode(m command.SupermicroLANMode) {
	b.mu.Lock()
	b.lanMode = m
	b.mu.Unlock()
}
