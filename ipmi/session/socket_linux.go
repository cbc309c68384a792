package session

import (
	"syscall"
	"unsafe"
)

const (
	rawSyscalls = true
	sysRead     = syscall.SYS_READ
	sysWrite    = syscall.SYS_WRITE
)

// call is the RawConn callback: one read(2) or write(2) of o.buf. It
// returns false on EAGAIN (nothing to read, or the send buffer full), and
// the poller then waits for the socket to become ready (or the deadline
// to pass) and calls it again.
func (o *rawIO) call(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(o.sysno, fd, uintptr(unsafe.Pointer(&o.buf[0])), uintptr(len(o.buf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		o.n, o.errno = int(r), e
		return true
	}
}
