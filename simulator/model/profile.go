package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/profiles"
)

// Profile describes one kind of server: identity, network, power, chassis,
// sensors, satellite controllers, FRUs and the initial SEL. Values are in
// engineering units; the model derives the SDR encoding. Build one with
// LoadProfile or ParseProfile, then pass the same pointer to every New of
// that kind so the BMCs share its compiled form.
type Profile struct {
	Name        string           `yaml:"name"`
	Description string           `yaml:"description"`
	Device      DeviceSpec       `yaml:"device"`
	LAN         LANSpec          `yaml:"lan"`
	Power       PowerSpec        `yaml:"power"`
	Chassis     ChassisSpec      `yaml:"chassis"`
	Controllers []ControllerSpec `yaml:"controllers"`
	FRUs        []FRUSpec        `yaml:"frus"`
	Sensors     []SensorSpec     `yaml:"sensors"`
	SEL         SELSpec          `yaml:"sel"`

	compileOnce sync.Once
	compiled    *compiledProfile
	compileErr  error
}

// DeviceSpec is what Get Device ID and Get System GUID report.
type DeviceSpec struct {
	DeviceID       uint8  `yaml:"device_id"`
	DeviceRevision uint8  `yaml:"device_revision"`
	Firmware       string `yaml:"firmware"`     // "major.minor", minor as two decimal digits (BCD on the wire), e.g. "3.45"
	IPMIVersion    string `yaml:"ipmi_version"` // "2.0" (default) or "1.5"
	ManufacturerID uint32 `yaml:"manufacturer_id"`
	ProductID      uint16 `yaml:"product_id"`
	AuxFirmware    []byte `yaml:"aux_firmware"` // 0 or 4 bytes
	// GUID is the system GUID in its text form; the fleet index is added
	// to its last six bytes (the node field) so every BMC differs.
	GUID string `yaml:"guid"`
}

// LANSpec is the LAN channel configuration (Get LAN Configuration
// Parameters 3, 4, 5, 6, 12, 13). IP and MAC get the fleet index added.
type LANSpec struct {
	Channel    uint8  `yaml:"channel"`     // default 1
	IP         string `yaml:"ip"`          // address of fleet index 0
	IPSource   string `yaml:"ip_source"`   // static (default), dhcp, bios, other
	Netmask    string `yaml:"netmask"`     // default 255.255.255.0
	Gateway    string `yaml:"gateway"`     // default gateway IP
	GatewayMAC string `yaml:"gateway_mac"` // default gateway MAC
	MAC        string `yaml:"mac"`         // MAC of fleet index 0
}

// PowerSpec is the DCMI power reading model.
type PowerSpec struct {
	DCMI        bool          `yaml:"dcmi"` // answer DCMI commands at all
	Watts       float64       `yaml:"watts"`
	Noise       float64       `yaml:"noise"`
	Drift       float64       `yaml:"drift"`
	DriftPeriod time.Duration `yaml:"drift_period"`
	// StatsWindow is the period Get Power Reading's minimum, maximum and
	// average cover (default 1h).
	StatsWindow time.Duration `yaml:"stats_window"`
}

// ChassisSpec is the initial chassis state.
type ChassisSpec struct {
	PowerOn       *bool  `yaml:"power_on"`       // default true
	RestorePolicy string `yaml:"restore_policy"` // always_off, previous (default), always_on
}

// OwnerSpec names the controller that owns a sensor or record. The zero
// value is the BMC (address 0x20, channel 0, LUN 0).
type OwnerSpec struct {
	Address uint8 `yaml:"address"` // 8-bit IPMB slave address
	Channel uint8 `yaml:"channel"`
	LUN     uint8 `yaml:"lun"`
}

// ControllerSpec is a satellite management controller reached by bridging
// (for example Intel ME at 0x2C on channel 6). It gets an MC device
// locator record and answers sensor commands for the sensors it owns.
type ControllerSpec struct {
	Name           string `yaml:"name"`
	Address        uint8  `yaml:"address"`
	Channel        uint8  `yaml:"channel"`
	Entity         string `yaml:"entity"` // "name.instance" or "id.instance"
	DeviceID       uint8  `yaml:"device_id"`
	DeviceRevision uint8  `yaml:"device_revision"`
	Firmware       string `yaml:"firmware"`
	ManufacturerID uint32 `yaml:"manufacturer_id"`
	ProductID      uint16 `yaml:"product_id"`
}

// FRUSpec is a FRU device locator record (a logical FRU device at the BMC).
type FRUSpec struct {
	Name     string `yaml:"name"`
	DeviceID uint8  `yaml:"device_id"`
	Entity   string `yaml:"entity"`
	// Inventory is what Read FRU Data serves (defaults: see newFRUDef).
	Inventory *FRUInventory `yaml:"inventory"`
}

// Record kinds of a sensor's SDR.
const (
	RecordFull      = "full"
	RecordCompact   = "compact"
	RecordEventOnly = "event_only"
)

// SensorSpec is one sensor. A threshold sensor (event_reading_type
// threshold, the default when a unit or thresholds are given) has a range
// and a value model; a discrete sensor has states.
type SensorSpec struct {
	Name   string `yaml:"name"`
	Number uint8  `yaml:"number"`
	// Type is a sensor type name ("temperature", "fan", ...) or code.
	Type string `yaml:"type"`
	// Unit is a base unit name ("degrees_c", "rpm", "volts", ...) or code.
	Unit string `yaml:"unit"`
	// Percentage marks a reading in percent of the unit (the SDR's
	// percentage bit), such as a fan duty cycle: unit unspecified,
	// percentage true.
	Percentage bool `yaml:"percentage"`
	// Entity is "name.instance" or "id.instance" (e.g. "processor.1").
	Entity string    `yaml:"entity"`
	Record string    `yaml:"record"`      // full (default), compact, event_only
	Share  int       `yaml:"share_count"` // compact/event-only: consecutive sensors this record stands for
	Owner  OwnerSpec `yaml:"owner"`

	// EventReadingType is "threshold" or a code (0x02-0x0C generic
	// discrete, 0x6F sensor-specific).
	EventReadingType string `yaml:"event_reading_type"`

	Base        float64       `yaml:"base"`
	Drift       float64       `yaml:"drift"`
	DriftPeriod time.Duration `yaml:"drift_period"`
	Noise       float64       `yaml:"noise"`
	Min         float64       `yaml:"min"`
	Max         float64       `yaml:"max"`
	// Format is the analog data format: unsigned, 1s_complement or
	// 2s_complement; default 2s_complement when min < 0, else unsigned.
	Format     string        `yaml:"format"`
	Thresholds ThresholdSpec `yaml:"thresholds"`
	Factors    *FactorsSpec  `yaml:"factors"`
	Hysteresis float64       `yaml:"hysteresis"`

	// States are the initially asserted state offsets (0-14) of a discrete
	// sensor; SupportedStates the offsets it can report (default: States).
	States          []uint8 `yaml:"states"`
	SupportedStates []uint8 `yaml:"supported_states"`

	Absent           bool `yaml:"absent"`            // no reading: 0xCB, or an empty reply under the quirk
	ScanningDisabled bool `yaml:"scanning_disabled"` // reading flags say scanning disabled
	// Standby marks a threshold sensor that keeps reading while the host
	// is powered off (standby rails, inlet temperature); the others then
	// report "reading unavailable". Discrete sensors always read.
	Standby bool `yaml:"standby"`
}

// ThresholdSpec holds the thresholds in engineering units; nil = absent.
type ThresholdSpec struct {
	LNR *float64 `yaml:"lnr" json:"lnr,omitempty"`
	LC  *float64 `yaml:"lc" json:"lc,omitempty"`
	LNC *float64 `yaml:"lnc" json:"lnc,omitempty"`
	UNC *float64 `yaml:"unc" json:"unc,omitempty"`
	UC  *float64 `yaml:"uc" json:"uc,omitempty"`
	UNR *float64 `yaml:"unr" json:"unr,omitempty"`
}

// FactorsSpec overrides the solver: the exact SDR conversion factors.
type FactorsSpec struct {
	M             int    `yaml:"m"`
	B             int    `yaml:"b"`
	RExp          int    `yaml:"r_exp"`
	BExp          int    `yaml:"b_exp"`
	Tolerance     uint8  `yaml:"tolerance"`
	Accuracy      uint16 `yaml:"accuracy"`
	AccuracyExp   uint8  `yaml:"accuracy_exp"`
	Linearization string `yaml:"linearization"` // linear (default), ln, log10, log2, e, exp10, exp2, 1/x, sqr, cube, sqrt, cube-1
}

// SELSpec is the initial System Event Log.
type SELSpec struct {
	Capacity int            `yaml:"capacity"` // entries; default 512
	Entries  []SELEntrySpec `yaml:"entries"`
}

// SELEntrySpec describes a system event record (type 02h) raised by one of
// the profile's sensors, or an OEM record when RecordType is 0xC0-0xFF.
type SELEntrySpec struct {
	// Sensor names the sensor that generated the event; its owner, type,
	// number and event/reading type fill the record.
	Sensor   string `yaml:"sensor" json:"sensor,omitempty"`
	Offset   uint8  `yaml:"offset" json:"offset,omitempty"`     // event offset (event data 1 bits 3:0)
	Deassert bool   `yaml:"deassert" json:"deassert,omitempty"` // deassertion event
	// EventData2 and EventData3 are sent as "unspecified" (0xFF) when nil.
	EventData2 *uint8 `yaml:"event_data2" json:"event_data2,omitempty"`
	EventData3 *uint8 `yaml:"event_data3" json:"event_data3,omitempty"`
	// Time stamps the entry; when zero it is the clock's now minus Age.
	Time time.Time     `yaml:"time" json:"time,omitempty"`
	Age  time.Duration `yaml:"age" json:"age,omitempty"`
	// RecordType 0 means 02h (system event). 0xC0-0xDF are timestamped
	// OEM records (OEM carries manufacturer ID + 6 bytes), 0xE0-0xFF
	// non-timestamped OEM (OEM carries 13 bytes).
	RecordType uint8  `yaml:"record_type" json:"record_type,omitempty"`
	OEM        []byte `yaml:"oem" json:"oem,omitempty"`
}

// ProfileNames lists the built-in profiles, sorted.
func ProfileNames() []string {
	entries, err := fs.ReadDir(profiles.Files(), ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// LoadProfile returns the built-in profile of that name, or reads the
// YAML file at nameOrPath when it is not a built-in name.
func LoadProfile(nameOrPath string) (*Profile, error) {
	data, err := fs.ReadFile(profiles.Files(), nameOrPath+".yaml")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
			return nil, fmt.Errorf("profile %q: %w", nameOrPath, err)
		}
		data, err = os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("profile %q is neither built in (%s) nor a readable file: %w",
				nameOrPath, strings.Join(ProfileNames(), ", "), err)
		}
	}
	p, err := ParseProfile(data)
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", nameOrPath, err)
	}
	return p, nil
}

// ParseProfile decodes a YAML profile strictly (unknown fields are errors)
// and validates it, including the SDR encoding it compiles to. The Profile
// may be edited (for example a sensor appended) until the first New.
func ParseProfile(data []byte) (*Profile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p := &Profile{}
	if err := dec.Decode(p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty profile")
		}
		return nil, fmt.Errorf("decode: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	// Validate now so a bad file fails at load; New compiles again (once
	// per Profile), so callers may still edit the Profile before that.
	if _, err := compileProfile(p); err != nil {
		return nil, err
	}
	return p, nil
}

// compile builds the shared form once per Profile, on the first New;
// later edits to the Profile are not seen.
func (p *Profile) compile() (*compiledProfile, error) {
	p.compileOnce.Do(func() {
		p.compiled, p.compileErr = compileProfile(p)
	})
	return p.compiled, p.compileErr
}
