package sdr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// lockedRepository makes a fakeRepository safe for several requesters at
// once, and can hold one request until another arrives.
type lockedRepository struct {
	mu sync.Mutex
	f  *fakeRepository
	// hold, when set, is asked before each request (outside the lock);
	// it may block.
	hold func(req command.Request)
	// refuseOverread answers 0xCA to a Get SDR asking for more bytes
	// than the record has from its offset, as ipmi_sim does.
	refuseOverread bool
	gets           int
}

func (l *lockedRepository) Do(ctx context.Context, req command.Request, resp command.Response) error {
	if l.hold != nil {
		l.hold(req)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := req.(*command.GetSDRRequest); ok {
		l.gets++
	}
	if _, ok := req.(*command.GetDeviceSDRRequest); ok {
		l.gets++
	}
	err := l.f.Do(ctx, req, resp)
	if g, ok := req.(*command.GetSDRRequest); ok && err == nil && l.refuseOverread && g.Length != command.ReadWholeRecord {
		if r := resp.(*command.GetSDRResponse); len(r.Data) < int(g.Length) {
			return &wire.CompletionCodeError{NetFn: wire.NetFnStorage, Command: command.CmdGetSDR, Code: wire.CCCannotReturnRequestedBytes}
		}
	}
	return err
}

func (l *lockedRepository) requesters(n int) []Requester {
	out := make([]Requester, n)
	for i := range out {
		out[i] = l
	}
	return out
}

// sensorRecords makes one Full sensor record per ID, each 48+ bytes, so a
// chunked read needs several chunks.
func sensorRecords(ids ...uint16) [][]byte {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		r := *fullCPUTemp
		r.RecordID = id
		r.Number = uint8(i)
		r.IDString = NewIDString(fmt.Sprintf("Sensor %d", id))
		out[i] = r.AppendTo(nil)
	}
	return out
}

func idRange(from, to, step int) []uint16 {
	var ids []uint16
	for id := from; id <= to; id += step {
		ids = append(ids, uint16(id))
	}
	return ids
}

// The pipelined walk returns exactly the sequential walk's repository,
// whatever the BMC's IDs and quirks, and asks for no more records where
// the IDs run in steps and the count is right.
func TestPipelinedWalkMatchesSequential(t *testing.T) {
	gap := append(idRange(1, 20, 1), idRange(40, 60, 1)...)
	irregular := []uint16{3, 17, 4, 99, 5, 6, 200, 201, 202, 7, 1000, 1001, 1002, 1003}
	cases := []struct {
		name  string
		ids   []uint16
		setup func(f *fakeRepository)
		opts  ReadOptions
		// exact: the pipelined walk sends at most as many Get SDR as
		// the sequential one (fewer when it reads in chunks: its first
		// read takes a whole chunk, not the header alone); otherwise at most a window's worth of reads
		// ahead and the record being read (one per requester, each of up to 5 requests in
		// chunks) more per guess gone wrong.
		exact  bool
		misses int
	}{
		{name: "IDs in sequence, whole records", ids: idRange(1, 40, 1), exact: true},
		{name: "IDs in sequence, chunks of 20", ids: idRange(1, 40, 1), setup: func(f *fakeRepository) { f.maxRead = 20 }, exact: true},
		{name: "configured chunk of 8", ids: idRange(1, 40, 1), opts: ReadOptions{ChunkSize: 8}, exact: true},
		{name: "IDs in steps of 2", ids: idRange(2, 80, 2), exact: true},
		{name: "irregular IDs", ids: irregular, misses: 3},
		{name: "a gap in the IDs", ids: gap, misses: 1},
		{name: "count too low", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) { n := uint16(5); f.countOverride = &n }, exact: true},
		{name: "count too high", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) { n := uint16(90); f.countOverride = &n }, misses: 1},
		{name: "count zero", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) { f.countOverride = new(uint16) }, exact: true},
		{name: "reservation canceled twice", ids: idRange(1, 40, 1), setup: func(f *fakeRepository) {
			f.maxRead = 16
			f.onGet = func(f *fakeRepository, call int) {
				if call == 30 || call == 90 {
					f.reservation++
				}
			}
		}, misses: 2},
		{name: "short replies", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) { f.truncateTo = 12 }, misses: 1},
		{name: "last record refused", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) {
			f.getCC = map[uint16]wire.CompletionCode{30: wire.CCTimeout}
		}, misses: 1},
		{name: "a record returned again under another ID", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) {
			f.extra = map[uint16][]byte{0x0100: sensorRecords(12)[0]}
			f.next = map[uint16]uint16{12: 0x0100, 0x0100: 13}
		}, misses: 2},
		{name: "device SDRs", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) { f.device = true },
			opts: ReadOptions{Device: true, ChunkSize: 20}, exact: true},
		{name: "no reservations", ids: idRange(1, 30, 1), setup: func(f *fakeRepository) { f.noReserve = true },
			opts: ReadOptions{ChunkSize: 16}, exact: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			walk := func(n int) (*Repository, int) {
				f := newFakeRepository(sensorRecords(c.ids...)...)
				if c.setup != nil {
					c.setup(f)
				}
				l := &lockedRepository{f: f}
				opts := c.opts
				if n > 1 {
					opts.Parallel = l.requesters(n)
				}
				repo, err := ReadRepository(context.Background(), l, opts)
				if err != nil {
					t.Fatalf("%d requesters: %v", n, err)
				}
				return repo, l.gets
			}
			want, wantGets := walk(1)
			for _, n := range []int{2, 4, 8} {
				got, gets := walk(n)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%d requesters: repository differs from the sequential walk's:\n got %d records %+v\nwant %d records %+v",
						n, len(got.Records), got, len(want.Records), want)
				}
				if slack := c.misses * n * 5; c.exact && gets > wantGets || gets > wantGets+slack {
					t.Errorf("%d requesters: %d Get SDR, sequential %d (exact %v, slack %d)", n, gets, wantGets, c.exact, slack)
				}
			}
		})
	}
}

// A record added while the pipelined walk runs makes it start over, and
// the result holds the new record.
func TestPipelinedWalkRepositoryChanges(t *testing.T) {
	all := sensorRecords(idRange(1, 31, 1)...)
	f := newFakeRepository(all[:30]...)
	f.onGet = func(f *fakeRepository, call int) {
		if call == 12 {
			f.addRecord(all[30])
		}
	}
	l := &lockedRepository{f: f}
	repo, err := ReadRepository(context.Background(), l, ReadOptions{Parallel: l.requesters(4)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(repo.Records, wantRecords(t, all)) || repo.Restarts != 1 {
		t.Fatalf("%d records, %d restarts", len(repo.Records), repo.Restarts)
	}
}

// holdUntil holds the first request for which first returns true until a
// request for which then returns true arrives, or fails the test after
// 5 s: the second can only come while the first is unanswered if the walk
// sent it without waiting.
func holdUntil(t *testing.T, first, then func(command.Request) bool) (hold func(command.Request), check func()) {
	var (
		mu      sync.Mutex
		held    bool
		arrived = make(chan struct{})
		closed  bool
		timeout bool
	)
	hold = func(req command.Request) {
		mu.Lock()
		if then(req) && !closed {
			closed = true
			close(arrived)
		}
		wait := !held && first(req)
		if wait {
			held = true
		}
		mu.Unlock()
		if !wait {
			return
		}
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			mu.Lock()
			timeout = true
			mu.Unlock()
		}
	}
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if !held || timeout {
			t.Fatalf("held %v, timed out %v: the second request never came while the first was in flight", held, timeout)
		}
	}
	return hold, check
}

func getSDR(req command.Request) (*command.GetSDRRequest, bool) {
	g, ok := req.(*command.GetSDRRequest)
	return g, ok
}

// Where IDs run in sequence, the next records are read while one is in
// flight.
func TestPipelinedWalkReadsAhead(t *testing.T) {
	f := newFakeRepository(sensorRecords(idRange(1, 30, 1)...)...)
	l := &lockedRepository{f: f}
	hold, check := holdUntil(t,
		func(req command.Request) bool { g, ok := getSDR(req); return ok && g.RecordID == 10 },
		func(req command.Request) bool { g, ok := getSDR(req); return ok && g.RecordID > 10 })
	l.hold = hold
	if _, err := ReadRepository(context.Background(), l, ReadOptions{Parallel: l.requesters(4)}); err != nil {
		t.Fatal(err)
	}
	check()
}

// A record read in chunks asks for the chunks after its first together.
func TestPipelinedWalkChunksTogether(t *testing.T) {
	// Irregular IDs: nothing is read ahead, so overlap comes from the
	// chunks alone.
	f := newFakeRepository(sensorRecords(5, 1, 9, 3, 7)...)
	f.maxRead = 16
	l := &lockedRepository{f: f}
	hold, check := holdUntil(t,
		func(req command.Request) bool {
			g, ok := getSDR(req)
			return ok && g.RecordID == 9 && g.Offset == 16
		},
		func(req command.Request) bool {
			g, ok := getSDR(req)
			return ok && g.RecordID == 9 && g.Offset > 16
		})
	l.hold = hold
	if _, err := ReadRepository(context.Background(), l, ReadOptions{Parallel: l.requesters(4)}); err != nil {
		t.Fatal(err)
	}
	check()
}

// A walk stopped by its context goes on from where it stopped when the
// repository did not change, and starts over when it did.
func TestWalkResumes(t *testing.T) {
	for _, change := range []bool{false, true} {
		for _, n := range []int{1, 4} {
			t.Run(fmt.Sprintf("changed=%v,requesters=%d", change, n), func(t *testing.T) {
				all := sensorRecords(idRange(1, 41, 1)...)
				want := all[:40]
				f := newFakeRepository(want...)
				f.maxRead = 20
				l := &lockedRepository{f: f}
				// Each "scrape" may send 25 Get SDR, then its context ends.
				var progress *Progress
				var repo *Repository
				scrapes := 0
				for repo == nil {
					scrapes++
					if scrapes > 20 {
						t.Fatal("the walk never completed")
					}
					ctx, cancel := context.WithCancel(context.Background())
					budget := l.gets + 25
					l.hold = func(req command.Request) {
						l.mu.Lock()
						over := l.gets >= budget
						l.mu.Unlock()
						if over {
							cancel()
						}
					}
					opts := ReadOptions{Resume: progress}
					if n > 1 {
						opts.Parallel = l.requesters(n)
					}
					r, err := ReadRepository(ctx, l, opts)
					cancel()
					var inc *IncompleteError
					switch {
					case err == nil:
						repo = r
					case errors.As(err, &inc) && errors.Is(err, context.Canceled):
						if inc.Progress.Records() < progress.Records() && !(change && scrapes == 2) {
							t.Fatalf("progress went back from %d to %d records", progress.Records(), inc.Progress.Records())
						}
						progress = inc.Progress
					default:
						t.Fatalf("scrape %d: %v", scrapes, err)
					}
					if change && scrapes == 1 {
						// Between the first and the second scrape.
						f.addRecord(all[40])
						want = all
					}
				}
				if !reflect.DeepEqual(repo.Records, wantRecords(t, want)) || repo.Duplicates != 0 {
					t.Fatalf("%d records, %d duplicates after %d scrapes", len(repo.Records), repo.Duplicates, scrapes)
				}
				// 40 records at 4 Get SDR each (header, 3 chunks of 20 less
				// the refused whole read) cannot fit in one scrape.
				if scrapes < 3 {
					t.Errorf("completed after %d scrapes", scrapes)
				}
			})
		}
	}
}

// eventRecords makes one short (event-only) record per ID.
func eventRecords(ids ...uint16) [][]byte {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		r := *eventOnly
		r.RecordID = id
		r.Number = uint8(i)
		out[i] = r.AppendTo(nil)
	}
	return out
}

// A BMC that refuses reads past a record's end (ipmi_sim): where most
// records are shorter than a chunk, the walk stops starting records with
// a whole chunk; where most are longer, it keeps doing so. Either way it
// sends no more Get SDR than the sequential walk plus a few refusals.
func TestPipelinedWalkFirstChunkAdapts(t *testing.T) {
	for _, c := range []struct {
		name    string
		records [][]byte
	}{
		// The first, long record teaches the walk to read in chunks.
		{"mostly short records", append(append(sensorRecords(1), eventRecords(idRange(2, 36, 1)...)...), sensorRecords(40, 41, 42, 43)...)},
		{"mostly long records", append(sensorRecords(idRange(1, 36, 1)...), eventRecords(40, 41, 42, 43)...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			walk := func(n int) (*Repository, int) {
				f := newFakeRepository(c.records...)
				f.maxRead = 32
				l := &lockedRepository{f: f, refuseOverread: true}
				opts := ReadOptions{}
				if n > 1 {
					opts.Parallel = l.requesters(n)
				}
				repo, err := ReadRepository(context.Background(), l, opts)
				if err != nil {
					t.Fatal(err)
				}
				return repo, l.gets
			}
			want, seq := walk(1)
			got, par := walk(4)
			if !reflect.DeepEqual(got, want) {
				t.Fatal("pipelined walk differs from the sequential one")
			}
			if par > seq+4 {
				t.Errorf("pipelined walk sent %d Get SDR, sequential %d", par, seq)
			}
			t.Logf("Get SDR: sequential %d, pipelined %d", seq, par)
		})
	}
}

// FuzzPipelinedWalk: on any repository bytes, record IDs, next-ID chain
// and BMC limits, the pipelined walk returns what the sequential walk
// returns (the same repository, or both an error), and a few more Get SDR
// at most per wrong guess.
func FuzzPipelinedWalk(f *testing.F) {
	var all []byte
	for _, r := range sensorRecords(idRange(1, 12, 1)...) {
		all = append(all, r...)
	}
	for _, r := range testRecords() {
		all = append(all, r...)
	}
	f.Add(all, uint8(0), uint8(0), uint8(0), uint8(0), uint8(4))
	f.Add(all, uint8(20), uint8(0), uint8(16), uint8(3), uint8(8))
	f.Add(all, uint8(32), uint8(12), uint8(0), uint8(7), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, maxRead, truncate, chunk, jump, n uint8) {
		var recs [][]byte
		for len(data) >= HeaderLen && len(recs) < 40 {
			l, _ := RecordLen(data)
			l = min(l, len(data))
			recs = append(recs, data[:l])
			data = data[l:]
		}
		walk := func(requesters int) (*Repository, error, int) {
			fake := newFakeRepository(recs...)
			fake.maxRead = int(maxRead)
			fake.truncateTo = int(truncate)
			if jump > 0 && len(recs) > 2 {
				// One record's next ID leaves the sequence.
				from := le16(recs[int(jump)%len(recs)])
				fake.next = map[uint16]uint16{from: le16(recs[len(recs)-1])}
			}
			l := &lockedRepository{f: fake}
			opts := ReadOptions{ChunkSize: chunk, MaxRecords: 60}
			if requesters > 1 {
				opts.Parallel = l.requesters(requesters)
			}
			repo, err := ReadRepository(context.Background(), l, opts)
			return repo, err, l.gets
		}
		want, wantErr, wantGets := walk(1)
		k := 2 + int(n)%7
		got, gotErr, gets := walk(k)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%d requesters: error %v, sequential %v", k, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%d requesters: repository differs from the sequential walk's", k)
		}
		// Wrong guesses: the chain's jump, its end, duplicates; each
		// costs at most a window of reads of a few requests each.
		if gets > wantGets+(len(recs)+2)*k*5 {
			t.Fatalf("%d requesters: %d Get SDR, sequential %d", k, gets, wantGets)
		}
	})
}
