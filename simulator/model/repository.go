package model

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// sdrRepositorySize is the repository size the free space is counted
// from, as a BMC with a 16 KiB SDR area would report it.
const sdrRepositorySize = 16 * 1024

// sdrSupport: non-modal updates, Reserve SDR Repository supported.
const sdrSupport command.SDRRepositorySupport = 0x20 | 0x02

func (b *BMC) getSDRRepositoryInfo(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	b.mu.Lock()
	recs := b.records()
	count := max(len(recs)-b.quirks.SDRCountShort, 0)
	resp := command.GetSDRRepositoryInfoResponse{
		Version:      command.SDRVersion,
		RecordCount:  uint16(count),
		LastAddition: b.sdrAdded,
		LastErase:    b.sdrErased,
		Support:      sdrSupport,
	}
	b.mu.Unlock()
	used := 0
	for _, r := range recs {
		used += len(r.data)
	}
	if used < sdrRepositorySize {
		resp.FreeSpace = uint16(sdrRepositorySize - used)
	}
	return respond(&resp, 14)
}

// nextReservation hands out a reservation ID; b.mu must be held.
func (b *BMC) nextReservation() uint16 {
	b.reservation++
	if b.reservation == 0 {
		b.reservation = 1
	}
	return b.reservation
}

func (b *BMC) reserveSDRRepository(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	b.mu.Lock()
	b.sdrReservation = b.nextReservation()
	resp := command.ReservationResponse{ReservationID: b.sdrReservation}
	b.mu.Unlock()
	return respond(&resp, 2)
}

// reservationOK applies the reservation rule of Get SDR and Get SEL Entry:
// a read from offset 0 may go without a reservation (ID 0); any other
// read, and any read naming a reservation, needs the current one.
func reservationOK(reqID uint16, offset uint8, valid uint16) bool {
	if reqID == 0 && offset == 0 {
		return true
	}
	return valid != 0 && reqID == valid
}

// readRange returns the bytes of a partial read of rec: length
// ReadWholeRecord means to the end; a read past the end is cut at it.
func readRange(rec []byte, offset, length uint8) ([]byte, bool) {
	if int(offset) > len(rec) {
		return nil, false
	}
	rest := rec[offset:]
	if length != command.ReadWholeRecord && int(length) < len(rest) {
		rest = rest[:length]
	}
	return rest, true
}

func (b *BMC) getSDR(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetSDRRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	b.mu.Lock()
	recs := b.records()
	valid := b.sdrReservation
	q := b.quirks
	if q.SDRCancelReservation > 0 && req.ReservationID != 0 && valid != 0 {
		b.sdrGets++
		if b.sdrGets%q.SDRCancelReservation == 0 {
			b.sdrReservation, valid = 0, 0
		}
	}
	b.mu.Unlock()
	maxRead := q.SDRMaxRead
	if !reservationOK(req.ReservationID, req.Offset, valid) {
		return wire.CCReservationCanceled, nil
	}
	find := findRecord
	if q.rewritesRecords() {
		find = findQuirkRecord
	}
	i := find(recs, req.RecordID)
	if i < 0 {
		return wire.CCRequestedDataNotPresent, nil
	}
	if q.SDRLastRecordCC != 0 && i == len(recs)-1 {
		return wire.CompletionCode(q.SDRLastRecordCC), nil
	}
	part, ok := readRange(recs[i].data, req.Offset, req.Length)
	if !ok {
		return wire.CCParameterOutOfRange, nil
	}
	if maxRead > 0 && len(part) > maxRead {
		return wire.CCCannotReturnRequestedBytes, nil
	}
	if q.SDRShortRead > 0 && len(part) > q.SDRShortRead {
		part = part[:q.SDRShortRead]
	}
	next := command.LastRecordID
	if i+1 < len(recs) {
		next = recs[i+1].id
	}
	resp := command.GetSDRResponse{NextRecordID: next, Data: part}
	return respond(&resp, 2+len(part))
}

// findRecord resolves a record ID (0000h = first, FFFFh = last) to an
// index in recs, or -1.
func findRecord(recs []sdrRecord, id uint16) int {
	if len(recs) == 0 {
		return -1
	}
	switch id {
	case command.FirstRecordID:
		return 0
	case command.LastRecordID:
		return len(recs) - 1
	}
	// Record IDs ascend with position.
	lo, hi := 0, len(recs)
	for lo < hi {
		m := (lo + hi) / 2
		if recs[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(recs) && recs[lo].id == id {
		return lo
	}
	return -1
}
