//go:build !linux

package session

// Elsewhere the session uses net.UDPConn's own Read and Write.
const (
	rawSyscalls = false
	sysRead     = 0
	sysWrite    = 1
)

func (o *rawIO) call(uintptr) bool { return true }
