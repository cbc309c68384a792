package sel

import (
	"fmt"
	"strconv"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
)

// thresholdEventSeverity judges threshold events (event/reading type 01h)
// by the zone the reading is in after the event, indexed by offset, then
// [assertion, deassertion]. It is FreeIPMI's default SEL interpretation
// (freeipmi_interpret_sel.conf) except that going beyond a non-recoverable
// threshold is NonRecoverable instead of Critical, as for sensor readings:
//
//	offset  event                            asserted        deasserted
//	0       lower non-critical going low     Warning         Nominal
//	1       lower non-critical going high    Nominal         Nominal
//	2       lower critical going low         Critical        Warning
//	3       lower critical going high        Warning         Warning
//	4       lower non-recoverable going low  NonRecoverable  Critical
//	5       lower non-recoverable going high Critical        Critical
//	6       upper non-critical going low     Nominal         Nominal
//	7       upper non-critical going high    Warning         Nominal
//	8       upper critical going low         Warning         Warning
//	9       upper critical going high        Critical        Warning
//	10      upper non-recoverable going low  Critical        Critical
//	11      upper non-recoverable going high NonRecoverable  Critical
var thresholdEventSeverity = [12][2]sdr.Severity{
	{sdr.Warning, sdr.Nominal},
	{sdr.Nominal, sdr.Nominal},
	{sdr.Critical, sdr.Warning},
	{sdr.Warning, sdr.Warning},
	{sdr.NonRecoverable, sdr.Critical},
	{sdr.Critical, sdr.Critical},
	{sdr.Nominal, sdr.Nominal},
	{sdr.Warning, sdr.Nominal},
	{sdr.Warning, sdr.Warning},
	{sdr.Critical, sdr.Warning},
	{sdr.Critical, sdr.Critical},
	{sdr.NonRecoverable, sdr.Critical},
}

// Severity judges the event. Threshold events follow the table above.
// Discrete events take the severity of their state from the sensor policy
// of package sdr (sdr.StateSeverity), for assertions and deassertions
// alike, which is what FreeIPMI's defaults do for nearly every state.
// OEM event types and uninterpreted states are sdr.Unknown.
func (e *SystemEvent) Severity() sdr.Severity {
	off := e.Offset()
	if e.EventType.IsThreshold() {
		if int(off) >= len(thresholdEventSeverity) {
			return sdr.Unknown
		}
		dir := 0
		if e.Deassertion {
			dir = 1
		}
		return thresholdEventSeverity[off][dir]
	}
	sev, ok := sdr.StateSeverity(e.SensorType, e.EventType, off)
	if !ok {
		return sdr.Unknown
	}
	return sev
}

// StateName names the event's state ("Upper Critical going high",
// "Failure detected"), or "" when the state set is OEM or unknown.
func (e *SystemEvent) StateName() string {
	return sdr.StateName(e.EventType, e.SensorType, e.Offset())
}

// Description returns the event as ipmitool's "sel elist" shows it without
// SDR names: "Temperature #0x30 | Upper Critical going high | Asserted".
func (e *SystemEvent) Description() string { return e.Describe(nil) }

// Describe is Description with the sensor's SDR information: its name
// instead of the type and number, and for threshold events the trigger
// reading and threshold in engineering units when the event carries them
// ("... | Reading 91 > Threshold 90 degrees C"). s may be nil.
func (e *SystemEvent) Describe(s *sdr.SensorInfo) string {
	who := fmt.Sprintf("%s #0x%02x", e.SensorType, e.SensorNumber)
	if s != nil && s.Name != "" {
		who = s.SensorType.String() + " " + s.Name
	}
	state := e.StateName()
	if state == "" {
		state = "Event offset 0x" + strconv.FormatUint(uint64(e.Offset()), 16)
		if e.EventType.IsOEM() {
			state = fmt.Sprintf("OEM event type 0x%02x, offset 0x%x", uint8(e.EventType), e.Offset())
		}
	}
	dir := "Asserted"
	if e.Deassertion {
		dir = "Deasserted"
	}
	out := who + " | " + state + " | " + dir
	if s != nil && e.EventType.IsThreshold() && e.Data2Usage() == DataTrigger && e.Data3Usage() == DataTrigger {
		reading, ok1 := s.Conversion.Value(e.EventData[1])
		limit, ok2 := s.Conversion.Value(e.EventData[2])
		if ok1 && ok2 {
			cmp := ">"
			if off := e.Offset(); off < 6 { // lower thresholds
				cmp = "<"
			}
			out += fmt.Sprintf(" | Reading %s %s Threshold %s %s",
				strconv.FormatFloat(reading, 'f', -1, 64), cmp, strconv.FormatFloat(limit, 'f', -1, 64), s.Unit)
		}
	}
	return out
}

// FindSensor returns the sensor among infos that generated e: same owner
// (generator address or software ID, channel, LUN) and sensor number, or
// nil. Event generators and sensor owners use the same two-byte layout.
func FindSensor(infos []sdr.SensorInfo, e *SystemEvent) *sdr.SensorInfo {
	for i := range infos {
		o := infos[i].Owner
		if infos[i].Number == e.SensorNumber && o.Address == e.Generator.Address &&
			o.SoftwareID == e.Generator.SoftwareID && o.LUN == e.Generator.LUN && o.Channel == e.Generator.Channel {
			return &infos[i]
		}
	}
	return nil
}
