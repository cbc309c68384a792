package hardening

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeDNS is a loopback DNS server answering A and AAAA queries from a
// fixed table (NXDOMAIN for every other name), so tests can make host
// names resolve to chosen addresses without touching the system resolver.
type fakeDNS struct {
	conn    *net.UDPConn
	records map[string][]netip.Addr // lower-case name without the trailing dot
	queries atomic.Int64
	wg      sync.WaitGroup
}

func startFakeDNS(t testing.TB, records map[string][]netip.Addr) *fakeDNS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDNS{conn: conn, records: records}
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(d.close)
	return d
}

func (d *fakeDNS) close() {
	d.conn.Close()
	d.wg.Wait()
}

// resolver sends every query to this server, over UDP whatever the Go
// resolver asks for.
func (d *fakeDNS) resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, "udp", addr)
	}}
}

func (d *fakeDNS) serve() {
	defer d.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		d.queries.Add(1)
		if reply := d.answer(buf[:n]); reply != nil {
			_, _ = d.conn.WriteToUDPAddrPort(reply, from)
		}
	}
}

// answer builds the reply to one query: header, the question echoed, and
// one answer record per matching address.
func (d *fakeDNS) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	var labels []string
	i := 12
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	question := q[12 : i+4]
	name := strings.ToLower(strings.Join(labels, "."))
	addrs, known := d.records[name]
	var answers [][]byte
	for _, a := range addrs {
		switch {
		case qtype == 1 && a.Is4():
			b := a.As4()
			answers = append(answers, b[:])
		case qtype == 28 && a.Is6() && !a.Is4In6():
			b := a.As16()
			answers = append(answers, b[:])
		}
	}
	out := make([]byte, 12, 512)
	copy(out[0:2], q[0:2])
	flags := uint16(0x8180) // response, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(out[2:4], flags)
	binary.BigEndian.PutUint16(out[4:6], 1)
	binary.BigEndian.PutUint16(out[6:8], uint16(len(answers)))
	out = append(out, question...)
	for _, rdata := range answers {
		out = append(out, 0xC0, 12) // pointer to the question's name
		out = binary.BigEndian.AppendUint16(out, qtype)
		out = binary.BigEndian.AppendUint16(out, 1) // IN
		out = binary.BigEndian.AppendUint32(out, 60)
		out = binary.BigEndian.AppendUint16(out, uint16(len(rdata)))
		out = append(out, rdata...)
	}
	return out
}
