package sdr

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Requester sends one command and decodes its response; a completion code
// other than 00h comes back as a *wire.CompletionCodeError.
// *ipmi.Client satisfies it.
type Requester interface {
	Do(ctx context.Context, req command.Request, resp command.Response) error
}

// ReadOptions tune ReadRepository. The zero value is a good default.
type ReadOptions struct {
	// Device walks the device SDRs of the addressed controller (Get
	// Device SDR Info / Get Device SDR, sensor/event netFn) instead of the
	// SDR repository, for controllers that have none.
	Device bool
	// ChunkSize is the first "bytes to read" of Get SDR: 0 or FFh reads
	// whole records; smaller values read the header and then the body in
	// chunks of this size.
	ChunkSize uint8
	// MinChunkSize is the smallest chunk tried when the BMC refuses
	// larger ones (0 → 4).
	MinChunkSize uint8
	// MaxRecords bounds the walk (0 → 4096).
	MaxRecords int
	// MaxRestarts bounds how often the walk starts over because the
	// repository changed under it (0 → 3, negative → never).
	MaxRestarts int
	// MaxReservationLosses bounds how often one record's read may lose
	// its reservation, e.g. to another client reserving (0 → 5).
	MaxReservationLosses int
	// Cached is a repository read earlier from the same BMC. When the
	// repository's count and timestamps still match it, ReadRepository
	// returns Cached after one Get SDR Repository Info.
	Cached *Repository
	// Parallel, when it holds more than one Requester, are requesters on
	// the same session that the walk uses together: while one record is
	// read, the next ones are read ahead where the BMC's record IDs run
	// in steps, and a record read in chunks asks for all its chunks at
	// once (see pipeline.go). The argument r is then not used. Every
	// record is still taken from the chain of next record IDs, so the
	// result is the sequential walk's.
	Parallel []Requester
	// Resume is a walk an earlier call left unfinished (IncompleteError):
	// when the repository's count and timestamps still match the ones it
	// started from, the walk goes on from where it stopped.
	Resume *Progress
}

const (
	defaultMinChunk          = 4
	defaultMaxRecords        = 4096
	defaultMaxRestarts       = 3
	defaultReservationLosses = 5
	// fallbackChunk is the first chunk size after the BMC refused to
	// return whole records.
	fallbackChunk = 32
)

func (o ReadOptions) normalized() ReadOptions {
	if o.ChunkSize == 0 {
		o.ChunkSize = command.ReadWholeRecord
	}
	if o.MinChunkSize == 0 {
		o.MinChunkSize = defaultMinChunk
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = defaultMaxRecords
	}
	if o.MaxRestarts == 0 {
		o.MaxRestarts = defaultMaxRestarts
	} else if o.MaxRestarts < 0 {
		o.MaxRestarts = 0
	}
	if o.MaxReservationLosses <= 0 {
		o.MaxReservationLosses = defaultReservationLosses
	}
	return o
}

// Repository is the result of a walk: the records, and the repository
// info they correspond to, so that the exporter can cache the repository
// and re-walk only when the count or a timestamp changes.
type Repository struct {
	Device bool
	// Info is Get SDR Repository Info as read before the walk. For device
	// SDRs, RecordCount is the SDR count and LastAddition the sensor
	// population change indicator.
	Info    command.GetSDRRepositoryInfoResponse
	Records []Record
	// Errors lists records that did not decode; they are in Records as
	// *UnknownRecord.
	Errors []RecordError
	// Truncated says why the walk stopped before the last record (a
	// record ID loop, too many records); "" when it is complete.
	Truncated string
	// Restarts counts walks started over because the repository changed.
	Restarts int
	// Duplicates counts records the BMC returned again under another
	// record ID; they are left out of Records.
	Duplicates int
}

// RecordError is a record that failed to decode.
type RecordError struct {
	RecordID uint16
	Err      error
}

// Matches reports whether info describes the same repository contents as
// r: same record count and same addition and erase timestamps.
func (r *Repository) Matches(info command.GetSDRRepositoryInfoResponse) bool {
	return r != nil && sameRepository(r.Info, info)
}

func sameRepository(a, b command.GetSDRRepositoryInfoResponse) bool {
	return a.RecordCount == b.RecordCount && a.LastAddition == b.LastAddition && a.LastErase == b.LastErase
}

// Sensors returns the readable sensors of the repository (Full and Compact
// records, shared records expanded).
func (r *Repository) Sensors() []SensorInfo {
	var out []SensorInfo
	for _, rec := range r.Records {
		out = AppendSensorInfos(out, rec)
	}
	return out
}

// ErrRepositoryChanged is returned when the repository kept changing
// during every allowed walk.
var ErrRepositoryChanged = errors.New("sdr: repository changed during the walk")

// ErrReservationLost is returned when a record's read lost its reservation
// more often than allowed.
var ErrReservationLost = errors.New("sdr: reservation repeatedly canceled")

// errChangedUnderUs makes the walk start over.
var errChangedUnderUs = errors.New("sdr: repository changed")

// ReadRepository walks the SDR repository (or the device SDRs): Get SDR
// Repository Info, then Get SDR from record 0000h following the next
// record IDs until FFFFh. Records are read whole when the BMC allows it,
// otherwise header first and the body in chunks that shrink when the BMC
// answers 0xCA or 0xFF or returns fewer bytes than asked. Partial reads
// hold a reservation, renewed when the BMC cancels it (0xC5); when the
// repository's timestamps change under the walk, it starts over (bounded).
// A record ID loop or too many records end the walk early with Truncated
// set rather than failing it.
func ReadRepository(ctx context.Context, r Requester, opts ReadOptions) (*Repository, error) {
	opts = opts.normalized()
	w := &walker{r: r, opts: opts, chunk: opts.ChunkSize}
	if len(opts.Parallel) > 1 {
		w.pipe = newPipeline(opts.Parallel)
		w.r = w.pipe
		// Reads ahead that the walk did not need finish before it returns
		// (each within one request's time): nothing outlives the call.
		defer w.pipe.wait()
	}
	resume := opts.Resume
	for restarts := 0; ; restarts++ {
		info, err := w.readInfo(ctx)
		if err != nil {
			return nil, incomplete(ctx, resume, err)
		}
		if w.opts.Cached != nil && w.opts.Cached.Device == w.opts.Device && w.opts.Cached.Matches(info) {
			return w.opts.Cached, nil
		}
		p := resume
		if p == nil || p.repo.Device != w.opts.Device || !sameRepository(p.repo.Info, info) {
			// Nothing to go on from, or the repository changed since.
			p = newProgress(info, w.opts.Device)
		} else if p.chunk != 0 {
			w.chunk = p.chunk
		}
		resume = p
		w.info = info
		repo, err := w.walkFrom(ctx, p)
		if err == nil {
			// Confirm nothing was added or erased while we walked.
			var after command.GetSDRRepositoryInfoResponse
			if after, err = w.readInfo(ctx); err != nil {
				return nil, incomplete(ctx, p, err)
			}
			if sameRepository(after, info) {
				repo.Restarts = restarts
				return repo, nil
			}
			err = errChangedUnderUs
		}
		if !errors.Is(err, errChangedUnderUs) {
			return nil, incomplete(ctx, p, err)
		}
		resume = nil
		if restarts >= w.opts.MaxRestarts {
			return nil, fmt.Errorf("%w (%d restarts)", ErrRepositoryChanged, restarts)
		}
	}
}

// walker holds the state of one ReadRepository call.
type walker struct {
	r    Requester
	opts ReadOptions
	info command.GetSDRRepositoryInfoResponse
	// chunk is the current "bytes to read": FFh = whole records.
	chunk uint8
	// reservation is the current reservation ID; reserved says whether
	// one was obtained (reads at offset 0 need none).
	reservation uint16
	reserved    bool
	// Reused response values.
	sdrResp    command.GetSDRResponse
	devSDRResp command.GetDeviceSDRResponse
	// pipe, when not nil, spreads the walk over several requesters.
	pipe *pipeline
}

func (w *walker) readInfo(ctx context.Context) (command.GetSDRRepositoryInfoResponse, error) {
	if !w.opts.Device {
		var info command.GetSDRRepositoryInfoResponse
		if err := w.r.Do(ctx, command.GetSDRRepositoryInfoRequest{}, &info); err != nil {
			return info, fmt.Errorf("sdr: get SDR repository info: %w", err)
		}
		return info, nil
	}
	var dev command.GetDeviceSDRInfoResponse
	err := w.r.Do(ctx, &command.GetDeviceSDRInfoRequest{CountSDRs: true}, &dev)
	if wire.IsCompletionCode(err, wire.CCInvalidDataField) || wire.IsCompletionCode(err, wire.CCRequestDataLengthInvalid) {
		// IPMI 1.0 controllers know only the sensor count form.
		err = w.r.Do(ctx, &command.GetDeviceSDRInfoRequest{}, &dev)
	}
	if err != nil {
		return command.GetSDRRepositoryInfoResponse{}, fmt.Errorf("sdr: get device SDR info: %w", err)
	}
	return command.GetSDRRepositoryInfoResponse{
		Version:      command.SDRVersion,
		RecordCount:  uint16(dev.Count),
		LastAddition: dev.ChangeIndicator,
		Support:      0x02, // reserve supported; the walk copes if not
	}, nil
}

func (w *walker) reserve(ctx context.Context) error {
	var resp command.ReservationResponse
	var err error
	if w.opts.Device {
		err = w.r.Do(ctx, command.ReserveDeviceSDRRepositoryRequest{}, &resp)
	} else {
		err = w.r.Do(ctx, command.ReserveSDRRepositoryRequest{}, &resp)
	}
	if wire.IsCompletionCode(err, wire.CCInvalidCommand) {
		// No reservations on this BMC: partial reads go with ID 0000h.
		w.reservation, w.reserved = 0, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("sdr: reserve SDR repository: %w", err)
	}
	w.reservation, w.reserved = resp.ReservationID, true
	return nil
}

// get sends Get SDR (or Get Device SDR) and returns the next record ID and
// the data, valid until the next call.
func (w *walker) get(ctx context.Context, id uint16, offset, length uint8) (uint16, []byte, error) {
	if w.opts.Device {
		req := command.GetDeviceSDRRequest{ReservationID: w.reservation, RecordID: id, Offset: offset, Length: length}
		if err := w.r.Do(ctx, &req, &w.devSDRResp); err != nil {
			return 0, nil, err
		}
		return w.devSDRResp.NextRecordID, w.devSDRResp.Data, nil
	}
	req := command.GetSDRRequest{ReservationID: w.reservation, RecordID: id, Offset: offset, Length: length}
	if err := w.r.Do(ctx, &req, &w.sdrResp); err != nil {
		return 0, nil, err
	}
	return w.sdrResp.NextRecordID, w.sdrResp.Data, nil
}

// walk reads the repository from its first record.
func (w *walker) walk(ctx context.Context) (*Repository, error) {
	return w.walkFrom(ctx, newProgress(w.info, w.opts.Device))
}

// walkFrom follows the record chain from where p stopped (the first
// record of a new Progress) and keeps p up to date, so a walk cut short
// can be taken up again.
func (w *walker) walkFrom(ctx context.Context, p *Progress) (repo *Repository, err error) {
	if p.done {
		return p.repo, nil
	}
	defer func() {
		p.chunk = w.chunk
		if err == nil {
			p.done = true
		}
	}()
	repo, requested, seen := p.repo, p.requested, p.seen
	// The record count is not trusted: some BMCs report fewer records
	// than they hold, even none (FreeIPMI's assumemaxsdrrecordcount), so
	// the walk follows the next record IDs to FFFFh. A count of 0 costs
	// one Get SDR to confirm.
	id := p.next
	for {
		p.next = id
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(repo.Records) >= w.opts.MaxRecords || len(requested) >= 2*w.opts.MaxRecords {
			repo.Truncated = fmt.Sprintf("more than %d records", w.opts.MaxRecords)
			return repo, nil
		}
		requested[id] = true
		raw, next, err := w.nextRecord(ctx, id, len(repo.Records))
		if id == command.FirstRecordID && err != nil {
			var cc *wire.CompletionCodeError
			if wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent) || (w.info.RecordCount == 0 && errors.As(err, &cc)) {
				// The count said otherwise, or said none and the BMC
				// agrees in its own words: there is no first record.
				return repo, nil
			}
		}
		if err != nil {
			if len(repo.Records) > 0 && isRecordRefusal(err) {
				// A BMC that refuses one record (0xC3 on the last one
				// is seen in the field) keeps the ones read so far.
				repo.Truncated = fmt.Sprintf("record 0x%04x unreadable: %v", id, err)
				return repo, nil
			}
			return nil, err
		}
		recID := le16(raw)
		if seen[recID] {
			// The same record again under another ID (H3C): skip it, the
			// chain goes on. A chain that comes back to an ID it already
			// asked for is a loop, caught below.
			repo.Duplicates++
		} else {
			seen[recID] = true
			rec, perr := ParseRecord(raw)
			if perr != nil {
				rec = parseUnknown(raw)
				repo.Errors = append(repo.Errors, RecordError{RecordID: recID, Err: perr})
			}
			repo.Records = append(repo.Records, rec)
		}
		if next == command.LastRecordID {
			return repo, nil
		}
		if requested[next] || seen[next] || next == command.FirstRecordID {
			repo.Truncated = fmt.Sprintf("record ID loop: 0x%04x points back to 0x%04x", recID, next)
			return repo, nil
		}
		id = next
	}
}

// readRecord reads record id whole, renewing the reservation when the BMC
// cancels it. It returns a fresh copy of the record.
func (w *walker) readRecord(ctx context.Context, id uint16) ([]byte, uint16, error) {
	for losses := 0; ; losses++ {
		raw, next, err := w.tryReadRecord(ctx, id)
		if err == nil {
			return raw, next, nil
		}
		switch {
		case wire.IsCompletionCode(err, wire.CCReservationCanceled):
			if losses >= w.opts.MaxReservationLosses {
				return nil, 0, fmt.Errorf("%w: record 0x%04x: %v", ErrReservationLost, id, err)
			}
			if err := w.reserve(ctx); err != nil {
				return nil, 0, err
			}
			// A canceled reservation often means the repository changed.
			if changed, err := w.changed(ctx); err != nil || changed {
				if err == nil {
					err = errChangedUnderUs
				}
				return nil, 0, err
			}
		case wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent) && id != command.FirstRecordID:
			// The record the previous one pointed to is gone.
			if changed, cerr := w.changed(ctx); cerr != nil || changed {
				if cerr == nil {
					cerr = errChangedUnderUs
				}
				return nil, 0, cerr
			}
			return nil, 0, fmt.Errorf("sdr: get SDR 0x%04x: %w", id, err)
		default:
			return nil, 0, fmt.Errorf("sdr: get SDR 0x%04x: %w", id, err)
		}
	}
}

// isRecordRefusal reports whether err is the BMC refusing one record with
// a completion code, as opposed to a lost session, a deadline or a
// repository that changed (which fail or restart the walk).
func isRecordRefusal(err error) bool {
	var cc *wire.CompletionCodeError
	return errors.As(err, &cc) && !errors.Is(err, errChangedUnderUs) && !errors.Is(err, ErrReservationLost)
}

// changed re-reads the repository info and compares it with the walk's.
func (w *walker) changed(ctx context.Context) (bool, error) {
	info, err := w.readInfo(ctx)
	if err != nil {
		return false, err
	}
	return !sameRepository(info, w.info), nil
}

// shrinkable reports completion codes that mean "ask for fewer bytes".
func shrinkable(err error) bool {
	return wire.IsCompletionCode(err, wire.CCCannotReturnRequestedBytes) || wire.IsCompletionCode(err, wire.CCUnspecified)
}

// shrink halves the chunk size; false when it is already at the minimum.
func (w *walker) shrink() bool {
	if w.chunk <= w.opts.MinChunkSize {
		return false
	}
	w.chunk = max(w.chunk/2, w.opts.MinChunkSize)
	return true
}

func (w *walker) tryReadRecord(ctx context.Context, id uint16) ([]byte, uint16, error) {
	if w.chunk == command.ReadWholeRecord {
		next, data, err := w.get(ctx, id, 0, command.ReadWholeRecord)
		switch {
		case err == nil && len(data) >= HeaderLen && len(data) >= HeaderLen+int(data[4]):
			return append([]byte(nil), data[:HeaderLen+int(data[4])]...), next, nil
		case err == nil || shrinkable(err):
			// Refused, or the BMC cut the record short (its buffer is
			// smaller than the record): read in chunks from now on.
			w.chunk = max(fallbackChunk, w.opts.MinChunkSize)
		default:
			return nil, 0, err
		}
	}

	next, data, err := w.get(ctx, id, 0, HeaderLen)
	if err != nil {
		return nil, 0, err
	}
	if len(data) < HeaderLen {
		return nil, 0, fmt.Errorf("sdr: record 0x%04x header: %d bytes, need %d: %w", id, len(data), HeaderLen, wire.ErrShort)
	}
	total := HeaderLen + int(data[4])
	raw := make([]byte, 0, total)
	raw = append(raw, data[:HeaderLen]...)
	// Partial reads at a non-zero offset need a reservation. Read the body
	// under the record's real ID (the request may have used 0000h).
	recID := le16(raw)
	if !w.reserved && total > HeaderLen {
		if err := w.reserve(ctx); err != nil {
			return nil, 0, err
		}
	}
	for len(raw) < total {
		want := min(int(w.chunk), total-len(raw))
		_, data, err := w.get(ctx, recID, uint8(len(raw)), uint8(want))
		switch {
		case shrinkable(err) || (err == nil && len(data) == 0):
			if !w.shrink() {
				if err == nil {
					err = fmt.Errorf("empty reply at offset %d: %w", len(raw), wire.ErrShort)
				}
				return nil, 0, fmt.Errorf("sdr: record 0x%04x: smallest chunk refused: %w", id, err)
			}
			continue
		case err != nil:
			return nil, 0, err
		}
		if len(data) > want {
			data = data[:want]
		} else if len(data) < want {
			// The BMC returns at most this many bytes: ask for no more.
			w.chunk = max(uint8(len(data)), 1)
		}
		raw = append(raw, data...)
	}
	return raw, next, nil
}
