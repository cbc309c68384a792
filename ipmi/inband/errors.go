package inband

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Errors callers branch on: every error this package returns for these
// conditions wraps one of them (test with errors.Is).
var (
	// ErrNoDevice: no IPMI device file, or one without a driver behind it.
	// The message says which kernel modules to load.
	ErrNoDevice = errors.New("inband: no IPMI device")
	// ErrPermission: the device exists but this process may not open it.
	// The message names the device, its owner, group and mode, and the
	// process's user and groups.
	ErrPermission = errors.New("inband: permission denied on the IPMI device")
	// ErrNoBMC: the kernel driver reports that the BMC does not answer
	// (its interface timed out or is "hosed"; Get Device ID then fails
	// the same way).
	ErrNoBMC = errors.New("inband: the BMC does not answer")
	// ErrTimeout: no answer before the caller's context ended. Errors
	// wrapping it also wrap the context's error.
	ErrTimeout = errors.New("inband: request timed out")
	// ErrClosed: the transport was closed.
	ErrClosed = errors.New("inband: closed")
	// ErrProtocol: the driver answered something this package cannot use
	// (a reply of the wrong command, an empty or truncated reply).
	ErrProtocol = errors.New("inband: unexpected answer from the driver")
)

// modulesHint is what the tutorial every local-mode user starts from says.
const modulesHint = "load the kernel's IPMI driver: modprobe ipmi_msghandler; modprobe ipmi_devintf; modprobe ipmi_si " +
	"(if the device is still missing, the kernel found no BMC: see dmesg for \"ipmi_si\")"

// openError turns the error of opening path into one wrapping ErrNoDevice
// or ErrPermission with what an operator needs to fix it.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENODEV):
		return fmt.Errorf("%w: %s: %w; %s", ErrNoDevice, path, err, modulesHint)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %s (%s) cannot be opened read-write by %s: %w; "+
			"run as a user or group with read-write access to it (a udev rule such as KERNEL==\"ipmi*\", GROUP=\"ipmi\", MODE=\"0660\"), "+
			"or pass the device into the container",
			ErrPermission, path, describeFile(path), describeProcess(), err)
	}
	return fmt.Errorf("inband: opening %s: %w", path, err)
}

// describeFile says who owns path and its mode, e.g.
// "owner root, group root, mode crw-------".
func describeFile(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "not readable: " + err.Error()
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "mode " + fi.Mode().String()
	}
	return fmt.Sprintf("owner %s, group %s, mode %s",
		userName(int(st.Uid)), groupName(int(st.Gid)), fi.Mode().String())
}

// describeProcess names the effective user and the groups of this process.
func describeProcess() string {
	var b strings.Builder
	fmt.Fprintf(&b, "user %s", userName(os.Geteuid()))
	gids, err := os.Getgroups()
	if err == nil {
		gids = append([]int{os.Getegid()}, gids...)
		seen := map[int]bool{}
		var names []string
		for _, g := range gids {
			if !seen[g] {
				seen[g] = true
				names = append(names, groupName(g))
			}
		}
		fmt.Fprintf(&b, " (groups %s)", strings.Join(names, ", "))
	}
	return b.String()
}

func userName(uid int) string {
	s := strconv.Itoa(uid)
	if u, err := user.LookupId(s); err == nil {
		return u.Username + "(" + s + ")"
	}
	return s
}

func groupName(gid int) string {
	s := strconv.Itoa(gid)
	if g, err := user.LookupGroupId(s); err == nil {
		return g.Name + "(" + s + ")"
	}
	return s
}
