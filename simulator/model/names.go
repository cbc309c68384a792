package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
)

// normalizeName folds a name for lookup: lower case, letters and digits
// only, so "Physical Security", "physical_security" and "physical-security"
// are the same.
func normalizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// equalNormalized reports whether normalizeName(s) == want without
// building the normalized string.
func equalNormalized(s, want string) bool {
	i := 0
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		if !((r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')) {
			continue
		}
		if i >= len(want) || rune(want[i]) != r {
			return false
		}
		i++
	}
	return i == len(want)
}

// parseCode reads a decimal or 0x-prefixed hex byte.
func parseCode(s string) (uint8, bool) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 8)
	if err != nil {
		return 0, false
	}
	return uint8(v), true
}

// lookupCode resolves a profile name against the names the sdr package
// gives codes 0-255 (so profiles use the same words the exporter prints),
// or reads a numeric code. A name also matches any "/"-separated part of
// a code's name ("fan" matches "Fan / Cooling Device"); the lowest
// matching code wins.
func lookupCode(kind, s string, name func(uint8) string) (uint8, error) {
	if c, ok := parseCode(s); ok {
		return c, nil
	}
	want := normalizeName(s)
	if want == "" {
		return 0, fmt.Errorf("empty %s", kind)
	}
	for c := 0; c <= 0xFF; c++ {
		full := name(uint8(c))
		if equalNormalized(full, want) {
			return uint8(c), nil
		}
		for part := range strings.SplitSeq(full, "/") {
			if equalNormalized(part, want) {
				return uint8(c), nil
			}
		}
	}
	return 0, fmt.Errorf("unknown %s %q", kind, s)
}

func lookupSensorType(s string) (sdr.SensorType, error) {
	c, err := lookupCode("sensor type", s, func(c uint8) string { return sdr.SensorType(c).String() })
	return sdr.SensorType(c), err
}

func lookupUnit(s string) (sdr.Unit, error) {
	c, err := lookupCode("unit", s, func(c uint8) string {
		if n := sdr.Unit(c).String(); n != "invalid" && n != "reserved" {
			return n
		}
		return ""
	})
	return sdr.Unit(c), err
}

func lookupEventType(s string) (sdr.EventReadingType, error) {
	c, err := lookupCode("event/reading type", s, func(c uint8) string { return sdr.EventReadingType(c).String() })
	return sdr.EventReadingType(c), err
}

func lookupLinearization(s string) (sdr.Linearization, error) {
	if s == "" {
		return sdr.LinearizationLinear, nil
	}
	if normalizeName(s) == "nonlinear" {
		return sdr.LinearizationNonLinearFirst, nil
	}
	// "1/x" normalizes to "1x"; compare the raw lower-case text first.
	for c := 0; c <= int(sdr.LinearizationCubeRoot); c++ {
		if strings.EqualFold(strings.TrimSpace(s), sdr.Linearization(c).String()) {
			return sdr.Linearization(c), nil
		}
	}
	c, err := lookupCode("linearization", s, func(c uint8) string {
		if sdr.Linearization(c) <= sdr.LinearizationCubeRoot {
			return sdr.Linearization(c).String()
		}
		return ""
	})
	return sdr.Linearization(c), err
}

// parseEntity reads "name.instance" or "id.instance"; the instance
// defaults to 1.
func parseEntity(s string) (sdr.Entity, error) {
	if strings.TrimSpace(s) == "" {
		return sdr.Entity{ID: sdr.EntitySystemBoard, Instance: 1}, nil
	}
	name, inst := s, "1"
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		name, inst = s[:i], s[i+1:]
	}
	n, err := strconv.ParseUint(inst, 0, 7)
	if err != nil {
		return sdr.Entity{}, fmt.Errorf("entity %q: instance must be 0-127", s)
	}
	id, err := lookupCode("entity", name, func(c uint8) string {
		if n := sdr.EntityID(c).String(); n != "Reserved" {
			return n
		}
		return ""
	})
	if err != nil {
		return sdr.Entity{}, err
	}
	return sdr.Entity{ID: sdr.EntityID(id), Instance: uint8(n)}, nil
}

// parseFormat reads the analog format name.
func parseFormat(s string, min float64) (sdr.AnalogFormat, error) {
	switch normalizeName(s) {
	case "":
		if min < 0 {
			return sdr.AnalogTwosComplement, nil
		}
		return sdr.AnalogUnsigned, nil
	case "unsigned":
		return sdr.AnalogUnsigned, nil
	case "1scomplement", "onescomplement":
		return sdr.AnalogOnesComplement, nil
	case "2scomplement", "twoscomplement":
		return sdr.AnalogTwosComplement, nil
	}
	return 0, fmt.Errorf("analog format %q: want unsigned, 1s_complement or 2s_complement", s)
}
