package model

import (
	"errors"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sel"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// ErrSELFull is returned by AddSELEntry when the SEL holds its capacity;
// the BMC then also reports the overflow flag, as a real one does.
var ErrSELFull = errors.New("model: SEL full")

// selSupport: Reserve SEL supported; the overflow bit is added when set.
const selSupport command.SELSupport = 0x02

// selRecord encodes spec as a SEL record with the given ID and timestamp.
func (c *compiledProfile) selRecord(spec *SELEntrySpec, id uint16, ts command.Timestamp) (selEntry, error) {
	var rec sel.Entry
	rt := sel.RecordType(spec.RecordType)
	switch {
	case rt == 0 || rt == sel.TypeSystemEvent:
		i, ok := c.byName[spec.Sensor]
		if !ok {
			return selEntry{}, fmt.Errorf("%w %q", ErrUnknownSensor, spec.Sensor)
		}
		d := &c.sensors[i]
		if spec.Offset > 0x0F {
			return selEntry{}, fmt.Errorf("event offset %d above 15", spec.Offset)
		}
		if len(spec.OEM) > 0 {
			return selEntry{}, errors.New("oem bytes belong to OEM records (record_type 0xC0-0xFF)")
		}
		ev := &sel.SystemEvent{
			RecordID: id, Timestamp: ts, Generator: d.owner, EvMRev: sel.EvMRevIPMI2,
			SensorType: d.sensorType, SensorNumber: d.addr.number,
			Deassertion: spec.Deassert, EventType: d.eventType,
			EventData: [3]uint8{spec.Offset, 0xFF, 0xFF},
		}
		// Event data 1 says how bytes 2 and 3 are used: threshold events
		// carry the trigger reading and threshold, discrete ones
		// sensor-specific extension codes.
		usage := uint8(sel.DataSensorSpecific)
		if d.kind == kindThreshold {
			usage = sel.DataTrigger
		}
		if spec.EventData2 != nil {
			ev.EventData[0] |= usage << 6
			ev.EventData[1] = *spec.EventData2
		}
		if spec.EventData3 != nil {
			ev.EventData[0] |= usage << 4
			ev.EventData[2] = *spec.EventData3
		}
		rec = ev
	case rt.IsOEMTimestamped():
		// Timestamp, manufacturer ID, 6 OEM bytes.
		if len(spec.OEM) != 9 {
			return selEntry{}, fmt.Errorf("record type 0x%02x: oem must hold the 3-byte manufacturer ID and 6 data bytes, got %d", rt, len(spec.OEM))
		}
		e := &sel.OEMTimestamped{RecordID: id, RecordType: rt, Timestamp: ts,
			ManufacturerID: uint32(spec.OEM[0]) | uint32(spec.OEM[1])<<8 | uint32(spec.OEM[2])<<16}
		copy(e.Data[:], spec.OEM[3:])
		rec = e
	case rt.IsOEMNonTimestamped():
		if len(spec.OEM) != 13 {
			return selEntry{}, fmt.Errorf("record type 0x%02x: oem must hold 13 bytes, got %d", rt, len(spec.OEM))
		}
		e := &sel.OEMNonTimestamped{RecordID: id, RecordType: rt}
		copy(e.Data[:], spec.OEM)
		rec = e
	default:
		return selEntry{}, fmt.Errorf("record type 0x%02x: want 0x02 or 0xC0-0xFF", uint8(rt))
	}
	var e selEntry
	if n := len(rec.AppendTo(e[:0])); n != len(e) {
		return selEntry{}, fmt.Errorf("record type 0x%02x encodes to %d bytes", uint8(rt), n)
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
