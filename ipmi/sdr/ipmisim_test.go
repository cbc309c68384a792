package sdr

import (
	"encoding/hex"
	"reflect"
	"strconv"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

// TestRecordsMatchIpmitool decodes records of the test BMC's repository
// (testdata/ipmisim/sim.sdrs compiled with "sdrcomp -8", as ipmi_sim serves
// them) and converts the readings ipmi_sim reports (sim.emu), then compares
// with what "ipmitool sensor" printed for them
// (testdata/ipmisim/golden/ipmitool_sensor.txt). The records cover 2's and
// 1's complement, non-trivial M/B/exponents, negative thresholds and a
// percentage unit.
func TestRecordsMatchIpmitool(t *testing.T) {
	for _, c := range []struct {
		record string
		raw    uint8
		name   string
		value  string
		unit   string
		th     [6]string // lnr, lcr, lnc, unc, ucr, unr
	}{
		{"0b0051013a2000091e0167440101957a957a3f0080010000010000000100000000007f80fefaf6d8dde20000000000cf436f6c6420506c6174652054656d70",
			0xEE, "Cold Plate Temp", "-18.000", "degrees C", [6]string{"-40.000", "-35.000", "-30.000", "-10.000", "-6.000", "-2.000"}},
		{"0d0051013720000b270267440101957a957a3f0040010000010000000100000000007f80fefcfad7e1eb0000000000cc4f7574646f6f722054656d70",
			0xF3, "Outdoor Temp", "-12.000", "degrees C", [6]string{"-40.000", "-30.000", "-20.000", "-5.000", "-3.000", "-1.000"}},
		{"160051012f200014070167440201957a957a3f00000400009d00000001d000000000ff005855524044470000000000c450313256",
			0x4C, "P12V", "11.932", "Volts", [6]string{"10.048", "10.676", "11.147", "12.874", "13.345", "13.816"}},
		{"1e0051013120001c070167440201957a957a3f00800400009d00000001d0000000007f80c0bcb9a8abae0000000000c6564e45473132",
			0xB4, "VNEG12", "-11.932", "Volts", [6]string{"-13.816", "-13.345", "-12.874", "-11.147", "-10.676", "-10.048"}},
		{"210051013620001f280167440301957a957a3f00800500000500000001e0000000007f80fefaf6889cb00000000000cb4241542043757272656e74",
			0xD8, "BAT Current", "-2.000", "Amps", [6]string{"-6.000", "-5.000", "-4.000", "-0.500", "-0.300", "-0.100"}},
		{"2700510133200025270167440b01800a807a38000100000001000000010000000000ff005a50460000000000000000c848756d6964697479",
			0x2D, "Humidity", "45.000", "percent", [6]string{"na", "na", "na", "70.000", "80.000", "90.000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := hex.DecodeString(c.record)
			rec, err := ParseRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			infos := AppendSensorInfos(nil, rec)
			if len(infos) != 1 {
				t.Fatalf("%d sensors", len(infos))
			}
			info := &infos[0]
			s := Sensor{SensorInfo: info, Reading: command.GetSensorReadingResponse{Reading: c.raw, Len: 2}}
			v, ok := s.Value()
			if !ok || info.Name != c.name || strconv.FormatFloat(v, 'f', 3, 64) != c.value || info.Unit != c.unit {
				t.Errorf("got %q %v(%v) %q, want %q %s %q", info.Name, v, ok, info.Unit, c.name, c.value, c.unit)
			}
			for i, th := range []Threshold{LowerNonRecoverable, LowerCritical, LowerNonCritical, UpperNonCritical, UpperCritical, UpperNonRecoverable} {
				got := "na"
				if tv, ok := info.Thresholds.Value(th, &info.Conversion); ok {
					got = strconv.FormatFloat(tv, 'f', 3, 64)
				}
				if got != c.th[i] {
					t.Errorf("%v = %s, want %s", th, got, c.th[i])
				}
			}
			// ipmitool's status column says "ok" for all of these; without
			// state bytes the thresholds decide.
			if sev := s.Severity(); sev != Nominal {
				t.Errorf("Severity = %v", sev)
			}
			// The record re-encodes to the bytes ipmi_sim serves.
			if enc := rec.AppendTo(nil); !reflect.DeepEqual(enc, b) {
				t.Errorf("AppendTo =\n%x\nwant\n%x", enc, b)
			}
		})
	}
}

// TestSharedRecordMatchesFreeIPMI expands the test BMC's shared compact
// record (four DIMMs, numeric modifier from 1) the way "ipmi-sensors
// --shared-sensors" lists it.
func TestSharedRecordMatchesFreeIPMI(t *testing.T) {
	b, _ := hex.DecodeString("340051021f200032200167400c6f7f007f000000c000000481000000000000c444494d4d")
	rec, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range AppendSensorInfos(nil, rec) {
		got = append(got, s.Name+"#"+strconv.Itoa(int(s.Number))+"@"+s.Entity.String())
	}
	want := []string{"DIMM 1#50@32.1", "DIMM 2#51@32.2", "DIMM 3#52@32.3", "DIMM 4#53@32.4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
