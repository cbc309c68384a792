package sel

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// fakeSEL is a BMC's SEL at byte level, answering Get SEL Info, Reserve
// SEL and Get SEL Entry through the byte forms of the messages.
type fakeSEL struct {
	entries [][]byte
	info    command.GetSELInfoResponse
	nextID  uint16

	reservation        uint16
	reserves           int
	requireReservation bool              // Get SEL Entry checks the reservation ID
	refuseWhole        bool              // "bytes to read" FFh → 0xCA
	shortData          bool              // return 10 bytes
	next               map[uint16]uint16 // override next record IDs
	stealReservation   bool              // every Get SEL Entry cancels the reservation first

	calls int
}

func newFakeSEL(n int) *fakeSEL {
	f := &fakeSEL{
		info:   command.GetSELInfoResponse{Version: 0x51, FreeSpace: 0x4000, LastAddition: 100, LastErase: 50, Support: 0x0A},
		nextID: 1,
	}
	for i := 0; i < n; i++ {
		f.add()
	}
	f.info.LastAddition = 100
	return f
}

// add logs a new event the way a BMC does: next ID, new addition time.
func (f *fakeSEL) add() uint16 {
	e := *thresholdEvent
	e.RecordID = f.nextID
	e.SensorNumber = uint8(f.nextID)
	f.nextID++
	f.entries = append(f.entries, e.AppendTo(nil))
	f.info.LastAddition++
	return e.RecordID
}

// clear empties the SEL: new erase time, IDs restart.
func (f *fakeSEL) clear() {
	f.entries = nil
	f.info.LastErase += 10
	f.nextID = 1
	f.reservation++
}

func (f *fakeSEL) cc(req command.Request, code wire.CompletionCode) error {
	op := req.Op()
	return &wire.CompletionCodeError{NetFn: op.NetFn, Command: op.Cmd, Code: code}
}

func (f *fakeSEL) Do(ctx context.Context, req command.Request, resp command.Response) error {
	f.calls++
	if err := req.Unmarshal(req.AppendTo(nil)); err != nil {
		return err
	}
	switch q := req.(type) {
	case command.GetSELInfoRequest:
		info := f.info
		info.Entries = uint16(len(f.entries))
		return resp.Unmarshal(info.AppendTo(nil))
	case command.ReserveSELRequest:
		f.reserves++
		f.reservation++
		return resp.Unmarshal((&command.ReserveSELResponse{ReservationID: f.reservation}).AppendTo(nil))
	case *command.GetSELEntryRequest:
		if f.stealReservation {
			f.reservation++
		}
		if f.requireReservation && q.ReservationID != f.reservation {
			return f.cc(req, wire.CCReservationCanceled)
		}
		if f.refuseWhole && q.Length == command.ReadWholeRecord {
			return f.cc(req, wire.CCCannotReturnRequestedBytes)
		}
		idx := -1
		for i, e := range f.entries {
			id := binary.LittleEndian.Uint16(e)
			if id == q.RecordID || (q.RecordID == command.FirstRecordID && i == 0) ||
				(q.RecordID == command.LastRecordID && i == len(f.entries)-1) {
				idx = i
				break
			}
		}
		if idx < 0 {
			return f.cc(req, wire.CCRequestedDataNotPresent)
		}
		next := command.LastRecordID
		if idx+1 < len(f.entries) {
			next = binary.LittleEndian.Uint16(f.entries[idx+1])
		}
		if n, ok := f.next[binary.LittleEndian.Uint16(f.entries[idx])]; ok {
			next = n
		}
		data := f.entries[idx]
		if q.Length != command.ReadWholeRecord && int(q.Length) < len(data) {
			data = data[:q.Length]
		}
		if f.shortData {
			data = data[:10]
		}
		return resp.Unmarshal((&command.GetSELEntryResponse{NextRecordID: next, Data: data}).AppendTo(nil))
	}
	return f.cc(req, wire.CCInvalidCommand)
}

func ids(entries []Entry) []uint16 {
	var out []uint16
	for _, e := range entries {
		out = append(out, e.ID())
	}
	return out
}

func equalIDs(a []uint16, b ...uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadSinceIncremental(t *testing.T) {
	ctx := context.Background()
	f := newFakeSEL(3)

	res, err := ReadSince(ctx, f, Cursor{}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalIDs(ids(res.Entries), 1, 2, 3) || res.Reset || res.More {
		t.Fatalf("first read: %v reset=%v more=%v", ids(res.Entries), res.Reset, res.More)
	}
	if c := res.Cursor; c.LastID != 3 || !c.CaughtUp || !c.Valid || c.LastErase != 50 || c.LastAddition != 100 {
		t.Fatalf("cursor %+v", c)
	}

	// Nothing new: one Get SEL Info.
	f.calls = 0
	res2, err := ReadSince(ctx, f, res.Cursor, ReadOptions{})
	if err != nil || len(res2.Entries) != 0 || f.calls != 1 || res2.Cursor != res.Cursor {
		t.Fatalf("unchanged SEL: %d entries, %d commands, cursor %+v, %v", len(res2.Entries), f.calls, res2.Cursor, err)
	}

	// Two new entries: re-read entry 3 for its successor, then 4 and 5.
	f.add()
	f.add()
	f.calls = 0
	res3, err := ReadSince(ctx, f, res2.Cursor, ReadOptions{})
	if err != nil || !equalIDs(ids(res3.Entries), 4, 5) || res3.Reset {
		t.Fatalf("after adding: %v reset=%v %v", ids(res3.Entries), res3.Reset, err)
	}
	if f.calls != 4 || res3.Cursor.LastID != 5 {
		t.Errorf("%d commands (want 4), cursor %+v", f.calls, res3.Cursor)
	}
}

func TestReadSinceCleared(t *testing.T) {
	ctx := context.Background()
	f := newFakeSEL(3)
	res, err := ReadSince(ctx, f, Cursor{}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Cleared and two new events logged: IDs restart at 1.
	f.clear()
	f.add()
	f.add()
	res2, err := ReadSince(ctx, f, res.Cursor, ReadOptions{})
	if err != nil || !res2.Reset || !equalIDs(ids(res2.Entries), 1, 2) {
		t.Fatalf("after clear: %v reset=%v %v", ids(res2.Entries), res2.Reset, err)
	}

	// Cleared to empty.
	f.clear()
	res3, err := ReadSince(ctx, f, res2.Cursor, ReadOptions{})
	if err != nil || !res3.Reset || len(res3.Entries) != 0 || res3.Cursor.LastID != 0 || !res3.Cursor.Valid {
		t.Fatalf("cleared to empty: %+v %v", res3, err)
	}

	// Reading an empty SEL again is not a reset.
	res4, err := ReadSince(ctx, f, res3.Cursor, ReadOptions{})
	if err != nil || res4.Reset || len(res4.Entries) != 0 {
		t.Fatalf("empty again: %+v %v", res4, err)
	}

	// Then entries arrive.
	f.add()
	res5, err := ReadSince(ctx, f, res4.Cursor, ReadOptions{})
	if err != nil || res5.Reset || !equalIDs(ids(res5.Entries), 1) {
		t.Fatalf("first entry after empty: %v reset=%v %v", ids(res5.Entries), res5.Reset, err)
	}
}

func TestReadSinceRememberedEntryGone(t *testing.T) {
	ctx := context.Background()
	f := newFakeSEL(3)
	res, err := ReadSince(ctx, f, Cursor{}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A BMC that clears without changing the erase timestamp.
	erase := f.info.LastErase
	f.clear()
	f.info.LastErase = erase
	f.add()
	res2, err := ReadSince(ctx, f, res.Cursor, ReadOptions{})
	if err != nil || !res2.Reset || !equalIDs(ids(res2.Entries), 1) {
		t.Fatalf("%v reset=%v %v", ids(res2.Entries), res2.Reset, err)
	}
}

func TestReadSinceMaxEntries(t *testing.T) {
	ctx := context.Background()
	f := newFakeSEL(5)
	res, err := ReadSince(ctx, f, Cursor{}, ReadOptions{MaxEntries: 2})
	if err != nil || !res.More || !equalIDs(ids(res.Entries), 1, 2) || res.Cursor.CaughtUp {
		t.Fatalf("%v more=%v cursor=%+v %v", ids(res.Entries), res.More, res.Cursor, err)
	}
	// The addition timestamp did not change, but the cursor is not caught
	// up: the next call continues.
	res, err = ReadSince(ctx, f, res.Cursor, ReadOptions{MaxEntries: 2})
	if err != nil || !equalIDs(ids(res.Entries), 3, 4) || !res.More {
		t.Fatalf("second batch %v %v", ids(res.Entries), err)
	}
	res, err = ReadSince(ctx, f, res.Cursor, ReadOptions{MaxEntries: 2})
	if err != nil || !equalIDs(ids(res.Entries), 5) || res.More || !res.Cursor.CaughtUp {
		t.Fatalf("last batch %v more=%v %v", ids(res.Entries), res.More, err)
	}
}

func TestReadSinceSkipExisting(t *testing.T) {
	ctx := context.Background()
	f := newFakeSEL(4)
	res, err := ReadSince(ctx, f, Cursor{}, ReadOptions{SkipExisting: true})
	if err != nil || len(res.Entries) != 0 || res.Cursor.LastID != 4 || !res.Cursor.Valid {
		t.Fatalf("%+v %v", res, err)
	}
	f.add()
	res, err = ReadSince(ctx, f, res.Cursor, ReadOptions{SkipExisting: true})
	if err != nil || !equalIDs(ids(res.Entries), 5) {
		t.Fatalf("%v %v", ids(res.Entries), err)
	}
	empty := newFakeSEL(0)
	res, err = ReadSince(ctx, empty, Cursor{}, ReadOptions{SkipExisting: true})
	if err != nil || len(res.Entries) != 0 || res.Cursor.LastID != 0 {
		t.Fatalf("empty: %+v %v", res, err)
	}
}

func TestReadSinceBMCQuirks(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		setup func(f *fakeSEL)
	}{
		{"reservation required", func(f *fakeSEL) { f.requireReservation = true }},
		{"whole-record reads refused", func(f *fakeSEL) { f.refuseWhole = true }},
		{"unspecified addition timestamp", func(f *fakeSEL) { f.info.LastAddition = command.TimestampUnspecified }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeSEL(3)
			c.setup(f)
			res, err := ReadSince(ctx, f, Cursor{}, ReadOptions{})
			if err != nil || !equalIDs(ids(res.Entries), 1, 2, 3) {
				t.Fatalf("%v %v", ids(res.Entries), err)
			}
			if f.info.LastAddition == command.TimestampUnspecified {
				// Without a usable timestamp every read checks for a successor.
				f.add()
				f.info.LastAddition = command.TimestampUnspecified
				res, err = ReadSince(ctx, f, res.Cursor, ReadOptions{})
				if err != nil || !equalIDs(ids(res.Entries), 4) {
					t.Fatalf("after add: %v %v", ids(res.Entries), err)
				}
			}
		})
	}
}

func TestReadSinceErrors(t *testing.T) {
	ctx := context.Background()
	f := newFakeSEL(3)
	f.requireReservation = true
	f.stealReservation = true
	if _, err := ReadSince(ctx, f, Cursor{}, ReadOptions{}); !errors.Is(err, ErrReservationLost) {
		t.Errorf("stolen reservation: %v", err)
	}
	f = newFakeSEL(3)
	f.shortData = true
	if _, err := ReadSince(ctx, f, Cursor{}, ReadOptions{}); !errors.Is(err, wire.ErrShort) {
		t.Errorf("short entry: %v", err)
	}
	f = newFakeSEL(3)
	f.next = map[uint16]uint16{2: 1}
	res, err := ReadSince(ctx, f, Cursor{}, ReadOptions{})
	if err != nil || res.Truncated == "" || !equalIDs(ids(res.Entries), 1, 2) {
		t.Errorf("loop: %v %q %v", ids(res.Entries), res.Truncated, err)
	}
	f = newFakeSEL(3)
	f.next = map[uint16]uint16{1: 0x0099} // dangling, and not a clear
	if _, err := ReadSince(ctx, f, Cursor{}, ReadOptions{}); !wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent) {
		t.Errorf("dangling next ID: %v", err)
	}
}

// TestReadSinceUsesRequester checks the sdr.Requester contract is what
// ReadSince takes (the exporter passes *ipmi.Client).
func TestReadSinceUsesRequester(t *testing.T) {
	var r sdr.Requester = newFakeSEL(1)
	if _, err := ReadSince(context.Background(), r, Cursor{}, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
}
