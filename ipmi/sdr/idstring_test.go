package sdr

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestIDStringDecode(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  IDStringType
		data []byte
		want string
	}{
		{"8-bit", IDString8BitASCII, []byte("Fan 1"), "Fan 1"},
		{"8-bit stops at NUL", IDString8BitASCII, []byte{'F', 'a', 'n', 0, 'x'}, "Fan"},
		{"8-bit Latin-1", IDString8BitASCII, []byte{'C', 'a', 'f', 0xE9}, "Café"},
		{"8-bit keeps trailing spaces", IDString8BitASCII, []byte("PSU "), "PSU "},
		{"6-bit packed", IDString6BitASCII, []byte{0x23, 0x5C, 0x03, 0x74, 0xD9, 0xC2}, "CPU TEMP"},
		{"6-bit one char", IDString6BitASCII, []byte{0x21}, "A"},
		{"6-bit padding dropped", IDString6BitASCII, []byte{0xA1, 0x08, 0x00}, "AB"},
		{"BCD plus", IDStringBCDPlus, []byte{0x12, 0xB3, 0xC4}, "12-3.4"},
		{"BCD plus odd length padded", IDStringBCDPlus, []byte{0x12, 0x3A}, "123"},
		{"BCD plus specials", IDStringBCDPlus, []byte{0xDE, 0xF0}, ":,_0"},
		{"unicode UTF-16LE", IDStringUnicode, []byte{'F', 0, 'a', 0, 'n', 0}, "Fan"},
		{"unicode non-ASCII", IDStringUnicode, []byte{0xAC, 0x20, '1', 0}, "€1"},
		{"unicode stops at NUL", IDStringUnicode, []byte{'A', 0, 0, 0, 'B', 0}, "A"},
		{"'unicode' that is really ASCII", IDStringUnicode, []byte("Fan1"), "Fan1"},
		{"'unicode' ASCII of odd length", IDStringUnicode, []byte("Fan"), "Fan"},
		{"empty", IDString8BitASCII, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (IDString{Type: c.typ, Data: c.data}).String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
		})
	}
}

func TestEncodeIDString(t *testing.T) {
	for _, c := range []struct {
		typ  IDStringType
		in   string
		want []byte
	}{
		{IDString6BitASCII, "CPU TEMP", []byte{0x23, 0x5C, 0x03, 0x74, 0xD9, 0xC2}},
		{IDString6BitASCII, "cpu temp", []byte{0x23, 0x5C, 0x03, 0x74, 0xD9, 0xC2}},
		{IDString6BitASCII, "AB", []byte{0xA1, 0x08}},
		{IDStringBCDPlus, "12-3.4", []byte{0x12, 0xB3, 0xC4}},
		{IDStringBCDPlus, "123", []byte{0x12, 0x3A}},
		{IDStringUnicode, "Fan", []byte{'F', 0, 'a', 0, 'n', 0}},
		{IDString8BitASCII, "Café", []byte{'C', 'a', 'f', 0xE9}},
	} {
		got, err := EncodeIDString(c.typ, c.in)
		if err != nil {
			t.Errorf("EncodeIDString(%v, %q): %v", c.typ, c.in, err)
			continue
		}
		if got.Type != c.typ || !bytes.Equal(got.Data, c.want) {
			t.Errorf("EncodeIDString(%v, %q) = % x, want % x", c.typ, c.in, got.Data, c.want)
		}
	}
	for _, c := range []struct {
		typ IDStringType
		in  string
	}{
		{IDString6BitASCII, "fan~"},
		{IDStringBCDPlus, "12A"},
		{IDString8BitASCII, "€"},
		{IDString8BitASCII, "seventeen chars!!"},
		{IDStringType(7), "x"},
	} {
		if _, err := EncodeIDString(c.typ, c.in); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("EncodeIDString(%v, %q) = %v, want ErrMalformed", c.typ, c.in, err)
		}
	}
}

func TestNewIDString(t *testing.T) {
	s := NewIDString("Sys Fan 1 Speed Long Name")
	if s.Type != IDString8BitASCII || len(s.Data) != 16 || s.String() != "Sys Fan 1 Speed " {
		t.Errorf("NewIDString truncation: %+v %q", s, s.String())
	}
	if got := NewIDString("€uro").String(); got != "?uro" {
		t.Errorf("non-Latin-1: %q", got)
	}
	enc := NewIDString("Temp").appendTo(nil)
	if !bytes.Equal(enc, []byte{0xC4, 'T', 'e', 'm', 'p'}) {
		t.Errorf("appendTo = % x", enc)
	}
}

func TestSharingNames(t *testing.T) {
	for _, c := range []struct {
		s    Sharing
		i    int
		want string
	}{
		{Sharing{Count: 0}, 0, "Temp"},
		{Sharing{Count: 1}, 0, "Temp"},
		{Sharing{Count: 3, ModifierOffset: 5}, 0, "Temp 5"},
		{Sharing{Count: 3, ModifierOffset: 5}, 2, "Temp 7"},
		{Sharing{Count: 3, ModifierType: ModifierAlpha}, 0, "Temp A"},
		{Sharing{Count: 3, ModifierType: ModifierAlpha, ModifierOffset: 25}, 0, "Temp Z"},
		{Sharing{Count: 3, ModifierType: ModifierAlpha, ModifierOffset: 26}, 0, "Temp AA"},
		{Sharing{Count: 3, ModifierType: ModifierAlpha, ModifierOffset: 26}, 1, "Temp AB"},
		{Sharing{Count: 3, ModifierType: ModifierAlpha, ModifierOffset: 51}, 0, "Temp AZ"},
		{Sharing{Count: 3, ModifierType: ModifierAlpha, ModifierOffset: 52}, 0, "Temp BA"},
		{Sharing{Count: 3, ModifierType: ModifierAlpha, ModifierOffset: 127}, 2, "Temp DZ"},
	} {
		if got := c.s.Name("Temp", c.i); got != c.want {
			t.Errorf("%+v.Name(%d) = %q, want %q", c.s, c.i, got, c.want)
		}
	}
	s := decodeSharing(0x95, 0x83)
	want := Sharing{Direction: DirectionOutput, ModifierType: ModifierAlpha, Count: 5, EntityInstanceIncrements: true, ModifierOffset: 3}
	if s != want {
		t.Errorf("decodeSharing = %+v", s)
	}
	if b0, b1 := s.bytes(); b0 != 0x95 || b1 != 0x83 {
		t.Errorf("bytes = %#x %#x", b0, b1)
	}
}

func FuzzIDString(f *testing.F) {
	f.Add(uint8(0xC4), []byte("Temp"))
	f.Add(uint8(0x86), []byte{0x23, 0x5C, 0x03, 0x74, 0xD9, 0xC2})
	f.Add(uint8(0x43), []byte{0x12, 0xB3, 0xC4})
	f.Add(uint8(0x06), []byte{'F', 0, 'a', 0, 'n', 0})
	f.Fuzz(func(t *testing.T, typeLength uint8, data []byte) {
		s := decodeIDString(typeLength, data)
		text := s.String()
		// Packed encodings must re-encode to the same text.
		if s.Type == IDString6BitASCII || s.Type == IDStringBCDPlus {
			again, err := EncodeIDString(s.Type, text)
			if err != nil {
				if len(text) > 0 && !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("re-encoding %q: %v", text, err)
				}
				return
			}
			if got := again.String(); got != text {
				t.Fatalf("%v: %q re-encodes to %q", s.Type, text, got)
			}
		}
	})
}
