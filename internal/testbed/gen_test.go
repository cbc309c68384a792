package testbed

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated testdata (sim.sdrs, sim.emu) and golden tool outputs")

// The committed sim.sdrs and sim.emu must be what the Go tables generate.
func TestTestdataUpToDate(t *testing.T) {
	td, err := TestdataDir()
	if err != nil && !*update {
		t.Fatal(err)
	}
	for name, want := range map[string]string{sdrSourceFile: sdrSource(), emuFile: emuSource()} {
		path := filepath.Join(td, name)
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is stale: run go test ./internal/testbed -run TestTestdataUpToDate -update", path)
		}
	}
}

func TestSensorTableShape(t *testing.T) {
	full, keys := 0, map[string]bool{}
	kinds := map[AnalogFormat]bool{}
	var sawSat, sawUnreadable, sawNoScan, sawShare, sawEventOnly, sawLUN1 bool
	sev := map[string]int{}
	for _, s := range Sensors {
		if keys[s.Key()] {
			t.Errorf("duplicate sensor key %s (%s)", s.Key(), s.Name)
		}
		keys[s.Key()] = true
		if s.Record == FullRecord {
			full++
		}
		if s.IsThreshold() {
			kinds[s.Format] = true
		}
		sawSat = sawSat || s.Owner == SatelliteAddr
		sawUnreadable = sawUnreadable || !s.Simulated
		sawNoScan = sawNoScan || (s.Simulated && !s.Scanning)
		sawShare = sawShare || s.ShareCount > 1
		sawEventOnly = sawEventOnly || s.EventOnly
		sawLUN1 = sawLUN1 || s.LUN == 1
		sev[s.Severity()]++
		if s.RecordID == 0 {
			t.Errorf("%s has no record ID", s.Name)
		}
	}
	if full < 40 {
		t.Errorf("%d full sensor records, want >= 40", full)
	}
	if len(kinds) != 3 {
		t.Errorf("analog formats used: %v", kinds)
	}
	if !sawSat || !sawUnreadable || !sawNoScan || !sawShare || !sawEventOnly || !sawLUN1 {
		t.Errorf("missing a special sensor: satellite %v unreadable %v noscan %v shared %v eventonly %v lun1 %v",
			sawSat, sawUnreadable, sawNoScan, sawShare, sawEventOnly, sawLUN1)
	}
	if sev["warning"] < 3 || sev["critical"] < 3 {
		t.Errorf("severities %v: want several warning and critical sensors", sev)
	}
}

func TestConvert(t *testing.T) {
	cases := []struct {
		name string
		s    Sensor
		raw  uint8
		want float64
	}{
		{"linear", Sensor{M: 1}, 45, 45},
		{"M2 B-10 R-1", Sensor{M: 2, B: -10, RExp: -1}, 130, 25},
		{"Bexp", Sensor{M: 5, B: 3, BExp: 1, RExp: -1}, 70, 38},
		{"M157 R-3", Sensor{M: 157, RExp: -3}, 76, 11.932},
		{"2s negative", Sensor{M: 1, Format: TwosComplement}, 0xee, -18},
		{"1s negative", Sensor{M: 1, Format: OnesComplement}, 0xf3, -12},
		{"1s minus zero", Sensor{M: 1, Format: OnesComplement}, 0xff, 0},
		{"1s positive", Sensor{M: 5, RExp: -1, Format: OnesComplement}, 54, 27},
		{"1/x", Sensor{M: 1, RExp: -3, Linearization: LinInv}, 4, 250},
		{"sqr", Sensor{M: 1, Linearization: LinSqr}, 12, 144},
		{"sqrt", Sensor{M: 1, Linearization: LinSqrt}, 16, 4},
		{"exp10", Sensor{M: 1, Linearization: LinExp10}, 2, 100},
	}
	for _, c := range cases {
		if got := c.s.Convert(c.raw); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: Convert(%#x) = %v, want %v", c.name, c.raw, got, c.want)
		}
	}
}

func TestRawOfRoundTrip(t *testing.T) {
	for _, f := range []AnalogFormat{OnesComplement, TwosComplement} {
		for v := -127; v <= 127; v++ {
			s := Sensor{M: 1, Format: f}
			if got := s.Convert(rawOf(f, v)); got != float64(v) {
				t.Fatalf("format %d: %d -> %#x -> %v", f, v, rawOf(f, v), got)
			}
		}
	}
}

func TestFRUImageChecksums(t *testing.T) {
	img := FRUImage()
	if len(img) > FRUSize || len(img)%8 != 0 {
		t.Fatalf("FRU image length %d", len(img))
	}
	if checksum(img[:8]) != 0 {
		t.Error("common header checksum")
	}
	for _, off := range []int{int(img[3]) * 8, int(img[4]) * 8} {
		n := int(img[off+1]) * 8
		if checksum(img[off:off+n]) != 0 {
			t.Errorf("area at %d: bad checksum", off)
		}
	}
}
