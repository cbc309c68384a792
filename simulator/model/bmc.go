package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Options vary one BMC of a fleet.
type Options struct {
	// Seed seeds the sensor noise and drift phases; with Index it makes
	// every reading reproducible.
	Seed int64
	// Clock gives the time readings and timestamps are evaluated at;
	// nil means time.Now.
	Clock func() time.Time
	// Index is the BMC's position in the fleet. It is added to the
	// profile's IP address, MAC address and GUID node, and varies the
	// sensor values.
	Index int
}

// Quirks switch on behaviours of real BMCs that clients must cope with.
type Quirks struct {
	// SDRMaxRead, when positive, answers 0xCA (cannot return number of
	// requested data bytes) to Get SDR reads of more bytes than this, as
	// BMCs with small buffers do; clients must retry with smaller chunks.
	SDRMaxRead int `json:"sdr_max_read"`
	// EmptyReadingForAbsent answers Get Sensor Reading of a sensor marked
	// absent with completion code 0 and no data, instead of 0xCB.
	EmptyReadingForAbsent bool `json:"empty_reading_for_absent"`

	// The SDR and sensor quirks of the catalogue in docs/bmc-quirks.md;
	// quirks.go implements them.

	// SDRCancelReservation, when positive, cancels the SDR reservation
	// at every Nth Get SDR that names one (0xC5), as a BMC whose
	// repository is touched by its own firmware during the walk.
	SDRCancelReservation int `json:"sdr_cancel_reservation,omitempty"`
	// SDRShortRead, when positive, returns at most that many bytes of a
	// Get SDR, with completion code 0, whatever was asked.
	SDRShortRead int `json:"sdr_short_read,omitempty"`
	// SDRLastRecordCC answers Get SDR of the last record with this
	// completion code (0xC3 seen in the field) instead of the record.
	SDRLastRecordCC uint8 `json:"sdr_last_record_cc,omitempty"`
	// SDRCountShort makes Get SDR Repository Info report that many
	// records fewer than the repository holds (at least 0).
	SDRCountShort int `json:"sdr_count_short,omitempty"`
	// SDRDuplicate returns the first N records a second time, with
	// their own record IDs, right after themselves (H3C).
	SDRDuplicate int `json:"sdr_duplicate,omitempty"`
	// SDRSameName gives every discrete sensor's SDR this ID string
	// (Dell's many "Status" and "Presence" sensors).
	SDRSameName string `json:"sdr_same_name,omitempty"`
	// SDROwner writes this owner address (8-bit) into the records of
	// the BMC's own sensors, which are still answered by the BMC.
	SDROwner uint8 `json:"sdr_owner,omitempty"`
	// FalseScanningDisabled sets the "scanning disabled" bit in every
	// Get Sensor Reading whose reading is valid.
	FalseScanningDisabled bool `json:"false_scanning_disabled,omitempty"`
	// ReadingCC answers Get Sensor Reading of ReadingCCSensor (a sensor
	// name) with this completion code.
	ReadingCC       uint8  `json:"reading_cc,omitempty"`
	ReadingCCSensor string `json:"reading_cc_sensor,omitempty"`
	// DiscreteReading gives the SDR of this threshold sensor (a name) a
	// discrete event/reading type (07h, severity), while its reading
	// stays analog.
	DiscreteReading string `json:"discrete_reading,omitempty"`
}

// ChassisFaults are the fault bits Get Chassis Status reports.
type ChassisFaults struct {
	PowerOverload     bool `json:"power_overload"`
	PowerInterlock    bool `json:"power_interlock"`
	PowerFault        bool `json:"power_fault"`
	PowerControlFault bool `json:"power_control_fault"`
	CoolingFault      bool `json:"cooling_fault"`
	DriveFault        bool `json:"drive_fault"`
	Intrusion         bool `json:"intrusion"`
}

// A BMC is one simulated management controller's state: SDR repository,
// sensors, SEL, chassis, DCMI, LAN config, device ID/GUID. Safe for
// concurrent use.
type BMC struct {
	p     *compiledProfile
	clock func() time.Time
	seed  uint64
	index int
	ip    [4]byte
	mac   [6]byte
	guid  command.GUID // wire (IPMI) order

	mu     sync.Mutex
	quirks Quirks
	// overrides and states hold values set at run time, keyed by sensor
	// index; nil until first used so an untouched BMC costs nothing.
	overrides map[int]float64
	states    map[int]uint16

	powerOn          bool
	poweredByCommand bool
	faults           ChassisFaults
	powerWatts       float64 // SetPowerReading value when powerFixed
	powerFixed       bool

	reservation    uint16 // last reservation ID handed out (SDR and SEL share the counter)
	sdrReservation uint16 // valid SDR reservation, 0 = none
	selReservation uint16 // valid SEL reservation, 0 = none
	sdrBumped      bool
	// quirkView is the repository as the record quirks rewrite it (plain
	// and bumped), built on first use; sdrGets counts Get SDR requests
	// naming a reservation (SDRCancelReservation).
	quirkView [2][]sdrRecord
	sdrGets   int
	sdrAdded  command.Timestamp
	sdrErased command.Timestamp

	sel         []selEntry
	selNextID   uint16
	selAdded    command.Timestamp
	selErased   command.Timestamp
	selOverflow bool

	watchdog watchdogState             // watchdog.go
	lanMode  command.SupermicroLANMode // oem.go
}

// selEntry is one stored SEL record, record ID included in its bytes.
type selEntry [command.SELEntryLen]byte

func (e *selEntry) id() uint16 { return binary.LittleEndian.Uint16(e[:2]) }

// New builds a BMC from a profile. BMCs built from the same *Profile share
// its compiled SDR repository and sensor definitions.
func New(p *Profile, opts Options) (*BMC, error) {
	if p == nil {
		return nil, errors.New("model: nil profile")
	}
	c, err := p.compile()
	if err != nil {
		return nil, fmt.Errorf("model: profile %q: %w", p.Name, err)
	}
	if opts.Index < 0 {
		return nil, fmt.Errorf("model: negative fleet index %d", opts.Index)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	b := &BMC{
		p:       c,
		clock:   clock,
		seed:    mix64(uint64(opts.Seed) ^ mix64(uint64(opts.Index)+0x9E3779B97F4A7C15)),
		index:   opts.Index,
		powerOn: c.powerOn,
	}
	idx := uint64(opts.Index)
	binary.BigEndian.PutUint32(b.ip[:], binary.BigEndian.Uint32(c.lan.ip[:])+uint32(idx))
	putUint48(b.mac[:], uint48(c.lan.mac[:])+idx)
	rfc := c.guid
	putUint48(rfc[10:], uint48(rfc[10:])+idx)
	for i := range rfc {
		b.guid[i] = rfc[15-i] // IPMI v2.0 section 20.8: least significant byte first
	}
	now := b.now()
	b.sdrAdded, b.sdrErased = now, now
	b.selAdded, b.selErased = now, now
	b.selNextID = 1
	if len(c.selInitial) > 0 {
		b.sel = make([]selEntry, 0, len(c.selInitial))
	}
	nowTime := clock()
	for i := range c.selInitial {
		e := c.selInitial[i]
		if e.Time.IsZero() {
			e.Time = nowTime.Add(-e.Age)
		}
		if _, err := b.addSEL(&e); err != nil {
			return nil, fmt.Errorf("model: profile %q: sel entries[%d]: %w", p.Name, i, err)
		}
	}
	return b, nil
}

func uint48(b []byte) uint64 {
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

func putUint48(b []byte, v uint64) {
	for i := 5; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// mix64 is the splitmix64 finalizer: a cheap, well-spread hash.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// fraction returns x minus its floor; keeping the sine's argument small
// keeps it precise at Unix-epoch magnitudes.
func fraction(x float64) float64 { return x - math.Floor(x) }

// unit01 maps a hash to [0, 1).
func unit01(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// timestamp converts a time to an IPMI timestamp.
func timestamp(t time.Time) command.Timestamp {
	s := t.Unix()
	if s < 0 || s >= int64(command.TimestampUnspecified) {
		return command.TimestampUnspecified
	}
	return command.Timestamp(s)
}

func (b *BMC) now() command.Timestamp { return timestamp(b.clock()) }

// ProfileName returns the name of the profile the BMC was built from.
func (b *BMC) ProfileName() string { return b.p.name }

// Index returns the BMC's fleet index.
func (b *BMC) Index() int { return b.index }

// GUID returns the system GUID in wire order (as Get System GUID sends it).
func (b *BMC) GUID() command.GUID { return b.guid }

// IP returns the BMC's LAN IPv4 address (LAN parameter 3).
func (b *BMC) IP() [4]byte { return b.ip }

// MAC returns the BMC's LAN MAC address (LAN parameter 5).
func (b *BMC) MAC() [6]byte { return b.mac }

// HasController reports whether target addresses the BMC or one of the
// profile's satellite controllers, so the bridging side can tell an
// unreachable address from a command failure.
func (b *BMC) HasController(target wire.Target) bool {
	return target.IsBMC() || b.p.controller(target.Channel, target.Addr) != nil
}

// SetQuirks replaces the quirks.
func (b *BMC) SetQuirks(q Quirks) {
	b.mu.Lock()
	b.quirks = q
	b.quirkView = [2][]sdrRecord{}
	b.sdrGets = 0
	b.mu.Unlock()
}

// Quirks returns the current quirks.
func (b *BMC) Quirks() Quirks {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.quirks
}

var (
	// ErrUnknownSensor is returned for a sensor name the profile lacks.
	ErrUnknownSensor = errors.New("model: unknown sensor")
	// ErrWrongSensorKind is returned when setting a value on a discrete
	// sensor or states on a threshold sensor.
	ErrWrongSensorKind = errors.New("model: wrong kind of sensor")
)

func (b *BMC) sensorByName(name string) (*sensorDef, error) {
	i, ok := b.p.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSensor, name)
	}
	return &b.p.sensors[i], nil
}

// SetSensorValue fixes a threshold sensor's value (engineering units),
// replacing its drift and noise. Values beyond the sensor's range read as
// the nearest end of the range.
func (b *BMC) SetSensorValue(name string, v float64) error {
	d, err := b.sensorByName(name)
	if err != nil {
		return err
	}
	if d.kind != kindThreshold {
		return fmt.Errorf("%w: %q is not a threshold sensor", ErrWrongSensorKind, name)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("model: sensor %q: value %v is not a number", name, v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.overrides == nil {
		b.overrides = make(map[int]float64)
	}
	b.overrides[d.index] = v
	return nil
}

// ClearSensorValue returns a threshold sensor to its profile value model.
func (b *BMC) ClearSensorValue(name string) error {
	d, err := b.sensorByName(name)
	if err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.overrides, d.index)
	b.mu.Unlock()
	return nil
}

// SetSensorStates sets a discrete or event-only sensor's asserted states
// (bit n = state offset n). Bits outside the sensor's supported states
// are an error.
func (b *BMC) SetSensorStates(name string, states uint16) error {
	d, err := b.sensorByName(name)
	if err != nil {
		return err
	}
	if d.kind == kindThreshold {
		return fmt.Errorf("%w: %q is a threshold sensor", ErrWrongSensorKind, name)
	}
	if extra := states &^ d.supported; extra != 0 {
		return fmt.Errorf("model: sensor %q: states 0x%04x not in its supported states 0x%04x", name, extra, d.supported)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.states == nil {
		b.states = make(map[int]uint16)
	}
	b.states[d.index] = states
	return nil
}

// SetPower turns the host power on or off (as a power button would).
func (b *BMC) SetPower(on bool) {
	b.mu.Lock()
	b.powerOn = on
	b.poweredByCommand = false
	b.mu.Unlock()
}

// PowerOn reports the host power state.
func (b *BMC) PowerOn() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.powerOn
}

// SetChassisFaults replaces the chassis fault bits.
func (b *BMC) SetChassisFaults(f ChassisFaults) {
	b.mu.Lock()
	b.faults = f
	b.mu.Unlock()
}

// SetPowerReading fixes the DCMI power reading: current, minimum, maximum
// and average all report watts. A negative value returns to the profile's
// model.
func (b *BMC) SetPowerReading(watts float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if watts < 0 || math.IsNaN(watts) {
		b.powerFixed = false
		return
	}
	b.powerWatts, b.powerFixed = math.Min(watts, 0xFFFF), true
}

// BumpSDR changes the repository: it adds an OEM record, or removes the
// one a previous bump added, updating the addition or erase timestamp and
// cancelling the SDR reservation, as a firmware or hot-plug change would.
func (b *BMC) BumpSDR() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.sdrBumped {
		b.sdrErased = later(b.sdrErased, now)
	} else {
		b.sdrAdded = later(b.sdrAdded, now)
	}
	b.sdrBumped = !b.sdrBumped
	b.sdrReservation = 0
}

// later returns now, or prev+1 when the clock has not moved past prev, so
// that every change is visible in the timestamp.
func later(prev, now command.Timestamp) command.Timestamp {
	if now > prev || prev >= command.TimestampUnspecified-1 {
		return now
	}
	return prev + 1
}

func (b *BMC) records() []sdrRecord {
	recs := b.p.records
	view := &b.quirkView[0]
	if b.sdrBumped {
		recs, view = b.p.recordsBumped, &b.quirkView[1]
	}
	if !b.quirks.rewritesRecords() {
		return recs
	}
	if *view == nil {
		*view = b.quirkRecords(recs)
	}
	return *view
}

// sensorValue is the sensor's engineering value at t (before encoding).
func (b *BMC) sensorValue(d *sensorDef, t time.Time) float64 {
	if v, ok := b.overrides[d.index]; ok {
		return v
	}
	return d.modelValue(b.seed, t)
}

// modelValue evaluates base + drift*sin(2πt/period + phase) + noise*u.
func (d *sensorDef) modelValue(seed uint64, t time.Time) float64 {
	v := d.base
	key := seed ^ mix64(uint64(d.index)+1)
	if d.drift != 0 {
		phase := 2 * math.Pi * unit01(mix64(key^0x5bd1e995))
		secs := float64(t.UnixNano()) / 1e9
		v += d.drift * math.Sin(2*math.Pi*fraction(secs/d.periodSeconds)+phase)
	}
	if d.noise != 0 {
		v += d.noise * (2*unit01(mix64(key+uint64(t.Unix())*0x9E3779B97F4A7C15)) - 1)
	}
	return v
}

// sensorStates returns a discrete sensor's asserted states.
func (b *BMC) sensorStates(d *sensorDef) uint16 {
	if s, ok := b.states[d.index]; ok {
		return s
	}
	return d.initial
}

// reading is what Get Sensor Reading reports for a sensor.
type reading struct {
	raw         uint8
	value       float64 // engineering value of raw
	unavailable bool
	states      uint16 // threshold comparison status or discrete states
}

// readingLocked computes a sensor's reading at t; b.mu must be held.
func (b *BMC) readingLocked(d *sensorDef, t time.Time) reading {
	switch d.kind {
	case kindDiscrete:
		return reading{states: b.sensorStates(d), unavailable: d.scanningDisabled}
	case kindEventOnly:
		return reading{unavailable: true}
	}
	if d.scanningDisabled || (!b.powerOn && !d.standby) {
		return reading{unavailable: true}
	}
	raw, err := d.conv.Raw(b.sensorValue(d, t))
	if err != nil {
		// Compile checked the conversion; an unconvertible value reads
		// as unavailable rather than as a wrong number.
		return reading{unavailable: true}
	}
	v, _ := d.conv.Value(raw)
	return reading{raw: raw, value: v, states: uint16(d.thresholds.Status(raw, &d.conv))}
}

// SensorSnapshot is a sensor's current state as the control API shows it.
type SensorSnapshot struct {
	Name      string               `json:"name"`
	Number    uint8                `json:"number"`
	Owner     wire.Target          `json:"owner"` // where Get Sensor Reading must be sent
	Type      sdr.SensorType       `json:"type"`
	TypeName  string               `json:"type_name"`
	EventType sdr.EventReadingType `json:"event_reading_type"`
	Unit      string               `json:"unit,omitempty"`
	Record    string               `json:"record"`
	// Value is the engineering value a client decodes from Raw (threshold
	// sensors only); Available is false when the sensor reads as
	// unavailable, absent or event-only.
	Value        float64               `json:"value"`
	Raw          uint8                 `json:"raw"`
	Available    bool                  `json:"available"`
	Absent       bool                  `json:"absent,omitempty"`
	Thresholds   ThresholdSpec         `json:"thresholds"` // engineering values as clients decode them
	Status       command.ThresholdMask `json:"threshold_status"`
	States       uint16                `json:"states"`
	Severity     sdr.Severity          `json:"-"`
	SeverityName string                `json:"severity"`
}

// Sensors returns every sensor's current state, in profile order.
func (b *BMC) Sensors() []SensorSnapshot {
	t := b.clock()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]SensorSnapshot, len(b.p.sensors))
	for i := range b.p.sensors {
		out[i] = b.snapshotLocked(&b.p.sensors[i], t)
	}
	return out
}

// Sensor returns one sensor's current state.
func (b *BMC) Sensor(name string) (SensorSnapshot, error) {
	d, err := b.sensorByName(name)
	if err != nil {
		return SensorSnapshot{}, err
	}
	t := b.clock()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snapshotLocked(d, t), nil
}

func (b *BMC) snapshotLocked(d *sensorDef, t time.Time) SensorSnapshot {
	r := b.readingLocked(d, t)
	s := SensorSnapshot{
		Name:      d.name,
		Number:    d.addr.number,
		Owner:     wire.Target{Channel: d.addr.channel, Addr: d.addr.addr, LUN: d.addr.lun},
		Type:      d.sensorType,
		TypeName:  d.sensorType.String(),
		EventType: d.eventType,
		Record:    d.record,
		Available: !r.unavailable && !d.absent,
		Absent:    d.absent,
		Raw:       r.raw,
		Value:     r.value,
	}
	switch d.kind {
	case kindThreshold:
		s.Unit = d.units.String()
		s.Status = command.ThresholdMask(r.states)
		s.Thresholds = d.thresholdSpec()
		s.Severity = sdr.ThresholdStatusSeverity(s.Status)
	case kindDiscrete, kindEventOnly:
		s.States = b.sensorStates(d)
		s.Severity = sdr.DiscreteSeverity(d.sensorType, d.eventType, s.States)
	}
	if !s.Available && d.kind != kindEventOnly {
		s.Severity = sdr.Unknown
	}
	s.SeverityName = s.Severity.String()
	return s
}

// thresholdSpec returns the readable thresholds as clients decode them.
func (d *sensorDef) thresholdSpec() ThresholdSpec {
	var t ThresholdSpec
	ptrs := [6]**float64{&t.LNC, &t.LC, &t.LNR, &t.UNC, &t.UC, &t.UNR}
	for th := sdr.Threshold(0); th < 6; th++ {
		if d.thresholds.Readable.Has(th.Mask()) {
			v := d.thresholdValue[th]
			*ptrs[th] = &v
		}
	}
	return t
}
