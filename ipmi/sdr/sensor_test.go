package sdr

import (
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func reading(raw uint8, states uint16, n uint8) command.GetSensorReadingResponse {
	return command.GetSensorReadingResponse{Reading: raw, States: states, Len: n}
}

func TestSensorInfosFromRecords(t *testing.T) {
	infos := AppendSensorInfos(nil, fullCPUTemp)
	infos = AppendSensorInfos(infos, compactPSU)
	infos = AppendSensorInfos(infos, eventOnly) // not readable: none
	infos = AppendSensorInfos(infos, mcLocator)
	if len(infos) != 3 {
		t.Fatalf("%d sensors, want 3", len(infos))
	}
	cpu := infos[0]
	if cpu.Name != "CPU Temp" || cpu.Number != 0x30 || cpu.Unit != "degrees C" || cpu.SensorType != SensorTypeTemperature ||
		cpu.Target() != (wire.Target{Addr: 0x20}) || cpu.Record != Record(fullCPUTemp) || cpu.NeedsFactors() {
		t.Errorf("CPU Temp info %+v", cpu)
	}
	for i, want := range []struct {
		name     string
		number   uint8
		instance uint8
	}{{"PSU A", 0x40, 1}, {"PSU B", 0x41, 2}} {
		got := infos[1+i]
		if got.Name != want.name || got.Number != want.number || got.Entity.Instance != want.instance ||
			got.Unit != "discrete" || got.Conversion.Analog() {
			t.Errorf("shared sensor %d: %+v", i, got)
		}
	}
	nl := *fullCPUTemp
	nl.Linearization = 0x70
	if info := AppendSensorInfos(nil, &nl)[0]; !info.NeedsFactors() {
		t.Error("non-linear sensor does not need factors")
	}
}

func TestSensorThresholdReading(t *testing.T) {
	info := AppendSensorInfos(nil, fullCPUTemp)[0]
	for _, c := range []struct {
		name     string
		reading  command.GetSensorReadingResponse
		value    float64
		hasValue bool
		severity Severity
	}{
		{"nominal", reading(45, 0, 4), 45, true, Nominal},
		{"upper non-critical bit", reading(86, 0x08, 4), 86, true, Warning},
		{"upper critical bits", reading(91, 0x18, 3), 91, true, Critical},
		{"non-recoverable", reading(96, 0x38, 4), 96, true, NonRecoverable},
		{"no state bytes: compared with the record's thresholds", reading(91, 0, 2), 91, true, Critical},
		{"no state bytes, low", reading(8, 0, 2), 8, true, Warning},
		{"one byte reply", reading(45, 0, 1), 45, true, Nominal},
		{"reading unavailable", command.GetSensorReadingResponse{Reading: 45, ReadingUnavailable: true, Len: 4}, 0, false, Unknown},
		{"scanning disabled", command.GetSensorReadingResponse{Reading: 45, ScanningDisabled: true, Len: 4}, 0, false, Unknown},
		{"state bits above 5 ignored", reading(45, 0xC0, 4), 45, true, Nominal},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Sensor{SensorInfo: &info, Reading: c.reading}
			v, ok := s.Value()
			if ok != c.hasValue || v != c.value {
				t.Errorf("Value = %v %v, want %v %v", v, ok, c.value, c.hasValue)
			}
			if got := s.Severity(); got != c.severity {
				t.Errorf("Severity = %v, want %v", got, c.severity)
			}
			if _, ok := s.States(); ok {
				t.Error("threshold sensor reports discrete states")
			}
		})
	}
}

func TestSensorThresholdWithoutReadableThresholds(t *testing.T) {
	info := AppendSensorInfos(nil, fullCPUTemp)[0]
	info.Thresholds = Thresholds{}
	s := Sensor{SensorInfo: &info, Reading: reading(99, 0, 2)}
	if _, ok := s.ThresholdStatus(); ok {
		t.Error("status without state bytes or thresholds")
	}
	if s.Severity() != Unknown {
		t.Errorf("Severity = %v", s.Severity())
	}
}

func TestSensorDiscreteReading(t *testing.T) {
	infos := AppendSensorInfos(nil, compactPSU)
	s := Sensor{SensorInfo: &infos[1], Reading: reading(0, 0x0003, 4)}
	if _, ok := s.Value(); ok {
		t.Error("compact sensor has a value")
	}
	if st, ok := s.States(); !ok || st != 0x0003 {
		t.Errorf("States = %#x %v", st, ok)
	}
	if s.Severity() != Critical {
		t.Errorf("Severity = %v", s.Severity())
	}
	s.Reading = reading(0, 0x0001, 3)
	if s.Severity() != Nominal {
		t.Errorf("presence only: %v", s.Severity())
	}
	s.Reading = reading(0, 0, 2) // no state bytes
	if s.Severity() != Unknown {
		t.Errorf("no states: %v", s.Severity())
	}
	if _, ok := s.ThresholdStatus(); ok {
		t.Error("discrete sensor has threshold status")
	}
}

func TestSensorValueWithFactors(t *testing.T) {
	nl := *fullCPUTemp
	nl.Linearization = 0x75
	info := AppendSensorInfos(nil, &nl)[0]
	s := Sensor{SensorInfo: &info, Reading: reading(10, 0, 4)}
	if _, ok := s.Value(); ok {
		t.Error("non-linear sensor converted without factors")
	}
	if v, ok := s.ValueWithFactors(command.ReadingFactors{M: 3, RExp: -1}); !ok || v != 3 {
		t.Errorf("ValueWithFactors = %v %v", v, ok)
	}
	s.Reading.ReadingUnavailable = true
	if _, ok := s.ValueWithFactors(command.ReadingFactors{M: 3}); ok {
		t.Error("unavailable reading converted")
	}
}

func TestThresholdsStatusAndValues(t *testing.T) {
	th := fullCPUTemp.Thresholds()
	conv := fullCPUTemp.Conversion()
	for raw, want := range map[uint8]ThresholdMask{
		45: 0,
		85: command.UpperNonCritical,
		95: command.UpperNonCritical | command.UpperCritical | command.UpperNonRecoverable,
		10: command.LowerNonCritical,
		0:  command.LowerNonCritical | command.LowerCritical | command.LowerNonRecoverable,
	} {
		if got := th.Status(raw, &conv); got != want {
			t.Errorf("Status(%d) = %#x, want %#x", raw, uint8(got), uint8(want))
		}
	}
	// With a negative M a larger raw byte is a smaller value.
	neg := Conversion{M: -1, B: 100}
	nth := Thresholds{Readable: command.UpperCritical}
	nth.Raw[UpperCritical] = 10 // value 90
	if got := nth.Status(5, &neg); got != command.UpperCritical {
		t.Errorf("negative M: Status = %#x", uint8(got))
	}
	if v, ok := th.Value(UpperCritical, &conv); !ok || v != 90 {
		t.Errorf("Value(UC) = %v %v", v, ok)
	}
	th.Readable &^= command.UpperCritical
	if _, ok := th.Value(UpperCritical, &conv); ok {
		t.Error("unreadable threshold has a value")
	}
	resp := command.GetSensorThresholdsResponse{Readable: 0x3F, LowerNonCritical: 1, LowerCritical: 2,
		LowerNonRecoverable: 3, UpperNonCritical: 4, UpperCritical: 5, UpperNonRecoverable: 6}
	from := ThresholdsFromResponse(&resp)
	if from.Raw != [6]uint8{1, 2, 3, 4, 5, 6} || from.Readable != 0x3F {
		t.Errorf("ThresholdsFromResponse = %+v", from)
	}
	if back := from.Response(); back != resp {
		t.Errorf("Response = %+v", back)
	}
}

// TestSensorHotPathAllocs guards the promise that converting and judging a
// reading does not allocate.
func TestSensorHotPathAllocs(t *testing.T) {
	info := AppendSensorInfos(nil, fullCPUTemp)[0]
	psu := AppendSensorInfos(nil, compactPSU)[0]
	allocs := testing.AllocsPerRun(100, func() {
		s := Sensor{SensorInfo: &info, Reading: reading(91, 0x18, 4)}
		_, _ = s.Value()
		_ = s.Severity()
		d := Sensor{SensorInfo: &psu, Reading: reading(0, 3, 4)}
		_ = d.Severity()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per reading", allocs)
	}
}

func BenchmarkConvert100Readings(b *testing.B) {
	infos := make([]SensorInfo, 0, 100)
	for i := 0; i < 100; i++ {
		f := *fullCPUTemp
		f.Factors = command.ReadingFactors{M: int16(1 + i), RExp: -2, B: int16(i), BExp: 1}
		if i%10 == 0 {
			f.Linearization = LinearizationSqrt
		}
		infos = AppendSensorInfos(infos, &f)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sum float64
	for n := 0; n < b.N; n++ {
		for i := range infos {
			s := Sensor{SensorInfo: &infos[i], Reading: reading(uint8(i+n), uint16(i&0x3F), 4)}
			if v, ok := s.Value(); ok {
				sum += v
			}
			_ = s.Severity()
		}
	}
	_ = sum
}

// TestDiscreteFullSensorHasNoValue: a Full record of a discrete sensor
// with an analog data format (what sdrcomp writes by default) gives no
// value and the unit "discrete", as FreeIPMI and "ipmitool sensor" show it.
func TestDiscreteFullSensorHasNoValue(t *testing.T) {
	f := *fullCPUTemp
	f.SensorType = SensorTypePowerSupply
	f.EventType = EventTypeSensorSpecific
	info := AppendSensorInfos(nil, &f)[0]
	if info.Unit != "discrete" {
		t.Errorf("Unit = %q", info.Unit)
	}
	s := Sensor{SensorInfo: &info, Reading: reading(3, 0x0003, 4)}
	if v, ok := s.Value(); ok {
		t.Errorf("discrete sensor value %v", v)
	}
	if _, ok := s.ValueWithFactors(command.ReadingFactors{M: 1}); ok {
		t.Error("discrete sensor value with factors")
	}
	if s.Severity() != Critical {
		t.Errorf("Severity = %v", s.Severity())
	}
	// A threshold sensor without an analog format has no unit either.
	g := *fullCPUTemp
	g.Units.Analog = AnalogNone
	if u := AppendSensorInfos(nil, &g)[0].Unit; u != "discrete" {
		t.Errorf("no-analog threshold unit %q", u)
	}
}

// A discrete sensor with an analog reading (FreeIPMI's discretereading):
// DiscreteValue converts the reading byte with the record's conversion;
// Value still does not, and nothing converts without an analog format or
// a valid reading.
func TestSensorDiscreteValue(t *testing.T) {
	info := AppendSensorInfos(nil, fullCPUTemp)[0]
	info.EventType = EventTypeSeverity
	s := Sensor{SensorInfo: &info, Reading: reading(45, 0, 3)}
	if _, ok := s.Value(); ok {
		t.Error("Value converts a discrete sensor")
	}
	if v, ok := s.DiscreteValue(); !ok || v != 45 {
		t.Errorf("DiscreteValue = %v %v, want 45", v, ok)
	}
	s.Reading.ScanningDisabled = true
	if _, ok := s.DiscreteValue(); ok {
		t.Error("DiscreteValue of a disabled sensor")
	}
	thr := AppendSensorInfos(nil, fullCPUTemp)[0]
	if _, ok := (&Sensor{SensorInfo: &thr, Reading: reading(45, 0, 3)}).DiscreteValue(); ok {
		t.Error("DiscreteValue of a threshold sensor")
	}
	compact := AppendSensorInfos(nil, compactPSU)[0]
	if _, ok := (&Sensor{SensorInfo: &compact, Reading: reading(45, 0, 3)}).DiscreteValue(); ok {
		t.Error("DiscreteValue without an analog format")
	}
}
