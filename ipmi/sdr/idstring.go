package sdr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// IDStringType is bits 7:6 of an ID string type/length byte (IPMI v2.0
// section 43.15).
type IDStringType uint8

const (
	IDStringUnicode     IDStringType = 0
	IDStringBCDPlus     IDStringType = 1
	IDString6BitASCII   IDStringType = 2
	IDString8BitASCII   IDStringType = 3 // 8-bit ASCII + Latin-1
	maxSDRIDStringBytes              = 16
)

func (t IDStringType) String() string {
	switch t {
	case IDStringUnicode:
		return "unicode"
	case IDStringBCDPlus:
		return "BCD plus"
	case IDString6BitASCII:
		return "6-bit packed ASCII"
	case IDString8BitASCII:
		return "8-bit ASCII"
	}
	return fmt.Sprintf("ID string type %d", uint8(t))
}

// IDString is a sensor or device ID string as stored: its encoding and the
// encoded bytes. Keeping the bytes makes encode(decode(x)) exact; String
// gives the text.
type IDString struct {
	Type IDStringType
	Data []byte
}

// decodeIDString takes the string a type/length byte describes from avail.
// A length larger than what the record holds is cut to what is there, as
// ipmitool and FreeIPMI do, instead of failing the record.
func decodeIDString(typeLength uint8, avail []byte) IDString {
	n := int(typeLength & 0x1F)
	if n > len(avail) {
		n = len(avail)
	}
	var data []byte
	if n > 0 {
		data = append([]byte(nil), avail[:n]...)
	}
	return IDString{Type: IDStringType(typeLength >> 6), Data: data}
}

// appendIDString appends the type/length byte and the bytes.
func (s IDString) appendTo(b []byte) []byte {
	data := s.Data
	if len(data) > 0x1F {
		data = data[:0x1F]
	}
	b = append(b, uint8(s.Type&0x03)<<6|uint8(len(data)))
	return append(b, data...)
}

// NewIDString encodes name as 8-bit ASCII/Latin-1, the encoding every
// tool reads. Characters outside Latin-1 become '?'; the result is cut to
// the 16 bytes a sensor record holds.
func NewIDString(name string) IDString {
	data := make([]byte, 0, len(name))
	for _, r := range name {
		if len(data) == maxSDRIDStringBytes {
			break
		}
		if r > 0xFF {
			r = '?'
		}
		data = append(data, byte(r))
	}
	return IDString{Type: IDString8BitASCII, Data: data}
}

// EncodeIDString encodes name in the given packing. It fails when a
// character cannot be represented or the result exceeds 16 bytes.
func EncodeIDString(t IDStringType, name string) (IDString, error) {
	var data []byte
	switch t {
	case IDString8BitASCII:
		for _, r := range name {
			if r > 0xFF {
				return IDString{}, fmt.Errorf("sdr: %q: %q is not Latin-1: %w", name, r, wire.ErrMalformed)
			}
			data = append(data, byte(r))
		}
	case IDString6BitASCII:
		var err error
		if data, err = pack6Bit(name); err != nil {
			return IDString{}, err
		}
	case IDStringBCDPlus:
		var err error
		if data, err = packBCDPlus(name); err != nil {
			return IDString{}, err
		}
	case IDStringUnicode:
		for _, u := range utf16.Encode([]rune(name)) {
			data = append(data, uint8(u), uint8(u>>8))
		}
	default:
		return IDString{}, fmt.Errorf("sdr: ID string type %d: %w", t, wire.ErrMalformed)
	}
	if len(data) > maxSDRIDStringBytes {
		return IDString{}, fmt.Errorf("sdr: %q encodes to %d bytes, more than %d: %w",
			name, len(data), maxSDRIDStringBytes, wire.ErrMalformed)
	}
	return IDString{Type: t, Data: data}, nil
}

// String decodes the ID string. It never fails: undecodable parts come out
// as the Unicode replacement character. 8-bit and unicode strings end at
// the first NUL, as C tools print them; the packed encodings lose trailing
// spaces because their padding is indistinguishable from spaces.
func (s IDString) String() string {
	switch s.Type {
	case IDString8BitASCII:
		return latin1(s.Data)
	case IDString6BitASCII:
		return unpack6Bit(s.Data)
	case IDStringBCDPlus:
		return unpackBCDPlus(s.Data)
	default:
		if looksLikeASCII(s.Data) {
			// Some BMCs label plain ASCII names "unicode"; ipmitool and
			// FreeIPMI ignore the type and print the bytes, so do we.
			return latin1(s.Data)
		}
		// UTF-16LE code units.
		units := make([]uint16, 0, len(s.Data)/2)
		for i := 0; i+1 < len(s.Data); i += 2 {
			u := uint16(s.Data[i]) | uint16(s.Data[i+1])<<8
			if u == 0 {
				break
			}
			units = append(units, u)
		}
		return string(utf16.Decode(units))
	}
}

// looksLikeASCII reports whether b is printable ASCII (up to a NUL) that
// is not UTF-16: UTF-16LE text has an even length and, for the characters
// sensor names use, a zero byte at every odd offset.
func looksLikeASCII(b []byte) bool {
	if len(b)%2 == 0 {
		utf16LE := true
		for i := 1; i < len(b); i += 2 {
			if b[i] != 0 {
				utf16LE = false
				break
			}
		}
		if utf16LE {
			return false
		}
	}
	for _, c := range b {
		if c == 0 {
			break
		}
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

func latin1(b []byte) string {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// 6-bit packed ASCII holds characters 20h-5Fh as value-20h, packed least
// significant bits first: four characters in three bytes.
func unpack6Bit(b []byte) string {
	n := len(b) * 8 / 6
	out := make([]byte, 0, n)
	var acc uint32
	bits := 0
	for _, c := range b {
		acc |= uint32(c) << bits
		bits += 8
		for bits >= 6 {
			out = append(out, byte(acc&0x3F)+0x20)
			acc >>= 6
			bits -= 6
		}
	}
	return strings.TrimRight(string(out), " ")
}

func pack6Bit(s string) ([]byte, error) {
	var out []byte
	var acc uint32
	bits := 0
	for _, r := range s {
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A' // the 6-bit set has no lower case
		}
		if r < 0x20 || r > 0x5F {
			return nil, fmt.Errorf("sdr: %q: %q has no 6-bit ASCII code: %w", s, r, wire.ErrMalformed)
		}
		acc |= uint32(r-0x20) << bits
		bits += 6
		for bits >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			bits -= 8
		}
	}
	if bits > 0 {
		out = append(out, byte(acc))
	}
	return out, nil
}

// bcdPlusDigits maps BCD plus nibbles to characters: 0-9, space, dash,
// period, colon, comma, underscore.
const bcdPlusDigits = "0123456789 -.:,_"

// BCD plus stores two characters per byte, the first in the high nibble.
func unpackBCDPlus(b []byte) string {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, bcdPlusDigits[c>>4], bcdPlusDigits[c&0x0F])
	}
	return strings.TrimRight(string(out), " ")
}

func packBCDPlus(s string) ([]byte, error) {
	var nibbles []byte
	for _, r := range s {
		i := strings.IndexRune(bcdPlusDigits, r)
		if i < 0 {
			return nil, fmt.Errorf("sdr: %q: %q has no BCD plus code: %w", s, r, wire.ErrMalformed)
		}
		nibbles = append(nibbles, byte(i))
	}
	if len(nibbles)%2 == 1 {
		nibbles = append(nibbles, 0x0A) // pad with a space
	}
	out := make([]byte, len(nibbles)/2)
	for i := range out {
		out[i] = nibbles[2*i]<<4 | nibbles[2*i+1]
	}
	return out, nil
}

// ModifierType is the ID string instance modifier type of shared records.
type ModifierType uint8

const (
	ModifierNumeric ModifierType = 0 // suffix 0, 1, 2, ...
	ModifierAlpha   ModifierType = 1 // suffix A..Z, AA, AB, ...
)

// Sharing is the record sharing field of Compact and Event-only records:
// one record describing Count sensors with consecutive numbers.
type Sharing struct {
	Direction SensorDirection
	// ModifierType and ModifierOffset build each sensor's name: the ID
	// string followed by the suffix for ModifierOffset+i.
	ModifierType   ModifierType
	ModifierOffset uint8 // 7 bits
	Count          uint8 // 4 bits; 0 and 1 both mean "not shared"
	// EntityInstanceIncrements: sensor i has entity instance base+i.
	EntityInstanceIncrements bool
}

func decodeSharing(b0, b1 uint8) Sharing {
	return Sharing{
		Direction:                SensorDirection(b0 >> 6),
		ModifierType:             ModifierType(b0>>4) & 0x03,
		Count:                    b0 & 0x0F,
		EntityInstanceIncrements: b1&0x80 != 0,
		ModifierOffset:           b1 & 0x7F,
	}
}

func (s Sharing) bytes() (uint8, uint8) {
	b0 := uint8(s.Direction&0x03)<<6 | uint8(s.ModifierType&0x03)<<4 | s.Count&0x0F
	b1 := s.ModifierOffset & 0x7F
	if s.EntityInstanceIncrements {
		b1 |= 0x80
	}
	return b0, b1
}

// N returns how many sensors the record describes (at least 1).
func (s Sharing) N() int {
	if s.Count == 0 {
		return 1
	}
	return int(s.Count)
}

// Name returns the name of shared sensor i: base unchanged when the record
// is not shared, otherwise base, a space and the instance suffix for
// ModifierOffset+i, as FreeIPMI names shared sensors ("DIMM 1" .. "DIMM 4";
// the spec's own example is "Temp 5", "Temp 6", "Temp 7"). ipmitool lists
// a shared record only once, as its first sensor, under the bare ID string.
// Alpha suffixes count A..Z, AA, AB, ... as the spec says (FreeIPMI's alpha
// suffixes are off for offsets past Z).
func (s Sharing) Name(base string, i int) string {
	if s.N() <= 1 {
		return base
	}
	n := int(s.ModifierOffset) + i
	if s.ModifierType == ModifierAlpha {
		return base + " " + alphaSuffix(n)
	}
	return base + " " + strconv.Itoa(n)
}

// alphaSuffix numbers 0 as A, 25 as Z, 26 as AA, 27 as AB, ...
func alphaSuffix(n int) string {
	var buf [8]byte
	i := len(buf)
	for n++; n > 0; n = (n - 1) / 26 {
		i--
		buf[i] = byte('A' + (n-1)%26)
	}
	return string(buf[i:])
}
