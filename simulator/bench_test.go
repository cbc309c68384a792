package simulator

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// BenchmarkFleetMemory reports the memory one BMC costs: idle (socket,
// serve goroutine, model state) and after a session has run commands on it.
func BenchmarkFleetMemory(b *testing.B) {
	const n = 1000
	if !ensureFileLimit(b, n) {
		b.Skipf("SKIPPED: open-files hard limit below %d", n+256)
	}
	p, err := model.LoadProfile("dual-socket-1u")
	if err != nil {
		b.Fatal(err)
	}
	var idle, busy uint64
	for range b.N {
		before := heapAndStacks()
		f, err := NewFleet(FleetConfig{
			Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
			Count:      n,
			BMC:        BMCConfig{Users: []User{{Name: peerUser, Password: peerPassword}}},
			NewHandler: ModelHandlers(p, 5, nil, model.Quirks{}),
		})
		if err != nil {
			b.Fatal(err)
		}
		idle += (heapAndStacks() - before) / n
		for i := range n {
			c := newV2Console(b, f.BMC(i), 17, peerUser, peerPassword, wire.PrivilegeAdmin)
			c.login(wire.PrivilegeAdmin)
			c.command(wire.NetFnSensorEvent, 0x2D, []byte{0x01})
			c.command(wire.NetFnStorage, 0x40, nil)
		}
		busy += (heapAndStacks() - before) / n
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(idle)/float64(b.N), "idle-bytes/BMC")
	b.ReportMetric(float64(busy)/float64(b.N), "session-bytes/BMC")
}

// BenchmarkRequest measures the CPU one request costs the BMC side,
// without the network: verify, decrypt, decode, run the model, encode,
// encrypt, sign.
func BenchmarkRequest(b *testing.B) {
	p, err := model.LoadProfile("dual-socket-1u")
	if err != nil {
		b.Fatal(err)
	}
	newModelBMC := func(b *testing.B) *BMC {
		cfg, err := BMCConfig{Users: []User{{Name: peerUser, Password: peerPassword}}}.normalized()
		if err != nil {
			b.Fatal(err)
		}
		m, err := model.New(p, model.Options{Seed: 1, Clock: peerClock})
		if err != nil {
			b.Fatal(err)
		}
		return newBMC(0, &cfg, m, peerClock, 1)
	}
	b.Run("presence-ping", func(b *testing.B) {
		bmc := newModelBMC(b)
		pkt := pingPacket(1)
		dst := make([]byte, 0, 256)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, ok := bmc.respond(pkt, testConsoleAddr, dst); !ok {
				b.Fatal("no pong")
			}
		}
	})
	for _, suite := range []uint8{0, 3, 17} {
		for _, cmd := range []struct {
			name  string
			netFn wire.NetFn
			cmd   uint8
			data  []byte
		}{
			{"get-sensor-reading", wire.NetFnSensorEvent, 0x2D, []byte{0x01}},
			{"get-sdr", wire.NetFnStorage, 0x23, []byte{0, 0, 0, 0, 0, 0xFF}},
		} {
			b.Run("suite"+strconv.Itoa(int(suite))+"-"+cmd.name, func(b *testing.B) {
				bmc := newModelBMC(b)
				c := newV2Console(b, bmc, suite, peerUser, peerPassword, wire.PrivilegeAdmin)
				c.login(wire.PrivilegeAdmin)
				const batch = 512
				pkts := make([][]byte, 0, batch)
				dst := make([]byte, 0, 512)
				b.ReportAllocs()
				for b.Loop() {
					if len(pkts) == 0 {
						b.StopTimer()
						for range batch {
							pkts = append(pkts, c.requestPacket(cmd.netFn, cmd.cmd, cmd.data))
						}
						b.StartTimer()
					}
					if _, _, _, ok := bmc.respond(pkts[0], testConsoleAddr, dst); !ok {
						b.Fatal("no reply")
					}
					pkts = pkts[1:]
				}
			})
		}
	}
}

// BenchmarkUDPRoundTrip measures one ping round trip through a served
// BMC's socket on loopback (syscalls and scheduling included).
func BenchmarkUDPRoundTrip(b *testing.B) {
	f := fakeFleet(b, "127.0.0.1", 1, Faults{})
	conn := clientConn(b, "127.0.0.1")
	addr := f.BMC(0).Addr()
	pkt := pingPacket(9)
	buf := make([]byte, 256)
	for b.Loop() {
		if _, err := conn.WriteToUDPAddrPort(pkt, addr); err != nil {
			b.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}
