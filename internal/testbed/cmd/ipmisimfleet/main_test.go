package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
)

// The command starts the fleet, prints one READY line, and kills its
// children on SIGTERM.
func TestFleetCommand(t *testing.T) {
	testbed.RequireTool(t, "ipmi_sim")
	testbed.RequireTool(t, "sdrcomp")
	bin := filepath.Join(t.TempDir(), "ipmisimfleet")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	stateDir := t.TempDir()
	cmd := exec.Command(bin, "-n", "2", "-state-dir", stateDir, "-consoles")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})

	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	var ready string
	select {
	case ready = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("no READY line within 30s")
	}
	var n, first, last int
	var user, pass string
	if _, err := fmt.Sscanf(ready, "READY n=%d host=127.0.0.1 first_port=%d last_port=%d user=%s password=%s", &n, &first, &last, &user, &pass); err != nil {
		t.Fatalf("READY line %q: %v", ready, err)
	}
	if n != 2 || last != first+1 || user != testbed.AdminUser || pass != testbed.AdminPassword {
		t.Fatalf("READY line %q", ready)
	}
	for i := 0; i < 2; i++ {
		if l := <-lines; !strings.HasPrefix(l, fmt.Sprintf("CONSOLE port=%d addr=127.0.0.1:", first+i)) {
			t.Errorf("console line %q", l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for p := first; p <= last; p++ {
		if err := testbed.Ping(ctx, fmt.Sprintf("127.0.0.1:%d", p), time.Second); err != nil {
			t.Errorf("port %d: %v", p, err)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
	for p := first; p <= last; p++ {
		if err := testbed.Ping(ctx, fmt.Sprintf("127.0.0.1:%d", p), 300*time.Millisecond); err == nil {
			t.Errorf("port %d still answers after SIGTERM", p)
		}
	}
}
