package command

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// storageCodec is what every request and response body implements.
type storageCodec interface {
	AppendTo(b []byte) []byte
	Unmarshal(data []byte) error
}

// storageVector is one byte vector and the value it stands for.
type storageVector struct {
	name  string
	wire  []byte
	fresh func() storageCodec // a zero value to decode into
	want  storageCodec
}

// checkStorageVectors decodes each vector and compares with want, then
// encodes want and compares with the bytes.
func checkStorageVectors(t *testing.T, vectors []storageVector) {
	t.Helper()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			got := v.fresh()
			if err := got.Unmarshal(v.wire); err != nil {
				t.Fatalf("Unmarshal(% x): %v", v.wire, err)
			}
			if !reflect.DeepEqual(got, v.want) {
				t.Errorf("Unmarshal(% x) = %+v, want %+v", v.wire, got, v.want)
			}
			if enc := v.want.AppendTo(nil); !bytes.Equal(enc, v.wire) {
				t.Errorf("AppendTo = % x, want % x", enc, v.wire)
			}
			// AppendTo must append, not overwrite.
			if enc := v.want.AppendTo([]byte{0xAA}); enc[0] != 0xAA || !bytes.Equal(enc[1:], v.wire) {
				t.Errorf("AppendTo(prefix) = % x", enc)
			}
		})
	}
}

// storageBadInput is an input a decoder must reject with the given error.
type storageBadInput struct {
	name  string
	wire  []byte
	fresh func() storageCodec
	want  error
}

func checkStorageBadInputs(t *testing.T, cases []storageBadInput) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.fresh().Unmarshal(c.wire)
			if !errors.Is(err, c.want) {
				t.Errorf("Unmarshal(% x) = %v, want error wrapping %v", c.wire, err, c.want)
			}
		})
	}
}

func TestSDRCommandOps(t *testing.T) {
	for _, c := range []struct {
		req  Request
		want Op
	}{
		{GetSDRRepositoryInfoRequest{}, Op{wire.NetFnStorage, 0x20}},
		{ReserveSDRRepositoryRequest{}, Op{wire.NetFnStorage, 0x22}},
		{&GetSDRRequest{}, Op{wire.NetFnStorage, 0x23}},
		{&GetDeviceSDRInfoRequest{}, Op{wire.NetFnSensorEvent, 0x20}},
		{&GetDeviceSDRRequest{}, Op{wire.NetFnSensorEvent, 0x21}},
		{ReserveDeviceSDRRepositoryRequest{}, Op{wire.NetFnSensorEvent, 0x22}},
	} {
		if got := c.req.Op(); got != c.want {
			t.Errorf("%T.Op() = %v, want %v", c.req, got, c.want)
		}
	}
}

func TestSDRCommandVectors(t *testing.T) {
	checkStorageVectors(t, []storageVector{
		{
			name:  "repository info request",
			wire:  nil,
			fresh: func() storageCodec { return &GetSDRRepositoryInfoRequest{} },
			want:  &GetSDRRepositoryInfoRequest{},
		},
		{
			name: "repository info response",
			// v51, 0x0102 records, 0xFFFF free, added 0x5E0F4D80, erased 0x01020304, support 0x2F
			wire:  []byte{0x51, 0x02, 0x01, 0xFF, 0xFF, 0x80, 0x4D, 0x0F, 0x5E, 0x04, 0x03, 0x02, 0x01, 0x2F},
			fresh: func() storageCodec { return &GetSDRRepositoryInfoResponse{} },
			want: &GetSDRRepositoryInfoResponse{
				Version: 0x51, RecordCount: 0x0102, FreeSpace: 0xFFFF,
				LastAddition: 0x5E0F4D80, LastErase: 0x01020304, Support: 0x2F,
			},
		},
		{
			name:  "reserve request",
			fresh: func() storageCodec { return &ReserveSDRRepositoryRequest{} },
			want:  &ReserveSDRRepositoryRequest{},
		},
		{
			name:  "reserve response",
			wire:  []byte{0x34, 0x12},
			fresh: func() storageCodec { return &ReserveSDRRepositoryResponse{} },
			want:  &ReserveSDRRepositoryResponse{ReservationID: 0x1234},
		},
		{
			name:  "get SDR request whole record",
			wire:  []byte{0x34, 0x12, 0x00, 0x00, 0x00, 0xFF},
			fresh: func() storageCodec { return &GetSDRRequest{} },
			want:  &GetSDRRequest{ReservationID: 0x1234, RecordID: 0, Offset: 0, Length: ReadWholeRecord},
		},
		{
			name:  "get SDR request partial",
			wire:  []byte{0x01, 0x00, 0x2A, 0x00, 0x05, 0x10},
			fresh: func() storageCodec { return &GetSDRRequest{} },
			want:  &GetSDRRequest{ReservationID: 1, RecordID: 0x2A, Offset: 5, Length: 16},
		},
		{
			name:  "get SDR response",
			wire:  []byte{0x02, 0x00, 0x01, 0x00, 0x51, 0x01, 0x2B},
			fresh: func() storageCodec { return &GetSDRResponse{} },
			want:  &GetSDRResponse{NextRecordID: 2, Data: []byte{0x01, 0x00, 0x51, 0x01, 0x2B}},
		},
		{
			name:  "get SDR response last record, no data",
			wire:  []byte{0xFF, 0xFF},
			fresh: func() storageCodec { return &GetSDRResponse{} },
			want:  &GetSDRResponse{NextRecordID: LastRecordID},
		},
		{
			name:  "device SDR info request sensor count",
			wire:  nil,
			fresh: func() storageCodec { return &GetDeviceSDRInfoRequest{} },
			want:  &GetDeviceSDRInfoRequest{},
		},
		{
			name:  "device SDR info request SDR count",
			wire:  []byte{0x01},
			fresh: func() storageCodec { return &GetDeviceSDRInfoRequest{} },
			want:  &GetDeviceSDRInfoRequest{CountSDRs: true},
		},
		{
			name:  "device SDR info response static",
			wire:  []byte{0x0C, 0x01},
			fresh: func() storageCodec { return &GetDeviceSDRInfoResponse{} },
			want:  &GetDeviceSDRInfoResponse{Count: 12, LUNsWithSensors: 0x01},
		},
		{
			name:  "device SDR info response dynamic",
			wire:  []byte{0x20, 0x83, 0x78, 0x56, 0x34, 0x12},
			fresh: func() storageCodec { return &GetDeviceSDRInfoResponse{} },
			want:  &GetDeviceSDRInfoResponse{Count: 32, Dynamic: true, LUNsWithSensors: 0x03, ChangeIndicator: 0x12345678},
		},
		{
			name:  "get device SDR request",
			wire:  []byte{0x00, 0x00, 0x05, 0x00, 0x00, 0x05},
			fresh: func() storageCodec { return &GetDeviceSDRRequest{} },
			want:  &GetDeviceSDRRequest{RecordID: 5, Length: 5},
		},
		{
			name:  "get device SDR response",
			wire:  []byte{0x06, 0x00, 0xAB},
			fresh: func() storageCodec { return &GetDeviceSDRResponse{} },
			want:  &GetDeviceSDRResponse{NextRecordID: 6, Data: []byte{0xAB}},
		},
		{
			name:  "reserve device SDR response",
			wire:  []byte{0x01, 0x00},
			fresh: func() storageCodec { return &ReserveDeviceSDRRepositoryResponse{} },
			want:  &ReserveDeviceSDRRepositoryResponse{ReservationID: 1},
		},
	})
}

func TestSDRCommandBadInput(t *testing.T) {
	checkStorageBadInputs(t, []storageBadInput{
		{"info response short", []byte{0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			func() storageCodec { return &GetSDRRepositoryInfoResponse{} }, wire.ErrShort},
		{"info request with data", []byte{0x00},
			func() storageCodec { return &GetSDRRepositoryInfoRequest{} }, wire.ErrMalformed},
		{"reserve request with data", []byte{0x00},
			func() storageCodec { return &ReserveSDRRepositoryRequest{} }, wire.ErrMalformed},
		{"reserve device request with data", []byte{0x00},
			func() storageCodec { return &ReserveDeviceSDRRepositoryRequest{} }, wire.ErrMalformed},
		{"reserve response short", []byte{0x01},
			func() storageCodec { return &ReservationResponse{} }, wire.ErrShort},
		{"get SDR request short", []byte{0, 0, 0, 0, 0},
			func() storageCodec { return &GetSDRRequest{} }, wire.ErrShort},
		{"get SDR request long", []byte{0, 0, 0, 0, 0, 0, 0},
			func() storageCodec { return &GetSDRRequest{} }, wire.ErrMalformed},
		{"get SDR response empty", nil,
			func() storageCodec { return &GetSDRResponse{} }, wire.ErrShort},
		{"get SDR response one byte", []byte{0xFF},
			func() storageCodec { return &GetSDRResponse{} }, wire.ErrShort},
		{"device info request long", []byte{1, 0},
			func() storageCodec { return &GetDeviceSDRInfoRequest{} }, wire.ErrMalformed},
		{"device info response short", []byte{1},
			func() storageCodec { return &GetDeviceSDRInfoResponse{} }, wire.ErrShort},
		{"get device SDR request short", []byte{0},
			func() storageCodec { return &GetDeviceSDRRequest{} }, wire.ErrShort},
		{"get device SDR response short", []byte{0},
			func() storageCodec { return &GetDeviceSDRResponse{} }, wire.ErrShort},
	})
}

// TestGetSDRResponseDoesNotAlias checks the contract that Unmarshal copies:
// transports reuse their receive buffers.
func TestGetSDRResponseDoesNotAlias(t *testing.T) {
	buf := []byte{0x02, 0x00, 0xAA, 0xBB}
	var r GetSDRResponse
	if err := r.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	buf[2] = 0x00
	if r.Data[0] != 0xAA {
		t.Fatal("GetSDRResponse.Data aliases the input buffer")
	}
	// A second Unmarshal into the same value reuses its buffer without
	// leaking old bytes.
	if err := r.Unmarshal([]byte{0x03, 0x00, 0x11}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Data, []byte{0x11}) || r.NextRecordID != 3 {
		t.Fatalf("second Unmarshal: %+v", r)
	}
}

func TestSDRRepositorySupportBits(t *testing.T) {
	s := SDRRepositorySupport(0xEF)
	if !s.Overflow() || s.UpdateModes() != 3 || !s.DeleteSupported() || !s.PartialAddSupported() ||
		!s.ReserveSupported() || !s.AllocInfoSupported() {
		t.Errorf("0xEF decoded wrong")
	}
	s = SDRRepositorySupport(0x20)
	if s.Overflow() || s.UpdateModes() != 1 || s.DeleteSupported() || s.ReserveSupported() {
		t.Errorf("0x20 decoded wrong")
	}
}

func TestTimestamp(t *testing.T) {
	if !TimestampUnspecified.IsUnspecified() || Timestamp(5).IsUnspecified() {
		t.Error("IsUnspecified")
	}
	if !Timestamp(0x20000000).IsRelative() || Timestamp(0x20000001).IsRelative() {
		t.Error("IsRelative")
	}
}

// fuzzStorageCodec decodes data into fresh(); when that succeeds,
// re-encoding and decoding again must give the same value.
func fuzzStorageCodec(t *testing.T, data []byte, fresh func() storageCodec) {
	first := fresh()
	if err := first.Unmarshal(data); err != nil {
		if !errors.Is(err, wire.ErrShort) && !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("%T: error %v wraps neither ErrShort nor ErrMalformed", first, err)
		}
		return
	}
	enc := first.AppendTo(nil)
	second := fresh()
	if err := second.Unmarshal(enc); err != nil {
		t.Fatalf("%T: re-decoding % x: %v", first, enc, err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("%T: decode(encode(x)) = %+v, want %+v", first, second, first)
	}
}

func FuzzSDRCommands(f *testing.F) {
	f.Add([]byte{0x51, 0x02, 0x01, 0xFF, 0xFF, 0x80, 0x4D, 0x0F, 0x5E, 0x04, 0x03, 0x02, 0x01, 0x2F})
	f.Add([]byte{0x02, 0x00, 0x01, 0x00, 0x51, 0x01, 0x2B})
	f.Add([]byte{0x20, 0x83, 0x78, 0x56, 0x34, 0x12})
	f.Add([]byte{0x34, 0x12, 0x00, 0x00, 0x00, 0xFF})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fresh := range []func() storageCodec{
			func() storageCodec { return &GetSDRRepositoryInfoRequest{} },
			func() storageCodec { return &GetSDRRepositoryInfoResponse{} },
			func() storageCodec { return &ReserveSDRRepositoryRequest{} },
			func() storageCodec { return &ReservationResponse{} },
			func() storageCodec { return &GetSDRRequest{} },
			func() storageCodec { return &GetSDRResponse{} },
			func() storageCodec { return &GetDeviceSDRInfoRequest{} },
			func() storageCodec { return &GetDeviceSDRInfoResponse{} },
			func() storageCodec { return &GetDeviceSDRRequest{} },
			func() storageCodec { return &GetDeviceSDRResponse{} },
			func() storageCodec { return &ReserveDeviceSDRRepositoryRequest{} },
		} {
			fuzzStorageCodec(t, data, fresh)
		}
	})
}
