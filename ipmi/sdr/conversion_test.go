package sdr

import (
	"errors"
	"math"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

func TestConversionValue(t *testing.T) {
	lin := func(l Linearization) Conversion { return Conversion{M: 1, Linearization: l} }
	for _, c := range []struct {
		name string
		conv Conversion
		raw  uint8
		want float64
	}{
		{"identity", Conversion{M: 1}, 40, 40},
		{"12V rail M=68 R=-3", Conversion{M: 68, RExp: -3}, 0xB0, 11.968},
		{"exact decimal 45.3", Conversion{M: 3, RExp: -1}, 151, 45.3},
		{"fan M=75", Conversion{M: 75}, 0x30, 3600},
		{"B with positive exponent", Conversion{M: 2, B: 5, BExp: 1, RExp: -1}, 10, 7},
		{"B with negative exponent", Conversion{M: 1, B: 25, BExp: -1}, 10, 12.5},
		{"negative M", Conversion{M: -2, B: 100}, 10, 80},
		{"10-bit extremes", Conversion{M: -512, B: 511, RExp: -2}, 1, -0.01},
		{"2's complement", Conversion{Format: AnalogTwosComplement, M: 1}, 0xF6, -10},
		{"2's complement -128", Conversion{Format: AnalogTwosComplement, M: 1}, 0x80, -128},
		{"1's complement", Conversion{Format: AnalogOnesComplement, M: 1}, 0xF5, -10},
		{"1's complement -0", Conversion{Format: AnalogOnesComplement, M: 1}, 0xFF, 0},
		{"1's complement -127", Conversion{Format: AnalogOnesComplement, M: 1}, 0x80, -127},
		{"unsigned high byte", Conversion{M: 1}, 0xF6, 246},
		{"ln", lin(LinearizationLn), 8, math.Log(8)},
		{"log10", lin(LinearizationLog10), 100, 2},
		{"log2", lin(LinearizationLog2), 8, 3},
		{"e", lin(LinearizationE), 2, math.Exp(2)},
		{"exp10", lin(LinearizationExp10), 3, 1000},
		{"exp2", lin(LinearizationExp2), 8, 256},
		{"1/x", lin(LinearizationInverse), 8, 0.125},
		{"sqr", lin(LinearizationSqr), 8, 64},
		{"cube", lin(LinearizationCube), 8, 512},
		{"sqrt", lin(LinearizationSqrt), 16, 4},
		{"cube root", lin(LinearizationCubeRoot), 27, 3},
		{"L applied after exponents", Conversion{M: 1, RExp: 1, Linearization: LinearizationLog10}, 10, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := c.conv.Value(c.raw)
			if !ok {
				t.Fatalf("Value(%#x) not ok", c.raw)
			}
			if got != c.want && math.Abs(got-c.want) > 1e-12*math.Abs(c.want) {
				t.Errorf("Value(%#x) = %v, want %v", c.raw, got, c.want)
			}
		})
	}
}

func TestConversionNoValue(t *testing.T) {
	for _, c := range []struct {
		name string
		conv Conversion
		raw  uint8
	}{
		{"no analog reading", Conversion{Format: AnalogNone, M: 1}, 1},
		{"non-linear needs factors", Conversion{M: 1, Linearization: 0x70}, 1},
		{"non-linear 7Fh", Conversion{M: 1, Linearization: 0x7F}, 1},
		{"reserved linearization", Conversion{M: 1, Linearization: 0x0C}, 1},
		{"ln 0", Conversion{M: 1, Linearization: LinearizationLn}, 0},
		{"1/0", Conversion{M: 1, Linearization: LinearizationInverse}, 0},
		{"sqrt of negative", Conversion{M: -1, Linearization: LinearizationSqrt}, 4},
		{"exponent out of range", Conversion{M: 1, RExp: 9}, 1},
	} {
		if v, ok := c.conv.Value(c.raw); ok {
			t.Errorf("%s: Value = %v, want none", c.name, v)
		}
	}
}

func TestConversionWithFactors(t *testing.T) {
	c := Conversion{M: 1, Linearization: 0x71}
	if _, ok := c.Value(10); ok {
		t.Fatal("non-linear converted without factors")
	}
	nc := c.WithFactors(command.ReadingFactors{M: 5, B: 1, BExp: 1, RExp: -1})
	if got, ok := nc.Value(10); !ok || got != 6 {
		t.Errorf("with factors: %v %v, want 6", got, ok)
	}
}

// TestConversionRawInverts checks that Raw finds the raw reading back for
// every reading of a set of realistic and awkward conversions.
func TestConversionRawInverts(t *testing.T) {
	for _, c := range []Conversion{
		{M: 1},
		{M: 68, RExp: -3},
		{M: 75},
		{M: -2, B: 300},
		{M: 3, B: -7, BExp: 1, RExp: -2},
		{Format: AnalogTwosComplement, M: 1},
		{Format: AnalogTwosComplement, M: 5, B: 2, RExp: -1},
		{Format: AnalogOnesComplement, M: 1},
		{M: 1, B: 1, Linearization: LinearizationInverse},
		{M: 1, Linearization: LinearizationSqr},
		{M: 1, Linearization: LinearizationCube},
		{M: 1, RExp: -1, Linearization: LinearizationExp10},
		{M: 1, B: 1, Linearization: LinearizationLn},
		{M: 1, Linearization: LinearizationSqrt},
		{M: 1, Linearization: LinearizationCubeRoot},
	} {
		for raw := 0; raw < 256; raw++ {
			if c.Format == AnalogOnesComplement && raw == 0xFF {
				continue // -0 and +0 are the same value
			}
			v, ok := c.Value(uint8(raw))
			if !ok {
				continue
			}
			got, err := c.Raw(v)
			if err != nil {
				t.Fatalf("%+v: Raw(%v): %v", c, v, err)
			}
			if gv, _ := c.Value(got); gv != v {
				t.Errorf("%+v: Raw(Value(%#x)=%v) = %#x (value %v)", c, raw, v, got, gv)
			}
		}
	}
}

func TestConversionRawRoundsAndClamps(t *testing.T) {
	c := Conversion{M: 68, RExp: -3} // 0.068 V per count
	for _, tc := range []struct {
		v    float64
		want uint8
	}{
		{12.0, 176}, // 11.968 is nearer than 12.036
		{12.03, 177},
		{0, 0},
		{-5, 0},     // below range: lowest reading
		{1000, 255}, // above range: highest reading
	} {
		got, err := c.Raw(tc.v)
		if err != nil || got != tc.want {
			t.Errorf("Raw(%v) = %d, %v; want %d", tc.v, got, err, tc.want)
		}
	}
	tw := Conversion{Format: AnalogTwosComplement, M: 1}
	if got, _ := tw.Raw(-200); got != 0x80 {
		t.Errorf("2's complement clamp low = %#x", got)
	}
	if got, _ := tw.Raw(-3); got != 0xFD {
		t.Errorf("2's complement -3 = %#x", got)
	}
	one := Conversion{Format: AnalogOnesComplement, M: 1}
	if got, _ := one.Raw(-3); got != 0xFC {
		t.Errorf("1's complement -3 = %#x", got)
	}
}

func TestConversionRawErrors(t *testing.T) {
	for _, c := range []struct {
		conv Conversion
		v    float64
	}{
		{Conversion{Format: AnalogNone, M: 1}, 1},
		{Conversion{M: 0, B: 5}, 5},
		{Conversion{M: 1}, math.NaN()},
		{Conversion{M: 1}, math.Inf(1)},
		{Conversion{M: 1, Linearization: 0x70}, 1},
	} {
		if _, err := c.conv.Raw(c.v); !errors.Is(err, ErrNoConversion) {
			t.Errorf("%+v Raw(%v) = %v, want ErrNoConversion", c.conv, c.v, err)
		}
	}
}

func TestToleranceAccuracyDelta(t *testing.T) {
	c := Conversion{M: 68, RExp: -3, Tolerance: 4, Accuracy: 150, AccuracyExp: 1}
	if got := c.ToleranceValue(); math.Abs(got-0.136) > 1e-12 {
		t.Errorf("ToleranceValue = %v, want 0.136", got)
	}
	if got := c.AccuracyPercent(); got != 15 {
		t.Errorf("AccuracyPercent = %v, want 15", got)
	}
	if got := c.DeltaValue(2); math.Abs(got-0.136) > 1e-12 {
		t.Errorf("DeltaValue = %v", got)
	}
}

func TestLinearizationString(t *testing.T) {
	if LinearizationCubeRoot.String() != "cube root" || Linearization(0x70).String() != "non-linear 0x70" ||
		Linearization(0x20).String() != "linearization 0x20" {
		t.Error("Linearization.String")
	}
}

func FuzzConversion(f *testing.F) {
	f.Add(uint8(0), uint8(0), int16(1), int16(0), int8(0), int8(0), uint8(10), 12.5)
	f.Add(uint8(2), uint8(7), int16(-3), int16(100), int8(-2), int8(1), uint8(0xF0), -1.0)
	f.Fuzz(func(t *testing.T, format, lin uint8, m, b int16, rexp, bexp int8, raw uint8, v float64) {
		c := Conversion{
			Format: AnalogFormat(format & 3), Linearization: Linearization(lin & 0x7F),
			M: m%512 + 0, B: b % 512, RExp: rexp % 8, BExp: bexp % 8,
		}
		if val, ok := c.Value(raw); ok && (math.IsNaN(val) || math.IsInf(val, 0)) {
			t.Fatalf("Value returned %v as ok", val)
		}
		got, err := c.Raw(v)
		if err != nil {
			if !errors.Is(err, ErrNoConversion) {
				t.Fatalf("Raw error %v", err)
			}
			return
		}
		if _, ok := c.Value(got); !ok {
			t.Fatalf("Raw(%v) = %#x, which does not convert", v, got)
		}
	})
}
