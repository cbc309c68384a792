package command

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Supermicro OEM commands. Supermicro BMCs take them on netFn 30h, command
// 70h, with a sub-function byte first; the LAN mode is sub-function 0Ch,
// as ipmi_exporter's sm-lan-mode collector and Supermicro's own
// documentation (`ipmitool raw 0x30 0x70 0x0c 0` to read,
// `... 0x0c 1 MODE` to set) use it.
const (
	NetFnOEMSupermicro wire.NetFn = 0x30
	CmdSupermicroOEM   uint8      = 0x70

	smSubLANMode uint8 = 0x0C
)

// SupermicroManufacturerID is Supermicro's IANA enterprise number, as Get
// Device ID reports it.
const SupermicroManufacturerID uint32 = 10876

// SupermicroLANMode is which port the BMC's LAN uses.
type SupermicroLANMode uint8

const (
	SupermicroLANDedicated SupermicroLANMode = 0
	SupermicroLANShared    SupermicroLANMode = 1
	SupermicroLANFailover  SupermicroLANMode = 2
)

func (m SupermicroLANMode) String() string {
	switch m {
	case SupermicroLANDedicated:
		return "dedicated"
	case SupermicroLANShared:
		return "shared"
	case SupermicroLANFailover:
		return "failover"
	}
	return "unknown"
}

// GetSupermicroLANModeRequest reads the LAN mode (sub-function 0Ch, get).
type GetSupermicroLANModeRequest struct{}

func (*GetSupermicroLANModeRequest) Op() Op { return Op{NetFnOEMSupermicro, CmdSupermicroOEM} }

func (*GetSupermicroLANModeRequest) AppendTo(b []byte) []byte { return append(b, smSubLANMode, 0x00) }

func (*GetSupermicroLANModeRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("supermicro get lan mode request", data, 2); err != nil {
		return err
	}
	if data[0] != smSubLANMode || data[1] != 0x00 {
		return malformed("supermicro get lan mode request", "sub-function % x", data[:2])
	}
	return nil
}

// GetSupermicroLANModeResponse is the mode byte. Boards differ in what
// follows it: most X9-X12 boards send the mode alone, some send trailing
// bytes; the mode is always first, and the rest is ignored (Extra keeps
// how many there were, for debugging).
type GetSupermicroLANModeResponse struct {
	Mode  SupermicroLANMode
	Extra int
}

func (r *GetSupermicroLANModeResponse) AppendTo(b []byte) []byte {
	b = append(b, uint8(r.Mode))
	for range r.Extra {
		b = append(b, 0)
	}
	return b
}

func (r *GetSupermicroLANModeResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("supermicro get lan mode response", data, 1); err != nil {
		return err
	}
	*r = GetSupermicroLANModeResponse{Mode: SupermicroLANMode(data[0]), Extra: len(data) - 1}
	return nil
}

// SetSupermicroLANModeRequest sets the LAN mode (sub-function 0Ch, set):
// the simulator's side, and what an operator would send.
type SetSupermicroLANModeRequest struct {
	Mode SupermicroLANMode
}

func (*SetSupermicroLANModeRequest) Op() Op { return Op{NetFnOEMSupermicro, CmdSupermicroOEM} }

func (r *SetSupermicroLANModeRequest) AppendTo(b []byte) []byte {
	return append(b, smSubLANMode, 0x01, uint8(r.Mode))
}

func (r *SetSupermicroLANModeRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("supermicro set lan mode request", data, 3); err != nil {
		return err
	}
	if data[0] != smSubLANMode || data[1] != 0x01 {
		return malformed("supermicro set lan mode request", "sub-function % x", data[:2])
	}
	r.Mode = SupermicroLANMode(data[2])
	return nil
}

// IsSupermicroLANModeGet reports whether request data of netFn 30h command
// 70h is a LAN mode read, and IsSupermicroLANModeSet a LAN mode write: the
// simulator dispatches on the sub-function.
func IsSupermicroLANModeGet(data []byte) bool {
	return len(data) == 2 && data[0] == smSubLANMode && data[1] == 0x00
}

func IsSupermicroLANModeSet(data []byte) bool {
	return len(data) == 3 && data[0] == smSubLANMode && data[1] == 0x01
}
