package model

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// compiledProfile is the immutable form of a Profile shared by every BMC
// built from it: encoded SDR records, sensor definitions with their
// conversions and raw thresholds, and parsed identity and network data.
type compiledProfile struct {
	name    string
	device  command.GetDeviceIDResponse
	guid    [16]byte // RFC 4122 byte order, fleet index 0
	lan     compiledLAN
	power   PowerSpec // defaults applied
	powerOn bool
	restore command.PowerRestorePolicy

	controllers []controllerDef // satellites, not the BMC
	bmc         controllerDef   // the BMC's own sensor counts
	sensors     []sensorDef     // one per sensor, shared records expanded
	byName      map[string]int  // sensor name -> index in sensors
	byAddr      map[sensorAddr]int

	// records is the repository; recordsBumped the same plus one OEM
	// record, the state BumpSDR toggles to. Both share the record bytes.
	records       []sdrRecord
	recordsBumped []sdrRecord

	selCapacity int
	selInitial  []SELEntrySpec

	frus []fruDef // FRU devices Read FRU Data serves (fru.go)
}

type compiledLAN struct {
	channel    uint8
	ip         [4]byte // fleet index 0
	source     command.LANIPAddressSource
	netmask    [4]byte
	gateway    [4]byte
	gatewayMAC [6]byte
	mac        [6]byte // fleet index 0
}

// controllerDef is a satellite controller: where it sits and what Get
// Device ID says about it.
type controllerDef struct {
	channel, addr uint8
	device        command.GetDeviceIDResponse
	lunSensors    [4]uint8 // sensor count per LUN
	lunRecords    [4]uint8 // sensor record count per LUN
}

// sensorAddr identifies a sensor the way a request reaches it.
type sensorAddr struct {
	channel, addr, lun, number uint8
}

// sdrRecord is one encoded repository record.
type sdrRecord struct {
	id   uint16
	data []byte
}

type sensorKind uint8

const (
	kindThreshold sensorKind = iota
	kindDiscrete
	kindEventOnly
)

// sensorDef is one sensor as compiled: its identity, conversion, raw
// thresholds and value model.
type sensorDef struct {
	name       string
	index      int // position in compiledProfile.sensors; seeds noise
	addr       sensorAddr
	owner      sdr.Owner
	entity     sdr.Entity
	sensorType sdr.SensorType
	eventType  sdr.EventReadingType
	kind       sensorKind
	record     string // RecordFull, RecordCompact or RecordEventOnly
	units      sdr.Units
	conv       sdr.Conversion
	factors    command.ReadingFactors
	thresholds sdr.Thresholds
	// thresholdValue holds the engineering value of each readable raw
	// threshold, as a client decodes it.
	thresholdValue [6]float64

	base, drift, noise float64
	periodSeconds      float64
	min, max           float64

	supported, initial uint16
	absent             bool
	scanningDisabled   bool
	standby            bool // still read while the host is powered off
}

const (
	bmcAddress       = wire.BMCSlaveAddress
	maxSensorNameLen = 16
	defaultSELSize   = 512
	maxSELSize       = 0xFFFF / 16 // free space is a 16-bit byte count
)

// compileProfile validates p and builds its shared form.
func compileProfile(p *Profile) (*compiledProfile, error) {
	if strings.TrimSpace(p.Name) == "" {
		return nil, errors.New("profile has no name")
	}
	c := &compiledProfile{
		name:   p.Name,
		bmc:    controllerDef{addr: bmcAddress},
		byName: make(map[string]int),
		byAddr: make(map[sensorAddr]int),
	}
	var err error
	if c.device, err = compileDevice(&p.Device); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	if c.guid, err = parseGUID(p.Device.GUID); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	if c.lan, err = compileLAN(&p.LAN); err != nil {
		return nil, fmt.Errorf("lan: %w", err)
	}
	if c.power, err = compilePower(p.Power); err != nil {
		return nil, fmt.Errorf("power: %w", err)
	}
	c.powerOn = p.Chassis.PowerOn == nil || *p.Chassis.PowerOn
	if c.restore, err = parseRestorePolicy(p.Chassis.RestorePolicy); err != nil {
		return nil, fmt.Errorf("chassis: %w", err)
	}
	for i := range p.Controllers {
		if err := c.addController(&p.Controllers[i]); err != nil {
			return nil, fmt.Errorf("controllers[%d] %q: %w", i, p.Controllers[i].Name, err)
		}
	}
	if len(c.controllers) > 0 {
		c.device.AdditionalDeviceSupport |= command.DeviceSupportBridge
	}
	c.bmc.device = c.device
	var records []sdr.Record
	nextID := uint16(1)
	for i := range p.Sensors {
		rec, err := c.addSensor(&p.Sensors[i], nextID)
		if err != nil {
			return nil, fmt.Errorf("sensors[%d] %q: %w", i, p.Sensors[i].Name, err)
		}
		records = append(records, rec)
		nextID++
	}
	fruIDs := make(map[uint8]bool)
	for i := range p.FRUs {
		f := &p.FRUs[i]
		rec, err := compileFRU(f, nextID)
		if err != nil {
			return nil, fmt.Errorf("frus[%d] %q: %w", i, f.Name, err)
		}
		if fruIDs[f.DeviceID] {
			return nil, fmt.Errorf("frus[%d] %q: FRU device ID %d used twice", i, f.Name, f.DeviceID)
		}
		fruIDs[f.DeviceID] = true
		c.frus = append(c.frus, newFRUDef(f))
		records = append(records, rec)
		nextID++
	}
	// The BMC's own locator, then the satellites', as BMCs list them.
	bmcLocator, err := mcLocator("BMC", bmcAddress, 0, sdr.Entity{ID: sdr.EntityMgmtFirmware, Instance: 1},
		sdr.MCCapabilities(c.device.AdditionalDeviceSupport), nextID)
	if err != nil {
		return nil, err
	}
	records = append(records, bmcLocator)
	nextID++
	for i := range p.Controllers {
		cs := &p.Controllers[i]
		ent, err := parseEntity(cs.Entity)
		if err != nil {
			return nil, fmt.Errorf("controllers[%d] %q: %w", i, cs.Name, err)
		}
		rec, err := mcLocator(cs.Name, cs.Address, cs.Channel, ent,
			sdr.MCCapabilities(command.DeviceSupportSensor|command.DeviceSupportEventGenerator), nextID)
		if err != nil {
			return nil, fmt.Errorf("controllers[%d] %q: %w", i, cs.Name, err)
		}
		records = append(records, rec)
		nextID++
	}
	for _, r := range records {
		c.records = append(c.records, sdrRecord{id: r.ID(), data: r.AppendTo(nil)})
	}
	bump := &sdr.UnknownRecord{
		Header:     sdr.Header{RecordID: nextID, Version: command.SDRVersion},
		RecordType: sdr.TypeOEM,
	}
	mfr := c.device.ManufacturerID
	bump.Body = []byte{byte(mfr), byte(mfr >> 8), byte(mfr >> 16), 'b', 'u', 'm', 'p'}
	c.recordsBumped = append(append(make([]sdrRecord, 0, len(c.records)+1), c.records...),
		sdrRecord{id: nextID, data: bump.AppendTo(nil)})
	if err := c.compileSEL(&p.SEL); err != nil {
		return nil, fmt.Errorf("sel: %w", err)
	}
	return c, nil
}

func compileDevice(d *DeviceSpec) (command.GetDeviceIDResponse, error) {
	r := command.GetDeviceIDResponse{
		DeviceID:       d.DeviceID,
		DeviceRevision: d.DeviceRevision,
		ProductID:      d.ProductID,
		AdditionalDeviceSupport: command.DeviceSupportSensor | command.DeviceSupportSDRRepository |
			command.DeviceSupportSEL | command.DeviceSupportFRUInventory | command.DeviceSupportEventReceiver |
			command.DeviceSupportEventGenerator | command.DeviceSupportChassis,
	}
	if d.DeviceRevision > 15 {
		return r, fmt.Errorf("device_revision %d above 15", d.DeviceRevision)
	}
	if d.ManufacturerID > 0xFFFFF {
		return r, fmt.Errorf("manufacturer_id %d does not fit 20 bits", d.ManufacturerID)
	}
	r.ManufacturerID = d.ManufacturerID
	var err error
	if r.FirmwareMajor, r.FirmwareMinor, err = parseFirmware(d.Firmware); err != nil {
		return r, err
	}
	switch d.IPMIVersion {
	case "", "2.0":
		r.IPMIVersion = 0x02
	case "1.5":
		r.IPMIVersion = 0x51
	default:
		return r, fmt.Errorf("ipmi_version %q: want 2.0 or 1.5", d.IPMIVersion)
	}
	switch len(d.AuxFirmware) {
	case 0:
	case 4:
		r.HasAuxFirmwareRevision = true
		copy(r.AuxFirmwareRevision[:], d.AuxFirmware)
	default:
		return r, fmt.Errorf("aux_firmware has %d bytes, want 0 or 4", len(d.AuxFirmware))
	}
	return r, nil
}

// parseFirmware reads "major.minor" where minor is two decimal digits,
// stored as BCD the way ipmitool prints it back ("%d.%02x").
func parseFirmware(s string) (major, minorBCD uint8, err error) {
	if s == "" {
		return 1, 0, nil
	}
	maj, min, ok := strings.Cut(s, ".")
	mj, err1 := strconv.ParseUint(maj, 10, 7)
	if !ok || err1 != nil || len(min) == 0 || len(min) > 2 {
		return 0, 0, fmt.Errorf("firmware %q: want major.minor, e.g. 3.45", s)
	}
	if len(min) == 1 {
		min = "0" + min
	}
	mn, err2 := strconv.ParseUint(min, 16, 8)
	if err2 != nil || min[0] > '9' || min[1] > '9' {
		return 0, 0, fmt.Errorf("firmware %q: minor must be two decimal digits", s)
	}
	return uint8(mj), uint8(mn), nil
}

// parseGUID reads the canonical 8-4-4-4-12 text into RFC 4122 byte order.
func parseGUID(s string) ([16]byte, error) {
	var g [16]byte
	if s == "" {
		return g, errors.New("guid is required")
	}
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 || len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("guid %q: want 8-4-4-4-12 hex digits", s)
	}
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return g, fmt.Errorf("guid %q: %w", s, err)
	}
	return g, nil
}

func compileLAN(l *LANSpec) (compiledLAN, error) {
	c := compiledLAN{channel: l.Channel}
	if c.channel == 0 {
		c.channel = 1
	}
	if c.channel > 0x0B {
		return c, fmt.Errorf("channel %d: LAN channels are 1-11", c.channel)
	}
	var err error
	if c.ip, err = parseIPv4("ip", l.IP, "10.0.0.10"); err != nil {
		return c, err
	}
	if c.netmask, err = parseIPv4("netmask", l.Netmask, "255.255.255.0"); err != nil {
		return c, err
	}
	if c.gateway, err = parseIPv4("gateway", l.Gateway, "0.0.0.0"); err != nil {
		return c, err
	}
	if c.mac, err = parseMAC("mac", l.MAC, "02:00:00:00:00:00"); err != nil {
		return c, err
	}
	if c.gatewayMAC, err = parseMAC("gateway_mac", l.GatewayMAC, "00:00:00:00:00:00"); err != nil {
		return c, err
	}
	switch normalizeName(l.IPSource) {
	case "", "static":
		c.source = command.LANIPSourceStatic
	case "dhcp":
		c.source = command.LANIPSourceDHCP
	case "bios":
		c.source = command.LANIPSourceBIOS
	case "other":
		c.source = command.LANIPSourceOther
	default:
		return c, fmt.Errorf("ip_source %q: want static, dhcp, bios or other", l.IPSource)
	}
	return c, nil
}

func parseIPv4(field, s, def string) ([4]byte, error) {
	if s == "" {
		s = def
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return [4]byte{}, fmt.Errorf("%s %q: want an IPv4 address", field, s)
	}
	return a.As4(), nil
}

func parseMAC(field, s, def string) ([6]byte, error) {
	if s == "" {
		s = def
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return [6]byte{}, fmt.Errorf("%s %q: want a 6-byte MAC address", field, s)
	}
	return [6]byte(hw), nil
}

func compilePower(p PowerSpec) (PowerSpec, error) {
	if p.Watts < 0 || p.Watts > 0xFFFF || p.Noise < 0 || p.Drift < 0 {
		return p, fmt.Errorf("watts %g, noise %g, drift %g: want 0 <= watts <= 65535 and non-negative noise and drift",
			p.Watts, p.Noise, p.Drift)
	}
	if p.DriftPeriod <= 0 {
		p.DriftPeriod = 10 * time.Minute
	}
	if p.StatsWindow <= 0 {
		p.StatsWindow = time.Hour
	}
	if p.StatsWindow < time.Second || p.StatsWindow.Milliseconds() > math.MaxUint32 {
		return p, fmt.Errorf("stats_window %s out of range", p.StatsWindow)
	}
	return p, nil
}

func parseRestorePolicy(s string) (command.PowerRestorePolicy, error) {
	switch normalizeName(s) {
	case "", "previous":
		return command.PowerRestorePrevious, nil
	case "alwaysoff":
		return command.PowerRestoreAlwaysOff, nil
	case "alwayson":
		return command.PowerRestoreAlwaysOn, nil
	}
	return 0, fmt.Errorf("restore_policy %q: want always_off, previous or always_on", s)
}

func (c *compiledProfile) addController(cs *ControllerSpec) error {
	if cs.Address == 0 || cs.Address&1 != 0 {
		return fmt.Errorf("address 0x%02x: want a non-zero 8-bit slave address (even)", cs.Address)
	}
	if cs.Channel > 0x0F {
		return fmt.Errorf("channel %d above 15", cs.Channel)
	}
	if cs.Address == bmcAddress && cs.Channel == 0 {
		return errors.New("address 0x20 on channel 0 is the BMC itself")
	}
	if c.controller(cs.Channel, cs.Address) != nil {
		return fmt.Errorf("a controller at 0x%02x channel %d is already defined", cs.Address, cs.Channel)
	}
	dev, err := compileDevice(&DeviceSpec{
		DeviceID: cs.DeviceID, DeviceRevision: cs.DeviceRevision, Firmware: cs.Firmware,
		ManufacturerID: cs.ManufacturerID, ProductID: cs.ProductID,
	})
	if err != nil {
		return err
	}
	dev.AdditionalDeviceSupport = command.DeviceSupportSensor | command.DeviceSupportEventGenerator
	c.controllers = append(c.controllers, controllerDef{channel: cs.Channel, addr: cs.Address, device: dev})
	return nil
}

// controller returns the satellite at (channel, addr), or nil.
func (c *compiledProfile) controller(channel, addr uint8) *controllerDef {
	for i := range c.controllers {
		if c.controllers[i].channel == channel && c.controllers[i].addr == addr {
			return &c.controllers[i]
		}
	}
	return nil
}

// addSensor compiles one sensor entry (several sensors for a shared
// record) and returns its SDR.
func (c *compiledProfile) addSensor(s *SensorSpec, recordID uint16) (sdr.Record, error) {
	id, err := sdr.EncodeIDString(sdr.IDString8BitASCII, s.Name)
	if err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	if strings.TrimSpace(s.Name) == "" {
		return nil, errors.New("name is empty")
	}
	owner, addr, err := c.ownerOf(&s.Owner)
	if err != nil {
		return nil, err
	}
	addr.number = s.Number
	st, err := lookupSensorType(s.Type)
	if err != nil {
		return nil, err
	}
	ent, err := parseEntity(s.Entity)
	if err != nil {
		return nil, err
	}
	d := sensorDef{
		owner: owner, entity: ent, sensorType: st,
		base: s.Base, drift: s.Drift, noise: s.Noise,
		periodSeconds: s.DriftPeriod.Seconds(),
		min:           s.Min, max: s.Max,
		absent:           s.Absent,
		standby:          s.Standby,
		scanningDisabled: s.ScanningDisabled,
	}
	if d.periodSeconds <= 0 {
		d.periodSeconds = 600
	}
	if s.Noise < 0 || s.Drift < 0 {
		return nil, errors.New("noise and drift must not be negative")
	}
	if d.eventType, err = c.eventTypeOf(s); err != nil {
		return nil, err
	}
	for _, o := range s.States {
		if o > 14 {
			return nil, fmt.Errorf("state offset %d above 14", o)
		}
		d.initial |= 1 << o
	}
	for _, o := range s.SupportedStates {
		if o > 14 {
			return nil, fmt.Errorf("supported state offset %d above 14", o)
		}
		d.supported |= 1 << o
	}
	if s.SupportedStates == nil {
		d.supported = d.initial
	}
	if d.initial&^d.supported != 0 {
		return nil, fmt.Errorf("states %v are not all in supported_states %v", s.States, s.SupportedStates)
	}
	kind := s.Record
	if kind == "" {
		kind = RecordFull
	}
	share := s.Share
	if share == 0 {
		share = 1
	}
	if share < 1 || share > 15 {
		return nil, fmt.Errorf("share_count %d: want 1-15", s.Share)
	}
	if int(addr.number)+share-1 >= 0xFF {
		return nil, fmt.Errorf("sensor numbers 0x%02x+%d run into the reserved number 0xFF", addr.number, share)
	}
	sharing := sdr.Sharing{Count: uint8(share), ModifierType: sdr.ModifierNumeric, EntityInstanceIncrements: share > 1}
	if share == 1 {
		sharing.Count = 0
	}
	hdr := sdr.Header{RecordID: recordID, Version: command.SDRVersion}
	var rec sdr.Record
	switch kind {
	case RecordFull:
		if share != 1 {
			return nil, errors.New("share_count needs a compact or event_only record")
		}
		d.kind = kindDiscrete
		if d.eventType.IsThreshold() {
			d.kind = kindThreshold
		}
		full, err := compileFull(s, &d, hdr, id)
		if err != nil {
			return nil, err
		}
		rec = full
	case RecordCompact:
		if d.eventType.IsThreshold() {
			return nil, errors.New("a compact record cannot carry a threshold sensor's conversion; use record: full")
		}
		d.kind = kindDiscrete
		rec = &sdr.CompactSensor{
			Header: hdr, Owner: owner, Number: s.Number, Entity: ent,
			Init:         discreteInit(s.ScanningDisabled),
			Capabilities: 0x40, // auto re-arm
			SensorType:   st, EventType: d.eventType,
			AssertionMask: d.supported, DeassertionMask: d.supported, ReadingMask: d.supported,
			Units:    sdr.Units{Analog: sdr.AnalogNone},
			Sharing:  sharing,
			IDString: id,
		}
	case RecordEventOnly:
		d.kind = kindEventOnly
		rec = &sdr.EventOnlySensor{
			Header: hdr, Owner: owner, Number: s.Number, Entity: ent,
			SensorType: st, EventType: d.eventType, Sharing: sharing, IDString: id,
		}
	default:
		return nil, fmt.Errorf("record %q: want full, compact or event_only", s.Record)
	}
	d.record = kind
	c.owning(addr).lunRecords[addr.lun]++
	for i := 0; i < share; i++ {
		inst := d
		inst.name = sharing.Name(s.Name, i)
		inst.addr = addr
		inst.addr.number = addr.number + uint8(i)
		if sharing.EntityInstanceIncrements {
			inst.entity.Instance = (ent.Instance + uint8(i)) & 0x7F
		}
		if err := c.addSensorDef(inst); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

func (c *compiledProfile) addSensorDef(d sensorDef) error {
	if _, dup := c.byName[d.name]; dup {
		return fmt.Errorf("sensor name %q used twice", d.name)
	}
	if d.addr.number == 0xFF {
		return errors.New("sensor number 0xFF is reserved")
	}
	if prev, dup := c.byAddr[d.addr]; dup {
		return fmt.Errorf("sensor number 0x%02x at owner 0x%02x/ch%d/lun%d is also %q",
			d.addr.number, d.addr.addr, d.addr.channel, d.addr.lun, c.sensors[prev].name)
	}
	d.index = len(c.sensors)
	c.sensors = append(c.sensors, d)
	c.byName[d.name] = d.index
	c.byAddr[d.addr] = d.index
	if d.kind != kindEventOnly {
		c.owning(d.addr).lunSensors[d.addr.lun]++
	}
	return nil
}

// owning returns the controller (the BMC or a satellite) that owns addr.
func (c *compiledProfile) owning(addr sensorAddr) *controllerDef {
	if addr.addr == bmcAddress && addr.channel == 0 {
		return &c.bmc
	}
	return c.controller(addr.channel, addr.addr)
}

// ownerOf resolves a sensor's owner; the zero OwnerSpec is the BMC.
func (c *compiledProfile) ownerOf(o *OwnerSpec) (sdr.Owner, sensorAddr, error) {
	addr := o.Address
	if addr == 0 {
		addr = bmcAddress
	}
	if addr&1 != 0 {
		return sdr.Owner{}, sensorAddr{}, fmt.Errorf("owner address 0x%02x: want an 8-bit slave address (even)", addr)
	}
	if o.LUN > 3 || o.Channel > 15 {
		return sdr.Owner{}, sensorAddr{}, fmt.Errorf("owner LUN %d / channel %d out of range", o.LUN, o.Channel)
	}
	if (addr != bmcAddress || o.Channel != 0) && c.controller(o.Channel, addr) == nil {
		return sdr.Owner{}, sensorAddr{}, fmt.Errorf("owner 0x%02x on channel %d is not in controllers", addr, o.Channel)
	}
	owner := sdr.Owner{Address: addr >> 1, Channel: o.Channel, LUN: o.LUN}
	return owner, sensorAddr{channel: o.Channel, addr: addr, lun: o.LUN}, nil
}

func (c *compiledProfile) eventTypeOf(s *SensorSpec) (sdr.EventReadingType, error) {
	if s.EventReadingType != "" {
		et, err := lookupEventType(s.EventReadingType)
		if err != nil {
			return 0, err
		}
		if !et.IsThreshold() && !et.IsDiscrete() {
			return 0, fmt.Errorf("event_reading_type %q is neither threshold nor discrete", s.EventReadingType)
		}
		return et, nil
	}
	if s.Unit != "" || s.Percentage || s.Factors != nil || s.Thresholds != (ThresholdSpec{}) {
		return sdr.EventTypeThreshold, nil
	}
	return sdr.EventTypeSensorSpecific, nil
}

func discreteInit(scanningDisabled bool) sdr.SensorInit {
	init := sdr.SensorInit(0x40 | 0x20 | 0x04 | 0x02 | 0x01) // init scanning, events, type; events and scanning on
	if scanningDisabled {
		init &^= 0x01
	}
	return init
}

// thresholdOrder maps ThresholdSpec fields to sdr.Threshold.
func thresholdList(t *ThresholdSpec) [6]*float64 {
	var l [6]*float64
	l[sdr.LowerNonCritical] = t.LNC
	l[sdr.LowerCritical] = t.LC
	l[sdr.LowerNonRecoverable] = t.LNR
	l[sdr.UpperNonCritical] = t.UNC
	l[sdr.UpperCritical] = t.UC
	l[sdr.UpperNonRecoverable] = t.UNR
	return l
}

// compileFull builds a Full Sensor Record: the conversion (solved, or the
// profile's override), raw thresholds and masks.
func compileFull(s *SensorSpec, d *sensorDef, hdr sdr.Header, id sdr.IDString) (*sdr.FullSensor, error) {
	f := &sdr.FullSensor{
		Header: hdr, Owner: d.owner, Number: s.Number, Entity: d.entity,
		SensorType: d.sensorType, EventType: d.eventType,
		Capabilities: 0x40, // auto re-arm
		IDString:     id,
	}
	if d.kind == kindDiscrete {
		if s.Unit != "" || s.Percentage || s.Factors != nil || s.Thresholds != (ThresholdSpec{}) {
			return nil, errors.New("unit, factors and thresholds belong to threshold sensors")
		}
		f.Init = discreteInit(s.ScanningDisabled)
		f.AssertionMask, f.DeassertionMask, f.ReadingMask = d.supported, d.supported, d.supported
		f.Units = sdr.Units{Analog: sdr.AnalogNone}
		d.conv = f.Conversion()
		return f, nil
	}
	if len(s.States) > 0 || len(s.SupportedStates) > 0 {
		return nil, errors.New("states belong to discrete sensors")
	}
	unit := sdr.UnitUnspecified
	if s.Unit != "" {
		var err error
		if unit, err = lookupUnit(s.Unit); err != nil {
			return nil, err
		}
	}
	format, err := parseFormat(s.Format, s.Min)
	if err != nil {
		return nil, err
	}
	lin := sdr.LinearizationLinear
	if s.Factors != nil {
		fs := s.Factors
		if lin, err = lookupLinearization(fs.Linearization); err != nil {
			return nil, err
		}
		if fs.M < factorMin || fs.M > factorMax || fs.B < factorMin || fs.B > factorMax ||
			fs.RExp < expMin || fs.RExp > expMax || fs.BExp < expMin || fs.BExp > expMax ||
			fs.Tolerance > 0x3F || fs.Accuracy > 0x3FF || fs.AccuracyExp > 3 || fs.M == 0 {
			return nil, fmt.Errorf("factors %+v: M and B must be -512..511 (M non-zero), exponents -8..7, "+
				"tolerance 0-63, accuracy 0-1023, accuracy_exp 0-3", *fs)
		}
		f.Factors = command.ReadingFactors{
			M: int16(fs.M), B: int16(fs.B), RExp: int8(fs.RExp), BExp: int8(fs.BExp),
			Tolerance: fs.Tolerance, Accuracy: fs.Accuracy, AccuracyExp: fs.AccuracyExp,
		}
	} else {
		if f.Factors, err = SolveFactors(s.Min, s.Max, format); err != nil {
			return nil, err
		}
	}
	f.Linearization = lin
	f.Units = sdr.Units{Analog: format, Base: unit, Percentage: s.Percentage}
	d.units = f.Units
	d.factors = f.Factors
	conv := f.Conversion()
	if lin.IsNonLinear() {
		// The reading factors apply to every reading; clients fetch them
		// with Get Sensor Reading Factors.
		conv = conv.WithFactors(f.Factors)
	}
	if s.Factors == nil || s.Min < s.Max {
		if !(s.Min < s.Max) {
			return nil, fmt.Errorf("min %g must be below max %g", s.Min, s.Max)
		}
		if s.Base < s.Min || s.Base > s.Max {
			return nil, fmt.Errorf("base %g outside [min %g, max %g]", s.Base, s.Min, s.Max)
		}
	}
	if s.Factors != nil && s.Min < s.Max {
		// Explicit factors must still cover the declared range.
		lo, hi, ok := convertibleRange(&conv)
		tol := 1e-9 * math.Max(math.Abs(s.Min), math.Abs(s.Max))
		if !ok || s.Min < lo-tol || s.Max > hi+tol {
			return nil, fmt.Errorf("factors represent [%g, %g], not [min %g, max %g]", lo, hi, s.Min, s.Max)
		}
	}
	raw := func(what string, v float64) (uint8, error) {
		r, err := conv.Raw(v)
		if err != nil {
			return 0, fmt.Errorf("%s %g: %w", what, v, err)
		}
		return r, nil
	}
	if f.NominalReading, err = raw("base", s.Base); err != nil {
		return nil, err
	}
	f.NominalSpecified = true
	if s.Min < s.Max {
		if f.SensorMin, err = raw("min", s.Min); err != nil {
			return nil, err
		}
		if f.SensorMax, err = raw("max", s.Max); err != nil {
			return nil, err
		}
	} else {
		lo, hi := rawRange(format)
		f.SensorMin, f.SensorMax = uint8(lo), uint8(hi)
	}
	var readable command.ThresholdMask
	for th, v := range thresholdList(&s.Thresholds) {
		if v == nil {
			continue
		}
		if s.Min < s.Max && (*v < s.Min || *v > s.Max) {
			return nil, fmt.Errorf("threshold %s %g outside [min %g, max %g]", sdr.Threshold(th), *v, s.Min, s.Max)
		}
		r, err := raw(sdr.Threshold(th).String(), *v)
		if err != nil {
			return nil, err
		}
		f.ThresholdRaw[th] = r
		readable |= sdr.Threshold(th).Mask()
		d.thresholdValue[th], _ = conv.Value(r)
	}
	if s.Hysteresis < 0 {
		return nil, errors.New("hysteresis must not be negative")
	}
	if step := conv.DeltaValue(1); step > 0 && s.Hysteresis > 0 {
		h := math.Round(s.Hysteresis / step)
		if h > 0xFF {
			return nil, fmt.Errorf("hysteresis %g is more than 255 raw steps", s.Hysteresis)
		}
		f.PositiveHysteresis, f.NegativeHysteresis = uint8(h), uint8(h)
	}
	f.Init = discreteInit(s.ScanningDisabled) | 0x10 | 0x08 // and init thresholds, hysteresis
	access := uint8(sdr.AccessNone)
	if readable != 0 {
		access = sdr.AccessReadable
	}
	f.Capabilities |= sdr.SensorCapabilities(sdr.AccessReadable<<4 | access<<2)
	f.ReadingMask = uint16(readable)
	// Assertion events: going high for upper thresholds, going low for
	// lower ones; bits 14:12 list the comparisons Get Sensor Reading
	// returns (lower ones in the assertion mask, upper ones in the
	// deassertion mask).
	for th := sdr.Threshold(0); th < 6; th++ {
		if !readable.Has(th.Mask()) {
			continue
		}
		bit := uint16(2 * th) // going low
		if th.IsUpper() {
			bit++ // going high
			f.DeassertionMask |= 1 << (12 + th - sdr.UpperNonCritical)
		} else {
			f.AssertionMask |= 1 << (12 + th)
		}
		f.AssertionMask |= 1 << bit
		f.DeassertionMask |= 1 << bit
	}
	d.conv = conv
	d.thresholds = f.Thresholds()
	return f, nil
}

// convertibleRange returns the smallest and largest value any raw reading
// converts to.
func convertibleRange(c *sdr.Conversion) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for raw := 0; raw <= 0xFF; raw++ {
		if v, good := c.Value(uint8(raw)); good {
			lo, hi, ok = math.Min(lo, v), math.Max(hi, v), true
		}
	}
	return lo, hi, ok
}

func compileFRU(f *FRUSpec, recordID uint16) (*sdr.FRUDeviceLocator, error) {
	id, err := sdr.EncodeIDString(sdr.IDString8BitASCII, f.Name)
	if err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	ent, err := parseEntity(f.Entity)
	if err != nil {
		return nil, err
	}
	return &sdr.FRUDeviceLocator{
		Header:        sdr.Header{RecordID: recordID, Version: command.SDRVersion},
		AccessAddress: bmcAddress, DeviceID: f.DeviceID, Logical: true,
		DeviceType: 0x10, // IPMI FRU inventory
		Entity:     ent, IDString: id,
	}, nil
}

func mcLocator(name string, addr, channel uint8, ent sdr.Entity, caps sdr.MCCapabilities, recordID uint16) (*sdr.MCDeviceLocator, error) {
	id, err := sdr.EncodeIDString(sdr.IDString8BitASCII, name)
	if err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	return &sdr.MCDeviceLocator{
		Header:       sdr.Header{RecordID: recordID, Version: command.SDRVersion},
		SlaveAddress: addr, Channel: channel, Capabilities: caps, Entity: ent, IDString: id,
	}, nil
}

func (c *compiledProfile) compileSEL(s *SELSpec) error {
	c.selCapacity = s.Capacity
	if c.selCapacity == 0 {
		c.selCapacity = defaultSELSize
	}
	if c.selCapacity < 0 || c.selCapacity > maxSELSize {
		return fmt.Errorf("capacity %d: want 1-%d entries", s.Capacity, maxSELSize)
	}
	if len(s.Entries) > c.selCapacity {
		return fmt.Errorf("%d initial entries exceed the capacity of %d", len(s.Entries), c.selCapacity)
	}
	for i := range s.Entries {
		if _, err := c.selRecord(&s.Entries[i], 1, 0); err != nil {
			return fmt.Errorf("entries[%d]: %w", i, err)
		}
	}
	c.selInitial = s.Entries
	return nil
}
