// Package testbed starts real IPMI peers for tests: OpenIPMI's ipmi_sim as a
// BMC on loopback, and the ipmitool and FreeIPMI clients, with parsers for
// their output. It also holds the expected sensor table of the simulated BMC
// (Sensors), from which testdata/ipmisim/sim.sdrs and sim.emu are generated.
//
// Product code must not import this package.
package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// RequireTool makes the test depend on an external program. When the program
// is missing the test is skipped, unless the CI environment variable is set,
// in which case the test fails. It returns the program's path.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("required tool %q not found (CI is set, so this is a failure; scripts/test.sh installs it): %v", name, err)
		}
		t.Skipf("tool %q not installed: %v", name, err)
	}
	return path
}

var (
	testdataOnce sync.Once
	testdataDir  string
	testdataErr  error
)

// TestdataDir returns the absolute path of testdata/ipmisim. It is found from
// this source file's location, or from $IPMISIM_TESTDATA when set.
func TestdataDir() (string, error) {
	testdataOnce.Do(func() {
		if d := os.Getenv("IPMISIM_TESTDATA"); d != "" {
			testdataDir = d
		} else {
			_, file, _, ok := runtime.Caller(0)
			if !ok {
				testdataErr = fmt.Errorf("testbed: cannot locate source directory")
				return
			}
			testdataDir = filepath.Join(filepath.Dir(file), "..", "..", "testdata", "ipmisim")
		}
		if _, err := os.Stat(filepath.Join(testdataDir, sdrSourceFile)); err != nil {
			testdataErr = fmt.Errorf("testbed: testdata not found (set IPMISIM_TESTDATA): %w", err)
		}
	})
	return testdataDir, testdataErr
}

// runTool runs a program with a bounded context and returns its standard
// output. A non-zero exit becomes an error carrying standard error.
func runTool(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	setChildAttrs(cmd)
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, redact(args), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// redact hides the value after password flags in error messages.
func redact(args []string) string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i+1 < len(out); i++ {
		switch out[i] {
		case "-P", "-p", "--password":
			out[i+1] = "***"
		}
	}
	return strings.Join(out, " ")
}
