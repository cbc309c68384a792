package sdr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// A cold scrape is the SDR walk: on a BMC a few milliseconds away its time
// is its round trips, one or more per record, each waiting for the one
// before. This file lets the walk keep several requests in flight on one
// session (ReadOptions.Parallel) without asking the BMC anything the
// sequential walk would not, apart from a bounded number of reads ahead:
//
//   - Where the record IDs run in steps (1, 2, 3, ... or any constant
//     step, seen twice in a row), the records after the one being read
//     are read ahead, at most one per extra requester and never more than
//     the record count the BMC reports. A read ahead is used only when the
//     chain of next record IDs, followed record by record as in the
//     sequential walk, arrives at its ID: a wrong guess costs a request,
//     never a wrong repository.
//   - A record read in chunks asks for its first chunk (header and the
//     start of the body) and then for all the other chunks at once, under
//     the walk's reservation.
//   - Anything but a clean read (a completion code, a short reply, a lost
//     reservation) drops every read ahead and reads the record the careful
//     way (walker.readRecord), which knows the BMC quirks; the walk goes on
//     pipelined from there.
//
// The requests of the walk queue on the session, whose window decides how
// many are really in flight: with a window of 1 the walk is as slow as the
// sequential one, never wrong.

// errCareful says a pipelined read met something only the careful read
// handles; it never leaves the package.
var errCareful = errors.New("sdr: record needs the careful read")

// Progress is how far a walk got: the records read, and where the chain
// goes on. ReadRepository returns it in an IncompleteError when its
// context ends first, and takes it back in ReadOptions.Resume. It is not
// safe for concurrent use; a caller keeps it with the BMC's other state.
type Progress struct {
	repo      *Repository
	requested map[uint16]bool
	seen      map[uint16]bool
	next      uint16 // the record ID to read next
	chunk     uint8  // the chunk size the BMC accepted, 0 = not learnt
	done      bool   // the chain ended; only the final check is left
}

func newProgress(info command.GetSDRRepositoryInfoResponse, device bool) *Progress {
	return &Progress{
		repo:      &Repository{Device: device, Info: info},
		requested: make(map[uint16]bool),
		seen:      make(map[uint16]bool),
		next:      command.FirstRecordID,
	}
}

// Records is how many records were read so far.
func (p *Progress) Records() int {
	if p == nil {
		return 0
	}
	return len(p.repo.Records)
}

// IncompleteError is a walk stopped by its context (the scrape's
// deadline) before the end: Progress, passed as ReadOptions.Resume to the
// next ReadRepository on the same BMC, goes on from there, so that a BMC
// whose walk takes longer than one scrape gets its sensors after a few.
type IncompleteError struct {
	Progress *Progress
	Err      error
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("sdr: walk stopped after %d records: %v", e.Progress.Records(), e.Err)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// incomplete wraps err in an IncompleteError carrying p when the walk
// stopped because ctx ended, or a request gave up on reaching its
// deadline (the session may stop a request shortly before the context
// ends, when no answer could come in time); other errors are returned as
// they are.
func incomplete(ctx context.Context, p *Progress, err error) error {
	if p == nil || ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	return &IncompleteError{Progress: p, Err: err}
}

// pipeline shares several requesters on one session among the walk's
// requests. It is a Requester itself: each Do takes a free requester for
// the time of one exchange.
type pipeline struct {
	free  chan Requester
	depth int // reads ahead at most: one per requester beyond the first
	wg    sync.WaitGroup
	// Records whose first read of a whole chunk saved a round trip, and
	// first reads the BMC refused (see fetch).
	firstWins, firstLosses atomic.Int32

	// Owned by the walk's goroutine.
	ahead  []*readAhead // in the order of the guessed chain
	stride uint16       // the last step between record IDs, 0 = none
	streak int          // how many times in a row the step repeated
	// reservationLosses counts fast reads the BMC refused for a
	// canceled reservation (see chunksTogether).
	reservationLosses int
}

// maxReservationLosses is how many canceled reservations the pipelined
// reads in chunks may meet before the walk reads in chunks one request at
// a time: a BMC that cancels reservations often (another client
// reserving, or its own quirk) would cancel every chunk in flight each
// time, costing more requests than the pipeline saves. Whole-record reads
// and first reads of a record need no reservation and go on pipelined.
const maxReservationLosses = 2

// chunksTogether reports whether reads in chunks (which hold the walk's
// reservation) may still be pipelined.
func (p *pipeline) chunksTogether() bool { return p.reservationLosses < maxReservationLosses }

// readAhead is one record read before the chain reached it.
type readAhead struct {
	id   uint16
	done chan struct{}
	// Set before done closes.
	raw  []byte
	next uint16
	err  error
}

func newPipeline(rs []Requester) *pipeline {
	p := &pipeline{free: make(chan Requester, len(rs)), depth: len(rs) - 1}
	for _, r := range rs {
		p.free <- r
	}
	return p
}

// Do sends one request on the first requester free.
func (p *pipeline) Do(ctx context.Context, req command.Request, resp command.Response) error {
	select {
	case r := <-p.free:
		defer func() { p.free <- r }()
		return r.Do(ctx, req, resp)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wholeChunkFirst reports whether a record read in chunks starts with a
// whole chunk rather than the header alone: while that saved at least as
// many round trips as the BMC's refusals of it cost.
func (p *pipeline) wholeChunkFirst() bool {
	return p.firstWins.Load() >= p.firstLosses.Load()
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// wait returns once every read ahead has finished.
func (p *pipeline) wait() { p.wg.Wait() }

// fetchParams are the walker's settings a read ahead started with.
type fetchParams struct {
	device      bool
	chunk       uint8
	reservation uint16
}

func (w *walker) params() fetchParams {
	return fetchParams{device: w.opts.Device, chunk: w.chunk, reservation: w.reservation}
}

// get sends one Get SDR (or Get Device SDR) with a response of its own,
// so that several can be in flight.
func (p *pipeline) get(ctx context.Context, fp fetchParams, id uint16, offset, length uint8) (uint16, []byte, error) {
	if fp.device {
		var resp command.GetDeviceSDRResponse
		req := command.GetDeviceSDRRequest{ReservationID: fp.reservation, RecordID: id, Offset: offset, Length: length}
		err := p.Do(ctx, &req, &resp)
		return resp.NextRecordID, resp.Data, err
	}
	var resp command.GetSDRResponse
	req := command.GetSDRRequest{ReservationID: fp.reservation, RecordID: id, Offset: offset, Length: length}
	err := p.Do(ctx, &req, &resp)
	return resp.NextRecordID, resp.Data, err
}

// fetch reads record id the fast way: whole in one request, or its first
// chunk and then every other chunk at once. Whatever it cannot take as it
// comes is errCareful or the request's error; the caller then reads the
// record the careful way.
func (p *pipeline) fetch(ctx context.Context, fp fetchParams, id uint16) ([]byte, uint16, error) {
	if fp.chunk == command.ReadWholeRecord {
		next, data, err := p.get(ctx, fp, id, 0, command.ReadWholeRecord)
		if err != nil {
			return nil, 0, err
		}
		if len(data) < HeaderLen || len(data) < HeaderLen+int(data[4]) {
			return nil, 0, errCareful
		}
		return append([]byte(nil), data[:HeaderLen+int(data[4])]...), next, nil
	}
	// The first read takes a whole chunk, header and the start of the
	// body: a record of one chunk and a bit costs two round trips, not
	// three. Some BMCs (ipmi_sim) refuse a read past a record's end, so a
	// record shorter than a chunk then costs one more; the walk keeps
	// doing it while it saves more round trips than it loses, and reads
	// the header alone otherwise. A BMC that refuses a read or returns
	// less than asked goes the careful way.
	chunk := max(int(fp.chunk), HeaderLen)
	firstLen := HeaderLen
	if p.wholeChunkFirst() {
		firstLen = chunk
	}
	next, first, err := p.get(ctx, fp, id, 0, uint8(firstLen))
	if err != nil {
		if firstLen > HeaderLen && shrinkable(err) {
			p.firstLosses.Add(1)
		}
		return nil, 0, err
	}
	if len(first) < HeaderLen {
		return nil, 0, errCareful
	}
	total := HeaderLen + int(first[4])
	if total > 0x100 || len(first) < min(firstLen, total) {
		// A chunk might start beyond what the one-byte offset can say,
		// or the BMC returns less than asked.
		return nil, 0, errCareful
	}
	if firstLen > HeaderLen && 1+ceilDiv(total-HeaderLen, chunk) > ceilDiv(total, chunk) {
		p.firstWins.Add(1)
	}
	raw := make([]byte, total)
	have := copy(raw, first[:min(len(first), total)])
	recID := le16(raw)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	for off := have; off < total; off += chunk {
		n := min(chunk, total-off)
		wg.Go(func() {
			_, data, err := p.get(ctx, fp, recID, uint8(off), uint8(n))
			if err == nil && len(data) < n {
				err = errCareful
			}
			if err == nil {
				copy(raw[off:off+n], data)
				return
			}
			mu.Lock()
			if ferr == nil {
				ferr = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if ferr != nil {
		return nil, 0, ferr
	}
	return raw, next, nil
}

// nextRecord reads record id, the chain's next: from its read ahead when
// one was started, and the careful way when that read failed or met
// anything unusual. Without a pipeline it is readRecord.
func (w *walker) nextRecord(ctx context.Context, id uint16, have int) ([]byte, uint16, error) {
	p := w.pipe
	if p == nil {
		return w.readRecord(ctx, id)
	}
	var ra *readAhead
	if len(p.ahead) > 0 {
		if p.ahead[0].id == id {
			ra, p.ahead = p.ahead[0], p.ahead[1:]
		} else {
			// The chain went elsewhere: the guesses are wrong.
			p.ahead, p.streak = nil, 0
		}
	}
	w.readAhead(ctx, id, have)
	var (
		raw  []byte
		next uint16
		err  error
		fast = true
	)
	switch {
	case ra != nil:
		select {
		case <-ra.done:
			raw, next, err = ra.raw, ra.next, ra.err
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("sdr: get SDR 0x%04x: %w", id, ctx.Err())
		}
	case w.chunk != command.ReadWholeRecord && w.reserved && p.chunksTogether():
		// Read in chunks: ask for all of the body's at once.
		raw, next, err = p.fetch(ctx, w.params(), id)
	default:
		fast = false
	}
	if fast && err != nil {
		// The reads ahead started with the same settings would most
		// likely meet the same; the careful read may change them.
		p.ahead = nil
		if wire.IsCompletionCode(err, wire.CCReservationCanceled) {
			p.reservationLosses++
		}
	}
	if !fast || err != nil {
		if raw, next, err = w.readRecord(ctx, id); err != nil {
			return nil, 0, err
		}
	}
	p.learn(id, raw, next)
	return raw, next, nil
}

// learn notes the step from record id (the record raw) to the next ID.
func (p *pipeline) learn(id uint16, raw []byte, next uint16) {
	cur := id
	if id == command.FirstRecordID && len(raw) >= 2 {
		cur = le16(raw) // 0000h asks for the first record, whatever its ID
	}
	if next == command.LastRecordID || next <= cur {
		p.stride, p.streak = 0, 0
		return
	}
	if step := next - cur; step == p.stride {
		p.streak++
	} else {
		p.stride, p.streak = step, 0
	}
}

// readAhead starts reads of the records guessed to follow id, up to the
// pipeline's depth, once the step between IDs repeated, and never past
// the record count the BMC reports (have records are read, id is being
// read): at the end of the chain a guess would only ask for records that
// do not exist. A count that is too low (some BMCs') only slows the walk.
func (w *walker) readAhead(ctx context.Context, id uint16, have int) {
	p := w.pipe
	if p.streak < 1 || (w.chunk != command.ReadWholeRecord && (!w.reserved || !p.chunksTogether())) {
		return
	}
	last := id
	if len(p.ahead) > 0 {
		last = p.ahead[len(p.ahead)-1].id
	}
	for len(p.ahead) < p.depth && have+1+len(p.ahead) < int(w.info.RecordCount) {
		nid := last + p.stride
		if nid <= last || nid == command.LastRecordID {
			return
		}
		ra := &readAhead{id: nid, done: make(chan struct{})}
		fp := w.params()
		p.wg.Go(func() {
			defer close(ra.done)
			ra.raw, ra.next, ra.err = p.fetch(ctx, fp, nid)
		})
		p.ahead = append(p.ahead, ra)
		last = nid
	}
}
