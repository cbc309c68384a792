package sdr

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// SensorInfo is the static description of one readable sensor, built once
// per repository walk from a Full or Compact record (a shared Compact
// record gives one SensorInfo per sensor).
type SensorInfo struct {
	RecordID   uint16
	Name       string
	Number     uint8
	Owner      Owner
	Entity     Entity
	SensorType SensorType
	EventType  EventReadingType
	Units      Units
	// Unit is the unit text as ipmitool prints it ("degrees C", "RPM",
	// "Volts", "percent"), or "discrete" for discrete sensors and sensors
	// without an analog reading, again as ipmitool's "sensor" command.
	Unit string
	// Conversion converts raw readings; Compact records have none
	// (Conversion.Analog() is false).
	Conversion Conversion
	// Thresholds from the Full record; Get Sensor Thresholds can refresh
	// them (see ThresholdsFromResponse).
	Thresholds Thresholds
	// ReadingMask is the discrete reading mask (states the sensor can
	// report) of discrete sensors.
	ReadingMask uint16
	// Record is the *FullSensor or *CompactSensor this came from.
	Record Record
}

// Target returns where to send Get Sensor Reading for this sensor.
func (s *SensorInfo) Target() wire.Target { return s.Owner.Target() }

// NeedsFactors reports a non-linear sensor whose readings convert only
// with factors from Get Sensor Reading Factors (see Sensor.ValueWithFactors).
func (s *SensorInfo) NeedsFactors() bool {
	return s.Conversion.Format <= AnalogTwosComplement && s.Conversion.Linearization.IsNonLinear()
}

// AppendSensorInfos appends the sensors record r describes: one for a Full
// record, Sharing.N() for a Compact record, none for other records.
func AppendSensorInfos(dst []SensorInfo, r Record) []SensorInfo {
	switch rec := r.(type) {
	case *FullSensor:
		info := SensorInfo{
			RecordID:    rec.RecordID,
			Name:        rec.Name(),
			Number:      rec.Number,
			Owner:       rec.Owner,
			Entity:      rec.Entity,
			SensorType:  rec.SensorType,
			EventType:   rec.EventType,
			Units:       rec.Units,
			Unit:        "discrete",
			Conversion:  rec.Conversion(),
			Thresholds:  rec.Thresholds(),
			ReadingMask: rec.ReadingMask,
			Record:      rec,
		}
		if rec.EventType.IsThreshold() && rec.Units.Analog != AnalogNone {
			info.Unit = rec.Units.String()
		}
		dst = append(dst, info)
	case *CompactSensor:
		base := rec.Name()
		for i := 0; i < rec.Sharing.N(); i++ {
			entity := rec.Entity
			if rec.Sharing.EntityInstanceIncrements {
				entity.Instance = (entity.Instance + uint8(i)) & 0x7F
			}
			dst = append(dst, SensorInfo{
				RecordID:    rec.RecordID,
				Name:        rec.Sharing.Name(base, i),
				Number:      rec.Number + uint8(i),
				Owner:       rec.Owner,
				Entity:      entity,
				SensorType:  rec.SensorType,
				EventType:   rec.EventType,
				Units:       rec.Units,
				Unit:        "discrete",
				Conversion:  Conversion{Format: AnalogNone},
				ReadingMask: rec.ReadingMask,
				Record:      rec,
			})
		}
	}
	return dst
}

// Sensor is a sensor together with one reading. It is a small value over a
// shared *SensorInfo; building one and asking for its value, states and
// severity does not allocate.
type Sensor struct {
	*SensorInfo
	Reading command.GetSensorReadingResponse
}

// Available reports whether the reading means anything: the BMC neither
// flagged it unavailable nor has scanning disabled. ipmitool and FreeIPMI
// show such sensors as "na"/"N/A".
func (s *Sensor) Available() bool {
	return !s.Reading.ReadingUnavailable && !s.Reading.ScanningDisabled
}

// Value returns the reading in engineering units. Only threshold sensors
// have one: the reading byte of a discrete sensor is ignored, as FreeIPMI
// does by default (many BMCs fill it with junk, and records of discrete
// sensors often carry M = 0). ok is also false for unavailable readings,
// sensors without an analog data format, and non-linear sensors (use
// ValueWithFactors).
func (s *Sensor) Value() (float64, bool) {
	if !s.EventType.IsThreshold() || !s.Available() {
		return 0, false
	}
	return s.Conversion.Value(s.Reading.Reading)
}

// DiscreteValue converts the reading byte of a discrete sensor as if it
// were analog, for BMCs known to put a real reading there (FreeIPMI's
// discretereading workaround, e.g. Sun/Oracle). ok is false for threshold
// sensors (use Value), unavailable readings and records without an
// analog data format.
func (s *Sensor) DiscreteValue() (float64, bool) {
	if s.EventType.IsThreshold() || !s.Available() || !s.Conversion.Analog() {
		return 0, false
	}
	return s.Conversion.Value(s.Reading.Reading)
}

// ValueWithFactors converts the reading of a non-linear threshold sensor
// with the factors Get Sensor Reading Factors returned for this raw reading.
func (s *Sensor) ValueWithFactors(f command.ReadingFactors) (float64, bool) {
	if !s.EventType.IsThreshold() || !s.Available() {
		return 0, false
	}
	c := s.Conversion.WithFactors(f)
	return c.Value(s.Reading.Reading)
}

// ThresholdStatus returns the thresholds the reading is at or beyond. It
// uses the comparison bits of the reply, or, when the BMC omitted them,
// compares the raw reading with the readable thresholds. ok is false for
// discrete sensors, unavailable readings, and replies without comparison
// bits for sensors without readable thresholds.
func (s *Sensor) ThresholdStatus() (status ThresholdMask, ok bool) {
	if !s.EventType.IsThreshold() || !s.Available() {
		return 0, false
	}
	if s.Reading.HasStates() {
		return ThresholdMask(s.Reading.States) & command.AllThresholds, true
	}
	if s.Thresholds.Readable == 0 {
		return 0, false
	}
	return s.Thresholds.Status(s.Reading.Reading, &s.Conversion), true
}

// States returns the asserted discrete states (bit n = offset n), and
// false when the sensor is not discrete or the reply had no state bytes.
func (s *Sensor) States() (uint16, bool) {
	if !s.EventType.IsDiscrete() || !s.Available() || !s.Reading.HasStates() {
		return 0, false
	}
	return s.Reading.States & 0x7FFF, true
}

// Severity judges the reading: threshold sensors by their comparison
// status (ThresholdStatusSeverity), discrete sensors by their asserted
// states (DiscreteSeverity). Unavailable readings are Unknown.
func (s *Sensor) Severity() Severity {
	if s.EventType.IsThreshold() {
		status, ok := s.ThresholdStatus()
		if !ok {
			return Unknown
		}
		return ThresholdStatusSeverity(status)
	}
	states, ok := s.States()
	if !ok {
		return Unknown
	}
	return DiscreteSeverity(s.SensorType, s.EventType, states)
}
