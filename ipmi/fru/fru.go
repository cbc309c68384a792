// Package fru decodes and encodes IPMI FRU inventory data (Platform
// Management FRU Information Storage Definition v1.0 rev 1.3): the common
// header, the chassis, board and product info areas and their type/length
// encoded fields (binary, BCD plus, 6-bit packed ASCII, 8-bit ASCII +
// Latin-1). The internal use and multi-record areas are skipped.
//
// Decode is lenient in the way ipmitool and FreeIPMI are: an area with a
// bad checksum or a field running past its area is still decoded as far
// as it goes, and the problem is reported in Info.Problems, so one sloppy
// vendor field does not hide the serial numbers beside it. Only a common
// header that is short, of an unknown version or with a bad checksum
// fails the whole device.
package fru

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// FieldType is bits 7:6 of a type/length byte.
type FieldType uint8

const (
	Binary  FieldType = 0 // binary or unspecified: shown as hex
	BCDPlus FieldType = 1 // two BCD-plus characters per byte
	Packed6 FieldType = 2 // 6-bit packed ASCII, four characters per three bytes
	Text    FieldType = 3 // 8-bit ASCII + Latin-1 (language English)
)

// Field is one type/length encoded field as stored. Keeping the bytes
// makes Encode(Decode(x)) exact; String gives the text.
type Field struct {
	Type FieldType
	Data []byte
}

// endOfFields is the type/length byte that ends an area's fields (type 11b,
// length 1).
const endOfFields = 0xC1

// maxFieldLen is the largest length a type/length byte can hold.
const maxFieldLen = 0x3F

// bcdPlusChars are the characters of BCD plus digits 0-F; D-F are
// reserved, shown as ipmitool shows them.
const bcdPlusChars = "0123456789 -.:,_"

// String decodes the field. Binary fields are lower-case hex, as ipmitool
// prints them; text has trailing NULs and spaces removed (vendors pad
// fixed-width fields with either) and Latin-1 converted to UTF-8.
func (f Field) String() string {
	var b strings.Builder
	switch f.Type {
	case Binary:
		const hex = "0123456789abcdef"
		for _, c := range f.Data {
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0F])
		}
		return b.String()
	case BCDPlus:
		for _, c := range f.Data {
			b.WriteByte(bcdPlusChars[c>>4])
			b.WriteByte(bcdPlusChars[c&0x0F])
		}
	case Packed6:
		d := f.Data
		for i := 0; i < len(d); i += 3 {
			var v uint32
			n := 0
			for j := 0; j < 3 && i+j < len(d); j++ {
				v |= uint32(d[i+j]) << (8 * j)
				n++
			}
			// n bytes hold n*8/6 whole characters.
			for k := 0; k < n*8/6; k++ {
				b.WriteByte(byte(v>>(6*k)&0x3F) + 0x20)
			}
		}
	case Text:
		for _, c := range f.Data {
			if c < utf8.RuneSelf {
				b.WriteByte(c)
			} else {
				b.WriteRune(rune(c)) // Latin-1 is the first 256 code points
			}
		}
	}
	return strings.TrimRight(b.String(), "\x00 ")
}

// TextField returns an 8-bit ASCII field of s (Latin-1 characters kept,
// others replaced by '?'), cut to 63 bytes.
func TextField(s string) Field {
	var d []byte
	for _, r := range s {
		if r > 0xFF {
			r = '?'
		}
		d = append(d, byte(r))
	}
	if len(d) > maxFieldLen {
		d = d[:maxFieldLen]
	}
	return Field{Type: Text, Data: d}
}

// Packed6Field returns s as 6-bit packed ASCII: upper case, characters
// 0x20-0x5F only. It fails on others or when s packs into more than 63
// bytes.
func Packed6Field(s string) (Field, error) {
	var d []byte
	var v uint32
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x5F {
			return Field{}, fmt.Errorf("6-bit ASCII cannot hold %q: %w", c, wire.ErrMalformed)
		}
		v |= uint32(c-0x20) << (6 * n)
		n++
		if n == 4 {
			d = append(d, byte(v), byte(v>>8), byte(v>>16))
			v, n = 0, 0
		}
	}
	// A partial group takes the bytes its characters reach into.
	for k := 0; k < (n*6+7)/8; k++ {
		d = append(d, byte(v>>(8*k)))
	}
	if len(d) > maxFieldLen {
		return Field{}, fmt.Errorf("6-bit ASCII field of %d bytes: %w", len(d), wire.ErrMalformed)
	}
	return Field{Type: Packed6, Data: d}, nil
}

// BCDPlusField returns s (digits, space, '-', '.') as BCD plus; an odd
// length is padded with a space.
func BCDPlusField(s string) (Field, error) {
	var d []byte
	for i := 0; i < len(s); i += 2 {
		hi := strings.IndexByte(bcdPlusChars[:13], s[i])
		lo := 0x0A // space
		if i+1 < len(s) {
			lo = strings.IndexByte(bcdPlusChars[:13], s[i+1])
		}
		if hi < 0 || lo < 0 {
			return Field{}, fmt.Errorf("BCD plus cannot hold %q: %w", s, wire.ErrMalformed)
		}
		d = append(d, byte(hi<<4|lo))
	}
	if len(d) > maxFieldLen {
		return Field{}, fmt.Errorf("BCD plus field of %d bytes: %w", len(d), wire.ErrMalformed)
	}
	return Field{Type: BCDPlus, Data: d}, nil
}

// ChassisInfo is the chassis info area.
type ChassisInfo struct {
	Type       uint8 // SMBIOS chassis type; see ChassisTypeName
	PartNumber Field
	Serial     Field
	Custom     []Field
}

// BoardInfo is the board info area.
type BoardInfo struct {
	Language     uint8
	MfgDate      time.Time // zero when unspecified
	Manufacturer Field
	Product      Field
	Serial       Field
	PartNumber   Field
	FileID       Field
	Custom       []Field
}

// ProductInfo is the product info area.
type ProductInfo struct {
	Language     uint8
	Manufacturer Field
	Name         Field
	PartNumber   Field
	Version      Field
	Serial       Field
	AssetTag     Field
	FileID       Field
	Custom       []Field
}

// Info is a decoded FRU device. An area the header does not point to is
// nil.
type Info struct {
	Chassis *ChassisInfo
	Board   *BoardInfo
	Product *ProductInfo
	// HasMultiRecord: the header points to a multi-record area (skipped).
	HasMultiRecord bool
	// Problems are what was wrong but did not stop decoding (checksums,
	// fields running past their area, missing end-of-fields).
	Problems []error
}

// mfgEpoch is the origin of the board manufacturing date: minutes since
// 0:00 hrs 1/1/96, taken as UTC (ipmitool and FreeIPMI do the same).
var mfgEpoch = time.Date(1996, 1, 1, 0, 0, 0, 0, time.UTC)

// HeaderLen is the size of the common header.
const HeaderLen = 8

// Header is the common header: area offsets in bytes (0 = absent).
type Header struct {
	InternalUse, Chassis, Board, Product, MultiRecord int
}

// ErrBadHeader is wrapped by DecodeHeader errors on a header of an unknown
// version or with a bad checksum (as opposed to one too short): the device
// holds no FRU data this package understands.
var ErrBadHeader = errors.New("fru: bad common header")

// DecodeHeader decodes the common header.
func DecodeHeader(data []byte) (Header, error) {
	if len(data) < HeaderLen {
		return Header{}, fmt.Errorf("fru common header: %d bytes, need %d: %w", len(data), HeaderLen, wire.ErrShort)
	}
	if data[0]&0x0F != 0x01 {
		return Header{}, fmt.Errorf("fru common header: format version 0x%02x: %w: %w", data[0], ErrBadHeader, wire.ErrMalformed)
	}
	if sum(data[:HeaderLen]) != 0 {
		return Header{}, fmt.Errorf("fru common header: checksum: %w: %w", ErrBadHeader, wire.ErrMalformed)
	}
	return Header{
		InternalUse: int(data[1]) * 8, Chassis: int(data[2]) * 8, Board: int(data[3]) * 8,
		Product: int(data[4]) * 8, MultiRecord: int(data[5]) * 8,
	}, nil
}

func sum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// Decode decodes a FRU device image (at least the header and the areas it
// points to). Areas past the end of data are reported in Problems.
func Decode(data []byte) (*Info, error) {
	h, err := DecodeHeader(data)
	if err != nil {
		return nil, err
	}
	info := &Info{HasMultiRecord: h.MultiRecord != 0}
	area := func(name string, off int) []byte {
		if off == 0 {
			return nil
		}
		a, err := areaAt(data, off)
		if err != nil {
			info.Problems = append(info.Problems, fmt.Errorf("%s area: %w", name, err))
			return nil
		}
		if sum(a) != 0 {
			info.Problems = append(info.Problems, fmt.Errorf("%s area: checksum: %w", name, wire.ErrMalformed))
		}
		return a
	}
	if a := area("chassis", h.Chassis); a != nil {
		info.Chassis = decodeChassis(a, info)
	}
	if a := area("board", h.Board); a != nil {
		info.Board = decodeBoard(a, info)
	}
	if a := area("product", h.Product); a != nil {
		info.Product = decodeProduct(a, info)
	}
	return info, nil
}

// AreaLen returns the length in bytes of the area whose first two bytes
// are b (format version, length in multiples of 8).
func AreaLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("fru area: %d bytes, need 2: %w", len(b), wire.ErrShort)
	}
	if b[0]&0x0F != 0x01 {
		return 0, fmt.Errorf("fru area: format version 0x%02x: %w", b[0], wire.ErrMalformed)
	}
	if b[1] == 0 {
		return 0, fmt.Errorf("fru area: length 0: %w", wire.ErrMalformed)
	}
	return int(b[1]) * 8, nil
}

// areaAt returns the area starting at off.
func areaAt(data []byte, off int) ([]byte, error) {
	if off >= len(data) {
		return nil, fmt.Errorf("offset %d past the %d bytes read: %w", off, len(data), wire.ErrShort)
	}
	n, err := AreaLen(data[off:])
	if err != nil {
		return nil, err
	}
	if off+n > len(data) {
		return nil, fmt.Errorf("%d bytes at offset %d, only %d read: %w", n, off, len(data)-off, wire.ErrShort)
	}
	return data[off : off+n], nil
}

// fieldReader walks the type/length fields of one area. The last byte of
// an area is its checksum, never a field.
type fieldReader struct {
	b     []byte
	pos   int
	ended bool // end-of-fields seen (or the area ran out)
	info  *Info
	area  string
}

func (r *fieldReader) next() Field {
	f, _ := r.field()
	return f
}

// field returns the next field, or false at the end of the fields.
func (r *fieldReader) field() (Field, bool) {
	if r.ended {
		return Field{}, false
	}
	limit := len(r.b) - 1 // checksum
	if r.pos >= limit {
		r.ended = true
		r.info.Problems = append(r.info.Problems, fmt.Errorf("%s area: no end-of-fields marker: %w", r.area, wire.ErrMalformed))
		return Field{}, false
	}
	tl := r.b[r.pos]
	if tl == endOfFields {
		r.ended = true
		return Field{}, false
	}
	n := int(tl & maxFieldLen)
	r.pos++
	if r.pos+n > limit {
		r.info.Problems = append(r.info.Problems, fmt.Errorf("%s area: field of %d bytes runs past the area: %w", r.area, n, wire.ErrMalformed))
		n = limit - r.pos
		r.ended = true
	}
	f := Field{Type: FieldType(tl >> 6)}
	if n > 0 {
		f.Data = append([]byte(nil), r.b[r.pos:r.pos+n]...)
	}
	r.pos += n
	return f, true
}

// custom reads the custom fields up to end-of-fields.
func (r *fieldReader) custom() []Field {
	var out []Field
	for {
		f, ok := r.field()
		if !ok {
			return out
		}
		out = append(out, f)
	}
}

func decodeChassis(a []byte, info *Info) *ChassisInfo {
	if len(a) < 4 {
		info.Problems = append(info.Problems, fmt.Errorf("chassis area: %d bytes: %w", len(a), wire.ErrShort))
		return nil
	}
	r := &fieldReader{b: a, pos: 3, info: info, area: "chassis"}
	c := &ChassisInfo{Type: a[2]}
	c.PartNumber = r.next()
	c.Serial = r.next()
	c.Custom = r.custom()
	return c
}

func decodeBoard(a []byte, info *Info) *BoardInfo {
	if len(a) < 7 {
		info.Problems = append(info.Problems, fmt.Errorf("board area: %d bytes: %w", len(a), wire.ErrShort))
		return nil
	}
	b := &BoardInfo{Language: a[2]}
	if mins := uint32(a[3]) | uint32(a[4])<<8 | uint32(a[5])<<16; mins != 0 {
		b.MfgDate = mfgEpoch.Add(time.Duration(mins) * time.Minute)
	}
	r := &fieldReader{b: a, pos: 6, info: info, area: "board"}
	b.Manufacturer = r.next()
	b.Product = r.next()
	b.Serial = r.next()
	b.PartNumber = r.next()
	b.FileID = r.next()
	b.Custom = r.custom()
	return b
}

func decodeProduct(a []byte, info *Info) *ProductInfo {
	if len(a) < 4 {
		info.Problems = append(info.Problems, fmt.Errorf("product area: %d bytes: %w", len(a), wire.ErrShort))
		return nil
	}
	p := &ProductInfo{Language: a[2]}
	r := &fieldReader{b: a, pos: 3, info: info, area: "product"}
	p.Manufacturer = r.next()
	p.Name = r.next()
	p.PartNumber = r.next()
	p.Version = r.next()
	p.Serial = r.next()
	p.AssetTag = r.next()
	p.FileID = r.next()
	p.Custom = r.custom()
	return p
}

// chassisTypes are ipmitool's names of the SMBIOS chassis types, which it
// prints as "Chassis Type".
var chassisTypes = [...]string{
	"Unspecified", "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box",
	"Mini Tower", "Tower", "Portable", "LapTop", "Notebook", "Hand Held",
	"Docking Station", "All in One", "Sub Notebook", "Space-saving", "Lunch Box",
	"Main Server Chassis", "Expansion Chassis", "SubChassis", "Bus Expansion Chassis",
	"Peripheral Chassis", "RAID Chassis", "Rack Mount Chassis", "Sealed-case PC",
	"Multi-system Chassis", "CompactPCI", "AdvancedTCA", "Blade", "Blade Enclosure",
	"Tablet", "Convertible", "Detachable", "IoT Gateway", "Embedded PC", "Mini PC", "Stick PC",
}

// ChassisTypeName returns the name of an SMBIOS chassis type.
func ChassisTypeName(t uint8) string {
	if int(t) < len(chassisTypes) {
		return chassisTypes[t]
	}
	return "Unknown"
}

// Encode builds a FRU image of info: the common header and the areas that
// are not nil, each padded to a multiple of 8 bytes with its checksum. It
// fails when an area would exceed 255*8 bytes. The simulator and the tests
// use it.
func Encode(info *Info) ([]byte, error) {
	var areas [3][]byte
	if c := info.Chassis; c != nil {
		a := []byte{0x01, 0, c.Type}
		a = appendFields(a, append([]Field{c.PartNumber, c.Serial}, c.Custom...))
		areas[0] = a
	}
	if b := info.Board; b != nil {
		var mins uint32
		if !b.MfgDate.IsZero() {
			mins = uint32(b.MfgDate.Sub(mfgEpoch) / time.Minute)
		}
		a := []byte{0x01, 0, b.Language, byte(mins), byte(mins >> 8), byte(mins >> 16)}
		a = appendFields(a, append([]Field{b.Manufacturer, b.Product, b.Serial, b.PartNumber, b.FileID}, b.Custom...))
		areas[1] = a
	}
	if p := info.Product; p != nil {
		a := []byte{0x01, 0, p.Language}
		a = appendFields(a, append([]Field{p.Manufacturer, p.Name, p.PartNumber, p.Version, p.Serial, p.AssetTag, p.FileID}, p.Custom...))
		areas[2] = a
	}
	out := make([]byte, HeaderLen)
	out[0] = 0x01
	for i, a := range areas {
		if a == nil {
			continue
		}
		a = append(a, endOfFields)
		for (len(a)+1)%8 != 0 {
			a = append(a, 0)
		}
		a = append(a, 0)
		if len(a)/8 > 0xFF || len(out)/8 > 0xFF {
			return nil, fmt.Errorf("fru encode: area %d of %d bytes at %d: %w", i, len(a), len(out), wire.ErrMalformed)
		}
		a[1] = byte(len(a) / 8)
		a[len(a)-1] = -sum(a[:len(a)-1])
		out[2+i] = byte(len(out) / 8)
		out = append(out, a...)
	}
	out[HeaderLen-1] = -sum(out[:HeaderLen-1])
	return out, nil
}

func appendFields(b []byte, fields []Field) []byte {
	for _, f := range fields {
		n := min(len(f.Data), maxFieldLen)
		// An empty field is written as 8-bit type, length 0 (C0h), as
		// every FRU writer does: "C1h" would end the area.
		t := f.Type
		if n == 0 {
			t = Text
		}
		if t == Text && n == 1 {
			// C1h would be end-of-fields: the specification has
			// one-character text written longer; a trailing space
			// reads back the same.
			b = append(b, byte(t)<<6|2, f.Data[0], ' ')
			continue
		}
		b = append(b, byte(t)<<6|byte(n))
		b = append(b, f.Data[:n]...)
	}
	return b
}
