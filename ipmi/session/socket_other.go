//go:build !linux

package session

import (
	"os"
	"syscall"
)

// Elsewhere the session uses net.UDPConn's own Read and Write.
const rawSyscalls = false

func (d *datagramSocket) rawRead(uintptr) bool  { return true }
func (d *datagramSocket) rawWrite(uintptr) bool { return true }

func errnoError(op string, e syscall.Errno) error { return os.NewSyscallError(op, e) }
