package model

import (
	"math"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
)

func conversionOf(f command.ReadingFactors, format sdr.AnalogFormat) sdr.Conversion {
	return sdr.Conversion{Format: format, Linearization: sdr.LinearizationLinear, M: f.M, B: f.B, RExp: f.RExp, BExp: f.BExp}
}

func TestSolveFactors(t *testing.T) {
	tests := []struct {
		name     string
		lo, hi   float64
		format   sdr.AnalogFormat
		maxStep  float64 // the resolution the factors must reach
		wantM    int16   // 0 = do not check
		wantRExp int8
	}{
		{"temperature 0-127 °C", 0, 127, sdr.AnalogUnsigned, 0.5, 5, -1},
		{"fan 0-25000 RPM", 0, 25000, sdr.AnalogUnsigned, 100, 1, 2},
		{"DIMM voltage 0-1.5 V", 0, 1.5, sdr.AnalogUnsigned, 0.006, 6, -3},
		{"inlet -40..+125 °C 2's complement", -40, 125, sdr.AnalogTwosComplement, 0.65, 65, -2},
		{"inlet -40..+125 °C 1's complement", -40, 125, sdr.AnalogOnesComplement, 0.66, 0, 0},
		{"power 0-3000 W", 0, 3000, sdr.AnalogUnsigned, 12, 0, 0},
		{"input voltage 0-300 V", 0, 300, sdr.AnalogUnsigned, 1.2, 0, 0},
		{"current 0-12 A", 0, 12, sdr.AnalogUnsigned, 0.05, 0, 0},
		{"offset range 150-400 W", 150, 400, sdr.AnalogUnsigned, 1, 0, 0},
		{"negative only -100..-10", -100, -10, sdr.AnalogUnsigned, 0.36, 0, 0},
		{"tiny 0-0.01", 0, 0.01, sdr.AnalogUnsigned, 0.00004, 0, 0},
		{"large 0-1e9", 0, 1e9, sdr.AnalogUnsigned, 4e6, 0, 0},
		{"symmetric -1..1 2's complement", -1, 1, sdr.AnalogTwosComplement, 0.008, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := SolveFactors(tc.lo, tc.hi, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if f.M < factorMin || f.M > factorMax || f.B < factorMin || f.B > factorMax ||
				f.RExp < expMin || f.RExp > expMax || f.BExp < expMin || f.BExp > expMax || f.M == 0 {
				t.Fatalf("factors out of field range: %+v", f)
			}
			// Round-trip the factors through the record encoding, as a
			// client sees them.
			f2, err := command.DecodeReadingFactors(f.AppendTo(nil))
			if err != nil || f2 != f {
				t.Fatalf("factors %+v do not survive encoding: %+v, %v", f, f2, err)
			}
			if tc.wantM != 0 && (f.M != tc.wantM || f.RExp != tc.wantRExp) {
				t.Errorf("M=%d RExp=%d, want M=%d RExp=%d", f.M, f.RExp, tc.wantM, tc.wantRExp)
			}
			c := conversionOf(f, tc.format)
			step := c.DeltaValue(1)
			if step > tc.maxStep*(1+1e-9) {
				t.Errorf("step %g, want at most %g (%+v)", step, tc.maxStep, f)
			}
			// The raw range must cover [lo, hi].
			rlo, rhi := rawRange(tc.format)
			vlo, _ := c.Value(rawByte(rlo, tc.format))
			vhi, _ := c.Value(rawByte(rhi, tc.format))
			if vlo > tc.lo+1e-9*math.Abs(tc.lo) || vhi < tc.hi-1e-9*math.Abs(tc.hi) {
				t.Errorf("raw range maps to [%g, %g], does not cover [%g, %g] (%+v)", vlo, vhi, tc.lo, tc.hi, f)
			}
			// Every value in range converts to a raw reading within half a
			// step (plus float noise).
			for i := 0; i <= 1000; i++ {
				v := tc.lo + (tc.hi-tc.lo)*float64(i)/1000
				raw, err := c.Raw(v)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := c.Value(raw)
				if !ok || math.Abs(got-v) > step/2*(1+1e-9)+1e-12 {
					t.Fatalf("value %g → raw %#x → %g (ok %v), step %g", v, raw, got, ok, step)
				}
			}
		})
	}
}

// rawByte encodes a signed raw count in a format.
func rawByte(x int, f sdr.AnalogFormat) uint8 {
	if x < 0 && f == sdr.AnalogOnesComplement {
		return uint8(0xFF + x)
	}
	return uint8(x)
}

func TestSolveFactorsRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi float64
		format sdr.AnalogFormat
	}{
		{"empty range", 5, 5, sdr.AnalogUnsigned},
		{"inverted", 10, 0, sdr.AnalogUnsigned},
		{"NaN", math.NaN(), 1, sdr.AnalogUnsigned},
		{"infinite", 0, math.Inf(1), sdr.AnalogUnsigned},
		{"too large", 0, 1e13, sdr.AnalogUnsigned},
		{"no analog format", 0, 1, sdr.AnalogNone},
	} {
		if f, err := SolveFactors(tc.lo, tc.hi, tc.format); err == nil {
			t.Errorf("%s: got %+v, want an error", tc.name, f)
		}
	}
}
