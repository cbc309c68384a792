package testbed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Independent BMC implementations written by others, started on loopback
// like ipmi_sim: pyghmi's BMC server (Debian python3-pyghmi, run with
// Debian's /usr/bin/python3) and bougou/go-ipmi's goipmi-server (installed
// by scripts/test.sh with go install, outside this module's go.mod).

const (
	// PeerUser and PeerPassword are the account both peers are started
	// with unless the options name another.
	PeerUser     = "monitor"
	PeerPassword = "peer-pw-0815"

	// pythonPath is Debian's interpreter: python3-pyghmi installs for it.
	pythonPath = "/usr/bin/python3"

	// GoIPMIServerVersion is the goipmi-server scripts/test.sh installs.
	GoIPMIServerVersion = "v0.9.1"
)

// Peer is a running BMC process of another implementation.
type Peer struct {
	Name     string // "pyghmi" or "goipmi-server"
	Addr     string // 127.0.0.1:port (UDP)
	Port     int
	User     string
	Password string

	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	out      *tailBuffer
}

// PeerOptions configure a peer; the zero value is valid.
type PeerOptions struct {
	User, Password string
	// CipherSuites is GOIPMI_SERVER_CIPHER_SUITES (goipmi-server only;
	// empty: its default, 3 and 17).
	CipherSuites string
	// StartTimeout bounds the wait for the ready line (default 15s).
	StartTimeout time.Duration
}

func (o PeerOptions) fill() PeerOptions {
	if o.User == "" {
		o.User = PeerUser
	}
	if o.Password == "" {
		o.Password = PeerPassword
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 15 * time.Second
	}
	return o
}

// requirePeer skips the test when the peer cannot run here, or fails it
// under CI (see RequireTool).
func requirePeer(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not available (CI is set, so this is a failure; scripts/test.sh installs it): %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

// PyghmiScript returns the path of the launcher script
// (testdata/pyghmi/bmc.py).
func PyghmiScript() (string, error) {
	td, err := TestdataDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(td), "pyghmi", "bmc.py")
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// pyghmiAvailable reports why pyghmi's BMC cannot be started, or nil.
func pyghmiAvailable(ctx context.Context) error {
	if _, err := os.Stat(pythonPath); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := runTool(ctx, pythonPath, "-c", "import pyghmi.ipmi.bmc"); err != nil {
		return fmt.Errorf("python3-pyghmi: %w", err)
	}
	return nil
}

// StartPyghmiBMC starts pyghmi's BMC server on a free loopback port. It
// speaks RMCP+ with cipher suite 3 only, answers Get Device ID and the
// chassis commands (power on), and 0xC1 to everything else (no SDR, no
// SEL). It is stopped when the test ends.
func StartPyghmiBMC(t testing.TB, opts PeerOptions) *Peer {
	t.Helper()
	requirePeer(t, "pyghmi (Debian python3-pyghmi)", pyghmiAvailable(context.Background()))
	script, err := PyghmiScript()
	if err != nil {
		t.Fatal(err)
	}
	opts = opts.fill()
	p, err := launchPeer(context.Background(), "pyghmi", opts, func() *exec.Cmd {
		cmd := exec.Command(pythonPath, "-u", script, "--port", "0", "--address", "127.0.0.1")
		cmd.Env = append(os.Environ(), "PYGHMI_BMC_USER="+opts.User, "PYGHMI_BMC_PASS="+opts.Password)
		return cmd
	}, regexp.MustCompile(`^pyghmi-bmc: ready port=(\d+)$`))
	if err != nil {
		t.Fatalf("start pyghmi BMC: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// GoIPMIServerPath finds goipmi-server: on $PATH, else in $GOBIN or
// $GOPATH/bin (where scripts/test.sh's go install puts it).
func GoIPMIServerPath() (string, error) {
	if p, err := exec.LookPath("goipmi-server"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		for _, e := range filepath.SplitList(d) {
			dirs = append(dirs, filepath.Join(e, "bin"))
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "goipmi-server")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("goipmi-server not on PATH nor in %v (go install github.com/bougou/go-ipmi/cmd/goipmi-server@%s)", dirs, GoIPMIServerVersion)
}

// StartGoIPMIServer starts bougou/go-ipmi's reference BMC on a free
// loopback port: RMCP+ suites 3 and 17 (or opts.CipherSuites), IPMI 1.5
// with MD5, chassis, an SDR repository holding one MC locator, no SEL. It
// binds the port on every interface (it has no address setting); the tests
// talk to it on 127.0.0.1. It is stopped when the test ends.
func StartGoIPMIServer(t testing.TB, opts PeerOptions) *Peer {
	t.Helper()
	bin, err := GoIPMIServerPath()
	requirePeer(t, "goipmi-server", err)
	opts = opts.fill()
	var p *Peer
	// The port is chosen before the server binds it: start again on a new
	// one if another process took it meanwhile.
	for attempt := 0; attempt < 3; attempt++ {
		var port int
		if port, err = freePort("udp"); err != nil {
			break
		}
		p, err = launchPeer(context.Background(), "goipmi-server", opts, func() *exec.Cmd {
			cmd := exec.Command(bin)
			env := append(os.Environ(),
				"GOIPMI_SERVER_PORT="+strconv.Itoa(port),
				"GOIPMI_SERVER_USER="+opts.User,
				"GOIPMI_SERVER_PASS="+opts.Password)
			if opts.CipherSuites != "" {
				env = append(env, "GOIPMI_SERVER_CIPHER_SUITES="+opts.CipherSuites)
			}
			cmd.Env = env
			return cmd
		}, regexp.MustCompile(`^goipmi-server: listening on :(\d+) `))
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("start goipmi-server: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// launchPeer starts the command and waits for the line matching ready,
// whose first group is the port.
func launchPeer(ctx context.Context, name string, opts PeerOptions, mk func() *exec.Cmd, ready *regexp.Regexp) (*Peer, error) {
	cmd := mk()
	setChildAttrs(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{Name: name, User: opts.User, Password: opts.Password, cmd: cmd, done: make(chan struct{}), out: &tailBuffer{max: 4096}}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	portc := make(chan int, 1)
	go func() {
		// Read every line to the end so the child never blocks on a full
		// pipe; the first ready line gives the port.
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.out.Write([]byte(line + "\n"))
			if m := ready.FindStringSubmatch(line); m != nil && !found {
				found = true
				if n, err := strconv.Atoi(m[1]); err == nil {
					portc <- n
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	select {
	case port := <-portc:
		p.Port = port
		p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v): %q", name, p.waitErr, p.out.String())
	case <-ctx.Done():
		p.Stop()
		return nil, fmt.Errorf("%s not ready within %v: %w; output: %q", name, opts.StartTimeout, ctx.Err(), p.out.String())
	}
}

// Output returns the end of the peer's standard output and error.
func (p *Peer) Output() string { return p.out.String() }

// Done is closed when the peer's process has exited.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Stop kills the peer (its process group) and waits for it; idempotent.
func (p *Peer) Stop() {
	p.stopOnce.Do(func() {
		if p.cmd.Process != nil {
			killGroup(p.cmd.Process.Pid)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
			}
		}
	})
}

// Exited reports whether the peer died on its own (a crash), with its
// exit error.
func (p *Peer) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
