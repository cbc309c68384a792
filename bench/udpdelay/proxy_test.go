package udpdelay

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestRelayAddsRTTAndRoutesReplies(t *testing.T) {
	defer goleak.VerifyNone(t)
	echo, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(append([]byte("re:"), buf[:n]...), from)
		}
	}()
	up := echo.LocalAddr().(*net.UDPAddr).AddrPort()
	// Port 0 cannot be used for a range; find a free one.
	probe, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	listen := probe.LocalAddr().(*net.UDPAddr).AddrPort()
	probe.Close()
	const rtt = 40 * time.Millisecond
	r, err := Start(Config{Listen: listen, Upstream: up, Count: 1, RTT: rtt})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPort(listen)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.Write([]byte("ping"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "re:ping" {
		t.Fatalf("reply %q", got)
	}
	// The relay must add at least the configured RTT (a lower bound: it
	// cannot be beaten by a fast machine, so this is not a timing flake).
	if took := time.Since(start); took < rtt {
		t.Fatalf("round trip %s, want at least %s", took, rtt)
	}
	if in, out := r.Relayed(); in != 1 || out != 1 {
		t.Fatalf("relayed %d in, %d out", in, out)
	}
}

// startEcho starts a UDP echo server and a relay in front of it.
func startEcho(t *testing.T, cfg Config) (*Relay, *net.UDPConn) {
	t.Helper()
	echo, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	listen := probe.LocalAddr().(*net.UDPAddr).AddrPort()
	probe.Close()
	cfg.Listen, cfg.Upstream, cfg.Count = listen, echo.LocalAddr().(*net.UDPAddr).AddrPort(), 1
	r, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(listen))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return r, c
}

// Datagrams sent back to back come back in the order sent: each has its
// own timer, and the timers' goroutines may run in any order.
func TestRelayKeepsOrder(t *testing.T) {
	_, c := startEcho(t, Config{RTT: 4 * time.Millisecond})
	const n = 100 // within the sockets' receive buffers
	for i := range n {
		if _, err := c.Write([]byte{uint8(i)}); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	for i := range n {
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if int(buf[0]) != i {
			t.Fatalf("datagram %d came back as number %d", buf[0], i+1)
		}
	}
}

// -loss drops about that share of datagrams in each direction, and the
// counters say how many.
func TestRelayLoss(t *testing.T) {
	r, c := startEcho(t, Config{Loss: 0.2})
	const n = 400
	buf := make([]byte, 16)
	back := 0
	for i := range n {
		if _, err := c.Write([]byte{uint8(i)}); err != nil {
			t.Fatal(err)
		}
		// An answer comes within microseconds or not at all: the
		// datagram was dropped.
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(buf); err == nil {
			back++
		}
	}
	// Both ways at 0.2: 64 % come back (256, sd ~10); allow 5 sd.
	if back < 208 || back > 304 {
		t.Fatalf("%d of %d came back through 20%% loss each way", back, n)
	}
	if in, out := r.Relayed(); int(out) != back || int(out)+int(r.Dropped()) != n {
		t.Fatalf("relayed %d in, %d out, dropped %d, for %d sent and %d back", in, out, r.Dropped(), n, back)
	}
	if _, err := Start(Config{Count: 1, Loss: 1.5}); err == nil {
		t.Fatal("loss 1.5 accepted")
	}
}
