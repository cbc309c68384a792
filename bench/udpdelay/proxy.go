// Package udpdelay is a UDP relay that adds a fixed round-trip time (with
// optional jitter) between IPMI clients and BMCs on loopback. ipmi_sim and
// our simulator answer in microseconds, real BMCs in 1-20 ms; the relay
// makes benchmarks show what dominates on a real network: session set-up
// and the number of round trips per scrape.
//
// Each of Count listen ports relays to the upstream port with the same
// offset. Every client address gets its own upstream socket, so the BMC
// sees one peer per client and replies find their way back.
package udpdelay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config describes a relay.
type Config struct {
	Listen   netip.AddrPort // first listen port
	Upstream netip.AddrPort // first upstream port
	Count    int
	// RTT is added to every round trip: half on the way in, half back.
	RTT time.Duration
	// Jitter is a uniform random extra delay of up to Jitter per direction.
	Jitter time.Duration
	// IdleTimeout forgets a client's upstream socket after this long
	// without traffic (default 2 minutes).
	IdleTimeout time.Duration
}

// Relay is a running set of delaying UDP relays.
type Relay struct {
	cfg     Config
	conns   []*net.UDPConn
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	clients map[clientKey]*client
	// Relayed counts datagrams forwarded in each direction.
	relayedIn, relayedOut int64
}

type clientKey struct {
	port int
	addr netip.AddrPort
}

type client struct {
	up       *net.UDPConn
	lastSeen time.Time
}

// Start binds every listen port and starts relaying.
func Start(cfg Config) (*Relay, error) {
	if cfg.Count < 1 {
		return nil, errors.New("udpdelay: count must be at least 1")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{cfg: cfg, ctx: ctx, cancel: cancel, clients: map[clientKey]*client{}}
	for i := 0; i < cfg.Count; i++ {
		addr := netip.AddrPortFrom(cfg.Listen.Addr(), cfg.Listen.Port()+uint16(i))
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("udpdelay: listen %s: %w", addr, err)
		}
		r.conns = append(r.conns, c)
	}
	for i, c := range r.conns {
		r.wg.Add(1)
		go r.serve(i, c)
	}
	r.wg.Add(1)
	go r.reap()
	return r, nil
}

func (r *Relay) delay() time.Duration {
	d := r.cfg.RTT / 2
	if r.cfg.Jitter > 0 {
		d += time.Duration(rand.Int64N(int64(r.cfg.Jitter)))
	}
	return d
}

// after runs f after d; a zero delay runs it at once.
func after(d time.Duration, f func()) {
	if d <= 0 {
		f()
		return
	}
	time.AfterFunc(d, f)
}

func (r *Relay) serve(i int, listener *net.UDPConn) {
	defer r.wg.Done()
	upstream := net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.cfg.Upstream.Addr(), r.cfg.Upstream.Port()+uint16(i)))
	buf := make([]byte, 65536)
	for {
		n, from, err := listener.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		pkt := append([]byte(nil), buf[:n]...)
		c, err := r.client(i, from, listener, upstream)
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.relayedIn++
		r.mu.Unlock()
		after(r.delay(), func() { c.up.Write(pkt) })
	}
}

// client returns the upstream socket for a client, creating it and its
// reply pump on first use.
func (r *Relay) client(i int, from netip.AddrPort, listener *net.UDPConn, upstream *net.UDPAddr) (*client, error) {
	key := clientKey{i, from}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[key]; c != nil {
		c.lastSeen = time.Now()
		return c, nil
	}
	up, err := net.DialUDP("udp", nil, upstream)
	if err != nil {
		return nil, err
	}
	c := &client{up: up, lastSeen: time.Now()}
	r.clients[key] = c
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := up.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && !ne.Timeout() && !errors.Is(err, net.ErrClosed) {
					continue // ICMP unreachable from a stopped BMC: keep going
				}
				return
			}
			pkt := append([]byte(nil), buf[:n]...)
			r.mu.Lock()
			r.relayedOut++
			r.mu.Unlock()
			after(r.delay(), func() { listener.WriteToUDPAddrPort(pkt, from) })
		}
	}()
	return c, nil
}

func (r *Relay) reap() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.IdleTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-t.C:
			r.mu.Lock()
			for k, c := range r.clients {
				if now.Sub(c.lastSeen) > r.cfg.IdleTimeout {
					c.up.Close()
					delete(r.clients, k)
				}
			}
			r.mu.Unlock()
		}
	}
}

// Relayed returns how many datagrams went to and came back from upstream.
func (r *Relay) Relayed() (in, out int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.relayedIn, r.relayedOut
}

// Close stops relaying and releases every socket.
func (r *Relay) Close() {
	r.cancel()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Lock()
	for k, c := range r.clients {
		c.up.Close()
		delete(r.clients, k)
	}
	r.mu.Unlock()
	r.wg.Wait()
}
