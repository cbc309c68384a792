package command

import (
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestSELCommandOps(t *testing.T) {
	for _, c := range []struct {
		req  Request
		want Op
	}{
		{GetSELInfoRequest{}, Op{wire.NetFnStorage, 0x40}},
		{ReserveSELRequest{}, Op{wire.NetFnStorage, 0x42}},
		{&GetSELEntryRequest{}, Op{wire.NetFnStorage, 0x43}},
	} {
		if got := c.req.Op(); got != c.want {
			t.Errorf("%T.Op() = %v, want %v", c.req, got, c.want)
		}
	}
}

func TestSELCommandVectors(t *testing.T) {
	checkStorageVectors(t, []storageVector{
		{
			name:  "info request",
			fresh: func() storageCodec { return &GetSELInfoRequest{} },
			want:  &GetSELInfoRequest{},
		},
		{
			name: "info response",
			// v51, 3 entries, 0x3FD0 free, added 0x000003E8, erased 0x00000010, overflow|delete|reserve
			wire:  []byte{0x51, 0x03, 0x00, 0xD0, 0x3F, 0xE8, 0x03, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x8A},
			fresh: func() storageCodec { return &GetSELInfoResponse{} },
			want: &GetSELInfoResponse{
				Version: 0x51, Entries: 3, FreeSpace: 0x3FD0,
				LastAddition: 1000, LastErase: 16, Support: 0x8A,
			},
		},
		{
			name:  "info response empty SEL, unspecified timestamps",
			wire:  []byte{0x51, 0x00, 0x00, 0x00, 0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02},
			fresh: func() storageCodec { return &GetSELInfoResponse{} },
			want: &GetSELInfoResponse{
				Version: 0x51, FreeSpace: 0x4000,
				LastAddition: TimestampUnspecified, LastErase: TimestampUnspecified, Support: 0x02,
			},
		},
		{
			name:  "reserve request",
			fresh: func() storageCodec { return &ReserveSELRequest{} },
			want:  &ReserveSELRequest{},
		},
		{
			name:  "reserve response",
			wire:  []byte{0xCD, 0xAB},
			fresh: func() storageCodec { return &ReserveSELResponse{} },
			want:  &ReserveSELResponse{ReservationID: 0xABCD},
		},
		{
			name:  "get entry request first",
			wire:  []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0xFF},
			fresh: func() storageCodec { return &GetSELEntryRequest{} },
			want:  &GetSELEntryRequest{RecordID: FirstRecordID, Length: ReadWholeRecord},
		},
		{
			name:  "get entry request last",
			wire:  []byte{0x02, 0x00, 0xFF, 0xFF, 0x00, 0x10},
			fresh: func() storageCodec { return &GetSELEntryRequest{} },
			want:  &GetSELEntryRequest{ReservationID: 2, RecordID: LastRecordID, Length: 16},
		},
		{
			name: "get entry response",
			wire: []byte{0x02, 0x00,
				0x01, 0x00, 0x02, 0xE8, 0x03, 0x00, 0x00, 0x20, 0x00, 0x04, 0x01, 0x30, 0x01, 0x57, 0x32, 0x2D},
			fresh: func() storageCodec { return &GetSELEntryResponse{} },
			want: &GetSELEntryResponse{NextRecordID: 2,
				Data: []byte{0x01, 0x00, 0x02, 0xE8, 0x03, 0x00, 0x00, 0x20, 0x00, 0x04, 0x01, 0x30, 0x01, 0x57, 0x32, 0x2D}},
		},
	})
}

func TestSELCommandBadInput(t *testing.T) {
	checkStorageBadInputs(t, []storageBadInput{
		{"info response short", make([]byte, 13),
			func() storageCodec { return &GetSELInfoResponse{} }, wire.ErrShort},
		{"info request with data", []byte{1},
			func() storageCodec { return &GetSELInfoRequest{} }, wire.ErrMalformed},
		{"reserve request with data", []byte{1},
			func() storageCodec { return &ReserveSELRequest{} }, wire.ErrMalformed},
		{"reserve response empty", nil,
			func() storageCodec { return &ReserveSELResponse{} }, wire.ErrShort},
		{"get entry request short", []byte{0, 0, 0},
			func() storageCodec { return &GetSELEntryRequest{} }, wire.ErrShort},
		{"get entry request long", make([]byte, 8),
			func() storageCodec { return &GetSELEntryRequest{} }, wire.ErrMalformed},
		{"get entry response short", []byte{0},
			func() storageCodec { return &GetSELEntryResponse{} }, wire.ErrShort},
	})
}

func TestSELSupportBits(t *testing.T) {
	s := SELSupport(0x8F)
	if !s.Overflow() || !s.DeleteSupported() || !s.PartialAddSupported() || !s.ReserveSupported() || !s.AllocInfoSupported() {
		t.Error("0x8F decoded wrong")
	}
	if SELSupport(0).ReserveSupported() || SELSupport(0).Overflow() {
		t.Error("0x00 decoded wrong")
	}
}

func FuzzSELCommands(f *testing.F) {
	f.Add([]byte{0x51, 0x03, 0x00, 0xD0, 0x3F, 0xE8, 0x03, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x8A})
	f.Add([]byte{0x02, 0x00, 0xFF, 0xFF, 0x00, 0x10})
	f.Add([]byte{0x02, 0x00, 0x01, 0x00, 0x02, 0xE8, 0x03, 0x00, 0x00, 0x20, 0x00, 0x04, 0x01, 0x30, 0x01, 0x57, 0x32, 0x2D})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fresh := range []func() storageCodec{
			func() storageCodec { return &GetSELInfoRequest{} },
			func() storageCodec { return &GetSELInfoResponse{} },
			func() storageCodec { return &ReserveSELRequest{} },
			func() storageCodec { return &ReserveSELResponse{} },
			func() storageCodec { return &GetSELEntryRequest{} },
			func() storageCodec { return &GetSELEntryResponse{} },
		} {
			fuzzStorageCodec(t, data, fresh)
		}
	})
}
