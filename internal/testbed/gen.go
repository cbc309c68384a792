package testbed

import (
	"fmt"
	"strings"
	"time"
)

// The files under testdata/ipmisim that are generated from the Go tables in
// this package. TestTestdataUpToDate fails when they drift; regenerate with
//
//	go test ./internal/testbed -run TestTestdataUpToDate -update
const (
	sdrSourceFile = "sim.sdrs"
	emuFile       = "sim.emu"
	// emuEnableLines end the .emu; ExtraEmu goes before them.
	emuEnableLines = "mc_enable 0x30\nmc_enable 0x20\n"
)

// BMCDevice is what Get Device ID of the simulated BMC returns (from the
// mc_add line of the .emu).
var BMCDevice = struct {
	DeviceID        uint8
	DeviceRevision  uint8
	FirmwareMajor   uint8
	FirmwareMinor   uint8 // BCD as given to ipmi_sim (0x08 -> "9.08")
	ManufacturerID  uint32
	ProductID       uint16
	DeviceSupport   uint8
	SatelliteDevice uint8
}{DeviceID: 0x00, DeviceRevision: 0x03, FirmwareMajor: 9, FirmwareMinor: 0x08, ManufacturerID: 0x1291, ProductID: 0x0f02, DeviceSupport: 0x9f, SatelliteDevice: 0x02}

// FRUInfo is the content of FRU device 0 of the BMC.
var FRUInfo = struct {
	BoardManufacturer, BoardProduct, BoardSerial, BoardPart       string
	ProductManufacturer, ProductName, ProductPart, ProductVersion string
	ProductSerial, ProductAssetTag                                string
	BoardMfgDate                                                  time.Time
}{
	BoardManufacturer: "IPMI Fleet", BoardProduct: "Fleet Sim Board", BoardSerial: "BRD-0001", BoardPart: "PN-1234",
	ProductManufacturer: "IPMI Fleet", ProductName: "Fleet Sim", ProductPart: "FS-1", ProductVersion: "1.0",
	ProductSerial: "SN-0042", ProductAssetTag: "ASSET-7",
	BoardMfgDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
}

// FRUSize is the FRU device 0 inventory area size in bytes.
const FRUSize = 256

// SELEntry is one record the .emu adds to the BMC's SEL, in order.
type SELEntry struct {
	RecordType uint8    // 0x02 system event; 0xc0-0xdf OEM timestamped
	Data       [13]byte // record bytes after the record type (timestamp first)
	// For system events (RecordType 0x02):
	Sensor      string // name of the sensor in Sensors
	Deassertion bool
}

// Generator ID, sensor type, sensor number, event/reading type and the
// three event data bytes of a system event record.
func (e SELEntry) GeneratorID() uint16 { return uint16(e.Data[4]) | uint16(e.Data[5])<<8 }
func (e SELEntry) SensorType() uint8   { return e.Data[7] }
func (e SELEntry) SensorNumber() uint8 { return e.Data[8] }
func (e SELEntry) EventType() uint8    { return e.Data[9] & 0x7f }
func (e SELEntry) EventData() [3]byte  { return [3]byte{e.Data[10], e.Data[11], e.Data[12]} }

// SELEntries is what the SEL holds after start. ipmi_sim replaces the
// timestamp with its own clock.
var SELEntries []SELEntry

func sysEvent(name string, deassert bool, d1, d2, d3 byte) SELEntry {
	s, ok := SensorByName(name)
	if !ok {
		panic("testbed: SEL entry for unknown sensor " + name)
	}
	dir := s.Reading
	if deassert {
		dir |= 0x80
	}
	e := SELEntry{RecordType: 0x02, Sensor: name, Deassertion: deassert}
	e.Data = [13]byte{0, 0, 0, 0, s.Owner, s.LUN & 3, 0x04, s.Type, s.Number, dir, d1, d2, d3}
	return e
}

func buildSELEntries() []SELEntry {
	return []SELEntry{
		sysEvent("FAN4", false, 0x52, 9, 10),      // lower critical going low, reading 9, threshold 10
		sysEvent("PCH Temp", false, 0x59, 93, 90), // upper critical going high
		sysEvent("PSU2 Status", false, 0x01, 0xff, 0xff),
		sysEvent("CPU2 Status", false, 0x01, 0xff, 0xff),
		sysEvent("Intrusion", false, 0x00, 0xff, 0xff),
		sysEvent("Intrusion", true, 0x00, 0xff, 0xff),
		sysEvent("Riser Fan", false, 0x50, 19, 20), // lower non-critical going low
		{RecordType: 0xc0, Data: [13]byte{0, 0, 0, 0, 0x91, 0x12, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02}},
	}
}

// SensorByName returns the first sensor with the given SDR ID string.
func SensorByName(name string) (Sensor, bool) {
	for _, s := range Sensors {
		if s.Name == name {
			return s, true
		}
	}
	return Sensor{}, false
}

// SensorByKey returns the sensor with the given owner, LUN and number.
func SensorByKey(owner, lun, number uint8) (Sensor, bool) {
	for _, s := range Sensors {
		if s.Owner == owner && s.LUN == lun && s.Number == number {
			return s, true
		}
	}
	return Sensor{}, false
}

// sdrOrder lists the SDR records in repository order: the BMC's MC locator,
// the FRU locator, one record per sensor (shared compact records once), and
// the satellite's MC locator.
func sdrOrder() []any {
	out := []any{&mcLocatorBMC, &fruLocator}
	for i := range Sensors {
		if Sensors[i].ShareIndex == 0 {
			out = append(out, &Sensors[i])
		}
	}
	return append(out, &mcLocatorSat)
}

// Locators returns the MC and FRU device locator records, with record IDs.
func Locators() []Locator {
	return []Locator{mcLocatorBMC, fruLocator, mcLocatorSat}
}

func assignRecordIDs() {
	leader := map[uint8]uint16{} // compact share leader number -> record id
	for i, r := range sdrOrder() {
		id := uint16(i + 1) // sdrcomp numbers records from 1
		switch r := r.(type) {
		case *Locator:
			r.RecordID = id
		case *Sensor:
			r.RecordID = id
			if r.ShareCount > 1 {
				leader[r.Number] = id
			}
		}
	}
	for i := range Sensors {
		s := &Sensors[i]
		if s.ShareIndex > 0 {
			s.RecordID = leader[s.Number-s.ShareIndex]
		}
	}
}

// sdrSource renders the sdrcomp input for the whole repository.
func sdrSource() string {
	var b strings.Builder
	b.WriteString("# SDR repository of the test BMC. GENERATED by internal/testbed (gen.go) from\n")
	b.WriteString("# the Sensors table; do not edit. Compile with: sdrcomp -8 -o sdr.20.main sim.sdrs\n")
	b.WriteString("# Linearization is written as its numeric IPMI code: sdrcomp's names for 8-11 are off by one.\n")
	for _, r := range sdrOrder() {
		b.WriteString("\n")
		switch r := r.(type) {
		case *Locator:
			writeLocator(&b, r)
		case *Sensor:
			writeSensorSDR(&b, r)
		}
	}
	return b.String()
}

func kv(b *strings.Builder, key string, val any) {
	fmt.Fprintf(b, "\t%-24s%v\n", key, val)
}

func hex8(v uint8) string { return fmt.Sprintf("0x%02x", v) }

func writeLocator(b *strings.Builder, l *Locator) {
	fmt.Fprintf(b, "# record %d: %s\n", l.RecordID, l.Name)
	switch l.Record {
	case MCLocator:
		b.WriteString("sdr type 18\n")
		kv(b, "device_slave_address", hex8(l.Addr))
		kv(b, "device_channel_number", 0)
		isBMC := l.Addr == BMCAddr
		kv(b, "chassis", isBMC)
		kv(b, "ipmb_event_gen", !isBMC)
		kv(b, "ipmb_event_recv", isBMC)
		kv(b, "fru_inventory", isBMC)
		kv(b, "sel", isBMC)
		kv(b, "sdr", isBMC)
		kv(b, "sensor", true)
	case FRULocator:
		b.WriteString("sdr type 17\n")
		kv(b, "device_access_address", hex8(l.Addr))
		kv(b, "fru_device_address", l.FRUID)
		kv(b, "logical_fru", true)
		kv(b, "lun", 0)
		kv(b, "channel_number", 0)
		kv(b, "device_type", "0x10")
		kv(b, "device_type_modifier", 0)
	}
	if l.Record == FRULocator {
		kv(b, "fru_entity_id", hex8(l.EntityID))
		kv(b, "fru_entity_instance", l.EntityIn)
	} else {
		kv(b, "entity_id", hex8(l.EntityID))
		kv(b, "entity_instance", l.EntityIn)
	}
	kv(b, "id_string", fmt.Sprintf("%q", l.Name))
	b.WriteString("endsdr\n")
}

// thresholdEventBits returns the assertion (and deassertion) event bits of
// a threshold sensor: "going low" for lower thresholds, "going high" for upper.
func thresholdEventBits(mask uint8) uint16 {
	var bits uint16
	for i, bit := range []uint{0, 2, 4, 7, 9, 11} { // lnc-gl, lc-gl, lnr-gl, unc-gh, uc-gh, unr-gh
		if mask&(1<<i) != 0 {
			bits |= 1 << bit
		}
	}
	return bits
}

var thresholdSDRNames = [6]string{"lnc", "lc", "lnr", "unc", "uc", "unr"}

var eventBitNames = []string{"lncgl", "lncgh", "lcgl", "lcgh", "lnrgl", "lnrgh", "uncgl", "uncgh", "ucgl", "ucgh", "unrgl", "unrgh"}

func writeSensorSDR(b *strings.Builder, s *Sensor) {
	fmt.Fprintf(b, "# record %d: %s (owner %s lun %d number %d)\n", s.RecordID, s.Name, hex8(s.Owner), s.LUN, s.Number)
	fmt.Fprintf(b, "sdr type %d\n", s.Record)
	kv(b, "sensor_owner_id", hex8(s.Owner))
	kv(b, "sensor_owner_lun", s.LUN)
	kv(b, "channel_number", 0)
	kv(b, "sensor_number", s.Number)
	kv(b, "entity_id", hex8(s.EntityID))
	kv(b, "entity_instance", s.EntityIns)
	if s.Record == EventOnlyRecord {
		kv(b, "sensor_type", hex8(s.Type))
		kv(b, "event_reading_type_code", hex8(s.Reading))
		kv(b, "sensor_direction", "n/a")
		kv(b, "id_string", fmt.Sprintf("%q", s.Name))
		b.WriteString("endsdr\n")
		return
	}
	kv(b, "init_scanning", true)
	kv(b, "init_events", true)
	kv(b, "init_sensor_type", true)
	kv(b, "default_event_gen_on", true)
	kv(b, "default_sensor_scan_on", s.Scanning)
	kv(b, "sensor_auto_rearm", true)
	access := "no"
	if s.ThreshMask != 0 {
		access = "readable"
	}
	kv(b, "sensor_hysteresis", "no")
	kv(b, "sensor_threshold_access", access)
	kv(b, "sensor_event_msg_ctrl", "per_state")
	kv(b, "sensor_type", hex8(s.Type))
	kv(b, "event_reading_type_code", hex8(s.Reading))
	if s.IsThreshold() {
		ev := thresholdEventBits(s.ThreshMask)
		for i, n := range eventBitNames {
			if ev&(1<<i) != 0 {
				kv(b, "assert_"+n, true)
				kv(b, "deassert_"+n, true)
			}
		}
		for i := 0; i < 6; i++ {
			if s.ThreshMask&(1<<i) == 0 {
				continue
			}
			kv(b, thresholdSDRNames[i]+"_thrsh_readable", true)
		}
		// "Threshold comparison returned" reading mask bits.
		for i, n := range []string{"return_lnc", "return_lc", "return_lnr", "return_unc", "return_uc", "return_unr"} {
			if s.ThreshMask&(1<<i) != 0 {
				kv(b, n, true)
			}
		}
	} else {
		for i := 0; i < 15; i++ {
			if s.StateMask&(1<<i) != 0 {
				kv(b, fmt.Sprintf("assert_event%d", i), true)
				kv(b, fmt.Sprintf("deassert_event%d", i), true)
			}
		}
	}
	if s.Record == CompactRecord {
		kv(b, "base_unit", 0)
		kv(b, "sensor_direction", "n/a")
		if s.ShareCount > 1 {
			kv(b, "id_string_modifier", "numeric")
			kv(b, "share_count", s.ShareCount)
			kv(b, "entity_instance_incr", true)
			kv(b, "instance_modifier_off", 1)
		}
		kv(b, "id_string", fmt.Sprintf("%q", s.Name))
		b.WriteString("endsdr\n")
		return
	}
	kv(b, "analog_data_format", s.Format.sdrcompName())
	kv(b, "rate_unit", "none")
	kv(b, "modifier_unit", "none")
	kv(b, "percentage", s.Percentage)
	kv(b, "base_unit", s.BaseUnit)
	kv(b, "modifier_unit_code", 0)
	kv(b, "linearization", s.Linearization)
	kv(b, "m", s.M)
	kv(b, "tolerance", 0)
	kv(b, "b", s.B)
	kv(b, "accuracy", 0)
	kv(b, "accuracy_exp", 0)
	kv(b, "sensor_direction", "input")
	kv(b, "r_exp", s.RExp)
	kv(b, "b_exp", s.BExp)
	switch s.Format {
	case Unsigned:
		kv(b, "sensor_maximum", "0xff")
		kv(b, "sensor_minimum", "0x00")
	default:
		kv(b, "sensor_maximum", "0x7f")
		kv(b, "sensor_minimum", "0x80")
	}
	for i := 0; i < 6; i++ {
		if s.ThreshMask&(1<<i) != 0 {
			kv(b, thresholdSDRNames[i]+"_thresh", hex8(s.ThreshRaw[i]))
		}
	}
	kv(b, "id_string", fmt.Sprintf("%q", s.Name))
	b.WriteString("endsdr\n")
}

func bits15(v uint16) string {
	var b strings.Builder
	for i := 14; i >= 0; i-- {
		if v&(1<<i) != 0 {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

// emuSource renders the ipmi_sim command file. ipmi_sim stops reading it at
// the first failing line, so every line must succeed.
func emuSource() string {
	var b strings.Builder
	d := BMCDevice
	b.WriteString("# ipmi_sim command file of the test BMC. GENERATED by internal/testbed (gen.go)\n")
	b.WriteString("# from the Sensors and SELEntries tables; do not edit.\n")
	b.WriteString("# ipmi_sim aborts the file at the first bad line and then never opens the LAN channel.\n\n")
	b.WriteString("mc_setbmc 0x20\n")
	fmt.Fprintf(&b, "mc_add 0x20 %s no-device-sdrs 0x%02x %d 0x%02x %s 0x%04x 0x%04x persist_sdr\n",
		hex8(d.DeviceID), d.DeviceRevision, d.FirmwareMajor, d.FirmwareMinor, hex8(d.DeviceSupport), d.ManufacturerID, d.ProductID)
	b.WriteString("sel_enable 0x20 1000 0x0a\n")
	fru := FRUImage()
	fmt.Fprintf(&b, "mc_add_fru_data 0x20 0 %d data", FRUSize)
	for _, c := range fru {
		fmt.Fprintf(&b, " 0x%02x", c)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "mc_add 0x30 %s no-device-sdrs 0x98 0x10 1 0x80 0x%04x 0x0f03\n", hex8(d.SatelliteDevice), d.ManufacturerID)
	for _, s := range Sensors {
		fmt.Fprintf(&b, "\n# %s\n", s.Name)
		if !s.Simulated {
			b.WriteString("# (no simulated sensor: readings answer 0xCC)\n")
			continue
		}
		owner := hex8(s.Owner)
		if s.EventOnly {
			fmt.Fprintf(&b, "sensor_add %s %d %d %s %s event-only\n", owner, s.LUN, s.Number, hex8(s.Type), hex8(s.Reading))
			continue
		}
		fmt.Fprintf(&b, "sensor_add %s %d %d %s %s\n", owner, s.LUN, s.Number, hex8(s.Type), hex8(s.Reading))
		var ev uint16
		if s.IsThreshold() {
			ev = thresholdEventBits(s.ThreshMask)
			if s.ThreshMask != 0 {
				fmt.Fprintf(&b, "sensor_set_threshold %s %d %d readable %06b", owner, s.LUN, s.Number, s.ThreshMask)
				for i := 5; i >= 0; i-- {
					fmt.Fprintf(&b, " 0x%02x", s.ThreshRaw[i])
				}
				b.WriteString("\n")
			}
		} else {
			ev = s.StateMask
		}
		scan := "scanning"
		if !s.Scanning {
			scan = "no-scanning"
		}
		fmt.Fprintf(&b, "sensor_set_event_support %s %d %d enable %s per-state %s %s %s %s\n",
			owner, s.LUN, s.Number, scan, bits15(ev), bits15(ev), bits15(ev), bits15(ev))
		if s.IsThreshold() {
			fmt.Fprintf(&b, "sensor_set_value %s %d %d 0x%02x 0\n", owner, s.LUN, s.Number, s.Raw)
		} else {
			for i := 0; i < 15; i++ {
				if s.States&(1<<i) != 0 {
					fmt.Fprintf(&b, "sensor_set_bit %s %d %d %d 1 0\n", owner, s.LUN, s.Number, i)
				}
			}
		}
	}
	b.WriteString("\n# SEL\n")
	for _, e := range SELEntries {
		fmt.Fprintf(&b, "sel_add 0x20 0x%02x", e.RecordType)
		for _, c := range e.Data {
			fmt.Fprintf(&b, " 0x%02x", c)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n" + emuEnableLines)
	return b.String()
}

// FRUImage builds FRU device 0: common header, board info area and product
// info area (IPMI Platform Management FRU Information Storage Definition v1.0).
func FRUImage() []byte {
	f := FRUInfo
	str := func(s string) []byte { return append([]byte{0xc0 | byte(len(s))}, s...) }
	area := func(fixed []byte, fields ...string) []byte {
		a := append([]byte{}, fixed...)
		for _, s := range fields {
			a = append(a, str(s)...)
		}
		a = append(a, 0xc1) // end of fields
		for (len(a)+1)%8 != 0 {
			a = append(a, 0)
		}
		a = append(a, 0)
		a[1] = byte(len(a) / 8)
		a[len(a)-1] = checksum(a[:len(a)-1])
		return a
	}
	mins := uint32(f.BoardMfgDate.Sub(time.Date(1996, 1, 1, 0, 0, 0, 0, time.UTC)).Minutes())
	board := area([]byte{0x01, 0, 0x00, byte(mins), byte(mins >> 8), byte(mins >> 16)},
		f.BoardManufacturer, f.BoardProduct, f.BoardSerial, f.BoardPart, "")
	product := area([]byte{0x01, 0, 0x00},
		f.ProductManufacturer, f.ProductName, f.ProductPart, f.ProductVersion, f.ProductSerial, f.ProductAssetTag, "")
	hdr := []byte{0x01, 0, 0, 1, byte(1 + len(board)/8), 0, 0, 0}
	hdr[7] = checksum(hdr[:7])
	out := append(hdr, board...)
	return append(out, product...)
}

// checksum is the zero checksum used by FRU areas: sum of all bytes is 0.
func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}
