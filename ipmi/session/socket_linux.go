package session

import (
	"os"
	"syscall"
	"unsafe"
)

const rawSyscalls = true

// rawRead is the RawConn.Read callback: one read(2) into d.rbuf. It
// returns false on EAGAIN, and the poller then waits for the socket to
// become readable (or the read deadline to pass) and calls it again.
func (d *datagramSocket) rawRead(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&d.rbuf[0])), uintptr(len(d.rbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		d.rn, d.rerrno = int(r), e
		return true
	}
}

// rawWrite is the RawConn.Write callback: one write(2) of d.wbuf; on
// EAGAIN (send buffer full) the poller waits for writability.
func (d *datagramSocket) rawWrite(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&d.wbuf[0])), uintptr(len(d.wbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		d.wn, d.werrno = int(r), e
		return true
	}
}

// errnoError wraps an errno as the net package's own Read and Write do
// below their *net.OpError: errors.Is(err, syscall.ECONNREFUSED) holds.
func errnoError(op string, e syscall.Errno) error { return os.NewSyscallError(op, e) }
