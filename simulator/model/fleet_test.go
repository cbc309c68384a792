package model

import (
	"runtime"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// maxBytesPerBMC bounds a fresh BMC's heap. The simulator hosts 5,000 of
// them in one process; the shared compiled profile is not counted per BMC.
const maxBytesPerBMC = 4096

// TestFleetMemory builds 5,000 BMCs of the largest-SEL built-in profile and
// measures the heap they add.
func TestFleetMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 5,000 BMCs")
	}
	const fleet = 5000
	for _, name := range []string{"dual-socket-1u", "gpu-box"} {
		p, err := LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		clock := func() time.Time { return testEpoch }
		// Compile outside the measurement: it is shared by the fleet.
		if _, err := New(p, Options{Clock: clock}); err != nil {
			t.Fatal(err)
		}
		bmcs := make([]*BMC, fleet)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range bmcs {
			if bmcs[i], err = New(p, Options{Seed: 1, Clock: clock, Index: i}); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perBMC := float64(after.HeapAlloc-before.HeapAlloc) / fleet
		t.Logf("%s: %.0f bytes per BMC (%d BMCs, %.1f MiB)", name, perBMC, fleet, float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
		if perBMC > maxBytesPerBMC {
			t.Errorf("%s: %.0f bytes per BMC, want at most %d", name, perBMC, maxBytesPerBMC)
		}
		// Every BMC answers, and they share the encoded repository.
		for _, b := range []*BMC{bmcs[0], bmcs[fleet-1]} {
			if cc := code(b, wire.Target{}, wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{0x01}, wire.PrivilegeUser); cc != wire.CCOK {
				t.Fatalf("reading: %s", cc)
			}
		}
		if &bmcs[0].records()[0].data[0] != &bmcs[fleet-1].records()[0].data[0] {
			t.Error("BMCs of one profile do not share their SDR bytes")
		}
		runtime.KeepAlive(bmcs)
	}
}

func BenchmarkGetSensorReading(b *testing.B) {
	bmc, _ := newTestBMC(b, "dual-socket-1u", 0)
	for _, bc := range []struct {
		name   string
		target wire.Target
		number uint8
	}{
		{"threshold", wire.Target{}, 0x01},
		{"discrete", wire.Target{}, 0x60},
		{"bridged", wire.Target{Channel: 6, Addr: 0x2C}, 0x50},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte{bc.number}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if cc, _ := bmc.Handle(bc.target, wire.NetFnSensorEvent, command.CmdGetSensorReading, data, wire.PrivilegeUser); cc != wire.CCOK {
					b.Fatal(cc)
				}
			}
		})
	}
}

func BenchmarkGetSDR(b *testing.B) {
	bmc, _ := newTestBMC(b, "gpu-box", 0)
	req := (&command.GetSDRRequest{RecordID: 10, Length: command.ReadWholeRecord}).AppendTo(nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if cc, _ := bmc.Handle(wire.Target{}, wire.NetFnStorage, command.CmdGetSDR, req, wire.PrivilegeUser); cc != wire.CCOK {
			b.Fatal(cc)
		}
	}
}
