package simulator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// FleetConfig describes a fleet of simulated BMCs on consecutive UDP ports.
type FleetConfig struct {
	// Addr is the first BMC's address; BMC i listens on Addr's port + i.
	// Use a loopback address (127.0.0.1 or ::1). Port 0 picks a free
	// range of Count consecutive ports.
	Addr  netip.AddrPort
	Count int
	// BMC is the LAN-side configuration every BMC shares.
	BMC BMCConfig
	// NewHandler builds BMC i's command handler (normally a model.BMC
	// from a shared profile; see NewModelFleet).
	NewHandler func(index int) (Handler, error)
	// Seed makes session IDs, random numbers and fault decisions
	// reproducible; BMC i draws from streams derived from (Seed, i).
	Seed int64
	// Clock is the time source (default time.Now); session timeouts and
	// reboot downtime follow it.
	Clock func() time.Time
	// Faults are applied to every BMC at start.
	Faults Faults
}

// Fleet is a set of simulated BMCs served from one process.
type Fleet struct {
	cfg       BMCConfig
	bmcs      []*BMC
	closeOnce sync.Once
	closeErr  error
}

// portSearchAttempts bounds the search for a free consecutive port range.
const portSearchAttempts = 64

// NewFleet binds every BMC's socket and starts serving. On error nothing
// is left open.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Count < 1 || cfg.Count > 65535 {
		return nil, fmt.Errorf("fleet size %d: want 1-65535", cfg.Count)
	}
	if !cfg.Addr.Addr().IsValid() {
		return nil, errors.New("fleet address not set")
	}
	if cfg.Addr.Port() != 0 && int(cfg.Addr.Port())+cfg.Count-1 > 65535 {
		return nil, fmt.Errorf("ports %d-%d run past 65535", cfg.Addr.Port(), int(cfg.Addr.Port())+cfg.Count-1)
	}
	if cfg.NewHandler == nil {
		return nil, errors.New("fleet has no handler constructor")
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	bcfg, err := cfg.BMC.normalized()
	if err != nil {
		return nil, err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	f := &Fleet{cfg: bcfg, bmcs: make([]*BMC, cfg.Count)}
	for i := range f.bmcs {
		h, err := cfg.NewHandler(i)
		if err != nil {
			return nil, fmt.Errorf("BMC %d: %w", i, err)
		}
		b := newBMC(i, &f.cfg, h, clock, cfg.Seed)
		faults := cfg.Faults
		b.faults.Store(&faults)
		f.bmcs[i] = b
	}
	conns, err := listenRange(cfg.Addr, cfg.Count)
	if err != nil {
		return nil, err
	}
	for i, b := range f.bmcs {
		b.conn = conns[i]
		b.addr = conns[i].LocalAddr().(*net.UDPAddr).AddrPort()
		b.wg.Add(1)
		go b.serve()
	}
	return f, nil
}

// listenRange binds count consecutive UDP ports from base, searching for
// a free range when base's port is 0.
func listenRange(base netip.AddrPort, count int) ([]*net.UDPConn, error) {
	if base.Port() != 0 {
		return listenAt(base, count)
	}
	// Stay below the usual ephemeral range (32768+) when the fleet fits,
	// so clients' own sockets do not collide with it.
	lo, hi := 10000, 32768-count
	if hi <= lo {
		lo, hi = 1024, 65536-count
	}
	var lastErr error
	for range portSearchAttempts {
		port := lo + rand.IntN(hi-lo)
		conns, err := listenAt(netip.AddrPortFrom(base.Addr(), uint16(port)), count)
		if err == nil {
			return conns, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no %d free consecutive UDP ports on %s after %d attempts: %w", count, base.Addr(), portSearchAttempts, lastErr)
}

func listenAt(base netip.AddrPort, count int) ([]*net.UDPConn, error) {
	conns := make([]*net.UDPConn, 0, count)
	for i := range count {
		ap := netip.AddrPortFrom(base.Addr(), base.Port()+uint16(i))
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				return nil, fmt.Errorf("listen %s (BMC %d of %d): out of file descriptors; raise the open files limit: %w", ap, i, count, err)
			}
			return nil, fmt.Errorf("listen %s (BMC %d of %d): %w", ap, i, count, err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// Len is the number of BMCs.
func (f *Fleet) Len() int { return len(f.bmcs) }

// BMC returns BMC i (0-based); it panics when i is out of range.
func (f *Fleet) BMC(i int) *BMC { return f.bmcs[i] }

// BMCs returns every BMC in port order.
func (f *Fleet) BMCs() []*BMC { return append([]*BMC(nil), f.bmcs...) }

// Config is the normalized LAN-side configuration the BMCs share.
func (f *Fleet) Config() BMCConfig { return f.cfg }

// SetFaults sets the same faults on every BMC.
func (f *Fleet) SetFaults(faults Faults) error {
	if err := faults.Validate(); err != nil {
		return err
	}
	for _, b := range f.bmcs {
		b.SetFaults(faults)
	}
	return nil
}

// Reboot reboots every BMC (see BMC.Reboot).
func (f *Fleet) Reboot(unreachable time.Duration) {
	for _, b := range f.bmcs {
		b.Reboot(unreachable)
	}
}

// Counters sums the counters of every BMC.
func (f *Fleet) Counters() CounterSnapshot {
	s := CounterSnapshot{Commands: map[string]uint64{}}
	for _, b := range f.bmcs {
		s.add(b.counters, b.ActiveSessions())
	}
	return s
}

// Close stops every BMC and releases its socket. It waits for the serve
// loops to end; delayed replies still pending are discarded.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() { f.closeErr = f.closeAll() })
	return f.closeErr
}

func (f *Fleet) closeAll() error {
	var wg sync.WaitGroup
	errs := make([]error, len(f.bmcs))
	// Closing in a few parallel batches keeps shutdown of large fleets short.
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(f.bmcs); i += workers {
				errs[i] = f.bmcs[i].close()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
