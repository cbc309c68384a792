package fru_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/fru"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// The test image: every area, every field encoding, a multi-record area
// (skipped). Built by hand from the FRU specification's tables; the
// checksums make every area sum to zero.
const (
	vecHeader = "01 00 01 04 08 0d 00 e5"
	// Chassis: type 17h (rack mount), part "CP-1" 8-bit, serial BCD plus
	// "0123-45 ", one custom binary field DE AD.
	vecChassis = "01 03 17 c4 43 50 2d 31 44 01 23 b4 5a 02 de ad c1 00 00 00 00 00 00 6c"
	// Board: English, made 2024-01-01 00:00 (14726880 minutes after
	// 1996), manufacturer "ACME" 6-bit packed, product "Board X", serial
	// "BRD-1", part "P1", empty FRU file ID (C0h).
	vecBoard = "01 04 00 e0 b6 e0 83 e1 d8 96 c7 42 6f 61 72 64 20 58 c5 42 52 44 2d 31 c2 50 31 c0 c1 00 00 cd"
	// Product: "ACME", "Server", part "M-1", version BCD plus "1.2 ",
	// serial 6-bit "SN123", empty asset tag, binary file ID 01, a Latin-1
	// custom field "Café".
	vecProduct = "01 05 00 c4 41 43 4d 45 c6 53 65 72 76 65 72 c3 4d 2d 31 42 1c 2a 84 b3 1b 49 13 c0 01 01 c4 43 61 66 e9 c1 00 00 00 05"
	// Multi-record: one power supply record, end of list.
	vecMulti = "00 82 02 cd af 11 22"
)

func testImage(t testing.TB) []byte {
	return hexBytes(t, vecHeader+vecChassis+vecBoard+vecProduct+vecMulti)
}

func TestDecodeEveryArea(t *testing.T) {
	info, err := fru.Decode(testImage(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Problems) != 0 {
		t.Fatalf("problems: %v", info.Problems)
	}
	if !info.HasMultiRecord {
		t.Error("multi-record area not seen")
	}
	c, b, p := info.Chassis, info.Board, info.Product
	if c == nil || b == nil || p == nil {
		t.Fatalf("areas missing: %+v", info)
	}
	for _, tc := range []struct {
		name string
		f    fru.Field
		typ  fru.FieldType
		want string
	}{
		{"chassis part", c.PartNumber, fru.Text, "CP-1"},
		{"chassis serial", c.Serial, fru.BCDPlus, "0123-45"},
		{"board manufacturer", b.Manufacturer, fru.Packed6, "ACME"},
		{"board product", b.Product, fru.Text, "Board X"},
		{"board serial", b.Serial, fru.Text, "BRD-1"},
		{"board part", b.PartNumber, fru.Text, "P1"},
		{"board file id", b.FileID, fru.Text, ""},
		{"product manufacturer", p.Manufacturer, fru.Text, "ACME"},
		{"product name", p.Name, fru.Text, "Server"},
		{"product part", p.PartNumber, fru.Text, "M-1"},
		{"product version", p.Version, fru.BCDPlus, "1.2"},
		{"product serial", p.Serial, fru.Packed6, "SN123"},
		{"asset tag", p.AssetTag, fru.Text, ""},
		{"product file id", p.FileID, fru.Binary, "01"},
	} {
		if tc.f.Type != tc.typ || tc.f.String() != tc.want {
			t.Errorf("%s: %v %q, want %v %q", tc.name, tc.f.Type, tc.f.String(), tc.typ, tc.want)
		}
	}
	if c.Type != 0x17 || fru.ChassisTypeName(c.Type) != "Rack Mount Chassis" {
		t.Errorf("chassis type %#x %q", c.Type, fru.ChassisTypeName(c.Type))
	}
	if len(c.Custom) != 1 || c.Custom[0].String() != "dead" {
		t.Errorf("chassis custom %+v", c.Custom)
	}
	if len(p.Custom) != 1 || p.Custom[0].String() != "Café" {
		t.Errorf("product custom %+v", p.Custom)
	}
	if want := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); !b.MfgDate.Equal(want) {
		t.Errorf("mfg date %v, want %v", b.MfgDate, want)
	}

	// Encode gives back the same areas (the multi-record area is not
	// kept: the header's offset for it is zero).
	enc, err := fru.Encode(info)
	if err != nil {
		t.Fatal(err)
	}
	want := hexBytes(t, "01 00 01 04 08 00 00 f2"+vecChassis+vecBoard+vecProduct)
	if !bytes.Equal(enc, want) {
		t.Errorf("Encode\n got % x\nwant % x", enc, want)
	}
}

func TestFieldEncodings(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fru.Field
		want string
	}{
		// The FRU specification's own 6-bit example.
		{"6-bit IPMI", fru.Field{Type: fru.Packed6, Data: []byte{0x29, 0xdc, 0xa6}}, "IPMI"},
		{"6-bit partial group of 2 bytes", fru.Field{Type: fru.Packed6, Data: []byte{0xb3, 0x0b}}, "SN"},
		{"6-bit one byte", fru.Field{Type: fru.Packed6, Data: []byte{0x21}}, "A"},
		{"BCD plus all symbols", fru.Field{Type: fru.BCDPlus, Data: []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}}, "0123456789 -.:,_"},
		{"binary", fru.Field{Type: fru.Binary, Data: []byte{0x00, 0xff, 0x1a}}, "00ff1a"},
		{"text trailing spaces and NULs", fru.Field{Type: fru.Text, Data: []byte("SN42   \x00\x00")}, "SN42"},
		{"text latin-1", fru.Field{Type: fru.Text, Data: []byte{'M', 0xfc, 'n'}}, "Mün"},
		{"empty", fru.Field{Type: fru.Text}, ""},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}

	f, err := fru.Packed6Field("IPMI")
	if err != nil || !bytes.Equal(f.Data, []byte{0x29, 0xdc, 0xa6}) {
		t.Errorf("Packed6Field(IPMI) = % x, %v", f.Data, err)
	}
	for _, s := range []string{"A", "AB", "ABC", "ABCD", "SN123", "X-1.2/3"} {
		f, err := fru.Packed6Field(s)
		if err != nil || f.String() != s {
			t.Errorf("6-bit round trip %q: %q %v", s, f.String(), err)
		}
	}
	if _, err := fru.Packed6Field("lower"); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("6-bit lower case: %v", err)
	}
	b, err := fru.BCDPlusField("12-3.4")
	if err != nil || !bytes.Equal(b.Data, []byte{0x12, 0xb3, 0xc4}) || b.String() != "12-3.4" {
		t.Errorf("BCDPlusField = % x %q %v", b.Data, b.String(), err)
	}
	if _, err := fru.BCDPlusField("1a"); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("BCD plus letter: %v", err)
	}
	if f := fru.TextField(strings.Repeat("x", 70)); len(f.Data) != 63 {
		t.Errorf("TextField not cut to 63: %d", len(f.Data))
	}
}

func TestDecodeProblems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		image   string
		err     error // from Decode
		problem string
	}{
		{name: "short header", image: "01 00 01", err: wire.ErrShort},
		{name: "header version", image: "02 00 00 00 00 00 00 fe", err: fru.ErrBadHeader},
		{name: "header checksum", image: "01 00 01 00 00 00 00 00", err: fru.ErrBadHeader},
		{name: "area past the end", image: "01 00 01 00 00 00 00 fe 01", problem: "chassis area"},
		{name: "area checksum", image: "01 00 01 00 00 00 00 fe" + "01 01 17 c0 c0 c1 00 00", problem: "checksum"},
		{name: "no end of fields", image: "01 00 01 00 00 00 00 fe" + "01 01 17 c0 c0 c0 c0 a4", problem: "end-of-fields"},
		{name: "field past the area", image: "01 00 01 00 00 00 00 fe" + "01 01 17 c9 41 41 41 8c", problem: "runs past"},
		{name: "area version", image: "01 00 01 00 00 00 00 fe" + "02 01 17 c0 c0 c1 00 00", problem: "format version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := fru.Decode(hexBytes(t, tc.image))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, p := range info.Problems {
				found = found || strings.Contains(p.Error(), tc.problem)
				if !errors.Is(p, wire.ErrShort) && !errors.Is(p, wire.ErrMalformed) {
					t.Errorf("untyped problem %v", p)
				}
			}
			if !found {
				t.Errorf("problems %v, want one with %q", info.Problems, tc.problem)
			}
		})
	}
	// A field running past the area keeps the bytes it has.
	info, _ := fru.Decode(hexBytes(t, "01 00 01 00 00 00 00 fe"+"01 01 17 c9 41 41 41 8c"))
	if info.Chassis == nil || info.Chassis.PartNumber.String() != "AAA" {
		t.Errorf("truncated field: %+v", info.Chassis)
	}
}

// fakeFRU answers the FRU commands from an image, in chunks of at most
// limit bytes (0: no limit), refusing bigger reads with C8h as some
// controllers do.
type fakeFRU struct {
	img   []byte
	limit int
	words bool
	reads int
}

func (f *fakeFRU) Do(_ context.Context, req command.Request, resp command.Response) error {
	switch r := req.(type) {
	case *command.GetFRUInventoryAreaInfoRequest:
		if r.DeviceID != 0 {
			return &wire.CompletionCodeError{Code: wire.CCRequestedDataNotPresent}
		}
		*resp.(*command.GetFRUInventoryAreaInfoResponse) = command.GetFRUInventoryAreaInfoResponse{Size: uint16(len(f.img)), WordAccess: f.words}
	case *command.ReadFRUDataRequest:
		f.reads++
		off, n := int(r.Offset), int(r.Count)
		if f.words {
			off, n = off*2, n*2
		}
		if f.limit > 0 && n > f.limit {
			return &wire.CompletionCodeError{Code: wire.CCRequestDataFieldLengthLimit}
		}
		end := min(off+n, len(f.img))
		return resp.Unmarshal(command.NewReadFRUDataResponse(f.img[off:end], f.words).AppendTo(nil))
	}
	return nil
}

func TestRead(t *testing.T) {
	img := testImage(t)
	img = append(img, make([]byte, 256-len(img))...) // the device is larger than its areas
	want, err := fru.Decode(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		fake  *fakeFRU
		reads int
	}{
		{"byte access", &fakeFRU{img: img}, 8},
		{"controller limited to 16 bytes", &fakeFRU{img: img, limit: 16}, 13},
		{"word access", &fakeFRU{img: img, words: true}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fru.Read(context.Background(), tc.fake, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Read\n got %+v\nwant %+v", got, want)
			}
			if tc.fake.reads > tc.reads {
				t.Errorf("%d reads, want at most %d (header and areas only)", tc.fake.reads, tc.reads)
			}
		})
	}
	if _, err := fru.Read(context.Background(), &fakeFRU{img: img}, 3); !errors.Is(err, fru.ErrNoDevice) {
		t.Errorf("absent device: %v", err)
	}
	if _, err := fru.Read(context.Background(), &fakeFRU{}, 0); !errors.Is(err, fru.ErrNoDevice) {
		t.Errorf("empty device: %v", err)
	}
}

// FuzzDecode: no panics, typed errors, and what decodes re-encodes to an
// image that decodes to the same text.
func FuzzDecode(f *testing.F) {
	f.Add(testImage(f))
	f.Add(hexBytes(f, "01 00 01 00 00 00 00 fe"+"01 01 17 c9 41 41 41 8c"))
	f.Add(hexBytes(f, "01 00 00 01 00 00 00 fe"+"01 01 00 00 00 00 ff 00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := fru.Decode(data)
		if err != nil {
			if !errors.Is(err, wire.ErrShort) && !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, p := range info.Problems {
			if !errors.Is(p, wire.ErrShort) && !errors.Is(p, wire.ErrMalformed) {
				t.Fatalf("untyped problem %v", p)
			}
		}
		enc, err := fru.Encode(info)
		if err != nil {
			return // areas too big to re-encode with padding
		}
		again, err := fru.Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if s1, s2 := summary(info), summary(again); s1 != s2 {
			t.Fatalf("round trip changed the text\n%s\n%s", s1, s2)
		}
	})
}

func summary(i *fru.Info) string {
	var b strings.Builder
	if c := i.Chassis; c != nil {
		b.WriteString(fru.ChassisTypeName(c.Type) + "|" + c.PartNumber.String() + "|" + c.Serial.String())
	}
	if d := i.Board; d != nil {
		b.WriteString("|" + d.MfgDate.String() + "|" + d.Manufacturer.String() + "|" + d.Product.String() + "|" + d.Serial.String() + "|" + d.PartNumber.String())
	}
	if p := i.Product; p != nil {
		b.WriteString("|" + p.Manufacturer.String() + "|" + p.Name.String() + "|" + p.PartNumber.String() + "|" + p.Version.String() + "|" + p.Serial.String() + "|" + p.AssetTag.String())
	}
	return b.String()
}
