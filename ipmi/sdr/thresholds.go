package sdr

import (
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

// Threshold names one of the six sensor thresholds. Its value is the bit
// number in command.ThresholdMask.
type Threshold uint8

const (
	LowerNonCritical Threshold = iota
	LowerCritical
	LowerNonRecoverable
	UpperNonCritical
	UpperCritical
	UpperNonRecoverable
	thresholdCount
)

// AllThresholdsInOrder lists the thresholds from lowest to highest.
var AllThresholdsInOrder = [thresholdCount]Threshold{
	LowerNonRecoverable, LowerCritical, LowerNonCritical,
	UpperNonCritical, UpperCritical, UpperNonRecoverable,
}

var thresholdNames = [thresholdCount]string{
	"lower non-critical", "lower critical", "lower non-recoverable",
	"upper non-critical", "upper critical", "upper non-recoverable",
}

// thresholdAbbrev are the column names of ipmitool's "sensor" output.
var thresholdAbbrev = [thresholdCount]string{"lnc", "lcr", "lnr", "unc", "ucr", "unr"}

func (t Threshold) String() string {
	if t < thresholdCount {
		return thresholdNames[t]
	}
	return fmt.Sprintf("threshold %d", uint8(t))
}

// Abbrev returns ipmitool's short name (lnc, lcr, lnr, unc, ucr, unr).
func (t Threshold) Abbrev() string {
	if t < thresholdCount {
		return thresholdAbbrev[t]
	}
	return "?"
}

// Mask returns the threshold's bit.
func (t Threshold) Mask() ThresholdMask { return ThresholdMask(1) << t }

// IsUpper reports an upper threshold.
func (t Threshold) IsUpper() bool { return t >= UpperNonCritical && t < thresholdCount }

// Severity returns what crossing the threshold means: non-critical →
// Warning, critical → Critical, non-recoverable → NonRecoverable.
func (t Threshold) Severity() Severity {
	switch t {
	case LowerNonCritical, UpperNonCritical:
		return Warning
	case LowerCritical, UpperCritical:
		return Critical
	case LowerNonRecoverable, UpperNonRecoverable:
		return NonRecoverable
	}
	return Unknown
}

// Thresholds are a sensor's raw thresholds with the masks saying which are
// readable and settable. They come from a Full record or from Get Sensor
// Thresholds (which knows only Readable).
type Thresholds struct {
	Readable ThresholdMask
	Settable ThresholdMask
	Raw      [thresholdCount]uint8 // indexed by Threshold
}

// ThresholdsFromResponse converts a Get Sensor Thresholds answer.
func ThresholdsFromResponse(r *command.GetSensorThresholdsResponse) Thresholds {
	t := Thresholds{Readable: r.Readable & command.AllThresholds}
	t.Raw[LowerNonCritical] = r.LowerNonCritical
	t.Raw[LowerCritical] = r.LowerCritical
	t.Raw[LowerNonRecoverable] = r.LowerNonRecoverable
	t.Raw[UpperNonCritical] = r.UpperNonCritical
	t.Raw[UpperCritical] = r.UpperCritical
	t.Raw[UpperNonRecoverable] = r.UpperNonRecoverable
	return t
}

// Response builds the Get Sensor Thresholds answer for these thresholds
// (the simulator's side).
func (t *Thresholds) Response() command.GetSensorThresholdsResponse {
	return command.GetSensorThresholdsResponse{
		Readable:            t.Readable & command.AllThresholds,
		LowerNonCritical:    t.Raw[LowerNonCritical],
		LowerCritical:       t.Raw[LowerCritical],
		LowerNonRecoverable: t.Raw[LowerNonRecoverable],
		UpperNonCritical:    t.Raw[UpperNonCritical],
		UpperCritical:       t.Raw[UpperCritical],
		UpperNonRecoverable: t.Raw[UpperNonRecoverable],
	}
}

// RawValue returns threshold th's raw byte if it is readable.
func (t *Thresholds) RawValue(th Threshold) (uint8, bool) {
	if th >= thresholdCount || !t.Readable.Has(th.Mask()) {
		return 0, false
	}
	return t.Raw[th], true
}

// Value returns threshold th in engineering units if it is readable and
// converts.
func (t *Thresholds) Value(th Threshold, c *Conversion) (float64, bool) {
	raw, ok := t.RawValue(th)
	if !ok {
		return 0, false
	}
	return c.Value(raw)
}

// Status compares a raw reading with the readable thresholds, the way a
// BMC computes the threshold comparison status, and returns the crossed
// thresholds (at or below a lower one, at or above an upper one). It is the
// fallback for BMCs that omit the state bytes of Get Sensor Reading.
func (t *Thresholds) Status(raw uint8, c *Conversion) ThresholdMask {
	var status ThresholdMask
	x := c.signedRaw(raw)
	for th := Threshold(0); th < thresholdCount; th++ {
		r, ok := t.RawValue(th)
		if !ok {
			continue
		}
		limit := c.signedRaw(r)
		// Compare converted values when M < 0 or L is decreasing, where a
		// larger raw byte means a smaller value.
		below, above := x <= limit, x >= limit
		if v, ok := c.Value(raw); ok {
			if lv, ok := c.Value(r); ok {
				below, above = v <= lv, v >= lv
			}
		}
		if (th.IsUpper() && above) || (!th.IsUpper() && below) {
			status |= th.Mask()
		}
	}
	return status
}

// thresholdStateNames are the names of the threshold comparison status
// bits of Get Sensor Reading, as FreeIPMI prints them.
var thresholdStateNames = [thresholdCount]string{
	"At or Below (<=) Lower Non-Critical Threshold",
	"At or Below (<=) Lower Critical Threshold",
	"At or Below (<=) Lower Non-Recoverable Threshold",
	"At or Above (>=) Upper Non-Critical Threshold",
	"At or Above (>=) Upper Critical Threshold",
	"At or Above (>=) Upper Non-Recoverable Threshold",
}

// ThresholdStateName names a threshold comparison status bit.
func ThresholdStateName(th Threshold) string {
	if th < thresholdCount {
		return thresholdStateNames[th]
	}
	return ""
}

// ThresholdStatusSeverity judges a threshold comparison status as ipmitool
// does: any non-recoverable bit → NonRecoverable, else any critical bit →
// Critical, else any non-critical bit → Warning, else Nominal.
//
// FreeIPMI's default interpretation differs for non-critical (it calls
// that Nominal); this exporter follows ipmitool so that "warning" exists.
func ThresholdStatusSeverity(status ThresholdMask) Severity {
	switch {
	case status&(command.LowerNonRecoverable|command.UpperNonRecoverable) != 0:
		return NonRecoverable
	case status&(command.LowerCritical|command.UpperCritical) != 0:
		return Critical
	case status&(command.LowerNonCritical|command.UpperNonCritical) != 0:
		return Warning
	}
	return Nominal
}
