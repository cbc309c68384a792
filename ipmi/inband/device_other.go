//go:build !linux

package inband

import (
	"errors"
	"time"
)

// The Linux IPMI device interface exists only on Linux.
type fileDevice struct{}

func openDevice(path string) (*fileDevice, error) {
	return nil, errors.New("in-band IPMI (the Linux IPMI device interface) needs Linux")
}

func (*fileDevice) send(*ipmiReq) error             { return errors.ErrUnsupported }
func (*fileDevice) receive(*ipmiRecv) error         { return errors.ErrUnsupported }
func (*fileDevice) setReadDeadline(time.Time) error { return errors.ErrUnsupported }
func (*fileDevice) close() error                    { return nil }
