package hardening

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// relay stands between the exporter and a simulated BMC: the exporter
// talks to front, the relay forwards its datagrams to the BMC and the
// BMC's replies back from front. In spoof mode it withholds the replies
// from front (to the exporter the BMC is silent) and sends each one, byte
// for byte, from the spoofers instead: genuine, correctly keyed answers
// to the exporter's exact requests, from the wrong address or port.
type relay struct {
	front, back *net.UDPConn
	spoofers    []*net.UDPConn
	spoof       atomic.Bool
	client      atomic.Pointer[netip.AddrPort]
	forged      atomic.Int64
	wg          sync.WaitGroup
	// captured holds every datagram the exporter sent, in order.
	capMu    sync.Mutex
	captured [][]byte
}

// sent returns copies of the datagrams the exporter sent so far.
func (r *relay) sent() [][]byte {
	r.capMu.Lock()
	defer r.capMu.Unlock()
	return append([][]byte(nil), r.captured...)
}

func startRelay(t testing.TB, bmc netip.AddrPort) *relay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(bmc))
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{front: front, back: back}
	port := front.LocalAddr().(*net.UDPAddr).Port
	// Same address, another port; and the BMC's port on another address.
	for _, a := range []*net.UDPAddr{{IP: net.IPv4(127, 0, 0, 1)}, {IP: net.IPv4(127, 0, 0, 2), Port: port}} {
		s, err := net.ListenUDP("udp", a)
		if err != nil {
			t.Fatalf("spoofer on %v: %v", a, err)
		}
		r.spoofers = append(r.spoofers, s)
	}
	r.wg.Add(2)
	go r.forward()
	go r.backward()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

func (r *relay) close() {
	r.front.Close()
	r.back.Close()
	for _, s := range r.spoofers {
		s.Close()
	}
	r.wg.Wait()
}

func (r *relay) forward() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := r.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.client.Store(&from)
		r.capMu.Lock()
		r.captured = append(r.captured, append([]byte(nil), buf[:n]...))
		r.capMu.Unlock()
		_, _ = r.back.Write(buf[:n])
	}
}

func (r *relay) backward() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, err := r.back.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		to := r.client.Load()
		if to == nil {
			continue
		}
		if !r.spoof.Load() {
			_, _ = r.front.WriteToUDPAddrPort(buf[:n], *to)
			continue
		}
		for _, s := range r.spoofers {
			if _, err := s.WriteToUDPAddrPort(buf[:n], *to); err == nil {
				r.forged.Add(1)
			}
		}
	}
}

// TestSpoofedRepliesIgnored: while the BMC is silent towards the exporter,
// its genuine replies arrive at the exporter's session port from another
// port and from another address. The exporter must not accept them: not
// the unauthenticated pre-session answer that would advance a handshake,
// and not an authenticated in-session answer.
func TestSpoofedRepliesIgnored(t *testing.T) {
	leaks := startLeakCheck(t)
	fleet := startFleet(t, fleetOpts{})
	bmc := fleet.BMC(0)
	r := startRelay(t, bmc.Addr())
	e := startExporter(t, moduleYAML("default", simUser, simPassword, ""), envOpts{})
	target := r.addr().String()
	const timeout = 3 * time.Second

	// Before any session: the BMC answers Get Channel Authentication
	// Capabilities (no authentication at all); accepting that answer
	// would make the exporter send Get Channel Cipher Suites or Open
	// Session next.
	r.spoof.Store(true)
	res := e.scrape(t, target, "", timeout)
	requireScrapeInTime(t, "scrape with only spoofed pre-session replies", res, timeout)
	requireAllDown(t, "scrape with only spoofed pre-session replies", res)
	c := bmc.Counters()
	if c.Command("get_channel_authentication_capabilities") == 0 || r.forged.Load() == 0 {
		t.Fatalf("the spoof did not happen: %d requests, %d forged replies", c.Command("get_channel_authentication_capabilities"), r.forged.Load())
	}
	for _, next := range []string{"get_channel_cipher_suites", "open_session", "rakp1"} {
		if n := c.Command(next); n != 0 {
			t.Fatalf("the exporter sent %s %d times: it accepted a spoofed reply", next, n)
		}
	}

	// The same path delivering the same replies from the right address
	// works.
	r.spoof.Store(false)
	requireAllUp(t, "scrape through the relay", e.scrape(t, target, "", promTimeout))

	// In a session: the BMC's authenticated answers, from elsewhere.
	r.spoof.Store(true)
	forged, before := r.forged.Load(), bmc.Counters()
	res = e.scrape(t, target, "", timeout)
	requireScrapeInTime(t, "scrape with only spoofed in-session replies", res, timeout)
	requireAllDown(t, "scrape with only spoofed in-session replies", res)
	after := bmc.Counters()
	if after.Command("get_chassis_status") == before.Command("get_chassis_status") || r.forged.Load() == forged {
		t.Fatal("the spoof did not happen: no request reached the BMC or no reply was forged")
	}
	if after.SessionsOpened != before.SessionsOpened {
		t.Fatal("a session was opened with spoofed replies")
	}

	r.spoof.Store(false)
	requireAllUp(t, "scrape after the spoofing stopped", e.scrape(t, target, "", promTimeout))
	e.close()
	requireNoBMCSessions(t, fleet)
	fleet.Close()
	r.close()
	leaks.verify(t)
}
