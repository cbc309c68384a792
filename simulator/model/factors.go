package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
)

// rawRange is the smallest and largest raw reading of an analog format.
func rawRange(f sdr.AnalogFormat) (lo, hi int) {
	switch f {
	case sdr.AnalogOnesComplement:
		return -127, 127
	case sdr.AnalogTwosComplement:
		return -128, 127
	}
	return 0, 255
}

// Factor limits of the SDR fields.
const (
	factorMin, factorMax = -512, 511
	expMin, expMax       = -8, 7
)

var errRange = errors.New("range cannot be represented by SDR factors")

// roundTolerance is how much coarser than the finest possible step a
// rounder M may be: 0.5 °C steps instead of 0.499, 100 RPM instead of 99.
const roundTolerance = 0.02

// SolveFactors chooses M, B, RExp and BExp so that every value in
// [lo, hi] lies between the values of the smallest and the largest raw
// count of format, with nearly the smallest step (finest resolution) the
// 10-bit M and 4-bit exponent fields allow: a step up to 2% coarser is
// taken when it makes M rounder (5×10⁻¹ rather than 499×10⁻³). Among
// offsets that fit it takes the roundest (coarsest exponent), and 0 when
// possible, so the factors look like a real BMC's. The factors are for
// linearization "linear".
func SolveFactors(lo, hi float64, format sdr.AnalogFormat) (command.ReadingFactors, error) {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return command.ReadingFactors{}, fmt.Errorf("range [%g, %g]: %w", lo, hi, errRange)
	}
	if !(lo < hi) {
		return command.ReadingFactors{}, fmt.Errorf("range [%g, %g]: min must be below max: %w", lo, hi, errRange)
	}
	if format > sdr.AnalogTwosComplement {
		return command.ReadingFactors{}, fmt.Errorf("analog format %s: %w", format, errRange)
	}
	rawLo, rawHi := rawRange(format)
	rawSpan := float64(rawHi - rawLo)
	type candidate struct {
		f    command.ReadingFactors
		step float64
	}
	var cands []candidate
	bestStep := math.Inf(1)
	for rexp := expMin; rexp <= expMax; rexp++ {
		scale := math.Pow10(rexp)
		ideal := (hi - lo) / rawSpan / scale
		// A hair of tolerance so 0.5 stays 0.5 despite binary fractions.
		m := int(math.Ceil(ideal * (1 - 1e-12)))
		if m < 1 {
			m = 1
		}
		if m > factorMax {
			continue
		}
		// The offset O = B*10^BExp (in units of scale) must put raw lo at
		// or below the range and raw hi at or above it.
		oLo := hi/scale - float64(m*rawHi)
		oHi := lo/scale - float64(m*rawLo)
		b, bexp, ok := roundestInInterval(oLo, oHi)
		if !ok {
			continue
		}
		step := float64(m) * scale
		cands = append(cands, candidate{
			f:    command.ReadingFactors{M: int16(m), B: int16(b), RExp: int8(rexp), BExp: int8(bexp)},
			step: step,
		})
		bestStep = math.Min(bestStep, step)
	}
	// Candidates come in ascending RExp, so the last one within
	// roundTolerance of the finest step has the fewest significant
	// digits in M.
	found := false
	var best command.ReadingFactors
	for _, c := range cands {
		if c.step <= bestStep*(1+roundTolerance) {
			best, found = c.f, true
		}
	}
	if !found {
		return command.ReadingFactors{}, fmt.Errorf("range [%g, %g]: %w", lo, hi, errRange)
	}
	return best, nil
}

// roundestInInterval finds B in [-512, 511] and BExp in [-8, 7] with
// B*10^BExp in [lo, hi] (up to rounding noise), preferring 0, then the
// coarsest exponent.
func roundestInInterval(lo, hi float64) (b, bexp int, ok bool) {
	tol := 1e-9 * math.Max(1, math.Max(math.Abs(lo), math.Abs(hi)))
	if lo-tol <= 0 && 0 <= hi+tol {
		return 0, 0, true
	}
	for e := expMax; e >= expMin; e-- {
		unit := math.Pow10(e)
		c := math.Ceil((lo - tol) / unit)
		if c*unit > hi+tol || c < factorMin || c > factorMax {
			continue
		}
		return int(c), e, true
	}
	return 0, 0, false
}
