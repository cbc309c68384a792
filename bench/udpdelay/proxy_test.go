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
