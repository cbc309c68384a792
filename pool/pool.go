// Package pool keeps one long-lived BMC session per (target, module) across
// scrapes, so a scrape costs the BMC a handful of round trips instead of a
// fresh RMCP+ handshake per collector (the top complaint about
// ipmi_exporter: BMCs refusing new sessions).
//
// It also makes concurrent scrapes of one target share a single in-flight
// collection, bounds the BMC work in flight across all targets, never holds
// more than a module's max_sessions per BMC, closes idle sessions, and
// closes every session with Close Session on shutdown.
package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// Session is an open BMC session. Close must send Close Session and
// release the socket; it is called at most once per session.
type Session interface {
	Close(ctx context.Context) error
}

// Dial opens a session to the entry's target.
type Dial func(ctx context.Context) (Session, error)

// Key names one pooled session: a BMC address (host:port, normalized by
// the caller) and the module whose credentials it uses.
type Key struct {
	Target string
	Module string
}

func (k Key) String() string { return k.Module + "@" + k.Target }

// Entry is the pooled state of one Key. Session is nil while no session
// is open. The state (Collection.State) survives reconnects: collectors
// keep their caches (SDR repository, SEL position, device info) there.
type Entry struct {
	Key     Key
	Session Session
	// state is the caller's (Collection.State and SetState).
	state any
	// IdleTimeout, set by the collection, is how long the session may stay
	// unused before CloseIdle closes it: 0 means the pool's
	// Options.IdleTimeout, a negative value closes it as soon as the
	// collection ends (a module's idle_timeout: 0).
	IdleTimeout time.Duration

	lastUsed time.Time
	busy     bool
	flight   *flight
}

// flight is one in-flight collection that concurrent callers share.
type flight struct {
	done   chan struct{}
	result any
	err    error
}

// Options configures a Pool.
type Options struct {
	// MaxInFlight bounds collections running at once across all targets
	// (0 = unlimited). Beyond it, scrapes wait for a slot within their
	// own deadline.
	MaxInFlight int
	// IdleTimeout closes sessions unused for this long (0 = never), for
	// entries that set no IdleTimeout of their own.
	IdleTimeout time.Duration
	// CloseTimeout bounds each Close Session on eviction and shutdown.
	CloseTimeout time.Duration
	Logger       log.Logger
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

// Pool is safe for concurrent use.
type Pool struct {
	opts    Options
	sem     chan struct{}
	mu      sync.Mutex
	cond    *sync.Cond // signalled when an entry stops being busy or a session closes
	entries map[Key]*Entry
	closed  bool
	// open counts open sessions per target, for max_sessions.
	open map[string]int
	// keep is the predicate of the last Retain: a collection of a key it
	// rejects closes its session when it ends.
	keep func(Key) bool
	// base is cancelled when Close stops waiting for collections; every
	// collection's context ends with it.
	base       context.Context
	cancelBase context.CancelFunc
	// orphans counts Close Sessions under way outside Close (Discard,
	// collections that ended after Close had started); Close waits for
	// them.
	orphans int

	metrics poolMetrics
}

type poolMetrics struct {
	sessionsOpen    prometheus.Gauge
	scrapesInFlight prometheus.Gauge
	sharedScrapes   prometheus.Counter
	evictions       *prometheus.CounterVec
	keepAlives      *prometheus.CounterVec
}

// New returns an empty pool. Its metrics are registered with reg (may be nil).
func New(opts Options, reg prometheus.Registerer) *Pool {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 2 * time.Second
	}
	p := &Pool{opts: opts, entries: map[Key]*Entry{}, open: map[string]int{}}
	p.base, p.cancelBase = context.WithCancel(context.Background())
	p.cond = sync.NewCond(&p.mu)
	if opts.MaxInFlight > 0 {
		p.sem = make(chan struct{}, opts.MaxInFlight)
	}
	p.metrics = poolMetrics{
		sessionsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipmi_fleet_exporter_sessions_open", Help: "BMC sessions currently open in the pool."}),
		scrapesInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipmi_fleet_exporter_scrapes_in_flight", Help: "BMC collections running now."}),
		sharedScrapes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_scrapes_shared_total",
			Help: "Scrapes answered from another scrape's in-flight collection of the same target."}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_sessions_closed_total",
			Help: "Pooled sessions closed, by reason."}, []string{"reason"}),
		keepAlives: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_keepalives_total",
			Help: "Requests sent to keep an idle session alive on a BMC known to drop idle sessions, by result (ok, error): what keeping sessions costs the BMCs, against the logins it saves."},
			[]string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(p.metrics.sessionsOpen, p.metrics.scrapesInFlight, p.metrics.sharedScrapes, p.metrics.evictions, p.metrics.keepAlives)
	}
	return p
}

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("session pool closed")

// Collection is one collection of a key's entry, as Do's fn sees it: the
// steps fn may take on the entry, typed by the session type S the dialer
// returns and the state type T the caller keeps per key. It is valid only
// while fn runs.
type Collection[S Session, T any] struct {
	p           *Pool
	e           *Entry
	maxSessions int
	dial        func(context.Context) (S, error)
}

// Key is the entry's key.
func (c *Collection[S, T]) Key() Key { return c.e.Key }

// Ensure opens the entry's session if it has none, making room under the
// target's max_sessions by closing an idle session of another module to
// the same BMC, or waiting for one within ctx.
func (c *Collection[S, T]) Ensure(ctx context.Context) error {
	return c.p.ensure(ctx, c.e, c.maxSessions, func(ctx context.Context) (Session, error) {
		s, err := c.dial(ctx)
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}

// Session returns the open session, if there is one.
func (c *Collection[S, T]) Session() (S, bool) {
	s, ok := c.e.Session.(S)
	return s, ok
}

// State returns the state kept for the key (the zero T before SetState).
func (c *Collection[S, T]) State() T {
	st, _ := c.e.state.(T)
	return st
}

// SetState replaces the state kept for the key.
func (c *Collection[S, T]) SetState(st T) { c.e.state = st }

// SetIdleTimeout sets how long the session may stay unused before
// CloseIdle closes it (see Entry.IdleTimeout).
func (c *Collection[S, T]) SetIdleTimeout(d time.Duration) { c.e.IdleTimeout = d }

// Drop closes the session after an error that makes it unusable (see
// Pool.Drop).
func (c *Collection[S, T]) Drop(reason string) { c.p.Drop(c.e, reason) }

// Discard closes a session the BMC most likely forgot, in the background
// (see Pool.Discard).
func (c *Collection[S, T]) Discard(reason string) { c.p.Discard(c.e, reason) }

// Do runs fn on key's entry of p. When a collection for key is already in
// flight, Do waits for it and returns its result instead of starting
// another one: fifty concurrent scrapes of one BMC cost it one collection.
// Every caller of one key must use the same S, T and R.
//
// fn runs with the entry exclusively; it opens the session with
// Collection.Ensure, which dials with dial. maxSessions bounds sessions
// open to key.Target across modules (at least 1).
func Do[S Session, T, R any](ctx context.Context, p *Pool, key Key, maxSessions int, dial func(context.Context) (S, error), fn func(ctx context.Context, c *Collection[S, T]) (R, error)) (R, error) {
	res, err := p.do(ctx, key, func(ctx context.Context, e *Entry) (any, error) {
		return fn(ctx, &Collection[S, T]{p: p, e: e, maxSessions: max(maxSessions, 1), dial: dial})
	})
	r, ok := res.(R)
	if !ok && res != nil && err == nil {
		err = fmt.Errorf("pool: the collection of %s returned %T, this caller expects %T", key, res, r)
	}
	return r, err
}

// do runs one collection of key's entry, or joins the one in flight.
func (p *Pool) do(ctx context.Context, key Key, fn func(ctx context.Context, e *Entry) (any, error)) (any, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	e := p.entries[key]
	if e == nil {
		e = &Entry{Key: key}
		p.entries[key] = e
	}
	if f := e.flight; f != nil {
		p.mu.Unlock()
		p.metrics.sharedScrapes.Inc()
		select {
		case <-f.done:
			return f.result, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	e.flight = f
	e.busy = true
	p.mu.Unlock()

	defer func() {
		p.mu.Lock()
		e.flight = nil
		e.busy = false
		e.lastUsed = p.opts.Now()
		var orphan, afterUse Session
		removed := !p.closed && p.keep != nil && !p.keep(key)
		if removed {
			// Retain rejected this key while the collection ran (or
			// before it started): forget the entry, close the session.
			if p.entries[key] == e {
				delete(p.entries, key)
			}
			if e.Session != nil {
				orphan, e.Session = e.Session, nil
				p.releaseLocked(key.Target)
				p.metrics.sessionsOpen.Dec()
				p.metrics.evictions.WithLabelValues("removed").Inc()
			}
		} else if !p.closed && e.IdleTimeout < 0 && e.Session != nil {
			// Not kept between scrapes: log out now.
			afterUse, e.Session = e.Session, nil
			p.releaseLocked(key.Target)
			p.metrics.sessionsOpen.Dec()
			p.metrics.evictions.WithLabelValues("idle").Inc()
		} else if p.closed && e.Session != nil {
			// Close gave up waiting for this collection; close its
			// session now rather than leak it on the BMC. Close waits
			// for this.
			orphan, e.Session = e.Session, nil
			p.metrics.sessionsOpen.Dec()
			p.orphans++
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if afterUse != nil {
			p.closeSession(afterUse, key)
		}
		if orphan != nil {
			p.closeSession(orphan, key)
			if !removed {
				p.mu.Lock()
				p.orphans--
				p.cond.Broadcast()
				p.mu.Unlock()
			}
		}
		close(f.done)
	}()

	// Close cancels collections it stops waiting for.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopCancel := context.AfterFunc(p.base, cancel)
	defer stopCancel()

	if p.sem != nil {
		select {
		case p.sem <- struct{}{}:
			defer func() { <-p.sem }()
		case <-ctx.Done():
			f.err = fmt.Errorf("waiting for a free collection slot: %w", ctx.Err())
			return nil, f.err
		}
	}
	p.metrics.scrapesInFlight.Inc()
	defer p.metrics.scrapesInFlight.Dec()

	f.result, f.err = fn(ctx, e)
	return f.result, f.err
}

// ensure opens e's session if it has none, first making room under the
// target's session limit by closing idle sessions of other modules to the
// same BMC, or waiting for one to become idle.
func (p *Pool) ensure(ctx context.Context, e *Entry, maxSessions int, dial Dial) error {
	if e.Session != nil {
		return nil
	}
	target := e.Key.Target
	p.mu.Lock()
	for p.open[target] >= maxSessions {
		if victim := p.idleSessionLocked(target, e); victim != nil {
			s := victim.Session
			victim.Session = nil
			p.open[target]--
			p.metrics.sessionsOpen.Dec()
			p.metrics.evictions.WithLabelValues("session_limit").Inc()
			p.mu.Unlock()
			p.closeSession(s, victim.Key)
			p.mu.Lock()
			continue
		}
		// Every session to this BMC is busy with another module's
		// collection: wait for one to finish, within our deadline.
		if err := p.waitLocked(ctx); err != nil {
			p.mu.Unlock()
			return fmt.Errorf("waiting for a free session to %s (max_sessions %d): %w", target, maxSessions, err)
		}
	}
	p.open[target]++ // reserve the slot while dialing
	p.mu.Unlock()

	s, err := dial(ctx)
	p.mu.Lock()
	if err != nil {
		p.releaseLocked(target)
		p.cond.Broadcast()
		p.mu.Unlock()
		return err
	}
	if p.closed {
		// Close started while we dialled: log out again at once;
		// Close waits for it.
		p.releaseLocked(target)
		p.orphans++
		p.mu.Unlock()
		p.closeSession(s, e.Key)
		p.mu.Lock()
		p.orphans--
		p.cond.Broadcast()
		p.mu.Unlock()
		return ErrClosed
	}
	e.Session = s
	p.metrics.sessionsOpen.Inc()
	p.mu.Unlock()
	return nil
}

// waitLocked waits on the condition until signalled or ctx is done.
func (p *Pool) waitLocked(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.cond.Wait()
	return ctx.Err()
}

func (p *Pool) idleSessionLocked(target string, except *Entry) *Entry {
	var lru *Entry
	for _, o := range p.entries {
		if o == except || o.Key.Target != target || o.Session == nil || o.busy {
			continue
		}
		if lru == nil || o.lastUsed.Before(lru.lastUsed) {
			lru = o
		}
	}
	return lru
}

// Drop closes e's session after an error that makes it unusable (the
// session layer already tried to re-establish it once). The next scrape
// opens a new one. Call it from inside fn.
func (p *Pool) Drop(e *Entry, reason string) {
	p.mu.Lock()
	s := e.Session
	if s != nil {
		e.Session = nil
		p.releaseLocked(e.Key.Target)
		p.metrics.sessionsOpen.Dec()
		p.metrics.evictions.WithLabelValues(reason).Inc()
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	if s != nil {
		p.closeSession(s, e.Key)
	}
}

// releaseLocked gives back a session slot of target.
func (p *Pool) releaseLocked(target string) {
	p.open[target]--
	if p.open[target] <= 0 {
		delete(p.open, target)
	}
}

// Discard is Drop for a session that is most likely dead already (the BMC
// answered none of its requests): its Close Session, which may well go
// unanswered, runs in the background instead of holding up the
// collection, and its slot under max_sessions is free at once. Close
// waits for it. Call it from inside fn.
func (p *Pool) Discard(e *Entry, reason string) {
	p.mu.Lock()
	s := e.Session
	if s == nil {
		p.mu.Unlock()
		return
	}
	e.Session = nil
	p.releaseLocked(e.Key.Target)
	p.metrics.sessionsOpen.Dec()
	p.metrics.evictions.WithLabelValues(reason).Inc()
	p.orphans++
	p.cond.Broadcast()
	p.mu.Unlock()
	go func() {
		p.closeSession(s, e.Key)
		p.mu.Lock()
		p.orphans--
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
}

func (p *Pool) closeSession(s Session, key Key) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.CloseTimeout)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		level.Debug(p.opts.Logger).Log("msg", "closing BMC session", "target", key.Target, "module", key.Module, "err", err)
	}
}

// CloseIdle closes sessions unused for longer than the idle timeout and
// forgets entries without a session that have been unused as long. It
// returns how many sessions it closed.
func (p *Pool) CloseIdle() int {
	now := p.opts.Now()
	return p.evict(func(e *Entry) bool {
		timeout := e.IdleTimeout
		if timeout == 0 {
			timeout = p.opts.IdleTimeout
		}
		return timeout > 0 && e.lastUsed.Before(now.Add(-timeout))
	}, "idle")
}

// Retain closes the sessions and forgets the entries whose key keep
// rejects, for example targets or modules removed by a config reload. It
// returns how many idle sessions it closed. A collection of a rejected key
// running now, or started later, closes its session when it ends: keep
// stays in force until the next Retain. keep is called with the pool's
// lock held and must not call the pool.
func (p *Pool) Retain(keep func(Key) bool) int {
	p.mu.Lock()
	p.keep = keep
	p.mu.Unlock()
	return p.evict(func(e *Entry) bool { return !keep(e.Key) }, "removed")
}

// Evict closes the idle sessions, and forgets the entries, whose key match
// accepts, counting them under reason in sessions_closed_total. It returns
// how many sessions it closed. Unlike Retain it has no lasting effect: an
// entry busy now is left alone. match is called with the pool's lock held
// and must not call the pool.
func (p *Pool) Evict(match func(Key) bool, reason string) int {
	return p.evict(func(e *Entry) bool { return match(e.Key) }, reason)
}

func (p *Pool) evict(match func(*Entry) bool, reason string) int {
	var victims []*Entry
	p.mu.Lock()
	for k, e := range p.entries {
		if e.busy || !match(e) {
			continue
		}
		delete(p.entries, k)
		if e.Session != nil {
			victims = append(victims, &Entry{Key: e.Key, Session: e.Session})
			e.Session = nil
			p.releaseLocked(k.Target)
			p.metrics.sessionsOpen.Dec()
			p.metrics.evictions.WithLabelValues(reason).Inc()
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.closeAll(victims)
	return len(victims)
}

// KeepAliver is a Session that can keep itself alive on its BMC while
// idle (session.Session.KeepAlive): it sends a request only when it is due.
type KeepAliver interface {
	KeepAlive(ctx context.Context) (sent bool, err error)
}

// keepAliveTimeout bounds one keep-alive request.
const keepAliveTimeout = 2 * time.Second

// KeepAlive gives every idle pooled session that can keep itself alive
// the chance to (at most 64 at once), so a session a scrape will use again
// within its idle_timeout is not dropped by a BMC that ends idle sessions
// sooner. It returns when all are done or ctx ends.
func (p *Pool) KeepAlive(ctx context.Context) {
	var sessions []KeepAliver
	p.mu.Lock()
	for _, e := range p.entries {
		if k, ok := e.Session.(KeepAliver); ok && !e.busy {
			sessions = append(sessions, k)
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, k := range sessions {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			kctx, cancel := context.WithTimeout(ctx, keepAliveTimeout)
			defer cancel()
			sent, err := k.KeepAlive(kctx)
			switch {
			case !sent:
			case err != nil:
				p.metrics.keepAlives.WithLabelValues("error").Inc()
			default:
				p.metrics.keepAlives.WithLabelValues("ok").Inc()
			}
		}()
	}
	wg.Wait()
}

// closeAll closes sessions in parallel (bounded), so shutting down a pool
// of thousands of sessions does not take thousands of round trips in a row.
func (p *Pool) closeAll(victims []*Entry) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, v := range victims {
		wg.Add(1)
		sem <- struct{}{}
		go func(v *Entry) {
			defer wg.Done()
			defer func() { <-sem }()
			p.closeSession(v.Session, v.Key)
		}(v)
	}
	wg.Wait()
}

// Run closes idle sessions periodically until ctx is done.
func (p *Pool) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := p.CloseIdle(); n > 0 {
				level.Debug(p.opts.Logger).Log("msg", "closed idle BMC sessions", "count", n)
			}
			p.KeepAlive(ctx)
		}
	}
}

// Close waits for in-flight collections until ctx is done, then cancels
// the ones still running and waits for them to end (at most CloseTimeout);
// it closes every session with Close Session, including those of the
// collections it cancelled, before it returns. Do fails with ErrClosed
// afterwards.
func (p *Pool) Close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	if !p.waitIdleLocked(ctx) {
		p.cancelBase()
		cctx, cancel := context.WithTimeout(context.Background(), p.opts.CloseTimeout)
		p.waitIdleLocked(cctx)
		cancel()
	}
	var victims []*Entry
	for k, e := range p.entries {
		if e.Session != nil && !e.busy {
			victims = append(victims, &Entry{Key: e.Key, Session: e.Session})
			e.Session = nil
			p.metrics.sessionsOpen.Dec()
			p.metrics.evictions.WithLabelValues("shutdown").Inc()
		}
		delete(p.entries, k)
	}
	p.open = map[string]int{}
	p.mu.Unlock()
	p.closeAll(victims)
	// Collections that ended after Close started close their own
	// sessions; wait for those Close Sessions (each bounded by
	// CloseTimeout).
	p.mu.Lock()
	for p.orphans > 0 {
		p.cond.Wait()
	}
	p.mu.Unlock()
	p.cancelBase()
}

// waitIdleLocked waits until no collection runs or ctx is done and
// reports whether none runs.
func (p *Pool) waitIdleLocked(ctx context.Context) bool {
	for {
		busy := false
		for _, e := range p.entries {
			if e.busy {
				busy = true
				break
			}
		}
		if !busy {
			return true
		}
		if p.waitLocked(ctx) != nil {
			return false
		}
	}
}

// Len returns the number of open sessions (tests, health).
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.open {
		n += c
	}
	return n
}
