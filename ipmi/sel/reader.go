package sel

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Cursor remembers where an incremental read stopped. The zero Cursor
// means "nothing read yet": the next read starts at the first entry. It is
// a plain value; the exporter keeps one per BMC.
type Cursor struct {
	// LastID is the record ID of the last entry returned (0 = none).
	LastID uint16
	// LastAddition and LastErase are the SEL timestamps seen at that read.
	LastAddition command.Timestamp
	LastErase    command.Timestamp
	// CaughtUp is set when the read reached the end of the SEL, so that a
	// later read with an unchanged addition timestamp can stop after Get
	// SEL Info.
	CaughtUp bool
	// Valid is set once a read succeeded.
	Valid bool
}

// ReadOptions tune ReadSince. The zero value is a good default.
type ReadOptions struct {
	// MaxEntries bounds the entries one call returns (0 → 1024); the rest
	// come with the next call (Result.More).
	MaxEntries int
	// MaxReservationLosses bounds how often one entry's read may lose its
	// reservation (0 → 5).
	MaxReservationLosses int
	// SkipExisting makes a read with a zero cursor return nothing and
	// point the cursor at the newest entry (read as record ID FFFFh), so
	// that only entries added afterwards are reported.
	SkipExisting bool
}

const (
	defaultMaxEntries        = 1024
	defaultReservationLosses = 5
)

// Result is what one ReadSince call found.
type Result struct {
	// Entries added since the cursor, oldest first.
	Entries []Entry
	// Cursor to pass to the next call.
	Cursor Cursor
	// Info is Get SEL Info as read at the start of the call.
	Info command.GetSELInfoResponse
	// Reset is set when the reader started over from the first entry
	// although the cursor pointed further: the SEL was cleared (its erase
	// timestamp changed, or the remembered entry is gone).
	Reset bool
	// More is set when MaxEntries stopped the read before the end.
	More bool
	// Truncated says why the read stopped early on a malformed SEL (a
	// record ID loop); "" normally.
	Truncated string
}

// ErrReservationLost is returned when an entry's read lost its
// reservation more often than allowed.
var ErrReservationLost = errors.New("sel: reservation repeatedly canceled")

// ReadSince returns the SEL entries added after the cursor. It costs one
// Get SEL Info when nothing changed. With a zero cursor it reads from the
// first entry (record ID 0000h); otherwise it re-reads the remembered entry
// to learn its successor and reads from there until the next record ID is
// FFFFh. A changed erase timestamp, or a remembered entry that is gone,
// means the SEL was cleared: the read starts over from the first entry and
// Result.Reset is set.
func ReadSince(ctx context.Context, r sdr.Requester, since Cursor, opts ReadOptions) (*Result, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = defaultMaxEntries
	}
	if opts.MaxReservationLosses <= 0 {
		opts.MaxReservationLosses = defaultReservationLosses
	}
	rd := &reader{r: r, opts: opts}
	var info command.GetSELInfoResponse
	if err := r.Do(ctx, command.GetSELInfoRequest{}, &info); err != nil {
		return nil, fmt.Errorf("sel: get SEL info: %w", err)
	}
	res := &Result{Info: info}
	done := func(lastID uint16, caughtUp bool) *Result {
		res.Cursor = Cursor{LastID: lastID, LastAddition: info.LastAddition, LastErase: info.LastErase,
			CaughtUp: caughtUp, Valid: true}
		return res
	}

	resume := since.Valid && since.LastID != 0
	if since.Valid && info.LastErase != since.LastErase {
		res.Reset = resume
		resume = false
	}
	if info.Entries == 0 {
		// Empty: cleared if we had been somewhere, whatever the timestamps say.
		res.Reset = res.Reset || resume
		return done(0, true), nil
	}
	if resume && since.CaughtUp && !res.Reset && info.LastAddition == since.LastAddition &&
		!info.LastAddition.IsUnspecified() {
		return done(since.LastID, true), nil // nothing added
	}

	if !since.Valid && opts.SkipExisting {
		raw, _, err := rd.readEntry(ctx, command.LastRecordID)
		if wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent) {
			return done(0, true), nil
		}
		if err != nil {
			return nil, err
		}
		return done(uint16(raw[0])|uint16(raw[1])<<8, true), nil
	}

	id := command.FirstRecordID
	lastID := uint16(0)
	if resume {
		_, next, err := rd.readEntry(ctx, since.LastID)
		switch {
		case wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent):
			res.Reset = true // the remembered entry is gone: cleared
		case err != nil:
			return nil, err
		case next == command.LastRecordID:
			return done(since.LastID, true), nil
		default:
			id, lastID = next, since.LastID
		}
	}

	seen := map[uint16]bool{}
	if lastID != 0 {
		seen[lastID] = true
	}
	for {
		if len(res.Entries) >= opts.MaxEntries {
			res.More = true
			return done(lastID, false), nil
		}
		raw, next, err := rd.readEntry(ctx, id)
		if id == command.FirstRecordID && wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent) {
			return done(0, true), nil // emptied between Get SEL Info and now
		}
		if err != nil {
			return nil, err
		}
		e, err := ParseEntry(raw)
		if err != nil {
			return nil, err // readEntry checked the length; cannot happen
		}
		if seen[e.ID()] {
			res.Truncated = fmt.Sprintf("record ID 0x%04x returned twice", e.ID())
			return done(lastID, true), nil
		}
		seen[e.ID()] = true
		res.Entries = append(res.Entries, e)
		lastID = e.ID()
		if next == command.LastRecordID {
			return done(lastID, true), nil
		}
		if seen[next] || next == id || next == command.FirstRecordID {
			res.Truncated = fmt.Sprintf("record ID loop: 0x%04x points back to 0x%04x", lastID, next)
			return done(lastID, true), nil
		}
		id = next
	}
}

// reader holds the state of one ReadSince call.
type reader struct {
	r           sdr.Requester
	opts        ReadOptions
	reservation uint16
	// length is the "bytes to read": whole record first, 16 bytes for
	// BMCs that refuse FFh.
	length uint8
	resp   command.GetSELEntryResponse
}

// readEntry reads entry id whole. Reads at offset 0 need no reservation;
// a BMC that insists (0xC5) gets one.
func (rd *reader) readEntry(ctx context.Context, id uint16) ([]byte, uint16, error) {
	if rd.length == 0 {
		rd.length = command.ReadWholeRecord
	}
	for losses := 0; ; {
		req := command.GetSELEntryRequest{ReservationID: rd.reservation, RecordID: id, Length: rd.length}
		err := rd.r.Do(ctx, &req, &rd.resp)
		switch {
		case err == nil:
			if len(rd.resp.Data) < EntryLen {
				return nil, 0, fmt.Errorf("sel: entry 0x%04x: %d bytes, need %d: %w", id, len(rd.resp.Data), EntryLen, wire.ErrShort)
			}
			return append([]byte(nil), rd.resp.Data[:EntryLen]...), rd.resp.NextRecordID, nil
		case wire.IsCompletionCode(err, wire.CCReservationCanceled):
			losses++
			if losses > rd.opts.MaxReservationLosses {
				return nil, 0, fmt.Errorf("%w: entry 0x%04x: %v", ErrReservationLost, id, err)
			}
			var res command.ReserveSELResponse
			if err := rd.r.Do(ctx, command.ReserveSELRequest{}, &res); err != nil {
				return nil, 0, fmt.Errorf("sel: reserve SEL: %w", err)
			}
			rd.reservation = res.ReservationID
		case rd.length == command.ReadWholeRecord &&
			(wire.IsCompletionCode(err, wire.CCCannotReturnRequestedBytes) || wire.IsCompletionCode(err, wire.CCInvalidDataField)):
			rd.length = EntryLen
		default:
			return nil, 0, fmt.Errorf("sel: get SEL entry 0x%04x: %w", id, err)
		}
	}
}
