package inband

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// fileDevice is the device file of ipmi_devintf. os.OpenFile registers a
// character device with the runtime's poller and makes it non-blocking,
// so receive waits in the poller (the driver's poll says readable when a
// message is queued) and deadlines end the wait.
type fileDevice struct {
	f  *os.File
	rc syscall.RawConn
}

func openDevice(path string) (*fileDevice, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Mode()&os.ModeCharDevice == 0 {
		f.Close()
		return nil, fmt.Errorf("%s is not a character device (%s)", path, fi.Mode())
	}
	// Only a file in the poller has deadlines; without them a wait could
	// not end with the caller's context.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s cannot be polled: %w", path, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileDevice{f: f, rc: rc}, nil
}

// ioctl calls run as raw system calls: neither ioctl blocks (the driver
// queues the request; receive answers EAGAIN when nothing is queued), and
// an ordinary system call would wake the runtime's system monitor on
// every round trip (see ipmi/session/socket_linux.go).
func ioctl(fd, req uintptr, arg unsafe.Pointer) syscall.Errno {
	for {
		_, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
		if e != syscall.EINTR {
			return e
		}
	}
}

func (d *fileDevice) send(req *ipmiReq) error {
	var errno syscall.Errno
	err := d.rc.Control(func(fd uintptr) {
		errno = ioctl(fd, ioctlSendCommand, unsafe.Pointer(req))
	})
	runtime.KeepAlive(req)
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func (d *fileDevice) receive(r *ipmiRecv) error {
	var errno syscall.Errno
	err := d.rc.Read(func(fd uintptr) bool {
		errno = ioctl(fd, ioctlReceiveMsgTrunc, unsafe.Pointer(r))
		return errno != syscall.EAGAIN
	})
	runtime.KeepAlive(r)
	if err != nil {
		return err
	}
	switch errno {
	case 0:
		return nil
	case syscall.EMSGSIZE:
		return errTruncated
	}
	return errno
}

func (d *fileDevice) setReadDeadline(t time.Time) error { return d.f.SetReadDeadline(t) }

func (d *fileDevice) close() error {
	err := d.f.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
