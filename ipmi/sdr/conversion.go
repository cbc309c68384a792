package sdr

import (
	"errors"
	"fmt"
	"math"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

// Linearization is the linearization code of a Full record (IPMI v2.0
// table 43-1 byte 24): the function L in y = L[(M*x + B*10^K1) * 10^K2].
type Linearization uint8

const (
	LinearizationLinear   Linearization = 0x00
	LinearizationLn       Linearization = 0x01
	LinearizationLog10    Linearization = 0x02
	LinearizationLog2     Linearization = 0x03
	LinearizationE        Linearization = 0x04
	LinearizationExp10    Linearization = 0x05
	LinearizationExp2     Linearization = 0x06
	LinearizationInverse  Linearization = 0x07 // 1/x
	LinearizationSqr      Linearization = 0x08
	LinearizationCube     Linearization = 0x09
	LinearizationSqrt     Linearization = 0x0A
	LinearizationCubeRoot Linearization = 0x0B
	// 70h-7Fh: non-linear; M, B and the exponents depend on the reading and
	// come from Get Sensor Reading Factors.
	LinearizationNonLinearFirst Linearization = 0x70
	LinearizationNonLinearLast  Linearization = 0x7F
)

var linearizationNames = [...]string{"linear", "ln", "log10", "log2", "e", "exp10", "exp2", "1/x", "sqr", "cube", "sqrt", "cube root"}

func (l Linearization) String() string {
	if int(l) < len(linearizationNames) {
		return linearizationNames[l]
	}
	if l.IsNonLinear() {
		return fmt.Sprintf("non-linear 0x%02x", uint8(l))
	}
	return fmt.Sprintf("linearization 0x%02x", uint8(l))
}

// IsNonLinear reports the non-linear range 70h-7Fh.
func (l Linearization) IsNonLinear() bool {
	return l >= LinearizationNonLinearFirst && l <= LinearizationNonLinearLast
}

// apply computes L(y).
func (l Linearization) apply(y float64) float64 {
	switch l {
	case LinearizationLn:
		return math.Log(y)
	case LinearizationLog10:
		return math.Log10(y)
	case LinearizationLog2:
		return math.Log2(y)
	case LinearizationE:
		return math.Exp(y)
	case LinearizationExp10:
		return math.Pow(10, y)
	case LinearizationExp2:
		return math.Exp2(y)
	case LinearizationInverse:
		return 1 / y
	case LinearizationSqr:
		return y * y
	case LinearizationCube:
		return y * y * y
	case LinearizationSqrt:
		return math.Sqrt(y)
	case LinearizationCubeRoot:
		return math.Cbrt(y)
	}
	return y
}

// invert computes L⁻¹(v). For sqr it returns the non-negative root.
func (l Linearization) invert(v float64) float64 {
	switch l {
	case LinearizationLn:
		return math.Exp(v)
	case LinearizationLog10:
		return math.Pow(10, v)
	case LinearizationLog2:
		return math.Exp2(v)
	case LinearizationE:
		return math.Log(v)
	case LinearizationExp10:
		return math.Log10(v)
	case LinearizationExp2:
		return math.Log2(v)
	case LinearizationInverse:
		return 1 / v
	case LinearizationSqr:
		return math.Sqrt(v)
	case LinearizationCube:
		return math.Cbrt(v)
	case LinearizationSqrt:
		return v * v
	case LinearizationCubeRoot:
		return v * v * v
	}
	return v
}

// Conversion turns raw readings into engineering values per IPMI v2.0
// section 36.3:
//
//	y = L[(M*x + B*10^BExp) * 10^RExp]
//
// where x is the raw byte read in the analog data format. It is a small
// value type so that converting a reading never allocates.
type Conversion struct {
	Format        AnalogFormat
	Linearization Linearization
	M, B          int16 // 10-bit signed
	RExp, BExp    int8  // 4-bit signed
	Tolerance     uint8 // 6 bits, +/- half raw counts
	Accuracy      uint16
	AccuracyExp   uint8
}

func newConversion(format AnalogFormat, lin Linearization, f command.ReadingFactors) Conversion {
	return Conversion{
		Format: format, Linearization: lin,
		M: f.M, B: f.B, RExp: f.RExp, BExp: f.BExp,
		Tolerance: f.Tolerance, Accuracy: f.Accuracy, AccuracyExp: f.AccuracyExp,
	}
}

// WithFactors returns the conversion to use for a non-linear sensor's
// reading, given the factors Get Sensor Reading Factors returned for it:
// those factors in the linear formula.
func (c Conversion) WithFactors(f command.ReadingFactors) Conversion {
	n := newConversion(c.Format, LinearizationLinear, f)
	return n
}

// Analog reports whether raw readings convert to numbers at all: the
// format is not "no analog reading" and the linearization is one of the
// twelve functions. Non-linear sensors need WithFactors first, as in
// ipmitool, which shows them without a value.
func (c *Conversion) Analog() bool {
	return c.Format <= AnalogTwosComplement && c.Linearization <= LinearizationCubeRoot
}

// signedRaw reads the raw byte in the analog data format.
func (c *Conversion) signedRaw(raw uint8) int64 {
	switch c.Format {
	case AnalogOnesComplement:
		if raw&0x80 != 0 {
			return -int64(^raw & 0x7F) // FFh is -0
		}
	case AnalogTwosComplement:
		return int64(int8(raw))
	}
	return int64(raw)
}

// rawFromSigned is the inverse of signedRaw for in-range values.
func (c *Conversion) rawFromSigned(x int64) uint8 {
	if x < 0 && c.Format == AnalogOnesComplement {
		return uint8(0xFF + x)
	}
	return uint8(x)
}

// rawRange is the range of signedRaw.
func (c *Conversion) rawRange() (lo, hi int64) {
	switch c.Format {
	case AnalogOnesComplement:
		return -127, 127
	case AnalogTwosComplement:
		return -128, 127
	}
	return 0, 255
}

var pow10Int = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}

// pow10Float holds 10^0..10^16, all exact in float64.
var pow10Float = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16}

// linear computes (M*x + B*10^BExp) * 10^RExp with a single rounding: the
// integer part is exact, then one multiply or divide by an exact power of
// ten, so that 4530 * 10^-2 prints as 45.3 and not 45.300000000000004.
func (c *Conversion) linear(x int64) float64 {
	inner := int64(c.M) * x
	exp := int(c.RExp)
	if c.BExp >= 0 {
		inner += int64(c.B) * pow10Int[c.BExp]
	} else {
		inner = inner*pow10Int[-c.BExp] + int64(c.B)
		exp += int(c.BExp)
	}
	if exp >= 0 {
		return float64(inner) * pow10Float[exp]
	}
	return float64(inner) / pow10Float[-exp]
}

// Value converts a raw reading. ok is false when the sensor has no analog
// reading, needs reading factors, or L is undefined at this reading (for
// example ln of a non-positive number).
func (c *Conversion) Value(raw uint8) (v float64, ok bool) {
	if !c.Analog() || c.BExp < -8 || c.BExp > 7 || c.RExp < -8 || c.RExp > 7 {
		return 0, false
	}
	v = c.Linearization.apply(c.linear(c.signedRaw(raw)))
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// ErrNoConversion is returned by Raw when a value cannot be mapped to a raw
// reading: the sensor is not analog, M is 0, or the value is not finite.
var ErrNoConversion = errors.New("sdr: no conversion to a raw reading")

// Raw converts an engineering value to the raw reading whose value is
// nearest to it; values outside the sensor's range give the nearest end of
// the range. The simulator uses it to serve configured readings and
// thresholds; the exporter to show settable thresholds.
func (c *Conversion) Raw(v float64) (uint8, error) {
	if !c.Analog() || c.M == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: format %s, %s, M=%d, value %v", ErrNoConversion, c.Format, c.Linearization, c.M, v)
	}
	lo, hi := c.rawRange()
	best, bestErr := int64(0), math.Inf(1)
	try := func(x int64) {
		if x < lo {
			x = lo
		}
		if x > hi {
			x = hi
		}
		got, ok := c.Value(c.rawFromSigned(x))
		if !ok {
			return
		}
		if d := math.Abs(got - v); d < bestErr {
			best, bestErr = x, d
		}
	}
	// Solve the linear part for x, then look at the neighbours: rounding
	// and monotonic-but-curved L make the nearest one of them.
	estimate := func(inner float64) {
		x := (inner/math.Pow(10, float64(c.RExp)) - float64(c.B)*math.Pow(10, float64(c.BExp))) / float64(c.M)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		x = math.Max(math.Min(x, float64(hi)+1), float64(lo)-1)
		f := int64(math.Floor(x))
		for d := int64(-1); d <= 2; d++ {
			try(f + d)
		}
	}
	inv := c.Linearization.invert(v)
	estimate(inv)
	if c.Linearization == LinearizationSqr {
		estimate(-inv)
	}
	if math.IsInf(bestErr, 1) {
		// No usable estimate (L⁻¹ undefined at v): search every reading.
		for x := lo; x <= hi; x++ {
			try(x)
		}
	}
	if math.IsInf(bestErr, 1) {
		return 0, fmt.Errorf("%w: no raw reading converts to a number", ErrNoConversion)
	}
	return c.rawFromSigned(best), nil
}

// ToleranceValue returns the tolerance (+/-) in engineering units for
// linear sensors: M * tolerance/2 * 10^RExp.
func (c *Conversion) ToleranceValue() float64 {
	return math.Abs(float64(c.M)) * float64(c.Tolerance) / 2 * math.Pow(10, float64(c.RExp))
}

// AccuracyPercent returns the accuracy in percent: Accuracy is in 1/100
// percent units, scaled by 10^AccuracyExp.
func (c *Conversion) AccuracyPercent() float64 {
	return float64(c.Accuracy) * math.Pow(10, float64(c.AccuracyExp)) / 100
}

// DeltaValue converts a raw difference (hysteresis) to engineering units
// for linear sensors: |M| * delta * 10^RExp.
func (c *Conversion) DeltaValue(delta uint8) float64 {
	return math.Abs(float64(c.M)) * float64(delta) * math.Pow(10, float64(c.RExp))
}
