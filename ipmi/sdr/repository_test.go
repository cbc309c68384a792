package sdr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// fakeRepository is a BMC's SDR repository at byte level. It answers Get
// SDR Repository Info, Reserve SDR Repository and Get SDR (and their device
// SDR forms) by encoding responses to bytes and decoding them into the
// caller's response, and can misbehave in the ways real BMCs do.
type fakeRepository struct {
	records [][]byte
	info    command.GetSDRRepositoryInfoResponse
	device  bool

	reservation uint16
	reserves    int
	noReserve   bool // Reserve answers "invalid command"

	maxRead    int                 // refuse reads longer than this (0 = no limit)
	refuseCode wire.CompletionCode // with this code (default 0xCA)
	truncateTo int                 // return at most this many bytes (0 = all)
	emptyBody  bool                // return no bytes for reads at offset > 0
	next       map[uint16]uint16   // override next record IDs (loops)
	// getCC answers Get SDR of these requested record IDs with a code.
	getCC map[uint16]wire.CompletionCode
	// extra answers requests for these IDs with these bytes (a record
	// the BMC returns twice); their next ID comes from next[requested ID].
	extra map[uint16][]byte
	// countOverride, when set, is the record count reported.
	countOverride *uint16

	// onGet runs before each Get SDR, with the 1-based call number.
	onGet    func(f *fakeRepository, call int)
	getCalls int
	calls    int
}

func newFakeRepository(records ...[]byte) *fakeRepository {
	f := &fakeRepository{
		info: command.GetSDRRepositoryInfoResponse{
			Version: 0x51, FreeSpace: 0xFFFF, LastAddition: 1000, LastErase: 500, Support: 0x02,
		},
	}
	for _, r := range records {
		f.records = append(f.records, append([]byte(nil), r...))
	}
	return f
}

// addRecord appends a record the way an Add SDR would: new timestamp, and
// every reservation canceled.
func (f *fakeRepository) addRecord(r []byte) {
	f.records = append(f.records, append([]byte(nil), r...))
	f.info.LastAddition++
	f.reservation++
}

func (f *fakeRepository) cc(req command.Request, code wire.CompletionCode) error {
	op := req.Op()
	return &wire.CompletionCodeError{NetFn: op.NetFn, Command: op.Cmd, Code: code}
}

func (f *fakeRepository) answer(resp command.Response, body command.Response) error {
	return resp.Unmarshal(body.AppendTo(nil))
}

func (f *fakeRepository) Do(ctx context.Context, req command.Request, resp command.Response) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.calls++
	// Every request goes through its byte form too.
	if err := req.Unmarshal(req.AppendTo(nil)); err != nil {
		return fmt.Errorf("request does not round-trip: %w", err)
	}
	switch q := req.(type) {
	case command.GetSDRRepositoryInfoRequest:
		if f.device {
			return f.cc(req, wire.CCInvalidCommand)
		}
		info := f.info
		info.RecordCount = uint16(len(f.records))
		if f.countOverride != nil {
			info.RecordCount = *f.countOverride
		}
		return f.answer(resp, &info)
	case *command.GetDeviceSDRInfoRequest:
		if !f.device {
			return f.cc(req, wire.CCInvalidCommand)
		}
		return f.answer(resp, &command.GetDeviceSDRInfoResponse{
			Count: uint8(len(f.records)), Dynamic: true, ChangeIndicator: f.info.LastAddition,
		})
	case command.ReserveSDRRepositoryRequest, command.ReserveDeviceSDRRepositoryRequest:
		if f.noReserve {
			return f.cc(req, wire.CCInvalidCommand)
		}
		f.reserves++
		f.reservation++
		return f.answer(resp, &command.ReservationResponse{ReservationID: f.reservation})
	case *command.GetSDRRequest:
		if f.device {
			return f.cc(req, wire.CCInvalidCommand)
		}
		return f.get(req, resp, q.ReservationID, q.RecordID, q.Offset, q.Length)
	case *command.GetDeviceSDRRequest:
		if !f.device {
			return f.cc(req, wire.CCInvalidCommand)
		}
		return f.get(req, resp, q.ReservationID, q.RecordID, q.Offset, q.Length)
	}
	return f.cc(req, wire.CCInvalidCommand)
}

func (f *fakeRepository) get(req command.Request, resp command.Response, resID, id uint16, offset, length uint8) error {
	f.getCalls++
	if f.onGet != nil {
		f.onGet(f, f.getCalls)
	}
	if offset != 0 && resID != f.reservation {
		return f.cc(req, wire.CCReservationCanceled)
	}
	if code, ok := f.getCC[id]; ok {
		return f.cc(req, code)
	}
	if rec, ok := f.extra[id]; ok {
		data, _ := readPart(rec, offset, length)
		return f.answer(resp, &command.GetSDRResponse{NextRecordID: f.next[id], Data: data})
	}
	idx := -1
	for i, r := range f.records {
		if (id == command.FirstRecordID && i == 0) || le16(r) == id {
			idx = i
			break
		}
	}
	if idx < 0 {
		return f.cc(req, wire.CCRequestedDataNotPresent)
	}
	rec := f.records[idx]
	if int(offset) > len(rec) {
		return f.cc(req, wire.CCParameterOutOfRange)
	}
	n := int(length)
	if length == command.ReadWholeRecord || int(offset)+n > len(rec) {
		n = len(rec) - int(offset)
	}
	if f.maxRead > 0 && (n > f.maxRead || length == command.ReadWholeRecord && len(rec) > f.maxRead) {
		code := f.refuseCode
		if code == 0 {
			code = wire.CCCannotReturnRequestedBytes
		}
		return f.cc(req, code)
	}
	data := rec[offset : int(offset)+n]
	if f.truncateTo > 0 && len(data) > f.truncateTo {
		data = data[:f.truncateTo]
	}
	if f.emptyBody && offset > 0 {
		data = nil
	}
	next := command.LastRecordID
	if idx+1 < len(f.records) {
		next = le16(f.records[idx+1])
	}
	if n, ok := f.next[le16(rec)]; ok {
		next = n
	}
	return f.answer(resp, &command.GetSDRResponse{NextRecordID: next, Data: data})
}

// testRecords is a small repository: one of each record type plus a long
// Full record whose body needs several chunks.
func testRecords() [][]byte {
	long := *fullCPUTemp
	long.RecordID = 9
	long.IDString = NewIDString("Sixteen Char Nam")
	return [][]byte{fullCPUTempBytes, compactPSUBytes, eventOnlyBytes, genericLocatorBytes,
		fruLocatorBytes, mcLocatorBytes, oemBytes, long.AppendTo(nil)}
}

func wantRecords(t *testing.T, raws [][]byte) []Record {
	t.Helper()
	var out []Record
	for _, r := range raws {
		rec, err := ParseRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func TestReadRepositoryWalk(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(f *fakeRepository)
		opts  ReadOptions
	}{
		{"whole records", nil, ReadOptions{}},
		{"configured chunk", nil, ReadOptions{ChunkSize: 16}},
		{"BMC refuses more than 20 bytes with 0xCA", func(f *fakeRepository) { f.maxRead = 20 }, ReadOptions{}},
		{"BMC refuses with 0xFF", func(f *fakeRepository) { f.maxRead = 10; f.refuseCode = wire.CCUnspecified }, ReadOptions{}},
		{"short replies", func(f *fakeRepository) { f.truncateTo = 12 }, ReadOptions{}},
		{"short replies smaller than the minimum chunk", func(f *fakeRepository) { f.truncateTo = 6 }, ReadOptions{ChunkSize: 16, MinChunkSize: 8}},
		{"no reservation support", func(f *fakeRepository) { f.noReserve = true }, ReadOptions{ChunkSize: 16}},
		{"device SDRs", func(f *fakeRepository) { f.device = true }, ReadOptions{Device: true, ChunkSize: 20}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raws := testRecords()
			f := newFakeRepository(raws...)
			if c.setup != nil {
				c.setup(f)
			}
			repo, err := ReadRepository(context.Background(), f, c.opts)
			if err != nil {
				t.Fatalf("ReadRepository: %v", err)
			}
			if !reflect.DeepEqual(repo.Records, wantRecords(t, raws)) {
				t.Fatalf("records differ:\n%+v", repo.Records)
			}
			if repo.Truncated != "" || len(repo.Errors) != 0 || repo.Restarts != 0 {
				t.Errorf("Truncated %q, Errors %v, Restarts %d", repo.Truncated, repo.Errors, repo.Restarts)
			}
			if int(repo.Info.RecordCount) != len(raws) || repo.Device != c.opts.Device {
				t.Errorf("Info %+v", repo.Info)
			}
			if got := len(repo.Sensors()); got != 1+2+1 {
				t.Errorf("%d sensors, want 4", got)
			}
		})
	}
}

func TestReadRepositoryShrinksChunks(t *testing.T) {
	// Whole read refused, then 32 refused, then 16 works; later records
	// start at 16 without asking for more again.
	refusals := 0
	f := newFakeRepository(testRecords()...)
	f.maxRead = 20
	w := &walker{r: countRefusals{f, &refusals}, opts: ReadOptions{}.normalized(), chunk: command.ReadWholeRecord}
	w.info = f.info
	w.info.RecordCount = uint16(len(f.records))
	if _, err := w.walk(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.chunk != 16 || refusals != 2 {
		t.Errorf("chunk %d after %d refusals, want 16 after 2", w.chunk, refusals)
	}
}

// countRefusals counts 0xCA answers.
type countRefusals struct {
	r Requester
	n *int
}

func (c countRefusals) Do(ctx context.Context, req command.Request, resp command.Response) error {
	err := c.r.Do(ctx, req, resp)
	if wire.IsCompletionCode(err, wire.CCCannotReturnRequestedBytes) {
		*c.n++
	}
	return err
}

func TestReadRepositoryReservationCanceled(t *testing.T) {
	raws := testRecords()
	f := newFakeRepository(raws...)
	// Another client reserves twice in the middle of the walk; the
	// repository itself does not change.
	f.onGet = func(f *fakeRepository, call int) {
		if call == 4 || call == 9 {
			f.reservation += 10
		}
	}
	repo, err := ReadRepository(context.Background(), f, ReadOptions{ChunkSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(repo.Records, wantRecords(t, raws)) || repo.Restarts != 0 {
		t.Fatalf("records differ or restarted (%d)", repo.Restarts)
	}
	if f.reserves != 3 {
		t.Errorf("%d reservations, want 3 (initial + 2 renewals)", f.reserves)
	}
}

func TestReadRepositoryReservationStolenForever(t *testing.T) {
	f := newFakeRepository(testRecords()...)
	f.onGet = func(f *fakeRepository, call int) { f.reservation += 100 }
	_, err := ReadRepository(context.Background(), f, ReadOptions{ChunkSize: 16})
	if !errors.Is(err, ErrReservationLost) {
		t.Fatalf("err = %v, want ErrReservationLost", err)
	}
}

func TestReadRepositoryChangeMidWalk(t *testing.T) {
	extra := *mcLocator
	extra.RecordID = 0x20
	extraBytes := extra.AppendTo(nil)
	for _, c := range []struct {
		name string
		opts ReadOptions
	}{
		// Whole-record reads hold no reservation: the change is noticed by
		// the info check at the end.
		{"whole records", ReadOptions{}},
		// Partial reads lose their reservation and notice at once.
		{"chunked", ReadOptions{ChunkSize: 16}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raws := testRecords()
			f := newFakeRepository(raws...)
			f.onGet = func(f *fakeRepository, call int) {
				if call == 3 {
					f.addRecord(extraBytes)
				}
			}
			repo, err := ReadRepository(context.Background(), f, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := wantRecords(t, append(raws, extraBytes))
			if !reflect.DeepEqual(repo.Records, want) {
				t.Fatalf("got %d records, want %d", len(repo.Records), len(want))
			}
			if repo.Restarts != 1 || repo.Info.LastAddition != 1001 || int(repo.Info.RecordCount) != len(want) {
				t.Errorf("Restarts %d, Info %+v", repo.Restarts, repo.Info)
			}
		})
	}
}

func TestReadRepositoryKeepsChanging(t *testing.T) {
	f := newFakeRepository(testRecords()...)
	id := uint16(0x100)
	f.onGet = func(f *fakeRepository, call int) {
		if call%5 == 0 {
			r := *mcLocator
			r.RecordID = id
			id++
			f.addRecord(r.AppendTo(nil))
		}
	}
	_, err := ReadRepository(context.Background(), f, ReadOptions{MaxRestarts: 2})
	if !errors.Is(err, ErrRepositoryChanged) {
		t.Fatalf("err = %v, want ErrRepositoryChanged", err)
	}
}

func TestReadRepositoryRecordVanishes(t *testing.T) {
	raws := testRecords()
	f := newFakeRepository(raws...)
	f.onGet = func(f *fakeRepository, call int) {
		if call == 2 { // delete record 2 before it is read
			f.records = append(f.records[:1:1], f.records[2:]...)
			f.info.LastErase++
			f.reservation++
		}
	}
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Records) != len(raws)-1 || repo.Restarts != 1 {
		t.Errorf("%d records, %d restarts", len(repo.Records), repo.Restarts)
	}
}

// A next record ID that points nowhere while nothing changed ends the
// walk with the records read so far and the reason, instead of losing
// them all.
func TestReadRepositoryMissingRecordTruncates(t *testing.T) {
	f := newFakeRepository(testRecords()...)
	f.next = map[uint16]uint16{2: 0x7777} // points nowhere; nothing changed
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Records) != 2 || !strings.Contains(repo.Truncated, "record 0x7777 unreadable") {
		t.Fatalf("%d records, truncated %q", len(repo.Records), repo.Truncated)
	}
}

// The first record refused with an error is still an error: nothing was
// read, so there is nothing to degrade to.
func TestReadRepositoryFirstRecordRefused(t *testing.T) {
	f := newFakeRepository(testRecords()...)
	f.getCC = map[uint16]wire.CompletionCode{command.FirstRecordID: wire.CCTimeout}
	if _, err := ReadRepository(context.Background(), f, ReadOptions{}); !wire.IsCompletionCode(err, wire.CCTimeout) {
		t.Fatalf("err = %v", err)
	}
}

// 0xC3 on the last record (seen in the field): every other record is kept.
func TestReadRepositoryLastRecordRefused(t *testing.T) {
	raws := testRecords()
	f := newFakeRepository(raws...)
	f.getCC = map[uint16]wire.CompletionCode{le16(raws[len(raws)-1]): wire.CCTimeout}
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Records) != len(raws)-1 || repo.Truncated == "" {
		t.Fatalf("%d records, truncated %q", len(repo.Records), repo.Truncated)
	}
}

// The same record returned again under another record ID (H3C, as
// ipmi_exporter issues 189 and 196 show) is left out, and the walk goes
// on to the records after it.
func TestReadRepositoryDuplicateRecordSkipped(t *testing.T) {
	raws := testRecords()
	// Record 2's bytes also answer a request for ID 0x0100, which the
	// chain visits between 2 and 3.
	dup := append([]byte(nil), raws[1]...)
	f := newFakeRepository(raws...)
	f.extra = map[uint16][]byte{0x0100: dup}
	f.next = map[uint16]uint16{2: 0x0100, 0x0100: 3}
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Records) != len(raws) || repo.Duplicates != 1 || repo.Truncated != "" {
		t.Fatalf("%d records (want %d), %d duplicates, truncated %q", len(repo.Records), len(raws), repo.Duplicates, repo.Truncated)
	}
}

// A count of 0 that is wrong (FreeIPMI's assumemaxsdrrecordcount): the
// records are read all the same.
func TestReadRepositoryCountZeroButRecords(t *testing.T) {
	raws := testRecords()
	f := newFakeRepository(raws...)
	f.countOverride = new(uint16)
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Records) != len(raws) {
		t.Fatalf("%d records, want %d", len(repo.Records), len(raws))
	}
}

func TestReadRepositoryLoopAndLimit(t *testing.T) {
	for _, c := range []struct {
		name      string
		next      map[uint16]uint16
		opts      ReadOptions
		wantCount int
	}{
		{"next points back", map[uint16]uint16{3: 1}, ReadOptions{}, 3},
		{"next points to itself", map[uint16]uint16{2: 2}, ReadOptions{}, 2},
		{"next points to 0000h", map[uint16]uint16{4: 0}, ReadOptions{}, 4},
		{"record limit", nil, ReadOptions{MaxRecords: 5}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeRepository(testRecords()...)
			f.next = c.next
			repo, err := ReadRepository(context.Background(), f, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if repo.Truncated == "" || len(repo.Records) != c.wantCount {
				t.Errorf("Truncated %q with %d records, want %d", repo.Truncated, len(repo.Records), c.wantCount)
			}
		})
	}
}

func TestReadRepositoryDuplicateRecordID(t *testing.T) {
	// Two records claim ID 0001h: the first points to "0001h" next, which
	// the walk has already seen.
	dup := append([]byte(nil), compactPSUBytes...)
	dup[0] = 0x01
	f := newFakeRepository(fullCPUTempBytes, dup, eventOnlyBytes)
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if repo.Truncated == "" || len(repo.Records) != 1 {
		t.Errorf("Truncated %q, %d records", repo.Truncated, len(repo.Records))
	}
}

func TestReadRepositoryUndecodableRecord(t *testing.T) {
	bad := []byte{0x0A, 0x00, 0x51, 0x01, 0x03, 0x20, 0x00, 0x01} // a "full" record of 8 bytes
	f := newFakeRepository(fullCPUTempBytes, bad, eventOnlyBytes)
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Records) != 3 || len(repo.Errors) != 1 || repo.Errors[0].RecordID != 0x0A ||
		!errors.Is(repo.Errors[0].Err, wire.ErrShort) {
		t.Fatalf("Records %d, Errors %+v", len(repo.Records), repo.Errors)
	}
	if u, ok := repo.Records[1].(*UnknownRecord); !ok || u.RecordType != TypeFullSensor {
		t.Errorf("bad record kept as %T", repo.Records[1])
	}
}

func TestReadRepositorySmallestChunkRefused(t *testing.T) {
	f := newFakeRepository(testRecords()...)
	f.emptyBody = true
	_, err := ReadRepository(context.Background(), f, ReadOptions{ChunkSize: 16})
	if !errors.Is(err, wire.ErrShort) {
		t.Fatalf("err = %v, want ErrShort", err)
	}
	f = newFakeRepository(testRecords()...)
	f.maxRead = 2
	_, err = ReadRepository(context.Background(), f, ReadOptions{})
	if !wire.IsCompletionCode(err, wire.CCCannotReturnRequestedBytes) {
		t.Fatalf("err = %v, want 0xCA", err)
	}
}

func TestReadRepositoryCached(t *testing.T) {
	f := newFakeRepository(testRecords()...)
	first, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.calls = 0
	second, err := ReadRepository(context.Background(), f, ReadOptions{Cached: first})
	if err != nil {
		t.Fatal(err)
	}
	if second != first || f.calls != 1 {
		t.Errorf("cached walk: same=%v, %d commands (want 1)", second == first, f.calls)
	}
	f.info.LastErase++
	third, err := ReadRepository(context.Background(), f, ReadOptions{Cached: first})
	if err != nil {
		t.Fatal(err)
	}
	if third == first || third.Info.LastErase != first.Info.LastErase+1 {
		t.Error("changed repository served from cache")
	}
	if !third.Matches(third.Info) || third.Matches(first.Info) || (*Repository)(nil).Matches(first.Info) {
		t.Error("Matches")
	}
}

func TestReadRepositoryErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadRepository(ctx, newFakeRepository(testRecords()...), ReadOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
	f := newFakeRepository(testRecords()...)
	f.device = true // answers only device SDR commands
	if _, err := ReadRepository(context.Background(), f, ReadOptions{}); !wire.IsCompletionCode(err, wire.CCInvalidCommand) {
		t.Errorf("repository commands on a device-SDR-only controller: %v", err)
	}
}

func TestReadRepositoryEmpty(t *testing.T) {
	empty := newFakeRepository()
	repo, err := ReadRepository(context.Background(), empty, ReadOptions{})
	if err != nil || len(repo.Records) != 0 || repo.Truncated != "" {
		t.Fatalf("empty repository: %+v, %v", repo, err)
	}
	// The count is not trusted (some BMCs report 0 and hold records):
	// one Get SDR confirms the repository is empty.
	if empty.getCalls != 1 {
		t.Errorf("%d Get SDR for an empty repository, want 1", empty.getCalls)
	}
	// A BMC that claims records but has none answers 0xCB for the first.
	lying := newFakeRepository()
	repo, err = ReadRepository(context.Background(), countClaims{lying}, ReadOptions{})
	if err != nil || len(repo.Records) != 0 {
		t.Fatalf("claimed but empty repository: %+v, %v", repo, err)
	}
}

// countClaims makes Get SDR Repository Info claim three records.
type countClaims struct{ f *fakeRepository }

func (c countClaims) Do(ctx context.Context, req command.Request, resp command.Response) error {
	if _, ok := req.(command.GetSDRRepositoryInfoRequest); ok {
		info := c.f.info
		info.RecordCount = 3
		return resp.Unmarshal(info.AppendTo(nil))
	}
	return c.f.Do(ctx, req, resp)
}

func BenchmarkParseRepository100(b *testing.B) {
	var raws [][]byte
	for i := 0; i < 100; i++ {
		switch i % 4 {
		case 0, 1:
			f := *fullCPUTemp
			f.RecordID = uint16(i)
			raws = append(raws, f.AppendTo(nil))
		case 2:
			c := *compactPSU
			c.RecordID = uint16(i)
			raws = append(raws, c.AppendTo(nil))
		default:
			m := *mcLocator
			m.RecordID = uint16(i)
			raws = append(raws, m.AppendTo(nil))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for _, r := range raws {
			if _, err := ParseRecord(r); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// FuzzReadRepository serves arbitrary bytes as a repository, with
// arbitrary quirks, and checks that the walk ends, in bounded work, with
// either records or an error.
func FuzzReadRepository(f *testing.F) {
	var all []byte
	for _, r := range testRecords() {
		all = append(all, r...)
	}
	f.Add(all, uint8(0), uint8(0), uint8(0))
	f.Add(all, uint8(20), uint8(12), uint8(16))
	f.Add([]byte{1, 0, 0x51, 1, 200, 1, 2}, uint8(5), uint8(0), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, maxRead, truncate, chunk uint8) {
		var recs [][]byte
		for len(data) >= HeaderLen && len(recs) < 64 {
			n, _ := RecordLen(data)
			if n > len(data) {
				n = len(data)
			}
			recs = append(recs, data[:n])
			data = data[n:]
		}
		fake := newFakeRepository(recs...)
		fake.maxRead = int(maxRead)
		fake.truncateTo = int(truncate)
		repo, err := ReadRepository(context.Background(), fake, ReadOptions{ChunkSize: chunk, MaxRecords: 100})
		if err == nil {
			if len(repo.Records) > 100 {
				t.Fatalf("%d records", len(repo.Records))
			}
			for _, r := range repo.Records {
				_ = AppendSensorInfos(nil, r)
			}
		}
		// Each record costs at most: whole read, header, and 255 one-byte
		// chunks with a few refusals; times restarts and info reads.
		if fake.calls > 4*(len(recs)+1)*300 {
			t.Fatalf("%d commands for %d records", fake.calls, len(recs))
		}
	})
}

// readPart is a partial read of rec (whole for ReadWholeRecord).
func readPart(rec []byte, offset, length uint8) ([]byte, bool) {
	if int(offset) > len(rec) {
		return nil, false
	}
	rest := rec[offset:]
	if length != command.ReadWholeRecord && int(length) < len(rest) {
		rest = rest[:length]
	}
	return rest, true
}
