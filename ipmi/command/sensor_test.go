package command

import (
	"errors"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestSensorCommandOps(t *testing.T) {
	for _, c := range []struct {
		req  Request
		want Op
	}{
		{&GetSensorReadingRequest{}, Op{wire.NetFnSensorEvent, 0x2D}},
		{&GetSensorThresholdsRequest{}, Op{wire.NetFnSensorEvent, 0x27}},
		{&GetSensorReadingFactorsRequest{}, Op{wire.NetFnSensorEvent, 0x23}},
	} {
		if got := c.req.Op(); got != c.want {
			t.Errorf("%T.Op() = %v, want %v", c.req, got, c.want)
		}
	}
}

func TestSensorCommandVectors(t *testing.T) {
	checkStorageVectors(t, []storageVector{
		{
			name:  "reading request",
			wire:  []byte{0x30},
			fresh: func() storageCodec { return &GetSensorReadingRequest{} },
			want:  &GetSensorReadingRequest{Number: 0x30},
		},
		{
			name:  "reading, full reply, threshold status UNC",
			wire:  []byte{0x2D, 0xC0, 0x08, 0x80},
			fresh: func() storageCodec { return &GetSensorReadingResponse{} },
			want:  &GetSensorReadingResponse{Reading: 0x2D, States: 0x0008, Len: 4},
		},
		{
			name:  "reading, discrete states across both bytes",
			wire:  []byte{0x00, 0xC0, 0x02, 0xC1},
			fresh: func() storageCodec { return &GetSensorReadingResponse{} },
			want:  &GetSensorReadingResponse{States: 0x4102, Len: 4},
		},
		{
			name:  "reading, three bytes",
			wire:  []byte{0x10, 0xC0, 0x01},
			fresh: func() storageCodec { return &GetSensorReadingResponse{} },
			want:  &GetSensorReadingResponse{Reading: 0x10, States: 0x0001, Len: 3},
		},
		{
			name:  "reading, two bytes (no state bytes)",
			wire:  []byte{0x7F, 0xC0},
			fresh: func() storageCodec { return &GetSensorReadingResponse{} },
			want:  &GetSensorReadingResponse{Reading: 0x7F, Len: 2},
		},
		{
			name:  "reading, one byte",
			wire:  []byte{0x99},
			fresh: func() storageCodec { return &GetSensorReadingResponse{} },
			want:  &GetSensorReadingResponse{Reading: 0x99, Len: 1},
		},
		{
			name:  "reading, events and scanning disabled",
			wire:  []byte{0x00, 0x00, 0x00, 0x80},
			fresh: func() storageCodec { return &GetSensorReadingResponse{} },
			want:  &GetSensorReadingResponse{EventMessagesDisabled: true, ScanningDisabled: true, Len: 4},
		},
		{
			name:  "reading unavailable",
			wire:  []byte{0x00, 0xE0, 0x00, 0x80},
			fresh: func() storageCodec { return &GetSensorReadingResponse{} },
			want:  &GetSensorReadingResponse{ReadingUnavailable: true, Len: 4},
		},
		{
			name:  "thresholds request",
			wire:  []byte{0x01},
			fresh: func() storageCodec { return &GetSensorThresholdsRequest{} },
			want:  &GetSensorThresholdsRequest{Number: 1},
		},
		{
			name:  "thresholds response",
			wire:  []byte{0x1B, 0x05, 0x03, 0x00, 0x5A, 0x64, 0x00},
			fresh: func() storageCodec { return &GetSensorThresholdsResponse{} },
			want: &GetSensorThresholdsResponse{
				Readable:         LowerNonCritical | LowerCritical | UpperNonCritical | UpperCritical,
				LowerNonCritical: 5, LowerCritical: 3, UpperNonCritical: 0x5A, UpperCritical: 0x64,
			},
		},
		{
			name:  "reading factors request",
			wire:  []byte{0x04, 0x80},
			fresh: func() storageCodec { return &GetSensorReadingFactorsRequest{} },
			want:  &GetSensorReadingFactorsRequest{Number: 4, Reading: 0x80},
		},
		{
			name: "reading factors response",
			// next 0x90; M = -3 (0x3FD), tolerance 5, B = 300 (0x12C),
			// accuracy 0x155, accuracy exp 2, direction 1, Rexp -2, Bexp 1
			wire:  []byte{0x90, 0xFD, 0xC5, 0x2C, 0x55, 0x59, 0xE1},
			fresh: func() storageCodec { return &GetSensorReadingFactorsResponse{} },
			want: &GetSensorReadingFactorsResponse{NextReading: 0x90, Factors: ReadingFactors{
				M: -3, Tolerance: 5, B: 300, Accuracy: 0x155, AccuracyExp: 2, Direction: 1, RExp: -2, BExp: 1,
			}},
		},
	})
}

func TestDecodeReadingFactorsExtremes(t *testing.T) {
	for _, c := range []struct {
		wire []byte
		want ReadingFactors
	}{
		{[]byte{0xFF, 0x40, 0x00, 0x80, 0x00, 0x78}, ReadingFactors{M: 511, B: -512, RExp: 7, BExp: -8}},
		{[]byte{0x00, 0x80, 0xFF, 0x40, 0x00, 0x87}, ReadingFactors{M: -512, B: 511, RExp: -8, BExp: 7}},
		{[]byte{0x01, 0x3F, 0x00, 0x3F, 0xFC, 0x00}, ReadingFactors{M: 1, Tolerance: 63, Accuracy: 1023, AccuracyExp: 3}},
	} {
		got, err := DecodeReadingFactors(c.wire)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("DecodeReadingFactors(% x) = %+v, want %+v", c.wire, got, c.want)
		}
		if enc := got.AppendTo(nil); string(enc) != string(c.wire) {
			t.Errorf("AppendTo = % x, want % x", enc, c.wire)
		}
	}
	if _, err := DecodeReadingFactors([]byte{1, 2, 3, 4, 5}); !errors.Is(err, wire.ErrShort) {
		t.Errorf("5 bytes: %v", err)
	}
}

func TestSensorCommandBadInput(t *testing.T) {
	checkStorageBadInputs(t, []storageBadInput{
		{"reading response empty (absent sensor)", nil,
			func() storageCodec { return &GetSensorReadingResponse{} }, wire.ErrShort},
		{"reading request empty", nil,
			func() storageCodec { return &GetSensorReadingRequest{} }, wire.ErrShort},
		{"reading request long", []byte{1, 2},
			func() storageCodec { return &GetSensorReadingRequest{} }, wire.ErrMalformed},
		{"thresholds request empty", nil,
			func() storageCodec { return &GetSensorThresholdsRequest{} }, wire.ErrShort},
		{"thresholds response short", make([]byte, 6),
			func() storageCodec { return &GetSensorThresholdsResponse{} }, wire.ErrShort},
		{"factors request short", []byte{1},
			func() storageCodec { return &GetSensorReadingFactorsRequest{} }, wire.ErrShort},
		{"factors request long", []byte{1, 2, 3},
			func() storageCodec { return &GetSensorReadingFactorsRequest{} }, wire.ErrMalformed},
		{"factors response short", make([]byte, 6),
			func() storageCodec { return &GetSensorReadingFactorsResponse{} }, wire.ErrShort},
	})
}

// TestGetSensorReadingResponseZeroLenEncodesFull documents that a response
// built without Len encodes as a complete 4-byte reply.
func TestGetSensorReadingResponseZeroLenEncodesFull(t *testing.T) {
	r := GetSensorReadingResponse{Reading: 1, States: 0xFFFF}
	got := r.AppendTo(nil)
	want := []byte{0x01, 0xC0, 0xFF, 0xFF}
	if string(got) != string(want) {
		t.Fatalf("AppendTo = % x, want % x", got, want)
	}
	if !r.HasFlags() || !r.HasStates() {
		t.Fatal("zero Len must report flags and states present")
	}
	short := GetSensorReadingResponse{Len: 2}
	if !short.HasFlags() || short.HasStates() {
		t.Fatal("Len 2: flags but no states")
	}
}

func TestThresholdMaskHas(t *testing.T) {
	m := LowerCritical | UpperCritical
	if !m.Has(LowerCritical) || !m.Has(LowerCritical|UpperCritical) || m.Has(UpperNonCritical) {
		t.Error("Has")
	}
}

func FuzzSensorCommands(f *testing.F) {
	f.Add([]byte{0x2D, 0xC0, 0x08, 0x80})
	f.Add([]byte{0x1B, 0x05, 0x03, 0x00, 0x5A, 0x64, 0x00})
	f.Add([]byte{0x90, 0xFD, 0xC5, 0x2C, 0x55, 0x59, 0xE1})
	f.Add([]byte{0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fresh := range []func() storageCodec{
			func() storageCodec { return &GetSensorReadingRequest{} },
			func() storageCodec { return &GetSensorReadingResponse{} },
			func() storageCodec { return &GetSensorThresholdsRequest{} },
			func() storageCodec { return &GetSensorThresholdsResponse{} },
			func() storageCodec { return &GetSensorReadingFactorsRequest{} },
			func() storageCodec { return &GetSensorReadingFactorsResponse{} },
		} {
			fuzzStorageCodec(t, data, fresh)
		}
	})
}
