package simulator

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The window quirks act on a request by how many replies are in flight
// when it arrives: up to N-1 it is served as usual, from N on it is
// dropped, answered busy, corrupted or answered ahead of the others. The
// count is set directly here; TestWindowQuirkCountsHeldReplies shows the
// serve path keeps it.
func TestWindowQuirks(t *testing.T) {
	const n = 3
	getDeviceID := func(c *v2Console) []byte { return c.requestPacket(wire.NetFnApp, 0x01, nil) }
	for _, tc := range []struct {
		name   string
		faults Faults
		// check inspects the answer to a request beyond n.
		check func(t *testing.T, c *v2Console, h *fakeHandler, calls int, reply []byte, delay time.Duration, held, ok bool)
	}{
		{"drop", Faults{Latency: 10 * time.Millisecond, WindowDrop: n},
			func(t *testing.T, c *v2Console, h *fakeHandler, calls int, reply []byte, _ time.Duration, _, ok bool) {
				if ok || reply != nil {
					t.Fatalf("request beyond %d in flight answered", n)
				}
				if len(h.calls) != calls {
					t.Fatal("dropped request was executed")
				}
			}},
		{"busy", Faults{Latency: 10 * time.Millisecond, WindowBusy: n},
			func(t *testing.T, c *v2Console, h *fakeHandler, calls int, reply []byte, delay time.Duration, held, ok bool) {
				if !ok {
					t.Fatal("no reply")
				}
				if cc, _ := c.parseResponse(reply, wire.NetFnApp, 0x01); cc != wire.CCNodeBusy {
					t.Fatalf("completion code %s, want node busy", cc)
				}
				if len(h.calls) != calls || held {
					t.Fatalf("busy request executed (%d calls) or counted in flight (%v)", len(h.calls)-calls, held)
				}
				if delay != 10*time.Millisecond {
					t.Fatalf("busy reply delay %v, want the latency", delay)
				}
			}},
		{"corrupt", Faults{Latency: 10 * time.Millisecond, WindowCorrupt: n},
			func(t *testing.T, c *v2Console, h *fakeHandler, calls int, reply []byte, _ time.Duration, held, ok bool) {
				if !ok || !held || len(h.calls) != calls+1 {
					t.Fatalf("corrupted request: answered %v, held %v, executed %d times", ok, held, len(h.calls)-calls)
				}
				body := reply[4:]
				_, _, rest, err := wire.DecodeSessionV2Header(body)
				if err != nil {
					t.Fatal(err)
				}
				code, err := wire.CheckIntegrityTrailer(rest, c.integrity.AuthCodeLen())
				if err != nil {
					t.Fatal(err)
				}
				if c.integrity.Verify(body[:len(body)-len(code)], code) {
					t.Fatal("corrupted reply verifies")
				}
				// Only the last byte: flipped back, it is the right answer.
				reply[len(reply)-1] ^= 0xFF
				if cc, data := c.parseResponse(reply, wire.NetFnApp, 0x01); cc != wire.CCOK || len(data) != len(fakeDeviceID) {
					t.Fatalf("restored reply: cc %s data % x", cc, data)
				}
			}},
		{"reorder", Faults{Latency: 10 * time.Millisecond, WindowReorder: n},
			func(t *testing.T, c *v2Console, h *fakeHandler, calls int, reply []byte, delay time.Duration, held, ok bool) {
				if !ok || delay != 0 || held {
					t.Fatalf("reply beyond %d in flight: ok %v delay %v held %v, want sent at once", n, ok, delay, held)
				}
				if cc, _ := c.parseResponse(reply, wire.NetFnApp, 0x01); cc != wire.CCOK || len(h.calls) != calls+1 {
					t.Fatalf("cc %s, executed %d times", cc, len(h.calls)-calls)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, h := newTestBMC(t, nil)
			c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
			// The handshake with the quirk on: nothing is in flight.
			if err := b.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			c.login(wire.PrivilegeAdmin)
			// n-1 in flight: served as usual, held back by the latency.
			b.inFlight.Store(n - 1)
			calls := len(h.calls)
			reply, _, delay, held, ok := b.answer(getDeviceID(c), testConsoleAddr, nil)
			if !ok || !held || delay != 10*time.Millisecond {
				t.Fatalf("request within the window: ok %v held %v delay %v", ok, held, delay)
			}
			if cc, _ := c.parseResponse(reply, wire.NetFnApp, 0x01); cc != wire.CCOK || len(h.calls) != calls+1 {
				t.Fatalf("request within the window: cc %s, executed %d times", cc, len(h.calls)-calls)
			}
			before := b.Counters()
			b.inFlight.Store(n)
			calls = len(h.calls)
			reply, _, delay, held, ok = b.answer(getDeviceID(c), testConsoleAddr, nil)
			tc.check(t, c, h, calls, reply, delay, held, ok)
			after := b.Counters()
			if faults := after.FaultDrops + after.FaultReplies - before.FaultDrops - before.FaultReplies; faults != 1 {
				t.Errorf("fault counters moved by %d, want 1", faults)
			}
			// Back within the window: served as usual again.
			b.inFlight.Store(0)
			if reply, _, _, _, ok := b.answer(getDeviceID(c), testConsoleAddr, nil); !ok {
				t.Fatal("no reply with nothing in flight")
			} else if cc, _ := c.parseResponse(reply, wire.NetFnApp, 0x01); cc != wire.CCOK {
				t.Fatalf("cc %s with nothing in flight", cc)
			}
		})
	}
}

// Session-less packets and the handshake never count as in flight, and
// are not subject to the quirks even when in flight is over N.
func TestWindowQuirksSpareSessionless(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	if err := b.SetFaults(Faults{Latency: time.Millisecond, WindowDrop: 1, WindowBusy: 1}); err != nil {
		t.Fatal(err)
	}
	b.inFlight.Store(5)
	if _, _, _, held, ok := b.answer(pingPacket(1), testConsoleAddr, nil); !ok || held {
		t.Fatalf("ping: answered %v, held %v", ok, held)
	}
	c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
}

// A held-back reply counts as in flight from the request's arrival until
// it is sent; one sent at once, or not held, never does.
func TestWindowQuirkCountsHeldReplies(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	var err error
	if b.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0"))); err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	b.sendLater([][]byte{{1}}, to, time.Hour, true)
	b.sendLater([][]byte{{2}}, to, time.Hour, false)
	if got := b.inFlight.Load(); got != 1 {
		t.Fatalf("in flight %d after one held reply, want 1", got)
	}
	b.sendLater([][]byte{{3}}, to, time.Millisecond, true)
	deadline := time.Now().Add(5 * time.Second)
	for b.inFlight.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight %d after the short reply went, want 1", b.inFlight.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
}

func TestParseWindowQuirks(t *testing.T) {
	spec, err := ParseFaults("latency=5ms,window_drop=3,window_reorder,window_busy=2,window_corrupt=4")
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{Latency: 5 * time.Millisecond, WindowDrop: 3, WindowReorder: 1, WindowBusy: 2, WindowCorrupt: 4}
	if spec.Faults != want {
		t.Fatalf("got %+v, want %+v", spec.Faults, want)
	}
	if s := spec.String(); s != "latency=5ms,window_drop=3,window_reorder=1,window_busy=2,window_corrupt=4" {
		t.Fatalf("String() = %q", s)
	}
	for _, bad := range []string{"window_drop", "window_drop=-1", "window_busy=x", "window_corrupt=70000", "window_reorder=1.5"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) accepted", bad)
		}
	}
	if err := (Faults{WindowBusy: -1}).Validate(); err == nil {
		t.Error("negative window_busy validated")
	}
}

// Replies delayed alike leave in the order they were made, however the
// timers' goroutines are scheduled: a reply out of order is a fault of
// its own (window_reorder), not something latency may cause.
func TestDelayedRepliesKeepOrder(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	var err error
	if b.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0"))); err != nil {
		t.Fatal(err)
	}
	defer b.close()
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	const n = 100 // within the socket's receive buffer
	for i := range n {
		b.sendLater([][]byte{{0, uint8(i)}}, to, 2*time.Millisecond, true)
	}
	if err := sink.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	for i := range n {
		k, err := sink.Read(buf)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if got := int(buf[0])<<8 | int(buf[1]); k != 2 || got != i {
			t.Fatalf("reply %d arrived as number %d", got, i+1)
		}
	}
	if got := b.inFlight.Load(); got != 0 {
		t.Fatalf("%d in flight after every reply went", got)
	}
}
