//go:build linux

package testbed

import (
	"os/exec"
	"syscall"
)

// setChildAttrs puts the child in its own process group (so the whole group
// can be killed) and asks the kernel to kill it if we die first.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
