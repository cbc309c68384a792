package testbed

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ElistEntry is one line of `ipmitool sdr elist`:
//
//	CPU1 Temp        | 01h | ok  |  3.1 | 45 degrees C
type ElistEntry struct {
	Name           string
	Number         uint8
	Status         string // ok, ns, lnc, lcr, lnr, unc, ucr, unr
	EntityID       uint8
	EntityInstance uint8
	// Reading is the last column as printed: "45 degrees C", "11.93 Volts",
	// "No Reading", "Disabled", "Event-Only", "Presence detected, Failure
	// detected", or empty (discrete sensor with no state asserted).
	Reading  string
	HasValue bool // Reading starts with a number
	Value    float64
	Unit     string   // the text after the number
	States   []string // discrete: the comma-separated state texts
}

// ParseSDRElist parses `ipmitool sdr elist [full|compact|...]`.
func ParseSDRElist(out string) ([]ElistEntry, error) {
	var entries []ElistEntry
	for n, line := range lines(out) {
		f := strings.Split(line, "|")
		if len(f) != 5 {
			return nil, fmt.Errorf("sdr elist line %d: %d fields: %q", n+1, len(f), line)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		e := ElistEntry{Name: f[0], Status: f[2], Reading: f[4]}
		num, err := strconv.ParseUint(strings.TrimSuffix(f[1], "h"), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("sdr elist line %d: sensor number %q", n+1, f[1])
		}
		e.Number = uint8(num)
		if e.EntityID, e.EntityInstance, err = parseEntity(f[3]); err != nil {
			return nil, fmt.Errorf("sdr elist line %d: %w", n+1, err)
		}
		if num, unit, ok := splitNumber(e.Reading); ok {
			e.HasValue, e.Value, e.Unit = true, num, unit
		} else if e.Reading != "" && e.Status != "ns" {
			for _, s := range strings.Split(e.Reading, ",") {
				e.States = append(e.States, strings.TrimSpace(s))
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func parseEntity(s string) (id, inst uint8, err error) {
	a, b, ok := strings.Cut(s, ".")
	if !ok {
		return 0, 0, fmt.Errorf("entity %q", s)
	}
	i, err1 := strconv.ParseUint(a, 10, 8)
	j, err2 := strconv.ParseUint(b, 10, 8)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("entity %q", s)
	}
	return uint8(i), uint8(j), nil
}

// splitNumber splits "11.93 Volts" into 11.93 and "Volts".
func splitNumber(s string) (float64, string, bool) {
	num, rest, _ := strings.Cut(s, " ")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, "", false
	}
	return v, strings.TrimSpace(rest), true
}

// IpmitoolSensorRow is one line of `ipmitool sensor`:
//
//	CPU2 Temp | 84.000 | degrees C | nc | 5.000 | 10.000 | 15.000 | 80.000 | 90.000 | 100.000
//	PSU2 Status | 0x3 | discrete | 0x0300| na | ...
type IpmitoolSensorRow struct {
	Name     string
	HasValue bool // false for "na"
	Value    float64
	Unit     string // "degrees C", "discrete", "" when no reading
	// Status: ok, nc, cr, nr, na for threshold sensors; for discrete ones
	// the hex state bytes as printed ("0x0300").
	Status   string
	Discrete bool
	Raw      uint8  // discrete: the reading byte ("0x3")
	States   uint16 // discrete: asserted state offsets (bit 0 = offset 0)
	// Thresholds indexed LNC..UNR (ipmitool prints lnr, lcr, lnc, unc, ucr, unr).
	Thresholds  [6]float64
	ThreshValid [6]bool
}

// ParseIpmitoolSensor parses `ipmitool sensor` (also `sensor list`).
func ParseIpmitoolSensor(out string) ([]IpmitoolSensorRow, error) {
	printed := [6]int{LNR, LCR, LNC, UNC, UCR, UNR}
	var rows []IpmitoolSensorRow
	for n, line := range lines(out) {
		f := strings.Split(line, "|")
		if len(f) != 10 {
			return nil, fmt.Errorf("sensor line %d: %d fields: %q", n+1, len(f), line)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		r := IpmitoolSensorRow{Name: f[0], Unit: f[2], Status: f[3]}
		if r.Unit == "discrete" {
			r.Discrete = true
			raw, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 8)
			if err == nil {
				r.HasValue, r.Raw, r.Value = true, uint8(raw), float64(raw)
			}
			st, err := strconv.ParseUint(strings.TrimPrefix(r.Status, "0x"), 16, 16)
			if err != nil {
				return nil, fmt.Errorf("sensor line %d: discrete status %q", n+1, r.Status)
			}
			// Printed as reading byte 3 then byte 4 (offsets 0-7, then 8-14).
			r.States = uint16(st>>8) | uint16(st&0xff)<<8
		} else if f[1] != "na" {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("sensor line %d: value %q", n+1, f[1])
			}
			r.HasValue, r.Value = true, v
		}
		for i, idx := range printed {
			s := f[4+i]
			if s == "na" {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("sensor line %d: threshold %q", n+1, s)
			}
			r.Thresholds[idx], r.ThreshValid[idx] = v, true
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// KeyValues parses "Key : Value" lines (ipmitool and FreeIPMI info output).
// Keys are trimmed; the first occurrence wins; other lines are ignored.
func KeyValues(out string) map[string]string {
	m := map[string]string{}
	for _, line := range lines(out) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := m[k]; !dup && k != "" {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// SELInfo is `ipmitool sel info`.
type SELInfo struct {
	Version        string // "1.5 (v1.5, v2 compliant)"
	Entries        int
	FreeSpaceBytes int
	Overflow       bool
	Fields         map[string]string // every "key : value" line
}

// ParseSELInfo parses `ipmitool sel info`.
func ParseSELInfo(out string) (SELInfo, error) {
	kv := KeyValues(out)
	si := SELInfo{Version: kv["Version"], Fields: kv}
	var err error
	if si.Entries, err = strconv.Atoi(kv["Entries"]); err != nil {
		return si, fmt.Errorf("sel info: entries %q", kv["Entries"])
	}
	free, _, _ := strings.Cut(kv["Free Space"], " ")
	if si.FreeSpaceBytes, err = strconv.Atoi(free); err != nil {
		return si, fmt.Errorf("sel info: free space %q", kv["Free Space"])
	}
	si.Overflow = kv["Overflow"] == "true"
	return si, nil
}

// ChassisStatus is `ipmitool chassis status` or `ipmi-chassis
// --get-chassis-status` (both start with "System Power : on|off").
type ChassisStatus struct {
	PowerOn bool
	Fields  map[string]string
}

// ParseChassisStatus parses either tool's chassis status output.
func ParseChassisStatus(out string) (ChassisStatus, error) {
	kv := KeyValues(out)
	p, ok := kv["System Power"]
	if !ok || (p != "on" && p != "off") {
		return ChassisStatus{Fields: kv}, fmt.Errorf("chassis status: System Power %q", p)
	}
	return ChassisStatus{PowerOn: p == "on", Fields: kv}, nil
}

// SessionInfo is `ipmitool session info active` (the first session block:
// the one ipmitool itself uses).
type SessionInfo struct {
	ActiveSessions int
	SlotCount      int
	UserID         int
	Privilege      string // "ADMINISTRATOR"
	SessionType    string // "IPMIv2/RMCP+" or "IPMIv1.5"
	Fields         map[string]string
}

// ParseSessionInfo parses `ipmitool session info active|all|id N`.
func ParseSessionInfo(out string) (SessionInfo, error) {
	kv := KeyValues(out)
	si := SessionInfo{Privilege: kv["privilege level"], SessionType: kv["session type"], Fields: kv}
	var err error
	if si.ActiveSessions, err = strconv.Atoi(kv["active sessions"]); err != nil {
		return si, fmt.Errorf("session info: active sessions %q", kv["active sessions"])
	}
	si.SlotCount, _ = strconv.Atoi(kv["slot count"])
	si.UserID, _ = strconv.Atoi(kv["user id"])
	return si, nil
}

// IPMISensorsRow is one line of FreeIPMI `ipmi-sensors --comma-separated-output`.
type IPMISensorsRow struct {
	RecordID   int
	Name       string
	Type       string // "Temperature", "Power Supply", ...
	State      string // Nominal, Warning, Critical, N/A ("" without --output-sensor-state)
	HasReading bool
	Reading    float64
	Units      string // "C" or, with --non-abbreviated-units, "degrees C"
	// Thresholds indexed LNC..UNR (without --output-sensor-thresholds all invalid).
	Thresholds  [6]float64
	ThreshValid [6]bool
	Event       string   // last column as printed: "'OK'", "'Presence detected' 'Power Supply Failure detected'"
	Events      []string // the quoted event texts
}

// ParseIPMISensors parses ipmi-sensors comma-separated output, with or
// without the header line and with or without --output-sensor-state and
// --output-sensor-thresholds.
func ParseIPMISensors(out string) ([]IPMISensorsRow, error) {
	ls := lines(out)
	var cols []string
	if len(ls) > 0 && strings.HasPrefix(ls[0], "ID,") {
		cols = strings.Split(ls[0], ",")
		ls = ls[1:]
	}
	var rows []IPMISensorsRow
	for n, line := range ls {
		c := cols
		if c == nil {
			c = defaultIPMISensorsColumns(strings.Count(line, ",") + 1)
			if c == nil {
				return nil, fmt.Errorf("ipmi-sensors line %d: cannot tell columns: %q", n+1, line)
			}
		}
		f := strings.SplitN(line, ",", len(c))
		if len(f) != len(c) {
			return nil, fmt.Errorf("ipmi-sensors line %d: %d fields, want %d: %q", n+1, len(f), len(c), line)
		}
		var r IPMISensorsRow
		for i, col := range c {
			v := f[i]
			var err error
			switch col {
			case "ID":
				r.RecordID, err = strconv.Atoi(v)
			case "Name":
				r.Name = v
			case "Type":
				r.Type = v
			case "State":
				r.State = v
			case "Reading":
				if v != "N/A" {
					r.Reading, err = strconv.ParseFloat(v, 64)
					r.HasReading = err == nil
				}
			case "Units":
				r.Units = v
			case "Lower NR", "Lower C", "Lower NC", "Upper NC", "Upper C", "Upper NR":
				idx := map[string]int{"Lower NR": LNR, "Lower C": LCR, "Lower NC": LNC, "Upper NC": UNC, "Upper C": UCR, "Upper NR": UNR}[col]
				if v != "N/A" {
					r.Thresholds[idx], err = strconv.ParseFloat(v, 64)
					r.ThreshValid[idx] = err == nil
				}
			case "Event":
				r.Event = v
				r.Events = quoted(v)
			}
			if err != nil {
				return nil, fmt.Errorf("ipmi-sensors line %d: column %s: %q", n+1, col, v)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func defaultIPMISensorsColumns(n int) []string {
	base := []string{"ID", "Name", "Type"}
	thr := []string{"Lower NR", "Lower C", "Lower NC", "Upper NC", "Upper C", "Upper NR"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	switch n {
	case 6:
		return cat(base, []string{"Reading", "Units", "Event"})
	case 7:
		return cat(base, []string{"State", "Reading", "Units", "Event"})
	case 12:
		return cat(base, []string{"Reading", "Units"}, thr, []string{"Event"})
	case 13:
		return cat(base, []string{"State", "Reading", "Units"}, thr, []string{"Event"})
	}
	return nil
}

// quoted returns the texts between single quotes: "'A' 'B'" -> [A B].
func quoted(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+1:], '\'')
		if j < 0 {
			return out
		}
		out = append(out, s[i+1:i+1+j])
		s = s[i+j+2:]
	}
}

// IPMISelInfo is FreeIPMI `ipmi-sel --info`.
type IPMISelInfo struct {
	Version        string
	Entries        int
	FreeSpaceBytes int
	Fields         map[string]string
}

// ParseIPMISelInfo parses `ipmi-sel --info`.
func ParseIPMISelInfo(out string) (IPMISelInfo, error) {
	kv := KeyValues(out)
	si := IPMISelInfo{Version: kv["SEL version"], Fields: kv}
	var err error
	if si.Entries, err = strconv.Atoi(kv["Number of log entries"]); err != nil {
		return si, fmt.Errorf("ipmi-sel --info: entries %q", kv["Number of log entries"])
	}
	free, _, _ := strings.Cut(kv["Free space remaining"], " ")
	if si.FreeSpaceBytes, err = strconv.Atoi(free); err != nil {
		return si, fmt.Errorf("ipmi-sel --info: free space %q", kv["Free space remaining"])
	}
	return si, nil
}

// lines returns the non-blank lines of out, without trailing "\r".
func lines(out string) []string {
	var ls []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

var errNotFound = errors.New("not found")

// FindElist returns the elist entry with the given name and sensor number.
func FindElist(entries []ElistEntry, name string, number uint8) (ElistEntry, error) {
	for _, e := range entries {
		if e.Name == name && e.Number == number {
			return e, nil
		}
	}
	return ElistEntry{}, fmt.Errorf("sensor %q #%d: %w", name, number, errNotFound)
}
