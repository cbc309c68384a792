package hardening

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// bystander is a UDP socket on a loopback address the exporter must never
// send to.
type bystander struct{ conn *net.UDPConn }

func listenBystander(t testing.TB, ip string) *bystander {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &bystander{conn: conn}
}

func (b *bystander) addrPort() netip.AddrPort { return b.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// requireNothingReceived proves that no datagram reached the bystander
// before now, without waiting for one not to arrive: it sends itself a
// sentinel and requires that to be the first datagram queued.
func (b *bystander) requireNothingReceived(t testing.TB) {
	t.Helper()
	probe, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(b.addrPort()))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	sentinel := []byte("sentinel " + t.Name())
	if _, err := probe.Write(sentinel); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	_ = b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := b.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("reading the sentinel: %v", err)
	}
	if !bytes.Equal(buf[:n], sentinel) {
		t.Fatalf("%s received a %d-byte datagram from %s before the sentinel: a refused target got a packet", b.addrPort(), n, from)
	}
}

// requireOneLine400 checks a refusal: HTTP 400 and a one-line reason
// containing want.
func requireOneLine400(t testing.TB, what string, r scrapeResult, want string) {
	t.Helper()
	if r.status != 400 {
		t.Fatalf("%s: HTTP %d, want 400: %s", what, r.status, truncate(r.body, 300))
	}
	reason := strings.TrimSuffix(r.body, "\n")
	if reason == "" || strings.Contains(reason, "\n") || len(reason) > 400 {
		t.Fatalf("%s: want a one-line reason, got %q", what, truncate(r.body, 600))
	}
	if !strings.Contains(reason, want) {
		t.Fatalf("%s: reason %q does not say %q", what, reason, want)
	}
}

// TestAllowedTargets: a target outside the module's allowed_targets gets a
// 400 and never a packet; so do malformed targets and host names that no
// name glob allows (names are never resolved to match CIDRs). Allowed
// targets, IPv4 and IPv6 literals, are scraped.
func TestAllowedTargets(t *testing.T) {
	leaks := startLeakCheck(t)
	v4 := startFleet(t, fleetOpts{addr: "127.0.0.2"})
	v6 := startFleet(t, fleetOpts{addr: "::1"})
	outside4 := listenBystander(t, "127.0.0.1")
	outside6 := listenBystander(t, "::1")
	yaml := fmt.Sprintf(`modules:
  default:
    user: %[1]s
    pass: %[2]s
    allowed_targets: [127.0.0.2/32]
  v6:
    user: %[1]s
    pass: %[2]s
    allowed_targets: ["::1"]
`, simUser, simPassword)
	e := startExporter(t, yaml, envOpts{})
	p4, p6 := outside4.addrPort().Port(), outside6.addrPort().Port()

	for _, c := range []struct{ target, module, want string }{
		{fmt.Sprintf("127.0.0.1:%d", p4), "", "not in allowed_targets"},
		{fmt.Sprintf("evil.hardening.test:%d", p4), "", "not in allowed_targets"},
		{fmt.Sprintf("mixed.hardening.test:%d", p4), "", "not in allowed_targets"},
		{fmt.Sprintf("[::1]:%d", p6), "", "not in allowed_targets"},
		{fmt.Sprintf("evil6.hardening.test:%d", p6), "", "not in allowed_targets"},
		{fmt.Sprintf("127.0.0.1:%d", p4), "v6", "not in allowed_targets"},
		{fmt.Sprintf("good.hardening.test:%d", p6), "v6", "not in allowed_targets"},
		{fmt.Sprintf("localhost:%d", p4), "", "not in allowed_targets"},
		{"127.0.0.2:70000", "", "out of range"},
		{"127.0.0.2:0", "", "out of range"},
		{"[::1]:65536", "v6", "out of range"},
		{"127.0.0.2:623", "nosuch", "unknown module"},
		{"", "", "missing"},
	} {
		what := fmt.Sprintf("target %q module %q", c.target, c.module)
		r := e.scrape(t, c.target, c.module, promTimeout)
		requireOneLine400(t, what, r, c.want)
		if r.elapsed > time.Second {
			t.Errorf("%s: refusal took %v", what, r.elapsed)
		}
	}
	if n := e.dials.Load(); n != 0 {
		t.Fatalf("the exporter dialled %d times for refused targets", n)
	}
	outside4.requireNothingReceived(t)
	outside6.requireNothingReceived(t)

	// Inside the list: an IPv4 and an IPv6 literal.
	requireAllUp(t, "IPv4 literal in allowed_targets",
		e.scrape(t, fmt.Sprintf("127.0.0.2:%d", v4.BMC(0).Addr().Port()), "", promTimeout))
	requireAllUp(t, "IPv6 literal in allowed_targets",
		e.scrape(t, fmt.Sprintf("[::1]:%d", v6.BMC(0).Addr().Port()), "v6", promTimeout))
	if v4.BMC(0).ActiveSessions() != 1 || v6.BMC(0).ActiveSessions() != 1 {
		t.Fatalf("allowed BMCs hold %d and %d sessions, want 1 each", v4.BMC(0).ActiveSessions(), v6.BMC(0).ActiveSessions())
	}
	outside4.requireNothingReceived(t)
	outside6.requireNothingReceived(t)

	e.close()
	requireNoBMCSessions(t, v4, v6)
	v4.Close()
	v6.Close()
	outside4.conn.Close()
	outside6.conn.Close()
	leaks.verify(t)
}
