package command

import (
	"encoding/binary"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// DCMI commands (group extension netFn 2Ch, DCMI v1.5 section 6). Every
// DCMI request and response starts with the group ID wire.DCMIGroupID.
const (
	CmdDCMIGetCapabilities uint8 = 0x01
	CmdDCMIGetPowerReading uint8 = 0x02
)

// checkDCMIGroup validates the leading group ID byte.
func checkDCMIGroup(what string, data []byte, minLen int) error {
	if err := checkFixedLen(what, data, minLen); err != nil {
		return err
	}
	if data[0] != wire.DCMIGroupID {
		return malformed(what, "group id 0x%02x, want 0x%02x", data[0], wire.DCMIGroupID)
	}
	return nil
}

// DCMICapabilityParameter selects what Get DCMI Capabilities Info returns.
type DCMICapabilityParameter uint8

const (
	DCMIParamSupportedCapabilities   DCMICapabilityParameter = 1
	DCMIParamMandatoryAttributes     DCMICapabilityParameter = 2
	DCMIParamOptionalAttributes      DCMICapabilityParameter = 3
	DCMIParamManageabilityAccess     DCMICapabilityParameter = 4
	DCMIParamEnhancedPowerStatistics DCMICapabilityParameter = 5
)

// GetDCMICapabilitiesRequest is Get DCMI Capabilities Info.
type GetDCMICapabilitiesRequest struct {
	Parameter DCMICapabilityParameter
}

func (*GetDCMICapabilitiesRequest) Op() Op { return Op{wire.NetFnGroupExt, CmdDCMIGetCapabilities} }

func (r *GetDCMICapabilitiesRequest) AppendTo(b []byte) []byte {
	return append(b, wire.DCMIGroupID, uint8(r.Parameter))
}

func (r *GetDCMICapabilitiesRequest) Unmarshal(data []byte) error {
	if err := checkDCMIGroup("get dcmi capabilities request", data, 2); err != nil {
		return err
	}
	r.Parameter = DCMICapabilityParameter(data[1])
	return nil
}

// GetDCMICapabilitiesResponse carries the DCMI conformance version and the
// raw parameter data; the typed accessors decode it per parameter.
type GetDCMICapabilitiesResponse struct {
	MajorVersion      uint8 // DCMI specification conformance, e.g. 1
	MinorVersion      uint8 // e.g. 5 (DCMI 1.5)
	ParameterRevision uint8
	Data              []byte // owned by the response
}

const dcmiCapabilitiesHeaderLen = 4 // group ID, major, minor, parameter revision

func (r *GetDCMICapabilitiesResponse) AppendTo(b []byte) []byte {
	b = append(b, wire.DCMIGroupID, r.MajorVersion, r.MinorVersion, r.ParameterRevision)
	return append(b, r.Data...)
}

func (r *GetDCMICapabilitiesResponse) Unmarshal(data []byte) error {
	if err := checkDCMIGroup("get dcmi capabilities response", data, dcmiCapabilitiesHeaderLen); err != nil {
		return err
	}
	r.MajorVersion, r.MinorVersion, r.ParameterRevision = data[1], data[2], data[3]
	r.Data = append(r.Data[:0], data[dcmiCapabilitiesHeaderLen:]...)
	return nil
}

// DCMISupportedCapabilities is parameter 1, named as ipmitool's "dcmi
// discover" names the bits.
type DCMISupportedCapabilities struct {
	// Byte 1: mandatory platform capabilities (DCMI 1.0/1.1; reserved in 1.5).
	Identification     bool
	SELLogging         bool
	ChassisPower       bool
	TemperatureMonitor bool
	// Byte 2: optional platform capabilities.
	PowerManagement bool
	// Byte 3: manageability access capabilities.
	InBandKCS       bool
	OOBSerialTMODE  bool
	OOBSecondaryLAN bool
	OOBPrimaryLAN   bool
	SOL             bool
	VLAN            bool
}

// SupportedCapabilities decodes parameter 1.
func (r *GetDCMICapabilitiesResponse) SupportedCapabilities() (DCMISupportedCapabilities, error) {
	d := r.Data
	if err := checkFixedLen("dcmi supported capabilities", d, 3); err != nil {
		return DCMISupportedCapabilities{}, err
	}
	return DCMISupportedCapabilities{
		Identification:     d[0]&0x01 != 0,
		SELLogging:         d[0]&0x02 != 0,
		ChassisPower:       d[0]&0x04 != 0,
		TemperatureMonitor: d[0]&0x08 != 0,
		PowerManagement:    d[1]&0x01 != 0,
		InBandKCS:          d[2]&0x01 != 0,
		OOBSerialTMODE:     d[2]&0x02 != 0,
		OOBSecondaryLAN:    d[2]&0x04 != 0,
		OOBPrimaryLAN:      d[2]&0x08 != 0,
		SOL:                d[2]&0x10 != 0,
		VLAN:               d[2]&0x20 != 0,
	}, nil
}

// AppendDCMISupportedCapabilities encodes parameter 1 data (simulator side).
func AppendDCMISupportedCapabilities(b []byte, c *DCMISupportedCapabilities) []byte {
	bit := func(set bool, mask uint8) uint8 {
		if set {
			return mask
		}
		return 0
	}
	return append(b,
		bit(c.Identification, 0x01)|bit(c.SELLogging, 0x02)|bit(c.ChassisPower, 0x04)|bit(c.TemperatureMonitor, 0x08),
		bit(c.PowerManagement, 0x01),
		bit(c.InBandKCS, 0x01)|bit(c.OOBSerialTMODE, 0x02)|bit(c.OOBSecondaryLAN, 0x04)|
			bit(c.OOBPrimaryLAN, 0x08)|bit(c.SOL, 0x10)|bit(c.VLAN, 0x20))
}

// DCMIMandatoryAttributes is parameter 2.
type DCMIMandatoryAttributes struct {
	SELEntries           uint16 // maximum SEL entries, 12 bits
	SELAutoRollover      bool   // bit 15
	SELFlushOnRollover   bool   // bit 14: whole SEL flushed on rollover
	SELRecordFlush       bool   // bit 13: record-level flush on rollover
	GUIDSupport          bool   // identification byte bit 0
	DHCPHostNameSupport  bool   // bit 1
	AssetTagSupport      bool   // bit 2
	InletTemperature     bool   // temperature monitoring bit 0
	ProcessorTemperature bool   // bit 1
	BaseboardTemperature bool   // bit 2
	// TemperatureSampling is the sampling frequency byte (seconds), present
	// from DCMI 1.1 on; zero when absent.
	TemperatureSampling uint8
}

// MandatoryAttributes decodes parameter 2.
func (r *GetDCMICapabilitiesResponse) MandatoryAttributes() (DCMIMandatoryAttributes, error) {
	d := r.Data
	if err := checkFixedLen("dcmi mandatory attributes", d, 4); err != nil {
		return DCMIMandatoryAttributes{}, err
	}
	sel := binary.LittleEndian.Uint16(d[0:2])
	a := DCMIMandatoryAttributes{
		SELEntries:           sel & 0x0FFF,
		SELAutoRollover:      sel&0x8000 != 0,
		SELFlushOnRollover:   sel&0x4000 != 0,
		SELRecordFlush:       sel&0x2000 != 0,
		GUIDSupport:          d[2]&0x01 != 0,
		DHCPHostNameSupport:  d[2]&0x02 != 0,
		AssetTagSupport:      d[2]&0x04 != 0,
		InletTemperature:     d[3]&0x01 != 0,
		ProcessorTemperature: d[3]&0x02 != 0,
		BaseboardTemperature: d[3]&0x04 != 0,
	}
	if len(d) >= 5 {
		a.TemperatureSampling = d[4]
	}
	return a, nil
}

// DCMIOptionalAttributes is parameter 3: where power management lives.
type DCMIOptionalAttributes struct {
	// PowerMgmtDeviceAddr is the raw slave address byte of the power
	// management controller (ipmitool reads 0x40 as "20h (BMC)").
	PowerMgmtDeviceAddr uint8
	PowerMgmtChannel    uint8 // bits 7:4 of byte 2
	PowerMgmtRevision   uint8 // bits 3:0 of byte 2
}

// OptionalAttributes decodes parameter 3.
func (r *GetDCMICapabilitiesResponse) OptionalAttributes() (DCMIOptionalAttributes, error) {
	d := r.Data
	if err := checkFixedLen("dcmi optional attributes", d, 2); err != nil {
		return DCMIOptionalAttributes{}, err
	}
	return DCMIOptionalAttributes{PowerMgmtDeviceAddr: d[0], PowerMgmtChannel: d[1] >> 4, PowerMgmtRevision: d[1] & 0x0F}, nil
}

// DCMIChannelNotAvailable marks an absent channel in parameter 4.
const DCMIChannelNotAvailable uint8 = 0xFF

// DCMIManageabilityAccess is parameter 4: the out-of-band channels.
type DCMIManageabilityAccess struct {
	PrimaryLANChannel   uint8 // DCMIChannelNotAvailable if none
	SecondaryLANChannel uint8
	SerialChannel       uint8
}

// ManageabilityAccess decodes parameter 4.
func (r *GetDCMICapabilitiesResponse) ManageabilityAccess() (DCMIManageabilityAccess, error) {
	d := r.Data
	if err := checkFixedLen("dcmi manageability access", d, 3); err != nil {
		return DCMIManageabilityAccess{}, err
	}
	return DCMIManageabilityAccess{PrimaryLANChannel: d[0], SecondaryLANChannel: d[1], SerialChannel: d[2]}, nil
}

// DCMIRollingAveragePeriod is a rolling average time period byte: bits 7:6
// the unit (seconds, minutes, hours, days), bits 5:0 the count.
type DCMIRollingAveragePeriod uint8

// Duration converts the period.
func (p DCMIRollingAveragePeriod) Duration() time.Duration {
	n := time.Duration(p & 0x3F)
	switch p >> 6 {
	case 0:
		return n * time.Second
	case 1:
		return n * time.Minute
	case 2:
		return n * time.Hour
	}
	return n * 24 * time.Hour
}

// EnhancedPowerStatistics decodes parameter 5: the rolling average
// periods the BMC supports for power reading mode 2.
func (r *GetDCMICapabilitiesResponse) EnhancedPowerStatistics() ([]DCMIRollingAveragePeriod, error) {
	const what = "dcmi enhanced power statistics"
	d := r.Data
	if err := checkFixedLen(what, d, 1); err != nil {
		return nil, err
	}
	n := int(d[0])
	if err := checkFixedLen(what, d, 1+n); err != nil {
		return nil, err
	}
	periods := make([]DCMIRollingAveragePeriod, n)
	for i := range periods {
		periods[i] = DCMIRollingAveragePeriod(d[1+i])
	}
	return periods, nil
}

// DCMIPowerReadingMode selects the statistics of Get Power Reading.
type DCMIPowerReadingMode uint8

const (
	DCMIPowerSystemStatistics   DCMIPowerReadingMode = 1
	DCMIPowerEnhancedStatistics DCMIPowerReadingMode = 2 // ModeAttributes = a rolling average period
)

// GetPowerReadingRequest is DCMI Get Power Reading.
type GetPowerReadingRequest struct {
	Mode DCMIPowerReadingMode
	// ModeAttributes is 0 for mode 1, a DCMIRollingAveragePeriod for mode 2.
	ModeAttributes uint8
}

func (*GetPowerReadingRequest) Op() Op { return Op{wire.NetFnGroupExt, CmdDCMIGetPowerReading} }

func (r *GetPowerReadingRequest) AppendTo(b []byte) []byte {
	return append(b, wire.DCMIGroupID, uint8(r.Mode), r.ModeAttributes, 0)
}

func (r *GetPowerReadingRequest) Unmarshal(data []byte) error {
	if err := checkDCMIGroup("get power reading request", data, 4); err != nil {
		return err
	}
	r.Mode = DCMIPowerReadingMode(data[1])
	r.ModeAttributes = data[2]
	return nil
}

// GetPowerReadingResponse is the 18-byte Get Power Reading response (with
// the group ID).
type GetPowerReadingResponse struct {
	CurrentWatts uint16
	MinimumWatts uint16 // over the statistics period
	MaximumWatts uint16
	AverageWatts uint16
	// Timestamp is the IPMI timestamp (seconds since 1970, or since BMC
	// initialization for values up to 0x20000000) of the reading.
	Timestamp uint32
	// StatisticsPeriodMillis is the period the min/max/average cover.
	StatisticsPeriodMillis uint32
	// MeasurementActive is reading state bit 6: "power measurement active".
	// When clear the values are not meaningful.
	MeasurementActive bool
}

const powerReadingLen = 18

// StatisticsPeriod converts StatisticsPeriodMillis.
func (r *GetPowerReadingResponse) StatisticsPeriod() time.Duration {
	return time.Duration(r.StatisticsPeriodMillis) * time.Millisecond
}

func (r *GetPowerReadingResponse) AppendTo(b []byte) []byte {
	b = append(b, wire.DCMIGroupID)
	for _, w := range [...]uint16{r.CurrentWatts, r.MinimumWatts, r.MaximumWatts, r.AverageWatts} {
		b = binary.LittleEndian.AppendUint16(b, w)
	}
	b = binary.LittleEndian.AppendUint32(b, r.Timestamp)
	b = binary.LittleEndian.AppendUint32(b, r.StatisticsPeriodMillis)
	var state uint8
	if r.MeasurementActive {
		state = 0x40
	}
	return append(b, state)
}

func (r *GetPowerReadingResponse) Unmarshal(data []byte) error {
	if err := checkDCMIGroup("get power reading response", data, powerReadingLen); err != nil {
		return err
	}
	le16 := binary.LittleEndian.Uint16
	*r = GetPowerReadingResponse{
		CurrentWatts:           le16(data[1:3]),
		MinimumWatts:           le16(data[3:5]),
		MaximumWatts:           le16(data[5:7]),
		AverageWatts:           le16(data[7:9]),
		Timestamp:              binary.LittleEndian.Uint32(data[9:13]),
		StatisticsPeriodMillis: binary.LittleEndian.Uint32(data[13:17]),
		MeasurementActive:      data[17]&0x40 != 0,
	}
	return nil
}
