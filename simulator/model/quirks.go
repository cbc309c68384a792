package model

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The SDR and sensor quirks of Quirks: the repository as such a BMC
// returns it, and the answers it gives instead of the spec's.

// rewritesRecords reports whether the quirks change the records or their
// order (so records() builds a view).
func (q Quirks) rewritesRecords() bool {
	return q.SDRDuplicate > 0 || q.SDRSameName != "" || q.SDROwner != 0 || q.DiscreteReading != ""
}

// quirkRecords returns recs as the quirks rewrite them. Record IDs of the
// result stay unique lookup keys even where the record data carry an ID
// twice (SDRDuplicate): those get IDs past the last record, and
// findQuirkRecord searches linearly.
func (b *BMC) quirkRecords(recs []sdrRecord) []sdrRecord {
	q := b.quirks
	out := make([]sdrRecord, 0, len(recs)+q.SDRDuplicate)
	for _, r := range recs {
		out = append(out, sdrRecord{id: r.id, data: rewriteRecord(r.data, q)})
	}
	if n := min(q.SDRDuplicate, len(out)); n > 0 {
		next := uint16(0)
		for _, r := range out {
			next = max(next, r.id)
		}
		dups := make([]sdrRecord, n)
		for i := range dups {
			next++
			dups[i] = sdrRecord{id: next, data: out[i].data}
		}
		out = append(out[:n:n], append(dups, out[n:]...)...)
	}
	return out
}

// rewriteRecord applies the per-record quirks to one record; records they
// do not touch are returned as they are.
func rewriteRecord(data []byte, q Quirks) []byte {
	rec, err := sdr.ParseRecord(data)
	if err != nil {
		return data
	}
	changed := false
	owner := func(o *sdr.Owner) {
		if q.SDROwner != 0 && !o.SoftwareID && o.Address<<1 == wire.BMCSlaveAddress {
			o.Address = q.SDROwner >> 1
			changed = true
		}
	}
	name := func(id *sdr.IDString, et sdr.EventReadingType) {
		if q.SDRSameName != "" && !et.IsThreshold() {
			if s, err := sdr.EncodeIDString(sdr.IDString8BitASCII, q.SDRSameName); err == nil {
				*id = s
				changed = true
			}
		}
	}
	switch r := rec.(type) {
	case *sdr.FullSensor:
		owner(&r.Owner)
		name(&r.IDString, r.EventType)
		if q.DiscreteReading != "" && r.IDString.String() == q.DiscreteReading && r.EventType.IsThreshold() {
			r.EventType = sdr.EventTypeSeverity
			changed = true
		}
	case *sdr.CompactSensor:
		owner(&r.Owner)
		name(&r.IDString, r.EventType)
	case *sdr.EventOnlySensor:
		owner(&r.Owner)
	}
	if !changed {
		return data
	}
	return rec.AppendTo(nil)
}

// findQuirkRecord is findRecord for a view whose IDs need not ascend.
func findQuirkRecord(recs []sdrRecord, id uint16) int {
	if len(recs) == 0 {
		return -1
	}
	switch id {
	case 0x0000:
		return 0
	case 0xFFFF:
		return len(recs) - 1
	}
	for i := range recs {
		if recs[i].id == id {
			return i
		}
	}
	return -1
}

// readingCC returns the completion code the ReadingCC quirk answers for
// sensor d, or 0.
func (q Quirks) readingCC(d *sensorDef) wire.CompletionCode {
	if q.ReadingCC != 0 && q.ReadingCCSensor == d.name {
		return wire.CompletionCode(q.ReadingCC)
	}
	return 0
}
