package command

import (
	"fmt"
	"net/netip"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Transport netFn LAN configuration commands (IPMI v2.0 section 23).
const (
	CmdGetLANConfigParameters uint8 = 0x02
)

// CCLANParameterNotSupported is the Get LAN Configuration Parameters
// completion code for a parameter the BMC does not implement.
const CCLANParameterNotSupported wire.CompletionCode = 0x80

// LANParameter is a LAN configuration parameter selector (table 23-4).
type LANParameter uint8

const (
	LANParamSetInProgress     LANParameter = 0
	LANParamAuthTypeSupport   LANParameter = 1
	LANParamAuthTypeEnables   LANParameter = 2
	LANParamIPAddress         LANParameter = 3
	LANParamIPAddressSource   LANParameter = 4
	LANParamMACAddress        LANParameter = 5
	LANParamSubnetMask        LANParameter = 6
	LANParamDefaultGateway    LANParameter = 12
	LANParamDefaultGatewayMAC LANParameter = 13
)

// GetLANConfigRequest reads one LAN configuration parameter.
type GetLANConfigRequest struct {
	Channel uint8
	// RevisionOnly sets bit 7: return only the parameter revision.
	RevisionOnly  bool
	Parameter     LANParameter
	SetSelector   uint8
	BlockSelector uint8
}

func (*GetLANConfigRequest) Op() Op { return Op{wire.NetFnTransport, CmdGetLANConfigParameters} }

func (r *GetLANConfigRequest) AppendTo(b []byte) []byte {
	c := r.Channel & 0x0F
	if r.RevisionOnly {
		c |= 0x80
	}
	return append(b, c, uint8(r.Parameter), r.SetSelector, r.BlockSelector)
}

func (r *GetLANConfigRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("get lan config request", data, 4); err != nil {
		return err
	}
	*r = GetLANConfigRequest{
		Channel:       data[0] & 0x0F,
		RevisionOnly:  data[0]&0x80 != 0,
		Parameter:     LANParameter(data[1]),
		SetSelector:   data[2],
		BlockSelector: data[3],
	}
	return nil
}

// LANConfigRevision is the parameter revision current BMCs report (1.1).
const LANConfigRevision uint8 = 0x11

// GetLANConfigResponse is the parameter revision and the parameter data
// (empty for a revision-only request). The As* methods decode Data.
type GetLANConfigResponse struct {
	Revision uint8
	Data     []byte // owned by the response
}

func (r *GetLANConfigResponse) AppendTo(b []byte) []byte {
	return append(append(b, r.Revision), r.Data...)
}

func (r *GetLANConfigResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get lan config response", data, 1); err != nil {
		return err
	}
	r.Revision = data[0]
	r.Data = append(r.Data[:0], data[1:]...)
	return nil
}

// LANIPAddressSource is parameter 4.
type LANIPAddressSource uint8

const (
	LANIPSourceUnspecified LANIPAddressSource = 0
	LANIPSourceStatic      LANIPAddressSource = 1
	LANIPSourceDHCP        LANIPAddressSource = 2
	LANIPSourceBIOS        LANIPAddressSource = 3 // loaded by BIOS or system software
	LANIPSourceOther       LANIPAddressSource = 4
)

// String gives short label-friendly names.
func (s LANIPAddressSource) String() string {
	switch s {
	case LANIPSourceUnspecified:
		return "unspecified"
	case LANIPSourceStatic:
		return "static"
	case LANIPSourceDHCP:
		return "dhcp"
	case LANIPSourceBIOS:
		return "bios"
	case LANIPSourceOther:
		return "other"
	}
	return fmt.Sprintf("ip_source_0x%02x", uint8(s))
}

// AsIPAddressSource decodes parameter 4 (bits 3:0 of the first byte).
func (r *GetLANConfigResponse) AsIPAddressSource() (LANIPAddressSource, error) {
	if err := checkFixedLen("lan ip address source", r.Data, 1); err != nil {
		return 0, err
	}
	return LANIPAddressSource(r.Data[0] & 0x0F), nil
}

// AsIPv4 decodes the 4-byte address of parameters 3 (IP address),
// 6 (subnet mask) and 12 (default gateway), in network byte order.
func (r *GetLANConfigResponse) AsIPv4() (netip.Addr, error) {
	if err := checkFixedLen("lan ipv4 address", r.Data, 4); err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom4([4]byte(r.Data[:4])), nil
}

// MACAddress is a 6-byte Ethernet address.
type MACAddress [6]byte

// String prints lower-case colon-separated hex, as ipmitool does.
func (m MACAddress) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// AsMAC decodes parameters 5 (MAC address) and 13 (default gateway MAC).
func (r *GetLANConfigResponse) AsMAC() (MACAddress, error) {
	if err := checkFixedLen("lan mac address", r.Data, 6); err != nil {
		return MACAddress{}, err
	}
	return MACAddress(r.Data[:6]), nil
}
