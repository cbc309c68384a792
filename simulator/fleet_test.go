package simulator

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeFleet starts a fleet of fake-handler BMCs on a free port range.
func fakeFleet(t testing.TB, addr string, count int, faults Faults) *Fleet {
	t.Helper()
	f, err := NewFleet(FleetConfig{
		Addr:       netip.AddrPortFrom(netip.MustParseAddr(addr), 0),
		Count:      count,
		BMC:        BMCConfig{Users: testUsers},
		NewHandler: func(int) (Handler, error) { return &fakeHandler{}, nil },
		Seed:       7,
		Faults:     faults,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close fleet: %v", err)
		}
	})
	return f
}

// udpPing sends a presence ping to addr and waits up to timeout for the
// pong; it returns the round-trip time.
func udpPing(t testing.TB, conn *net.UDPConn, addr netip.AddrPort, tag uint8, timeout time.Duration) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	if _, err := conn.WriteToUDPAddrPort(pingPacket(tag), addr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	deadline := start.Add(timeout)
	for {
		conn.SetReadDeadline(deadline)
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return 0, false
		}
		p, err := wire.ParsePacket(buf[:n])
		if err == nil && p.ASF != nil && p.ASF.Tag == tag && from.Port() == addr.Port() {
			return time.Since(start), true
		}
	}
}

func clientConn(t testing.TB, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFleetConsecutivePorts(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			f := fakeFleet(t, addr, 5, Faults{})
			conn := clientConn(t, addr)
			first := f.BMC(0).Addr().Port()
			for i := range f.Len() {
				a := f.BMC(i).Addr()
				if a.Port() != first+uint16(i) || a.Addr() != netip.MustParseAddr(addr) {
					t.Fatalf("BMC %d on %s, want port %d", i, a, first+uint16(i))
				}
				if _, ok := udpPing(t, conn, a, uint8(i), 2*time.Second); !ok {
					t.Fatalf("BMC %d at %s did not answer a ping", i, a)
				}
			}
			s := f.Counters()
			if s.PacketsIn != 5 || s.PacketsOut != 5 || s.Command("presence_ping") != 5 {
				t.Fatalf("fleet counters %s %v", s, s.Commands)
			}
			if c := f.BMC(2).Counters(); c.PacketsIn != 1 || c.PacketsOut != 1 {
				t.Fatalf("BMC 2 counters %s", c)
			}
		})
	}
}

func TestFleetLatencyOverNetwork(t *testing.T) {
	f := fakeFleet(t, "127.0.0.1", 2, Faults{})
	conn := clientConn(t, "127.0.0.1")
	if err := f.BMC(1).SetFaults(Faults{Latency: 150 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	fast, ok := udpPing(t, conn, f.BMC(0).Addr(), 1, 2*time.Second)
	if !ok {
		t.Fatal("BMC 0 silent")
	}
	slow, ok := udpPing(t, conn, f.BMC(1).Addr(), 2, 2*time.Second)
	if !ok {
		t.Fatal("BMC 1 silent")
	}
	if slow < 150*time.Millisecond || fast > 100*time.Millisecond {
		t.Fatalf("round trips %s (no latency) and %s (150ms latency)", fast, slow)
	}
	f.SetFaults(Faults{Silent: true})
	if _, ok := udpPing(t, conn, f.BMC(0).Addr(), 3, 200*time.Millisecond); ok {
		t.Fatal("silent fleet answered")
	}
}

// TestFleetCloseDiscardsDelayedReplies: Close must not wait out latency.
func TestFleetCloseDiscardsDelayedReplies(t *testing.T) {
	f := fakeFleet(t, "127.0.0.1", 3, Faults{Latency: time.Hour})
	conn := clientConn(t, "127.0.0.1")
	for i := range f.Len() {
		conn.WriteToUDPAddrPort(pingPacket(1), f.BMC(i).Addr())
	}
	deadline := time.Now().Add(2 * time.Second)
	for f.Counters().PacketsIn < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("close took %s", d)
	}
	if out := f.Counters().PacketsOut; out != 0 {
		t.Fatalf("%d delayed replies were sent", out)
	}
}

func TestFleetConfigErrors(t *testing.T) {
	h := func(int) (Handler, error) { return &fakeHandler{}, nil }
	for name, cfg := range map[string]FleetConfig{
		"no count":    {Addr: netip.MustParseAddrPort("127.0.0.1:0"), BMC: BMCConfig{Users: testUsers}, NewHandler: h},
		"no users":    {Addr: netip.MustParseAddrPort("127.0.0.1:0"), Count: 1, NewHandler: h},
		"past 65535":  {Addr: netip.MustParseAddrPort("127.0.0.1:65530"), Count: 10, BMC: BMCConfig{Users: testUsers}, NewHandler: h},
		"bad suite":   {Addr: netip.MustParseAddrPort("127.0.0.1:0"), Count: 1, BMC: BMCConfig{Users: testUsers, CipherSuites: []uint8{4}}, NewHandler: h},
		"bad faults":  {Addr: netip.MustParseAddrPort("127.0.0.1:0"), Count: 1, BMC: BMCConfig{Users: testUsers}, NewHandler: h, Faults: Faults{Loss: -1}},
		"no handler":  {Addr: netip.MustParseAddrPort("127.0.0.1:0"), Count: 1, BMC: BMCConfig{Users: testUsers}},
		"long passwd": {Addr: netip.MustParseAddrPort("127.0.0.1:0"), Count: 1, BMC: BMCConfig{Users: []User{{Name: "a", Password: "123456789012345678901"}}}, NewHandler: h},
	} {
		if f, err := NewFleet(cfg); err == nil {
			f.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	// A port already taken is reported, and nothing stays bound.
	f := fakeFleet(t, "127.0.0.1", 2, Faults{})
	taken := f.BMC(1).Addr()
	if g, err := NewFleet(FleetConfig{Addr: netip.AddrPortFrom(taken.Addr(), taken.Port()-1), Count: 3,
		BMC: BMCConfig{Users: testUsers}, NewHandler: h}); err == nil {
		g.Close()
		t.Fatal("overlapping fleet accepted")
	}
}
