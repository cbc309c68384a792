package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// TestMain doubles as the bmcsim binary for TestSignalShutdown.
func TestMain(m *testing.M) {
	if os.Getenv("BMCSIM_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"bmcsim"}, strings.Fields(os.Getenv("BMCSIM_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

var readyLine = regexp.MustCompile(`^bmcsim: ready: (\d+) BMCs on (\S+):(\d+)-(\d+) profile=(\S+) control=(\S+)$`)

// ping sends an ASF presence ping and waits for the pong.
func ping(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := wire.NewPresencePing(3)
	if _, err := conn.WriteToUDPAddrPort(p.AppendTo(nil), addr); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 128)
	n, _, err := conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no pong from %s: %v", addr, err)
	}
	if pkt, err := wire.ParsePacket(buf[:n]); err != nil || pkt.ASF == nil || pkt.ASF.Tag != 3 {
		t.Fatalf("bad pong from %s: % x", addr, buf[:n])
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--count", "3", "--control", "127.0.0.1:0",
			"--user", "op", "--password", "pw", "--faults", "latency=1ms,sdr_max_read=20", "--seed", "9"}, outW, io.Discard)
		outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	if !sc.Scan() {
		cancel()
		t.Fatalf("no ready line: %v", <-done)
	}
	m := readyLine.FindStringSubmatch(sc.Text())
	if m == nil {
		cancel()
		t.Fatalf("ready line %q does not match %s", sc.Text(), readyLine)
	}
	first, _ := strconv.Atoi(m[3])
	last, _ := strconv.Atoi(m[4])
	if m[1] != "3" || m[2] != "127.0.0.1" || last-first != 2 || m[5] != "dual-socket-1u" {
		t.Errorf("ready line %q", sc.Text())
	}
	for port := first; port <= last; port++ {
		ping(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	}
	resp, err := http.Get(m[6] + "/api/v1/bmcs/1/faults")
	if err != nil {
		t.Fatal(err)
	}
	var faults map[string]any
	json.NewDecoder(resp.Body).Decode(&faults)
	resp.Body.Close()
	if faults["spec"] != "latency=1ms,sdr_max_read=20" {
		t.Errorf("faults over the control API: %v", faults)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	go io.Copy(io.Discard, outR)
	if sc.Scan() {
		t.Errorf("more than one line on stdout: %q", sc.Text())
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--count", "x"},
		{"--listen", "localhost"},
		{"--privilege", "god"},
		{"--cipher-suites", "3,x"},
		{"--auth15", "md2"},
		{"--faults", "loss=2"},
		{"extra"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
	if err := run(context.Background(), []string{"--profile", "/no/such/profile.yaml"}, io.Discard, io.Discard); err == nil {
		t.Error("missing profile accepted")
	}
	if err := run(context.Background(), []string{"--cipher-suites", "4", "--listen", "127.0.0.1:0"}, io.Discard, io.Discard); err == nil {
		t.Error("unsupported cipher suite accepted")
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var help strings.Builder
	if err := run(context.Background(), []string{"--help"}, io.Discard, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"listen", "count", "profile", "user", "password", "privilege", "kg", "cipher-suites",
		"auth15", "max-sessions", "session-timeout", "faults", "control", "seed"} {
		if !strings.Contains(help.String(), "-"+f) {
			t.Errorf("--help does not document --%s", f)
		}
	}
}

// TestSignalShutdown runs the real main in a child process and stops it
// with SIGTERM.
func TestSignalShutdown(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BMCSIM_TEST_RUN_MAIN=1", "BMCSIM_TEST_ARGS=--listen [::1]:0 --count 2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("no ready line")
	}
	m := readyLine.FindStringSubmatch(sc.Text())
	if m == nil || m[2] != "[::1]" || m[6] != "none" {
		t.Fatalf("ready line %q", sc.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if sc.Scan() {
		t.Errorf("extra output %q", sc.Text())
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bmcsim did not exit after SIGTERM")
	}
}
