package model

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// ErrSELFull is returned by AddSELEntry when the SEL holds its capacity;
// the BMC then also reports the overflow flag, as a real one does.
var ErrSELFull = errors.New("model: SEL full")

// selSupport: Reserve SEL supported; the overflow bit is added when set.
const selSupport command.SELSupport = 0x02

// selEvMRev is the event message format revision of IPMI v2.0 events.
const selEvMRev = 0x04

// selRecord encodes spec as a SEL record with the given ID and timestamp.
func (c *compiledProfile) selRecord(spec *SELEntrySpec, id uint16, ts command.Timestamp) (selEntry, error) {
	var e selEntry
	rt := spec.RecordType
	if rt == 0 {
		rt = 0x02
	}
	binary.LittleEndian.PutUint16(e[0:], id)
	e[2] = rt
	switch {
	case rt == 0x02:
		i, ok := c.byName[spec.Sensor]
		if !ok {
			return e, fmt.Errorf("%w %q", ErrUnknownSensor, spec.Sensor)
		}
		d := &c.sensors[i]
		if spec.Offset > 0x0F {
			return e, fmt.Errorf("event offset %d above 15", spec.Offset)
		}
		if len(spec.OEM) > 0 {
			return e, errors.New("oem bytes belong to OEM records (record_type 0xC0-0xFF)")
		}
		binary.LittleEndian.PutUint32(e[3:], uint32(ts))
		e[7], e[8] = d.owner.Bytes()
		e[9] = selEvMRev
		e[10] = uint8(d.sensorType)
		e[11] = d.addr.number
		e[12] = uint8(d.eventType) & 0x7F
		if spec.Deassert {
			e[12] |= 0x80
		}
		// Event data 1: how bytes 2 and 3 are used, then the offset.
		// Threshold events carry the trigger reading and threshold,
		// discrete ones sensor-specific extension data.
		usage := uint8(0x03)
		if d.kind == kindThreshold {
			usage = 0x01
		}
		e[13] = spec.Offset
		e[14], e[15] = 0xFF, 0xFF
		if spec.EventData2 != nil {
			e[13] |= usage << 6
			e[14] = *spec.EventData2
		}
		if spec.EventData3 != nil {
			e[13] |= usage << 4
			e[15] = *spec.EventData3
		}
	case rt >= 0xC0 && rt <= 0xDF:
		// Timestamped OEM: timestamp, manufacturer ID, 6 OEM bytes.
		if len(spec.OEM) != 9 {
			return e, fmt.Errorf("record type 0x%02x: oem must hold the 3-byte manufacturer ID and 6 data bytes, got %d", rt, len(spec.OEM))
		}
		binary.LittleEndian.PutUint32(e[3:], uint32(ts))
		copy(e[7:], spec.OEM)
	case rt >= 0xE0:
		if len(spec.OEM) != 13 {
			return e, fmt.Errorf("record type 0x%02x: oem must hold 13 bytes, got %d", rt, len(spec.OEM))
		}
		copy(e[3:], spec.OEM)
	default:
		return e, fmt.Errorf("record type 0x%02x: want 0x02 or 0xC0-0xFF", rt)
	}
	return e, nil
}

// AddSELEntry appends an entry and returns its record ID. A zero Time
// means the clock's now minus Age.
func (b *BMC) AddSELEntry(e SELEntrySpec) (uint16, error) {
	if e.Time.IsZero() {
		e.Time = b.clock().Add(-e.Age)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addSEL(&e)
}

// addSEL stores an entry; b.mu must be held (or b not yet shared).
func (b *BMC) addSEL(spec *SELEntrySpec) (uint16, error) {
	if len(b.sel) >= b.p.selCapacity {
		b.selOverflow = true
		return 0, ErrSELFull
	}
	id := b.selNextID
	rec, err := b.p.selRecord(spec, id, timestamp(spec.Time))
	if err != nil {
		return 0, err
	}
	b.sel = append(b.sel, rec)
	b.selNextID++
	if b.selNextID == command.LastRecordID {
		b.selNextID = 1
	}
	b.selAdded = later(b.selAdded, b.now())
	return id, nil
}

// ClearSEL erases every entry, updates the erase timestamp and cancels the
// SEL reservation.
func (b *BMC) ClearSEL() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sel = nil
	b.selOverflow = false
	b.selReservation = 0
	b.selErased = later(b.selErased, b.now())
}

// SELEntries returns a copy of the stored SEL records (16 bytes each).
func (b *BMC) SELEntries() [][command.SELEntryLen]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([][command.SELEntryLen]byte, len(b.sel))
	for i, e := range b.sel {
		out[i] = e
	}
	return out
}

func (b *BMC) getSELInfo(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	b.mu.Lock()
	resp := command.GetSELInfoResponse{
		Version:      command.SDRVersion,
		Entries:      uint16(len(b.sel)),
		FreeSpace:    uint16((b.p.selCapacity - len(b.sel)) * command.SELEntryLen),
		LastAddition: b.selAdded,
		LastErase:    b.selErased,
		Support:      selSupport,
	}
	if b.selOverflow {
		resp.Support |= 0x80
	}
	b.mu.Unlock()
	return respond(&resp, 14)
}

func (b *BMC) reserveSEL(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	b.mu.Lock()
	b.selReservation = b.nextReservation()
	resp := command.ReservationResponse{ReservationID: b.selReservation}
	b.mu.Unlock()
	return respond(&resp, 2)
}

func (b *BMC) getSELEntry(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetSELEntryRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !reservationOK(req.ReservationID, req.Offset, b.selReservation) {
		return wire.CCReservationCanceled, nil
	}
	i := -1
	switch {
	case len(b.sel) == 0:
	case req.RecordID == command.FirstRecordID:
		i = 0
	case req.RecordID == command.LastRecordID:
		i = len(b.sel) - 1
	default:
		for j := range b.sel {
			if b.sel[j].id() == req.RecordID {
				i = j
				break
			}
		}
	}
	if i < 0 {
		return wire.CCRequestedDataNotPresent, nil
	}
	part, ok := readRange(b.sel[i][:], req.Offset, req.Length)
	if !ok {
		return wire.CCParameterOutOfRange, nil
	}
	next := command.LastRecordID
	if i+1 < len(b.sel) {
		next = b.sel[i+1].id()
	}
	resp := command.GetSELEntryResponse{NextRecordID: next, Data: part}
	return respond(&resp, 2+len(part))
}
