//go:build !linux

package testbed

import (
	"os"
	"os/exec"
)

func setChildAttrs(cmd *exec.Cmd) {}

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
