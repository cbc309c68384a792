package model

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func (b *BMC) getLANConfig(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetLANConfigRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	lan := &b.p.lan
	if req.Channel != lan.channel && req.Channel != wire.ChannelPresentIface {
		return wire.CCInvalidDataField, nil
	}
	resp := command.GetLANConfigResponse{Revision: command.LANConfigRevision}
	if !req.RevisionOnly {
		switch req.Parameter {
		case command.LANParamSetInProgress:
			resp.Data = []byte{0x00} // set complete
		case command.LANParamIPAddress:
			resp.Data = b.ip[:]
		case command.LANParamIPAddressSource:
			resp.Data = []byte{uint8(lan.source)}
		case command.LANParamMACAddress:
			resp.Data = b.mac[:]
		case command.LANParamSubnetMask:
			resp.Data = lan.netmask[:]
		case command.LANParamDefaultGateway:
			resp.Data = lan.gateway[:]
		case command.LANParamDefaultGatewayMAC:
			resp.Data = lan.gatewayMAC[:]
		default:
			return command.CCLANParameterNotSupported, nil
		}
	}
	return respond(&resp, 1+len(resp.Data))
}
