package model

import (
	"bytes"
	"context"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func getSDR(b *BMC, req command.GetSDRRequest) (wire.CompletionCode, command.GetSDRResponse) {
	var resp command.GetSDRResponse
	cc, data := b.Handle(wire.Target{}, wire.NetFnStorage, command.CmdGetSDR, req.AppendTo(nil), wire.PrivilegeUser)
	if cc == wire.CCOK {
		if err := resp.Unmarshal(data); err != nil {
			return wire.CCUnspecified, resp
		}
	}
	return cc, resp
}

func reserveSDR(t *testing.T, b *BMC) uint16 {
	t.Helper()
	var r command.ReservationResponse
	do(t, b, wire.Target{}, command.ReserveSDRRepositoryRequest{}, &r)
	if r.ReservationID == 0 {
		t.Fatal("reservation ID 0")
	}
	return r.ReservationID
}

func repoInfo(t *testing.T, b *BMC) command.GetSDRRepositoryInfoResponse {
	t.Helper()
	var info command.GetSDRRepositoryInfoResponse
	do(t, b, wire.Target{}, command.GetSDRRepositoryInfoRequest{}, &info)
	return info
}

func TestGetSDRPartialReads(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	res := reserveSDR(t, b)
	id := command.FirstRecordID
	records := 0
	for id != command.LastRecordID {
		cc, whole := getSDR(b, command.GetSDRRequest{RecordID: id, Length: command.ReadWholeRecord})
		if cc != wire.CCOK {
			t.Fatalf("record %#04x: %s", id, cc)
		}
		n, err := sdr.RecordLen(whole.Data)
		if err != nil || n != len(whole.Data) {
			t.Fatalf("record %#04x: length %d, header says %d (%v)", id, len(whole.Data), n, err)
		}
		// Reassemble the record from 5-byte pieces and compare.
		var pieces []byte
		for off := 0; off < n; off += 5 {
			cc, part := getSDR(b, command.GetSDRRequest{ReservationID: res, RecordID: id, Offset: uint8(off), Length: 5})
			if cc != wire.CCOK {
				t.Fatalf("record %#04x offset %d: %s", id, off, cc)
			}
			if part.NextRecordID != whole.NextRecordID {
				t.Fatalf("partial read names next record %#04x, whole read %#04x", part.NextRecordID, whole.NextRecordID)
			}
			pieces = append(pieces, part.Data...)
		}
		if !bytes.Equal(pieces, whole.Data) {
			t.Fatalf("record %#04x: pieces % x, whole % x", id, pieces, whole.Data)
		}
		// A partial read without a reservation is refused.
		if cc, _ := getSDR(b, command.GetSDRRequest{RecordID: id, Offset: 5, Length: 5}); cc != wire.CCReservationCanceled {
			t.Fatalf("partial read without reservation: %s", cc)
		}
		// Reading past the end returns what there is; starting past it fails.
		if cc, part := getSDR(b, command.GetSDRRequest{ReservationID: res, RecordID: id, Offset: uint8(n - 2), Length: 16}); cc != wire.CCOK || len(part.Data) != 2 {
			t.Fatalf("read across the end: %s, %d bytes", cc, len(part.Data))
		}
		if cc, _ := getSDR(b, command.GetSDRRequest{ReservationID: res, RecordID: id, Offset: uint8(n + 1), Length: 1}); cc != wire.CCParameterOutOfRange {
			t.Fatalf("read past the end: %s", cc)
		}
		id = whole.NextRecordID
		records++
	}
	if info := repoInfo(t, b); int(info.RecordCount) != records {
		t.Fatalf("walked %d records, info says %d", records, info.RecordCount)
	}
	// FFFFh reads the last record; an unknown ID is not present.
	cc, last := getSDR(b, command.GetSDRRequest{RecordID: command.LastRecordID, Length: command.ReadWholeRecord})
	if cc != wire.CCOK || last.NextRecordID != command.LastRecordID {
		t.Fatalf("last record: %s, next %#04x", cc, last.NextRecordID)
	}
	if cc, _ := getSDR(b, command.GetSDRRequest{RecordID: 0x7777, Length: command.ReadWholeRecord}); cc != wire.CCRequestedDataNotPresent {
		t.Fatalf("unknown record: %s", cc)
	}
}

func TestBumpSDRCancelsReservation(t *testing.T) {
	b, clock := newTestBMC(t, "edge-node", 0)
	before := repoInfo(t, b)
	res := reserveSDR(t, b)
	if cc, _ := getSDR(b, command.GetSDRRequest{ReservationID: res, RecordID: 0, Offset: 2, Length: 3}); cc != wire.CCOK {
		t.Fatalf("read with reservation: %s", cc)
	}
	clock.t = clock.t.Add(1)
	b.BumpSDR()
	// The old reservation is gone, even for a read from offset 0.
	for _, off := range []uint8{0, 2} {
		if cc, _ := getSDR(b, command.GetSDRRequest{ReservationID: res, RecordID: 0, Offset: off, Length: 3}); cc != wire.CCReservationCanceled {
			t.Fatalf("offset %d after BumpSDR: %s, want 0xC5", off, cc)
		}
	}
	added := repoInfo(t, b)
	if added.RecordCount != before.RecordCount+1 || added.LastAddition == before.LastAddition || added.LastErase != before.LastErase {
		t.Fatalf("after adding: %+v, before %+v", added, before)
	}
	res2 := reserveSDR(t, b)
	if res2 == res {
		t.Fatal("new reservation reuses the old ID")
	}
	if cc, _ := getSDR(b, command.GetSDRRequest{ReservationID: res2, RecordID: 0, Offset: 2, Length: 3}); cc != wire.CCOK {
		t.Fatalf("read with new reservation: %s", cc)
	}
	// A new reservation replaces the previous one.
	res3 := reserveSDR(t, b)
	if cc, _ := getSDR(b, command.GetSDRRequest{ReservationID: res2, RecordID: 0, Offset: 2, Length: 3}); cc != wire.CCReservationCanceled {
		t.Fatalf("superseded reservation: %s", cc)
	}
	// The added record is an OEM record the walk keeps as unknown.
	repo, err := sdr.ReadRepository(context.Background(), admin(b), sdr.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := repo.Records[len(repo.Records)-1].(*sdr.UnknownRecord); !ok || u.RecordType != sdr.TypeOEM {
		t.Fatalf("last record %#v", repo.Records[len(repo.Records)-1])
	}
	// Bumping again (same clock second) removes it and moves the erase time.
	b.BumpSDR()
	removed := repoInfo(t, b)
	if removed.RecordCount != before.RecordCount || removed.LastErase == before.LastErase || removed.LastAddition != added.LastAddition {
		t.Fatalf("after removing: %+v, before %+v", removed, added)
	}
	if cc, _ := getSDR(b, command.GetSDRRequest{ReservationID: res3, RecordID: 0, Offset: 2, Length: 3}); cc != wire.CCReservationCanceled {
		t.Fatalf("reservation survived the second bump: %s", cc)
	}
}

func TestSDRMaxReadQuirk(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	b.SetQuirks(Quirks{SDRMaxRead: 16})
	res := reserveSDR(t, b)
	if cc, _ := getSDR(b, command.GetSDRRequest{RecordID: 0, Length: command.ReadWholeRecord}); cc != wire.CCCannotReturnRequestedBytes {
		t.Fatalf("whole record under the quirk: %s, want 0xCA", cc)
	}
	if cc, _ := getSDR(b, command.GetSDRRequest{ReservationID: res, RecordID: 0, Offset: 5, Length: 17}); cc != wire.CCCannotReturnRequestedBytes {
		t.Fatalf("17-byte read under a 16-byte limit: %s, want 0xCA", cc)
	}
	if cc, part := getSDR(b, command.GetSDRRequest{ReservationID: res, RecordID: 0, Offset: 5, Length: 16}); cc != wire.CCOK || len(part.Data) != 16 {
		t.Fatalf("16-byte read: %s, %d bytes", cc, len(part.Data))
	}
	// The exporter's walk copes by reading in chunks.
	repo, err := sdr.ReadRepository(context.Background(), admin(b), sdr.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.SetQuirks(Quirks{})
	plain, err := sdr.ReadRepository(context.Background(), admin(b), sdr.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Records) != len(plain.Records) {
		t.Fatalf("chunked walk found %d records, whole-record walk %d", len(repo.Records), len(plain.Records))
	}
	for i := range repo.Records {
		if !bytes.Equal(repo.Records[i].AppendTo(nil), plain.Records[i].AppendTo(nil)) {
			t.Fatalf("record %d differs between chunked and whole reads", i)
		}
	}
}

func TestDeviceSDRInfo(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	var info command.GetDeviceSDRInfoResponse
	do(t, b, wire.Target{}, &command.GetDeviceSDRInfoRequest{}, &info)
	// 68 sensors: one owned by ME, one event-only.
	if info.Count != 66 || info.LUNsWithSensors != 0x01 || info.Dynamic {
		t.Fatalf("BMC: %+v", info)
	}
	do(t, b, wire.Target{}, &command.GetDeviceSDRInfoRequest{CountSDRs: true}, &info)
	// 65 sensor records, one of them ME's: 62 full, 1 compact, 1 event-only.
	if info.Count != 64 {
		t.Fatalf("BMC SDR count: %+v", info)
	}
	me := wire.Target{Channel: 6, Addr: 0x2C}
	do(t, b, me, &command.GetDeviceSDRInfoRequest{}, &info)
	if info.Count != 1 || info.LUNsWithSensors != 0x01 {
		t.Fatalf("ME: %+v", info)
	}
}
