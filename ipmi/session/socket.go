package session

import (
	"net"
	"os"
	"syscall"
)

// datagramSocket does a session's datagram I/O on its connected UDP
// socket. On Linux it makes the read and write system calls itself, as
// raw system calls through the socket's syscall.RawConn, instead of going
// through net.UDPConn.Read and Write.
//
// Why: a session spends its life waiting for the BMC, so between two
// round trips the whole process is often idle, and the Go runtime's
// system monitor (sysmon) then parks itself. Every ordinary system call
// (syscall.Syscall, which net.UDPConn uses) wakes sysmon again, in case
// the call blocks and its P must be handed on; sysmon runs, sleeps 20 µs,
// finds nothing to do and parks once more. On a warm scrape of 57 round
// trips that wake-up and park cost about a fifth of the exporter's CPU,
// measured with perf (docs/benchmarks.md, "Hot spots"). The socket is
// non-blocking (the runtime's poller owns it), so these calls never
// block, and a raw system call, which skips the runtime's syscall
// bookkeeping, is correct for them; waiting for readability or
// writability, and the read deadline, stay with the runtime's poller
// through RawConn.
//
// One read and one write may run at once (the session's reader holds
// readToken, senders hold Session.mu); each direction has its own state,
// and the RawConn callbacks are bound once so the hot path allocates
// nothing.
type datagramSocket struct {
	conn   *net.UDPConn
	raw    syscall.RawConn // nil: use conn's own Read and Write
	rd, wr rawIO
}

// rawIO is one direction of raw socket I/O: the system call, the buffer
// of the call in progress and its outcome, and the RawConn callback.
type rawIO struct {
	sysno uintptr // sysRead or sysWrite
	op    string  // for errors: "read" or "write"
	buf   []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool // call, bound once
}

func newDatagramSocket(conn *net.UDPConn) *datagramSocket {
	d := &datagramSocket{conn: conn}
	if rawSyscalls && conn != nil {
		if raw, err := conn.SyscallConn(); err == nil {
			d.raw = raw
			d.rd = rawIO{sysno: sysRead, op: "read"}
			d.rd.fn = d.rd.call
			d.wr = rawIO{sysno: sysWrite, op: "write"}
			d.wr.fn = d.wr.call
		}
	}
	return d
}

// read reads one datagram into b, waiting until the read deadline set on
// conn. Errors are those of net.UDPConn.Read: errors.Is(err,
// os.ErrDeadlineExceeded) at the deadline, net.ErrClosed once closed, the
// errno (ECONNREFUSED after an ICMP port unreachable) otherwise.
func (d *datagramSocket) read(b []byte) (int, error) {
	if d.raw == nil || len(b) == 0 {
		return d.conn.Read(b)
	}
	return d.rd.do(d.raw, b)
}

// write sends b as one datagram.
func (d *datagramSocket) write(b []byte) (int, error) {
	if d.raw == nil || len(b) == 0 {
		return d.conn.Write(b)
	}
	return d.wr.do(d.raw, b)
}

// do runs o's system call on b through raw, which calls o.fn until it
// reports done, waiting in the poller whenever it does not.
func (o *rawIO) do(raw syscall.RawConn, b []byte) (int, error) {
	o.buf, o.n, o.errno = b, 0, 0
	var err error
	if o.sysno == sysRead {
		err = raw.Read(o.fn)
	} else {
		err = raw.Write(o.fn)
	}
	o.buf = nil
	if err != nil {
		return 0, err
	}
	if o.errno != 0 {
		return 0, os.NewSyscallError(o.op, o.errno)
	}
	return o.n, nil
}
