package session

import (
	"bytes"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// loopbackPair returns a session-style connected UDP socket and the
// listening socket it is connected to.
func loopbackPair(t *testing.T) (*net.UDPConn, *net.UDPConn) {
	t.Helper()
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	conn, err := net.DialUDP("udp", nil, peer.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, peer
}

func TestDatagramSocket(t *testing.T) {
	conn, peer := loopbackPair(t)
	sock := newDatagramSocket(conn)
	if rawSyscalls && sock.raw == nil {
		t.Fatal("raw socket I/O not in use on Linux")
	}
	deadline := time.Now().Add(5 * time.Second)
	_ = peer.SetDeadline(deadline)
	_ = conn.SetReadDeadline(deadline)

	// A datagram each way, whole.
	out := []byte{0x06, 0x00, 0xff, 0x07, 1, 2, 3}
	if n, err := sock.write(out); err != nil || n != len(out) {
		t.Fatalf("write = %d, %v", n, err)
	}
	buf := make([]byte, 64)
	n, from, err := peer.ReadFromUDP(buf)
	if err != nil || !bytes.Equal(buf[:n], out) {
		t.Fatalf("peer got % x, %v", buf[:n], err)
	}
	back := []byte{9, 8, 7, 6, 5}
	if _, err := peer.WriteToUDP(back, from); err != nil {
		t.Fatal(err)
	}
	if n, err := sock.read(buf); err != nil || !bytes.Equal(buf[:n], back) {
		t.Fatalf("read = % x, %v", buf[:n], err)
	}

	// Two datagrams queued are read one at a time.
	for _, d := range [][]byte{{1}, {2, 2}} {
		if _, err := peer.WriteToUDP(d, from); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range [][]byte{{1}, {2, 2}} {
		if n, err := sock.read(buf); err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("read = % x, %v; want % x", buf[:n], err, want)
		}
	}

	// Nothing to read: the read deadline ends the wait, as a timeout.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := sock.read(buf); !isTimeout(err) {
		t.Fatalf("read with nothing sent: %v, want a deadline error", err)
	}

	// A deadline moved into the past from another goroutine (Session's
	// kick) interrupts a read already waiting.
	_ = conn.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = conn.SetReadDeadline(time.Unix(1, 0))
	}()
	if _, err := sock.read(buf); !isTimeout(err) {
		t.Fatalf("kicked read: %v, want a deadline error", err)
	}

	// Closed: net.ErrClosed, as from net.UDPConn.
	conn.Close()
	if _, err := sock.read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := sock.write(out); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// An ICMP port unreachable reaches the next read as ECONNREFUSED, which
// the session turns into ErrUnreachable.
func TestDatagramSocketRefused(t *testing.T) {
	conn, peer := loopbackPair(t)
	peer.Close() // nothing listens on the port any more
	sock := newDatagramSocket(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := sock.write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	_, err := sock.read(make([]byte, 16))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("read after a refused datagram: %v, want ECONNREFUSED", err)
	}
	var se *os.SyscallError
	if rawSyscalls && !errors.As(err, &se) {
		t.Fatalf("raw read error %T, want *os.SyscallError", err)
	}
	s := &Session{addr: "127.0.0.1:1"}
	if !errors.Is(s.netError(err), ErrUnreachable) {
		t.Fatalf("netError(%v) is not ErrUnreachable", err)
	}
}

// A truncated datagram: a buffer shorter than the datagram gets its head,
// the rest is discarded (UDP semantics), and the next read sees the next
// datagram.
func TestDatagramSocketShortBuffer(t *testing.T) {
	conn, peer := loopbackPair(t)
	sock := newDatagramSocket(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := sock.write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, from, err := peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = peer.WriteToUDP(bytes.Repeat([]byte{0xAA}, 20), from)
	_, _ = peer.WriteToUDP([]byte{0xBB}, from)
	small := make([]byte, 4)
	if n, err := sock.read(small); err != nil || n != 4 || !bytes.Equal(small, []byte{0xAA, 0xAA, 0xAA, 0xAA}) {
		t.Fatalf("short read = %d % x, %v", n, small[:n], err)
	}
	if n, err := sock.read(small); err != nil || n != 1 || small[0] != 0xBB {
		t.Fatalf("next read = %d % x, %v", n, small[:n], err)
	}
}
