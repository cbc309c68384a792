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
	"slices"
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
	// Loss is the probability that a datagram is dropped, drawn for each
	// datagram in each direction (so an exchange fails with about twice
	// that).
	Loss float64
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
	// Relayed counts datagrams forwarded in each direction; dropped
	// those the loss took.
	relayedIn, relayedOut, dropped int64
	line                           delayLine
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
	if cfg.Loss < 0 || cfg.Loss > 1 || cfg.Loss != cfg.Loss {
		return nil, fmt.Errorf("udpdelay: loss %v: want a probability in [0, 1]", cfg.Loss)
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

// lost draws the loss for one datagram.
func (r *Relay) lost() bool {
	if r.cfg.Loss <= 0 || rand.Float64() >= r.cfg.Loss {
		return false
	}
	r.mu.Lock()
	r.dropped++
	r.mu.Unlock()
	return true
}

// delayLine runs delayed sends in the order they are due, and sends due
// at the same time in the order they were scheduled. Each has its own
// timer, but timer goroutines run in any order: two datagrams 50 µs apart
// would swap now and then, which a real path rarely does and which an
// adaptive request window takes for trouble. Whichever timer runs first
// sends everything due up to its own datagram.
type delayLine struct {
	mu    sync.Mutex
	queue []*delayed
}

type delayed struct {
	due  time.Time
	send func()
}

// after runs send after d, in order; a zero delay runs it at once.
func (l *delayLine) after(d time.Duration, send func()) {
	if d <= 0 {
		send()
		return
	}
	e := &delayed{due: time.Now().Add(d), send: send}
	l.mu.Lock()
	i := len(l.queue)
	for i > 0 && l.queue[i-1].due.After(e.due) {
		i--
	}
	l.queue = slices.Insert(l.queue, i, e)
	l.mu.Unlock()
	time.AfterFunc(d, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := slices.Index(l.queue, e) + 1 // 0: sent by another timer
		for now := time.Now(); n < len(l.queue) && !l.queue[n].due.After(now); n++ {
		}
		due := l.queue[:n:n]
		l.queue = l.queue[n:]
		for _, x := range due {
			x.send()
		}
	})
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
		if r.lost() {
			continue
		}
		r.mu.Lock()
		r.relayedIn++
		r.mu.Unlock()
		r.line.after(r.delay(), func() { c.up.Write(pkt) })
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
			if r.lost() {
				continue
			}
			r.mu.Lock()
			r.relayedOut++
			r.mu.Unlock()
			r.line.after(r.delay(), func() { listener.WriteToUDPAddrPort(pkt, from) })
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

// Dropped returns how many datagrams the loss took, both directions.
func (r *Relay) Dropped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
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
