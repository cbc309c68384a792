package hardening

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The exporter binary is built once, on first use, with -race when the
// tests run with it.
var (
	buildOnce sync.Once
	binPath   string
	binDir    string
	buildErr  error
	buildOut  []byte
)

func exporterBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		repo := filepath.Dir(filepath.Dir(file))
		binDir, buildErr = os.MkdirTemp("", "hardening-exporter")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "ipmi_fleet_exporter")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
		cmd.Dir = repo
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// exporterProc is a running exporter binary. Its stdout and stderr are
// captured whole (the secrets tests read every byte).
type exporterProc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	err    error
	listen string
	scheme string
	client *http.Client
}

// freeTCPAddr returns a loopback TCP address that was free a moment ago.
func freeTCPAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProc starts the exporter with args (a listen address is added).
// It is killed at the end of the test if still running.
func startProc(t testing.TB, args ...string) *exporterProc {
	t.Helper()
	bin := exporterBinary(t)
	p := &exporterProc{out: &syncBuffer{}, done: make(chan struct{}), listen: freeTCPAddr(t), scheme: "http"}
	p.client = &http.Client{Transport: &http.Transport{}}
	p.cmd = exec.Command(bin, append([]string{"--web.listen-address=" + p.listen}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.client.CloseIdleConnections()
		if t.Failed() {
			t.Logf("exporter output:\n%s", truncate(p.out.String(), 20000))
		}
	})
	return p
}

func (p *exporterProc) url(path string) string { return p.scheme + "://" + p.listen + path }

// useTLS makes the helper client speak HTTPS trusting roots.
func (p *exporterProc) useTLS(cfg *tls.Config) {
	p.scheme = "https"
	p.client = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

// waitReady polls /-/ready until it answers (any status: with basic auth
// it is 401) or the process exits.
func (p *exporterProc) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("exporter exited early: %v\n%s", p.err, p.out.String())
		default:
		}
		if resp, err := p.client.Get(p.url("/-/ready")); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("exporter not serving within 60s")
}

// signal sends sig to the process.
func (p *exporterProc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitExit waits for the process to end and returns its exit code.
func (p *exporterProc) waitExit(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("exporter still running %v after being told to stop", within)
	}
	return p.cmd.ProcessState.ExitCode()
}
