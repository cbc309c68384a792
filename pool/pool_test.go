package pool

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// coll is the collection most tests use: any session, no state.
type coll = Collection[Session, any]

type fakeSession struct {
	closed atomic.Int32
}

func (s *fakeSession) Close(context.Context) error {
	s.closed.Add(1)
	return nil
}

type dialer struct {
	mu       sync.Mutex
	sessions []*fakeSession
	fail     error
}

func (d *dialer) dial(context.Context) (Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return nil, d.fail
	}
	s := &fakeSession{}
	d.sessions = append(d.sessions, s)
	return s, nil
}

func (d *dialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sessions)
}

func use(ctx context.Context, c *coll) (any, error) {
	if err := c.Ensure(ctx); err != nil {
		return nil, err
	}
	s, _ := c.Session()
	return s, nil
}

func TestConcurrentScrapesShareOneCollection(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := New(Options{}, reg)
	d := &dialer{}
	key := Key{Target: "127.0.0.1:623", Module: "default"}
	release := make(chan struct{})
	var calls atomic.Int32
	fn := func(ctx context.Context, c *coll) (any, error) {
		calls.Add(1)
		if err := c.Ensure(ctx); err != nil {
			return nil, err
		}
		<-release
		return "metrics", nil
	}
	var wg sync.WaitGroup
	results := make(chan any, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Do(context.Background(), p, key, 1, d.dial, fn)
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	// Wait until the other 49 are parked on the first one's flight.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(p.metrics.sharedScrapes) < 49 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != "metrics" {
			t.Fatalf("result %v", r)
		}
	}
	if calls.Load() != 1 || d.count() != 1 {
		t.Fatalf("collections %d, sessions dialed %d; want 1 and 1", calls.Load(), d.count())
	}
	// The next scrape reuses the open session.
	if _, err := Do(context.Background(), p, key, 1, d.dial, use); err != nil || d.count() != 1 {
		t.Fatalf("second scrape: %v, dialed %d", err, d.count())
	}
	p.Close(context.Background())
	if d.sessions[0].closed.Load() != 1 {
		t.Fatal("Close did not close the session")
	}
	if _, err := Do(context.Background(), p, key, 1, d.dial, use); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

func TestMaxSessionsPerTargetEvictsIdleModule(t *testing.T) {
	p := New(Options{}, nil)
	defer p.Close(context.Background())
	d := &dialer{}
	a := Key{Target: "bmc:623", Module: "a"}
	b := Key{Target: "bmc:623", Module: "b"}
	other := Key{Target: "bmc2:623", Module: "a"}
	for _, k := range []Key{a, b, other} {
		if _, err := Do(context.Background(), p, k, 1, d.dial, use); err != nil {
			t.Fatal(err)
		}
	}
	if d.sessions[0].closed.Load() != 1 {
		t.Fatal("module a's idle session to bmc was not closed to make room for module b")
	}
	if p.Len() != 2 {
		t.Fatalf("open sessions %d, want 2 (one per BMC)", p.Len())
	}
}

func TestMaxSessionsWaitsForBusySession(t *testing.T) {
	p := New(Options{}, nil)
	defer p.Close(context.Background())
	d := &dialer{}
	a := Key{Target: "bmc:623", Module: "a"}
	b := Key{Target: "bmc:623", Module: "b"}
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := Do(context.Background(), p, a, 1, d.dial, func(ctx context.Context, c *coll) (any, error) {
			err := c.Ensure(ctx)
			close(started)
			<-release
			return nil, err
		})
		done <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Do(ctx, p, b, 1, d.dial, use); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second module while first busy: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := Do(context.Background(), p, b, 1, d.dial, use); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 1 {
		t.Fatalf("open %d", p.Len())
	}
}

func TestIdleRetainDropAndDialFailure(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := New(Options{IdleTimeout: time.Minute, Now: clock}, nil)
	defer p.Close(context.Background())
	d := &dialer{}
	k1, k2 := Key{"h1:623", "m"}, Key{"h2:623", "m"}
	for _, k := range []Key{k1, k2} {
		if _, err := Do(context.Background(), p, k, 1, d.dial, use); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.CloseIdle(); n != 0 {
		t.Fatalf("closed %d fresh sessions", n)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := Do(context.Background(), p, k2, 1, d.dial, use); err != nil {
		t.Fatal(err)
	}
	if n := p.CloseIdle(); n != 1 || d.sessions[0].closed.Load() != 1 || d.sessions[1].closed.Load() != 0 {
		t.Fatalf("CloseIdle closed %d", n)
	}
	if n := p.Retain(func(k Key) bool { return k != k2 }); n != 1 || d.sessions[1].closed.Load() != 1 {
		t.Fatalf("Retain closed %d", n)
	}
	// Drop from inside a collection, then a failed dial leaves no slot taken.
	if _, err := Do(context.Background(), p, k1, 1, d.dial, func(ctx context.Context, c *coll) (any, error) {
		if err := c.Ensure(ctx); err != nil {
			return nil, err
		}
		c.Drop("error")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 0 {
		t.Fatalf("open after Drop: %d", p.Len())
	}
	d.fail = errors.New("unreachable")
	if _, err := Do(context.Background(), p, k1, 1, d.dial, use); err == nil {
		t.Fatal("dial failure not reported")
	}
	d.fail = nil
	if _, err := Do(context.Background(), p, k1, 1, d.dial, use); err != nil || p.Len() != 1 {
		t.Fatalf("after failed dial: %v, open %d", err, p.Len())
	}
}

func TestGlobalInFlightLimit(t *testing.T) {
	p := New(Options{MaxInFlight: 1}, nil)
	defer p.Close(context.Background())
	d := &dialer{}
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		Do(context.Background(), p, Key{"a:623", "m"}, 1, d.dial, func(ctx context.Context, c *coll) (any, error) {
			close(started)
			<-release
			return nil, nil
		})
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := Do(ctx, p, Key{"b:623", "m"}, 1, d.dial, use); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second target beyond the global limit: %v", err)
	}
	close(release)
	<-done
}

// A reload under load: Retain runs while the rejected key's collection is
// in flight. The session is closed when that collection ends, and a
// collection of the rejected key started afterwards does not keep one
// either, while other keys keep theirs.
func TestRetainClosesBusyAndLaterSessions(t *testing.T) {
	p := New(Options{}, nil)
	defer p.Close(context.Background())
	d := &dialer{}
	gone, kept := Key{"h1:623", "gone"}, Key{"h2:623", "kept"}
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := Do(context.Background(), p, gone, 1, d.dial, func(ctx context.Context, c *coll) (any, error) {
			if err := c.Ensure(ctx); err != nil {
				return nil, err
			}
			close(started)
			<-release
			return nil, nil
		})
		done <- err
	}()
	<-started
	if _, err := Do(context.Background(), p, kept, 1, d.dial, use); err != nil {
		t.Fatal(err)
	}
	if n := p.Retain(func(k Key) bool { return k != gone }); n != 0 {
		t.Fatalf("Retain closed %d sessions while the only rejected one was busy", n)
	}
	if d.sessions[0].closed.Load() != 0 {
		t.Fatal("Retain closed a session in use")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d.sessions[0].closed.Load() != 1 || p.Len() != 1 {
		t.Fatalf("after the busy collection ended: closed %d, open %d; want 1 and 1", d.sessions[0].closed.Load(), p.Len())
	}
	// A scrape that raced the reload (its module resolved before it).
	if _, err := Do(context.Background(), p, gone, 1, d.dial, use); err != nil {
		t.Fatal(err)
	}
	if d.count() != 3 || d.sessions[2].closed.Load() != 1 || p.Len() != 1 {
		t.Fatalf("late collection of a removed key: dialed %d, open %d", d.count(), p.Len())
	}
	if d.sessions[1].closed.Load() != 0 {
		t.Fatal("the kept key's session was closed")
	}
}

// Close waits for running collections until its context ends, then
// cancels them and closes their sessions before returning.
func TestCloseCancelsCollectionsAfterItsContext(t *testing.T) {
	p := New(Options{CloseTimeout: 5 * time.Second}, nil)
	d := &dialer{}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := Do(context.Background(), p, Key{"h:623", "m"}, 1, d.dial, func(ctx context.Context, c *coll) (any, error) {
			if err := c.Ensure(ctx); err != nil {
				return nil, err
			}
			close(started)
			<-ctx.Done() // a collection that only ends when cancelled
			return nil, ctx.Err()
		})
		done <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	begin := time.Now()
	p.Close(ctx)
	if took := time.Since(begin); took > 3*time.Second {
		t.Fatalf("Close took %v", took)
	}
	if d.sessions[0].closed.Load() != 1 {
		t.Fatal("Close returned before the cancelled collection's session was closed")
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("collection ended with %v, want context.Canceled", err)
	}
}

// Discard frees the slot at once and closes the session in the
// background; Close waits for that.
func TestDiscardClosesInBackground(t *testing.T) {
	p := New(Options{}, nil)
	d := &slowDialer{release: make(chan struct{})}
	key := Key{"h:623", "m"}
	if _, err := Do(context.Background(), p, key, 1, d.dial, func(ctx context.Context, c *coll) (any, error) {
		if err := c.Ensure(ctx); err != nil {
			return nil, err
		}
		c.Discard("unanswered")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 0 {
		t.Fatalf("open %d after Discard", p.Len())
	}
	closed := make(chan struct{})
	go func() { p.Close(context.Background()); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a discarded session was still closing")
	case <-time.After(50 * time.Millisecond):
	}
	close(d.release)
	<-closed
	if d.s.closed.Load() != 1 {
		t.Fatal("the discarded session was not closed")
	}
}

// slowDialer's session takes until release to close.
type slowDialer struct {
	release chan struct{}
	s       *slowSession
}

type slowSession struct {
	release <-chan struct{}
	closed  atomic.Int32
}

func (s *slowSession) Close(context.Context) error {
	<-s.release
	s.closed.Add(1)
	return nil
}

func (d *slowDialer) dial(context.Context) (Session, error) {
	d.s = &slowSession{release: d.release}
	return d.s, nil
}

// Each entry's own idle timeout applies; a negative one logs out as soon
// as the collection ends (a module's idle_timeout: 0).
func TestPerEntryIdleTimeout(t *testing.T) {
	now := time.Unix(5000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := New(Options{IdleTimeout: time.Hour, Now: clock}, nil)
	defer p.Close(context.Background())
	d := &dialer{}
	withIdle := func(idle time.Duration) func(context.Context, *coll) (any, error) {
		return func(ctx context.Context, c *coll) (any, error) {
			c.SetIdleTimeout(idle)
			return use(ctx, c)
		}
	}
	short, long, once := Key{"a:623", "short"}, Key{"b:623", "default"}, Key{"c:623", "once"}
	for _, tc := range []struct {
		k    Key
		idle time.Duration
	}{{short, time.Minute}, {long, 0}, {once, -1}} {
		if _, err := Do(context.Background(), p, tc.k, 1, d.dial, withIdle(tc.idle)); err != nil {
			t.Fatal(err)
		}
	}
	if d.sessions[2].closed.Load() != 1 || p.Len() != 2 {
		t.Fatalf("idle timeout -1: session closed %d times, %d open; want closed at once, 2 open", d.sessions[2].closed.Load(), p.Len())
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if n := p.CloseIdle(); n != 1 || d.sessions[0].closed.Load() != 1 || d.sessions[1].closed.Load() != 0 {
		t.Fatalf("after 2 minutes CloseIdle closed %d; want only the 1-minute entry", n)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if n := p.CloseIdle(); n != 1 || d.sessions[1].closed.Load() != 1 {
		t.Fatalf("after the pool default CloseIdle closed %d", n)
	}
}

// The generic Do hands fn the session as the dialer's type and the key's
// state as the caller's type, with no assertion at the call site; the
// state survives a dropped session, and the result comes back typed.
func TestTypedCollection(t *testing.T) {
	p := New(Options{}, nil)
	defer p.Close(context.Background())
	type state struct{ scrapes int }
	var dialed []*fakeSession
	dial := func(context.Context) (*fakeSession, error) {
		s := &fakeSession{}
		dialed = append(dialed, s)
		return s, nil
	}
	key := Key{"h:623", "m"}
	collect := func(drop bool) (int, error) {
		return Do(context.Background(), p, key, 1, dial, func(ctx context.Context, c *Collection[*fakeSession, *state]) (int, error) {
			st := c.State()
			if st == nil {
				st = &state{}
				c.SetState(st)
			}
			if err := c.Ensure(ctx); err != nil {
				return 0, err
			}
			s, ok := c.Session()
			if !ok || s != dialed[len(dialed)-1] {
				t.Errorf("Session() = %p, %v; want the last dialed", s, ok)
			}
			st.scrapes++
			if drop {
				c.Drop("error")
			}
			return st.scrapes, nil
		})
	}
	for i, drop := range []bool{false, true, false} {
		n, err := collect(drop)
		if err != nil || n != i+1 {
			t.Fatalf("collection %d: %d, %v", i, n, err)
		}
	}
	if len(dialed) != 2 || dialed[0].closed.Load() != 1 {
		t.Fatalf("dialed %d sessions, the first closed %d times; want 2 and 1", len(dialed), dialed[0].closed.Load())
	}
	// A caller joining a collection of another result type is told so,
	// not handed a zero value.
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := Do(context.Background(), p, key, 1, dial, func(ctx context.Context, c *Collection[*fakeSession, *state]) (int, error) {
			close(started)
			<-release
			return 7, nil
		})
		done <- err
	}()
	<-started
	joined := make(chan error, 1)
	go func() {
		_, err := Do(context.Background(), p, key, 1, dial, func(ctx context.Context, c *Collection[*fakeSession, *state]) (string, error) {
			return "never run", nil
		})
		joined <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(p.metrics.sharedScrapes) < 1; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the second caller never joined the collection")
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err == nil || !strings.Contains(err.Error(), "returned int, this caller expects string") {
		t.Fatalf("joining a collection of another result type: %v", err)
	}
}

// keepAliveSession is a session that counts keep-alives and says whether
// one was due.
type keepAliveSession struct {
	fakeSession
	due   bool
	sent  atomic.Int32
	fails bool
}

func (s *keepAliveSession) KeepAlive(context.Context) (bool, error) {
	if !s.due {
		return false, nil
	}
	s.sent.Add(1)
	if s.fails {
		return true, errors.New("no answer")
	}
	return true, nil
}

func TestKeepAlive(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := New(Options{}, reg)
	defer p.Close(context.Background())
	sessions := map[string]*keepAliveSession{
		"due":     {due: true},
		"not due": {},
		"failing": {due: true, fails: true},
	}
	for name, s := range sessions {
		dial := func(context.Context) (Session, error) { return s, nil }
		if _, err := Do(context.Background(), p, Key{Target: name, Module: "m"}, 1, dial, use); err != nil {
			t.Fatal(err)
		}
	}
	p.KeepAlive(context.Background())
	if n := sessions["due"].sent.Load(); n != 1 {
		t.Errorf("due session: %d keep-alives, want 1", n)
	}
	if n := sessions["not due"].sent.Load(); n != 0 {
		t.Errorf("session not due: %d keep-alives", n)
	}
	if got := testutil.ToFloat64(p.metrics.keepAlives.WithLabelValues("ok")); got != 1 {
		t.Errorf("keepalives_total{result=ok} %v, want 1", got)
	}
	if got := testutil.ToFloat64(p.metrics.keepAlives.WithLabelValues("error")); got != 1 {
		t.Errorf("keepalives_total{result=error} %v, want 1", got)
	}
}
