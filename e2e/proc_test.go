package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a child process whose stdout and stderr go to files in the test's
// temporary directory. It is stopped (SIGTERM, then SIGKILL) in t.Cleanup,
// and when the test has failed the last lines of both logs are printed.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr string // log file paths
	done           chan struct{}
	waitErr        error // valid once done is closed
}

// logTailLines is how much of each log a failed test shows.
const logTailLines = 40

// stopGrace is how long a process gets to exit after SIGTERM.
const stopGrace = 5 * time.Second

// startProc starts bin with args. dir is the working directory ("" for the
// current one).
func startProc(t *testing.T, name, dir, bin string, args ...string) *proc {
	t.Helper()
	logDir := t.TempDir()
	p := &proc{
		name:   name,
		stdout: filepath.Join(logDir, name+".stdout.log"),
		stderr: filepath.Join(logDir, name+".stderr.log"),
		done:   make(chan struct{}),
	}
	outF, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(p.stderr)
	if err != nil {
		outF.Close()
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = outF, errF
	if err := p.cmd.Start(); err != nil {
		outF.Close()
		errF.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	t.Logf("started %s (pid %d): %s %s", name, p.cmd.Process.Pid, bin, strings.Join(args, " "))
	go func() {
		p.waitErr = p.cmd.Wait()
		outF.Close()
		errF.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.dumpLogs(t)
		}
	})
	return p
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits for the process, killing it after stopGrace.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if done, _ := p.exited(); done {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		t.Logf("%s did not exit within %s of SIGTERM; killing it", p.name, stopGrace)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// dumpLogs logs the last lines of the process' stdout and stderr.
func (p *proc) dumpLogs(t *testing.T) {
	t.Helper()
	for _, f := range []string{p.stdout, p.stderr} {
		t.Logf("--- last %d lines of %s ---\n%s", logTailLines, f, tailFile(f, logTailLines))
	}
}

// logContains reports whether the process' stderr or stdout contains s.
func (p *proc) logContains(s string) bool {
	for _, f := range []string{p.stdout, p.stderr} {
		if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a loopback TCP address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitFor calls cond until it returns nil, the deadline passes, or one of
// the watched processes exits; then it fails the test with cond's last error.
func waitFor(t *testing.T, what string, timeout time.Duration, watch []*proc, cond func() error) {
	t.Helper()
	if err := poll(t, what, timeout, watch, cond); err != nil {
		t.Fatal(err)
	}
}

// poll is waitFor returning the failure instead of ending the test.
func poll(t *testing.T, what string, timeout time.Duration, watch []*proc, cond func() error) error {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		last := cond()
		if last == nil {
			t.Logf("%s after %s", what, time.Since(start).Round(10*time.Millisecond))
			return nil
		}
		for _, p := range watch {
			if done, err := p.exited(); done {
				return fmt.Errorf("waiting for %s: %s exited (%v); last check: %v", what, p.name, err, last)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not reached within %s: %v", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// httpGet fetches url with a short timeout and returns the body of a 200.
func httpGet(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// waitReady waits until GET http://addr/-/ready answers 200.
func waitReady(t *testing.T, p *proc, addr string, timeout time.Duration) {
	t.Helper()
	waitFor(t, p.name+" ready", timeout, []*proc{p}, func() error {
		_, err := httpGet(context.Background(), "http://"+addr+"/-/ready")
		return err
	})
}
