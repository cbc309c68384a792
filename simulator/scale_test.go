package simulator

import (
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// largeFleetSize is the fleet one process must host.
const largeFleetSize = 5000

// ensureFileLimit raises the soft open-files limit so n sockets fit,
// reporting false when the hard limit is too low.
func ensureFileLimit(t testing.TB, n int) bool {
	t.Helper()
	need := uint64(n) + 256 // sockets plus test harness, clients and slack
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= need {
		return true
	}
	if lim.Max < need {
		return false
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit to %d: %v", lim.Max, err)
	}
	return true
}

// heapAndStacks returns live heap plus goroutine stack bytes after a GC.
func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

func TestFleet5000BMCs(t *testing.T) {
	if !ensureFileLimit(t, largeFleetSize) {
		t.Skipf("SKIPPED LOUDLY: the hard open-files limit is below %d; the 5,000-BMC fleet test did NOT run. "+
			"Raise it (ulimit -Hn, or LimitNOFILE in the unit) to run it.", largeFleetSize+256)
	}
	p, err := model.LoadProfile("dual-socket-1u")
	if err != nil {
		t.Fatal(err)
	}
	before := heapAndStacks()
	start := time.Now()
	f, err := NewFleet(FleetConfig{
		Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
		Count:      largeFleetSize,
		BMC:        BMCConfig{Users: []User{{Name: peerUser, Password: peerPassword}}},
		NewHandler: ModelHandlers(p, 5, nil, model.Quirks{}),
		Seed:       5,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		closeStart := time.Now()
		if err := f.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		t.Logf("closed %d BMCs in %s", largeFleetSize, time.Since(closeStart).Round(time.Millisecond))
	}()
	started := time.Since(start)
	perBMC := (heapAndStacks() - before) / largeFleetSize
	t.Logf("%d BMCs on %s-%d started in %s; heap+stacks %d bytes per BMC (idle)",
		largeFleetSize, f.BMC(0).Addr(), f.BMC(largeFleetSize-1).Addr().Port(), started.Round(time.Millisecond), perBMC)
	if perBMC > 64<<10 {
		t.Errorf("%d bytes per idle BMC; the budget is 64 KiB", perBMC)
	}

	conn := clientConn(t, "127.0.0.1")
	answered := 0
	for i := 0; i < largeFleetSize; i += 37 {
		if _, ok := udpPing(t, conn, f.BMC(i).Addr(), uint8(i), 2*time.Second); ok {
			answered++
		} else {
			t.Errorf("BMC %d at %s did not answer a presence ping", i, f.BMC(i).Addr())
		}
	}
	last := f.BMC(largeFleetSize - 1)
	if _, ok := udpPing(t, conn, last.Addr(), 1, 2*time.Second); !ok {
		t.Errorf("last BMC at %s did not answer", last.Addr())
	}
	if s := f.Counters(); s.Command("presence_ping") != uint64(answered+1) {
		t.Errorf("fleet counted %d pings, %d answered", s.Command("presence_ping"), answered+1)
	}
}
