package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is an Observer that keeps what it saw.
type recorder struct {
	mu          sync.Mutex
	handshakes  []HandshakeResult
	requests    []string // "command result"
	retransmits map[string]int
	opened      int
	closed      int
	reopens     []string
}

func (r *recorder) SessionReopened(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reopens = append(r.reopens, reason)
}

func (r *recorder) Handshake(res HandshakeResult, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handshakes = append(r.handshakes, res)
}

func (r *recorder) Request(cmd string, res RequestResult, code wire.CompletionCode, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := cmd + " " + string(res)
	if res == RequestCompletionCode {
		s += fmt.Sprintf(" 0x%02x", uint8(code))
	}
	r.requests = append(r.requests, s)
}

func (r *recorder) Retransmit(cmd string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retransmits == nil {
		r.retransmits = map[string]int{}
	}
	r.retransmits[cmd]++
}

func (r *recorder) SessionOpened() { r.mu.Lock(); r.opened++; r.mu.Unlock() }
func (r *recorder) SessionClosed() { r.mu.Lock(); r.closed++; r.mu.Unlock() }

func (r *recorder) retransmitCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.retransmits {
		n += c
	}
	return n
}

// eventually polls cond for up to a second.
func eventually(cond func() bool) bool {
	for i := 0; i < 100; i++ {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func testConfig(b *fakeBMC, obs Observer) Config {
	return Config{
		Host:          b.addr,
		Username:      "admin",
		Password:      []byte("password"),
		Privilege:     wire.PrivilegeAdmin,
		CipherSuite:   CipherSuiteAuto,
		Timeout:       time.Second,
		RetryInterval: 50 * time.Millisecond,
		// Tests that count retransmits must not see one because a
		// loaded test machine answered a millisecond late.
		MinRetryInterval: 100 * time.Millisecond,
		Observer:         obs,
	}
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustOpen(t testing.TB, cfg Config) *Session {
	t.Helper()
	s, err := Open(testContext(t, 5*time.Second), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// readSensor sends Get Sensor Reading for sensor 1 and returns the reading byte.
func readSensor(t testing.TB, s *Session, target wire.Target) (uint8, error) {
	t.Helper()
	code, data, err := s.Exchange(testContext(t, 5*time.Second), target, wire.NetFnSensorEvent, 0x2D, []byte{1})
	if err != nil {
		return 0, err
	}
	if code != wire.CCOK || len(data) < 1 {
		return 0, fmt.Errorf("code %s data % x", code, data)
	}
	return data[0], nil
}

func TestSeqWindow(t *testing.T) {
	var w seqWindow
	steps := []struct {
		seq  uint32
		want bool
	}{
		{100, true},  // first starts the window
		{100, false}, // duplicate
		{101, true},
		{103, true}, // 102 lost or late
		{102, true}, // late, in window
		{102, false},
		{99, true}, // below the start but within the window, unseen
		{99, false},
		{103 - seqWindowBehind, true},
		{103 - seqWindowBehind - 1, false}, // too old
		{103 + seqWindowAhead + 1, false},  // implausible jump
		{200, true},
		{180, true},
		{180, false},
		{150, false}, // 50 behind
		{100, false}, // now more than 32 behind
	}
	for i, st := range steps {
		if got := w.accept(st.seq); got != st.want {
			t.Errorf("step %d: accept(%d) = %v, want %v", i, st.seq, got, st.want)
		}
	}

	// The window works across the 32-bit wrap.
	w = seqWindow{}
	for _, seq := range []uint32{0xFFFFFFFE, 0xFFFFFFFF, 1, 0} {
		if !w.accept(seq) {
			t.Errorf("wrap: %#x refused", seq)
		}
	}
	if w.accept(0xFFFFFFFF) || w.accept(1) {
		t.Error("wrap: duplicate accepted")
	}
	// A jump of more than 64 clears the history.
	w = seqWindow{}
	w.accept(10)
	w.accept(1000)
	if !w.accept(990) || w.accept(990) || w.accept(10) {
		t.Error("after a long jump")
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"bmc":              "bmc:623",
		"bmc:6230":         "bmc:6230",
		"10.0.0.1":         "10.0.0.1:623",
		"10.0.0.1:1623":    "10.0.0.1:1623",
		"[fe80::1]:623":    "[fe80::1]:623",
		"[fe80::1]":        "[fe80::1]:623",
		"fe80::1":          "[fe80::1]:623",
		"2001:db8::1:2:3":  "[2001:db8::1:2:3]:623",
		"[2001:db8::1]:99": "[2001:db8::1]:99",
	} {
		got, err := HostPort(in)
		if err != nil || got != want {
			t.Errorf("HostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ":623", "bmc:", "bmc:x", "[fe80::1", "[fe80::1]x", "bmc:123456", "[]:623"} {
		if got, err := HostPort(bad); err == nil {
			t.Errorf("HostPort(%q) = %q, want error", bad, got)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	ctx := testContext(t, time.Second)
	for name, cfg := range map[string]Config{
		"no host":        {},
		"long user":      {Host: "127.0.0.1", Username: "seventeen-chars-x", CipherSuite: CipherSuiteAuto},
		"long password":  {Host: "127.0.0.1", Password: make([]byte, 21), CipherSuite: CipherSuiteAuto},
		"long kg":        {Host: "127.0.0.1", KG: make([]byte, 21), CipherSuite: CipherSuiteAuto},
		"xrc4 suite":     {Host: "127.0.0.1", CipherSuite: 4},
		"suite range":    {Host: "127.0.0.1", CipherSuite: 300},
		"lan password":   {Host: "127.0.0.1", Driver: DriverLAN, Password: make([]byte, 17)},
		"bad driver":     {Host: "127.0.0.1", Driver: 7},
		"bad privilege":  {Host: "127.0.0.1", Privilege: 9, CipherSuite: CipherSuiteAuto},
		"bad lan authty": {Host: "127.0.0.1", Driver: DriverLAN, AuthType15: 9},
	} {
		if s, err := Open(ctx, cfg); err == nil {
			s.Close(ctx)
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAllSuitesAgainstFake(t *testing.T) {
	b := newFakeBMC(t)
	for _, suite := range []int{0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17} {
		t.Run(fmt.Sprint(suite), func(t *testing.T) {
			rec := &recorder{}
			cfg := testConfig(b, rec)
			cfg.CipherSuite = suite
			s := mustOpen(t, cfg)
			for i := 0; i < 3; i++ {
				v, err := readSensor(t, s, wire.Target{})
				if err != nil || v != 0x58 {
					t.Fatalf("read %d: %#x %v", i, v, err)
				}
			}
			if err := s.Close(testContext(t, time.Second)); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := s.Close(testContext(t, time.Second)); err != nil {
				t.Fatalf("second close: %v", err)
			}
			if _, _, err := s.Exchange(testContext(t, time.Second), wire.Target{}, wire.NetFnApp, 1, nil); !errors.Is(err, ErrClosed) {
				t.Fatalf("exchange after close: %v", err)
			}
			if n := b.activeSessions(); n != 0 {
				t.Fatalf("%d sessions left on the BMC", n)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.opened != 1 || rec.closed != 1 || len(rec.handshakes) != 1 || rec.handshakes[0] != HandshakeOK {
				t.Errorf("observer: opened %d closed %d handshakes %v", rec.opened, rec.closed, rec.handshakes)
			}
			if len(rec.requests) != 4 || rec.requests[0] != "get_sensor_reading ok" || rec.requests[3] != "get_device_id error" {
				t.Errorf("observer requests: %v", rec.requests)
			}
		})
	}
}

func TestCipherSuiteNegotiation(t *testing.T) {
	t.Run("listed", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.suites = []uint8{0, 1, 2, 3, 6, 7, 8} })
		s := mustOpen(t, testConfig(b, nil))
		if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
		// 7 records of 5 bytes: blocks of 16, 16 and 3 (more reads only
		// when a loaded machine made the client retransmit)
		if b.counter("cipher_suites") < 3 || b.counter("open_session") != 1 {
			t.Errorf("cipher suite reads %d, open sessions %d", b.counter("cipher_suites"), b.counter("open_session"))
		}
		s.mu.Lock()
		c := s.codec.(*v2Codec)
		s.mu.Unlock()
		if c.aes == nil || c.integrity.AuthCodeLen() != 12 {
			t.Error("auto did not pick suite 3")
		}
	})
	t.Run("command missing, tried strongest first", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.suites = []uint8{3}; b.faults.noCipherSuitesCmd = true })
		s := mustOpen(t, testConfig(b, nil))
		if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
		if n := b.counter("open_session"); n != 2 { // 17, then 3
			t.Errorf("%d open session attempts, want 2", n)
		}
	})
	t.Run("only suite 0 offered", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.suites = []uint8{0} })
		_, err := Open(testContext(t, 2*time.Second), testConfig(b, nil))
		if !errors.Is(err, &AuthError{Kind: NoCipherSuite}) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("configured suite refused", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.suites = []uint8{3} })
		cfg := testConfig(b, nil)
		cfg.CipherSuite = 17
		_, err := Open(testContext(t, 2*time.Second), cfg)
		if !errors.Is(err, &AuthError{Kind: NoCipherSuite}) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("nothing in common when trying", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.suites = []uint8{0}; b.faults.noCipherSuitesCmd = true })
		_, err := Open(testContext(t, 2*time.Second), testConfig(b, nil))
		if !errors.Is(err, &AuthError{Kind: NoCipherSuite}) {
			t.Fatalf("got %v", err)
		}
		if n := b.counter("open_session"); n != len(preferenceOrder(supportedIDs())) {
			t.Errorf("%d attempts, want %d", n, len(preferenceOrder(supportedIDs())))
		}
	})
}

func TestHandshakeQuirks(t *testing.T) {
	for name, f := range map[string]func(*fakeBMC){
		"rakp2 tag 0":             func(b *fakeBMC) { b.faults.rakp2Tag0 = true },
		"rakp4 untruncated":       func(b *fakeBMC) { b.faults.rakp4Full = true },
		"extended caps rejected":  func(b *fakeBMC) { b.faults.rejectExtendedCaps = true },
		"lost handshake replies":  func(b *fakeBMC) { b.faults.dropReplies = 1 }, // the Set Session Privilege reply
		"slow bmc":                func(b *fakeBMC) { b.faults.delayReply = 70 * time.Millisecond },
		"duplicated replies":      func(b *fakeBMC) { b.faults.duplicateReplies = 1 },
		"name-only lookup is set": func(b *fakeBMC) {},
	} {
		t.Run(name, func(t *testing.T) {
			b := newFakeBMC(t)
			b.set(f)
			cfg := testConfig(b, nil)
			if name == "name-only lookup is set" {
				cfg.Lookup = LookupNameOnly
			}
			s := mustOpen(t, cfg)
			b.set(func(b *fakeBMC) { b.faults.delayReply = 0 })
			if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
				t.Fatal(v, err)
			}
			if name == "extended caps rejected" && b.counter("auth_caps") != 2 {
				t.Errorf("auth caps sent %d times", b.counter("auth_caps"))
			}
		})
	}
}

func TestAuthErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*fakeBMC, *Config)
		kind  AuthErrorKind
	}{
		{"wrong user", func(b *fakeBMC, c *Config) { c.Username = "nobody" }, WrongUser},
		{"wrong password", func(b *fakeBMC, c *Config) { c.Password = []byte("nope") }, WrongPassword},
		{"wrong kg", func(b *fakeBMC, c *Config) { b.kg = []byte("bmc-key") }, WrongKG},
		{"kg given, bmc has none", func(b *fakeBMC, c *Config) { c.KG = []byte("console-key") }, WrongKG},
		{"role refused", func(b *fakeBMC, c *Config) { c.Username, c.Password = "user", []byte("userpw") }, PrivilegeRefused},
		{"open session role refused", func(b *fakeBMC, c *Config) { b.faults.openStatus = wire.RAKPStatusInvalidRole }, PrivilegeRefused},
		{"set privilege refused", func(b *fakeBMC, c *Config) { b.faults.privRefuse = 0x81 }, PrivilegeRefused},
		{"set privilege insufficient", func(b *fakeBMC, c *Config) { b.faults.privRefuse = wire.CCInsufficientPrivilege }, PrivilegeRefused},
		{"rakp4 integrity check status", func(b *fakeBMC, c *Config) { b.faults.rakp4Status = wire.RAKPStatusInvalidIntegrityCheck }, WrongPassword},
		{"rakp2 no cipher suite", func(b *fakeBMC, c *Config) { b.faults.rakp2Status = wire.RAKPStatusNoCipherSuiteMatch }, NoCipherSuite},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBMC(t)
			rec := &recorder{}
			cfg := testConfig(b, rec)
			cfg.CipherSuite = 3
			cfg.Timeout = 5 * time.Second
			b.set(func(b *fakeBMC) { tc.setup(b, &cfg) })
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			start := time.Now()
			s, err := Open(testContext(t, 5*time.Second), cfg)
			if err == nil {
				s.Close(context.Background())
				t.Fatal("opened")
			}
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Kind != tc.kind || !errors.Is(err, &AuthError{Kind: tc.kind}) || !errors.Is(err, &AuthError{}) {
				t.Fatalf("got %v, want %s", err, tc.kind)
			}
			if time.Since(start) > 2500*time.Millisecond {
				t.Errorf("took %v: an auth failure must not wait for timeouts", time.Since(start))
			}
			// With a wrong K_G the BMC considers the session open, but no
			// message of ours can reach it (the integrity keys differ): it
			// expires there.
			// The abort RAKP3 is sent without waiting: give it a moment.
			if !eventually(func() bool { return b.activeSessions() == 0 || tc.kind == WrongKG }) {
				t.Errorf("%d sessions left on the BMC", b.activeSessions())
			}
			if tc.name == "wrong password" && b.counter("rakp3_abort") != 1 {
				t.Error("no RAKP3 with an error status after a RAKP2 that does not verify")
			}
			rec.mu.Lock()
			if len(rec.handshakes) != 1 || rec.handshakes[0] != HandshakeResult(tc.kind.String()) || rec.opened != 0 {
				t.Errorf("observer: %v opened %d", rec.handshakes, rec.opened)
			}
			rec.mu.Unlock()
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Run("nothing listening fails fast", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		// A port that was just free: a connected UDP socket gets ICMP port
		// unreachable from the loopback stack at once.
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		addr := c.LocalAddr().String()
		c.Close()
		rec := &recorder{}
		start := time.Now()
		_, err = Open(testContext(t, 10*time.Second), Config{Host: addr, CipherSuite: CipherSuiteAuto, Observer: rec, Timeout: 5 * time.Second})
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
		if _, err := Ping(testContext(t, 5*time.Second), addr); !errors.Is(err, ErrUnreachable) {
			t.Errorf("ping: %v", err)
		}
		if len(rec.handshakes) != 1 || rec.handshakes[0] != HandshakeUnreachable {
			t.Errorf("observer: %v", rec.handshakes)
		}
	})
	t.Run("silent bmc", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.faults.silent = true })
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		start := time.Now()
		_, err := Open(testContext(t, 300*time.Millisecond), testConfig(b, nil))
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
			t.Errorf("took %v, want the context's 300ms", d)
		}
		b.mu.Lock()
		got := b.received
		b.mu.Unlock()
		if got < 3 {
			t.Errorf("BMC got %d datagrams, want retransmits", got)
		}
	})
}

func TestPing(t *testing.T) {
	b := newFakeBMC(t)
	pong, err := Ping(testContext(t, time.Second), b.addr)
	if err != nil || !pong.IPMISupport || pong.IANA != wire.ASFIANA {
		t.Fatalf("%+v %v", pong, err)
	}
	b.set(func(b *fakeBMC) { b.faults.silent = true })
	if _, err := Ping(testContext(t, 200*time.Millisecond), b.addr); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("silent: %v", err)
	}
}

func TestRetransmit(t *testing.T) {
	b := newFakeBMC(t)
	rec := &recorder{}
	s := mustOpen(t, testConfig(b, rec))
	b.set(func(b *fakeBMC) { b.faults.dropReplies = 2; b.clientSeqs = nil; b.clientRqSeqs = nil })
	start := time.Now()
	if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
		t.Fatal(v, err)
	}
	// Get Sensor Reading is not measured yet: RetryInterval (50ms), then
	// 100ms of backoff before the third try.
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("answered after %v: backoff too short", d)
	}
	if n := rec.retransmitCount(); n != 2 {
		t.Errorf("%d retransmits, want 2", n)
	}
	b.mu.Lock()
	seqs, rqSeqs := b.clientSeqs, b.clientRqSeqs
	b.mu.Unlock()
	if len(seqs) != 3 || seqs[0] == seqs[1] || seqs[1] == seqs[2] || seqs[0] >= seqs[1] || seqs[1] >= seqs[2] {
		t.Errorf("session sequence numbers of the tries: %v (must be new each time)", seqs)
	}
	if len(rqSeqs) != 3 || rqSeqs[0] != rqSeqs[1] || rqSeqs[1] != rqSeqs[2] {
		t.Errorf("rqSeqs of the tries: %v (must stay the same)", rqSeqs)
	}
	// The next request uses the next rqSeq.
	if _, err := readSensor(t, s, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	next := b.clientRqSeqs[len(b.clientRqSeqs)-1]
	b.mu.Unlock()
	if next != (rqSeqs[0]+1)&0x3F {
		t.Errorf("next rqSeq %d after %d", next, rqSeqs[0])
	}
}

func TestBadPacketsDropped(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(*fakeBMC){
		"tampered integrity":    func(b *fakeBMC) { b.faults.tamperFirst = 3 },
		"wrong session id":      func(b *fakeBMC) { b.faults.wrongSessionFirst = 3 },
		"spoofed source port":   func(b *fakeBMC) { b.faults.spoofPortFirst = 3 },
		"unauthenticated":       func(b *fakeBMC) { b.faults.unauthFirst = 3 },
		"replayed reply":        func(b *fakeBMC) { b.faults.replayPrevious = 3 },
		"stale rqSeq":           func(b *fakeBMC) { b.faults.staleRqSeq = 3 },
		"duplicate reply":       func(b *fakeBMC) { b.faults.duplicateReplies = 3 },
		"late reply to retries": func(b *fakeBMC) { b.faults.delayReply = 120 * time.Millisecond },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, suite := range []int{1, 3, 17} {
				b := newFakeBMC(t)
				rec := &recorder{}
				cfg := testConfig(b, rec)
				cfg.CipherSuite = suite
				s := mustOpen(t, cfg)
				// A first read gives replay and stale faults a previous reply.
				if _, err := readSensor(t, s, wire.Target{}); err != nil {
					t.Fatal(err)
				}
				b.set(f)
				for i := 0; i < 3; i++ {
					v, err := readSensor(t, s, wire.Target{})
					if suite == 1 && name == "unauthenticated" {
						// suite 1 has no integrity algorithm: nothing tells
						// a forged packet from a real one
						continue
					}
					if err != nil || v != 0x58 {
						t.Fatalf("suite %d read %d: %#x %v", suite, i, v, err)
					}
				}
				if name != "late reply to retries" {
					if n := rec.retransmitCount(); n != 0 && !(suite == 1 && name == "unauthenticated") {
						t.Errorf("suite %d: %d retransmits: the good reply must be taken at once", suite, n)
					}
				}
			}
		})
	}
}

func TestReestablish(t *testing.T) {
	t.Run("silent expiry", func(t *testing.T) {
		b := newFakeBMC(t)
		rec := &recorder{}
		cfg := testConfig(b, rec)
		cfg.Timeout = 300 * time.Millisecond
		s := mustOpen(t, cfg)
		b.set(func(b *fakeBMC) { b.faults.expireSessions = true })
		go func() {
			// the BMC forgets the session; new ones work again
			time.Sleep(100 * time.Millisecond)
			b.set(func(b *fakeBMC) { b.faults.expireSessions = false })
		}()
		time.Sleep(10 * time.Millisecond)
		v, err := readSensor(t, s, wire.Target{})
		if err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
		if n := b.counter("sessions_opened"); n != 2 {
			t.Errorf("%d sessions opened, want 2", n)
		}
		if n := b.activeSessions(); n != 1 {
			t.Errorf("%d sessions on the BMC", n)
		}
		rec.mu.Lock()
		if rec.opened != 2 || rec.closed != 1 {
			t.Errorf("observer opened %d closed %d", rec.opened, rec.closed)
		}
		if want := []string{ReopenTimeout}; !slices.Equal(rec.reopens, want) {
			t.Errorf("reopens reported %v, want %v", rec.reopens, want)
		}
		rec.mu.Unlock()
	})
	t.Run("sessionless answer", func(t *testing.T) {
		b := newFakeBMC(t)
		rec := &recorder{}
		cfg := testConfig(b, rec)
		// Unencrypted, so the BMC that lost the keys can still read which
		// request it is refusing.
		cfg.CipherSuite = 2
		cfg.Timeout = 5 * time.Second
		s := mustOpen(t, cfg)
		b.set(func(b *fakeBMC) {
			// forget the session; say so outside a session
			b.sessions = map[uint32]*fakeSession{}
			b.faults.sessionlessOnLost = true
		})
		start := time.Now()
		v, err := readSensor(t, s, wire.Target{})
		if err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("took %v: a session-less answer must re-establish at once", d)
		}
		if n := b.counter("sessions_opened"); n != 2 {
			t.Errorf("%d sessions opened, want 2", n)
		}
		rec.mu.Lock()
		if want := []string{ReopenSessionGone}; !slices.Equal(rec.reopens, want) {
			t.Errorf("reopens reported %v, want %v", rec.reopens, want)
		}
		rec.mu.Unlock()
	})
	t.Run("rmcp+ status invalid session", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Timeout = 5 * time.Second
		s := mustOpen(t, cfg)
		b.set(func(b *fakeBMC) {
			for id, ss := range b.sessions {
				b.lostConsoleID = ss.consoleID
				delete(b.sessions, id)
			}
			b.faults.statusOnLost = true
		})
		go func() {
			// new sessions work once the old one was refused
			for b.counter("lost") == 0 {
				time.Sleep(time.Millisecond)
			}
			b.set(func(b *fakeBMC) { b.faults.statusOnLost = false })
		}()
		start := time.Now()
		v, err := readSensor(t, s, wire.Target{})
		if err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("took %v: an invalid-session status must re-establish at once", d)
		}
		if n := b.counter("sessions_opened"); n != 2 {
			t.Errorf("%d sessions opened, want 2", n)
		}
	})
	t.Run("once per call", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Timeout = 200 * time.Millisecond
		s := mustOpen(t, cfg)
		b.set(func(b *fakeBMC) { b.faults.expireSessions = true })
		_, err := readSensor(t, s, wire.Target{})
		if !errors.Is(err, ErrSessionLost) {
			t.Fatalf("got %v", err)
		}
		if n := b.counter("sessions_opened"); n != 2 {
			t.Errorf("%d sessions opened, want 2", n)
		}
		// The next call tries again (and succeeds once the BMC behaves).
		b.set(func(b *fakeBMC) { b.faults.expireSessions = false })
		if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
	})
	t.Run("bmc gone", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Timeout = 200 * time.Millisecond
		s := mustOpen(t, cfg)
		b.set(func(b *fakeBMC) { b.faults.silent = true })
		_, err := readSensor(t, s, wire.Target{})
		if !errors.Is(err, ErrSessionLost) || !errors.Is(err, ErrUnreachable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("caller deadline first", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Timeout = 5 * time.Second
		s := mustOpen(t, cfg)
		b.set(func(b *fakeBMC) { b.faults.silent = true })
		start := time.Now()
		_, _, err := s.Exchange(testContext(t, 200*time.Millisecond), wire.Target{}, wire.NetFnSensorEvent, 0x2D, []byte{1})
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
		if n := b.counter("sessions_opened"); n != 1 {
			t.Errorf("re-established without time to do it")
		}
	})
}

// A BMC that drops sessions quiet for longer than its idle timeout: the
// first time, a probe finds the session gone; after as much quiet again the
// session logs in at once, and the old session still gets its Close
// Session. The rules behind it are TestIdleExpiry's; this test waits only
// for the quiet the BMC's idle timer needs and the one probe.
func TestIdleExpiryLearnt(t *testing.T) {
	t.Parallel()
	b := newFakeBMC(t)
	rec := &recorder{}
	cfg := testConfig(b, rec)
	cfg.Timeout = 3 * time.Second
	cfg.StaleAfter = 100 * time.Millisecond
	cfg.MinRetryInterval = DefaultMinRetryInterval // the probe follows the measured timeout
	b.set(func(b *fakeBMC) { b.faults.idleTimeout = 150 * time.Millisecond })
	s := mustOpen(t, cfg)
	read := func(quiet time.Duration) time.Duration {
		t.Helper()
		time.Sleep(quiet) // the quiet is what is tested: the BMC's idle timer runs on it
		start := time.Now()
		if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
			t.Fatalf("read after %v quiet: %v %v", quiet, v, err)
		}
		return time.Since(start)
	}
	read(0) // measures how fast the BMC answers the command
	// The fake BMC answers in microseconds: the probe waits its floor.
	if d := read(200 * time.Millisecond); d < staleProbeMin || d >= staleProbeTimeout {
		t.Errorf("first expiry took %v: want the stale probe, from the measured response time (%v, not %v)", d, staleProbeMin, staleProbeTimeout)
	}
	if d := read(200 * time.Millisecond); d >= staleProbeMin {
		t.Errorf("presumed expiry took %v: want no probe", d)
	}
	if n := b.counter("sessions_opened"); n != 3 {
		t.Errorf("%d sessions opened, want 3", n)
	}
	if n := b.activeSessions(); n != 1 {
		t.Errorf("%d sessions on the BMC, want 1: presumed-expired sessions get a Close Session", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{ReopenStaleProbe, ReopenPresumedExpired}; !slices.Equal(rec.reopens, want) {
		t.Errorf("reopens reported %v, want %v", rec.reopens, want)
	}
}

// TestIdleExpiry walks idleExpiry's rules with made-up quiet times
// (StaleAfter 20 s, as by default).
func TestIdleExpiry(t *testing.T) {
	type step struct {
		name string
		// outlived, when set, records a request after quiet that found
		// the session dropped (or not); otherwise the step asks for a
		// verdict after quiet.
		outlived, dropped bool
		quiet             time.Duration
		probe, expired    bool
	}
	const sec = time.Second
	steps := []step{
		{name: "fresh", quiet: 5 * sec},
		{name: "quiet past StaleAfter", quiet: 30 * sec, probe: true},
		{name: "drop within StaleAfter proves nothing", outlived: true, dropped: true, quiet: 10 * sec},
		{name: "still only a probe", quiet: 59 * sec, probe: true},
		{name: "lost after 60 s: limit 60 s", outlived: true, dropped: true, quiet: 60 * sec},
		{name: "well below the limit", quiet: 50 * sec, probe: true},
		{name: "7/8 of the limit", quiet: 52500 * time.Millisecond, expired: true},
		{name: "at the limit", quiet: 60 * sec, expired: true},
		{name: "survived 58 s", outlived: true, quiet: 58 * sec},
		{name: "no more than survived", quiet: 58 * sec, probe: true},
		{name: "more than survived", quiet: 59 * sec, expired: true},
		{name: "lost after 40 s, less than it survived: the BMC changed", outlived: true, dropped: true, quiet: 40 * sec},
		{name: "7/8 of the new limit", quiet: 35 * sec, expired: true},
		{name: "below it", quiet: 34 * sec, probe: true},
		// Counting from the drop (presumed reset): recheckEvery (3)
		// presumptions, then one probe, then presumptions again.
		{name: "presumed 2", quiet: 45 * sec, expired: true},
		{name: "presumed 3", quiet: 45 * sec, expired: true},
		{name: "recheck", quiet: 45 * sec, probe: true},
		{name: "presumed again", quiet: 45 * sec, expired: true},
		{name: "survived as much as the limit: it is gone", outlived: true, quiet: 45 * sec},
		{name: "limit cleared", quiet: 90 * sec, probe: true},
	}
	e := idleExpiry{staleAfter: 20 * sec, recheckEvery: 3}
	for _, st := range steps {
		if st.outlived {
			e.outlived(st.quiet, st.dropped)
			continue
		}
		probe, expired := e.verdict(st.quiet)
		if probe != st.probe || expired != st.expired {
			t.Errorf("%s: quiet %v: probe %v expired %v, want %v %v", st.name, st.quiet, probe, expired, st.probe, st.expired)
		}
	}
	if e.expiredAfter != 0 {
		t.Errorf("limit %v after surviving past it", e.expiredAfter)
	}
}

// TestStaleness: the timeout a request gets from the verdict.
func TestStaleness(t *testing.T) {
	cfg, err := Config{Host: "bmc", Timeout: 4 * time.Second, StaleAfter: 20 * time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(cfg, "bmc", nil)
	now := time.Now()
	s.answeredSince = now
	s.expiry.outlived(60*time.Second, true)
	// Kinds the session measured: a fast one (its probe waits
	// staleProbeRTOs timeouts, at least staleProbeMin), a middling one,
	// and a slow one (capped at the fixed probe).
	unmeasured := kindOf(wire.NetFnApp, 0x01, false)
	fast := kindOf(wire.NetFnSensorEvent, 0x2D, false)
	middling := kindOf(wire.NetFnStorage, 0x23, false)
	slow := kindOf(wire.NetFnChassis, 0x01, false)
	for range 8 {
		s.rtt.sample(fast, time.Millisecond)
		s.rtt.sample(middling, 30*time.Millisecond)
		s.rtt.sample(slow, 400*time.Millisecond)
	}
	middlingProbe := staleProbeRTOs * s.rtt.timeout(middling, 0)
	if middlingProbe <= staleProbeMin || middlingProbe >= staleProbeTimeout {
		t.Fatalf("middling kind's probe %v: the case tests nothing", middlingProbe)
	}
	for _, c := range []struct {
		quiet   time.Duration
		kind    commandKind
		timeout time.Duration
		expired bool
	}{
		{5 * time.Second, unmeasured, 4 * time.Second, false},
		{30 * time.Second, unmeasured, time.Second, false},
		{30 * time.Second, fast, staleProbeMin, false},
		{30 * time.Second, middling, middlingProbe, false},
		{30 * time.Second, slow, time.Second, false},
		{60 * time.Second, fast, 0, true},
	} {
		_, timeout, expired := s.staleness(now.Add(c.quiet), c.kind)
		if timeout != c.timeout || expired != c.expired {
			t.Errorf("quiet %v, kind %#x: timeout %v expired %v, want %v %v", c.quiet, c.kind, timeout, expired, c.timeout, c.expired)
		}
	}
}

func TestBridging(t *testing.T) {
	target := wire.Target{Addr: 0x30}
	t.Run("separate answer", func(t *testing.T) {
		b := newFakeBMC(t)
		s := mustOpen(t, testConfig(b, nil))
		if v, err := readSensor(t, s, target); err != nil || v != 0x29 {
			t.Fatal(v, err)
		}
		if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
	})
	t.Run("embedded answer", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.faults.bridgeEmbedded = true })
		s := mustOpen(t, testConfig(b, nil))
		if v, err := readSensor(t, s, target); err != nil || v != 0x29 {
			t.Fatal(v, err)
		}
	})
	t.Run("bridging refused", func(t *testing.T) {
		b := newFakeBMC(t)
		s := mustOpen(t, testConfig(b, nil))
		_, err := readSensor(t, s, wire.Target{Addr: 0x40})
		if !wire.IsCompletionCode(err, 0x83) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("target silent", func(t *testing.T) {
		b := newFakeBMC(t)
		b.set(func(b *fakeBMC) { b.faults.bridgeNoAnswer = true })
		cfg := testConfig(b, nil)
		cfg.Timeout = 200 * time.Millisecond
		s := mustOpen(t, cfg)
		_, err := readSensor(t, s, target)
		if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrSessionLost) {
			t.Fatalf("got %v", err)
		}
		if n := b.counter("sessions_opened"); n != 1 {
			t.Errorf("a silent bridged target must not re-establish the session (%d opened)", n)
		}
	})
}

func TestLAN15(t *testing.T) {
	for _, at := range []AuthType15{AuthType15Auto, AuthType15MD5, AuthType15Straight, AuthType15None} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			b := newFakeBMC(t)
			cfg := testConfig(b, nil)
			cfg.Driver = DriverLAN
			cfg.AuthType15 = at
			s := mustOpen(t, cfg)
			for i := 0; i < 3; i++ {
				if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
					t.Fatal(v, err)
				}
			}
			s.mu.Lock()
			c := s.codec.(*v15Codec)
			s.mu.Unlock()
			want := map[AuthType15]wire.AuthType{AuthType15Auto: wire.AuthTypeMD5, AuthType15MD5: wire.AuthTypeMD5,
				AuthType15Straight: wire.AuthTypeStraight, AuthType15None: wire.AuthTypeNone}[at]
			if c.outAuth != want {
				t.Errorf("auth type %s, want %s", c.outAuth, want)
			}
			if err := s.Close(testContext(t, time.Second)); err != nil {
				t.Fatal(err)
			}
			if n := b.activeSessions(); n != 0 {
				t.Errorf("%d sessions left", n)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Driver = DriverLAN
		cfg.Password = []byte("nope")
		cfg.Timeout = 300 * time.Millisecond
		_, err := Open(testContext(t, 2*time.Second), cfg)
		if !errors.Is(err, &AuthError{Kind: WrongPassword}) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong user", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Driver = DriverLAN
		cfg.Username = "nobody"
		_, err := Open(testContext(t, 2*time.Second), cfg)
		if !errors.Is(err, &AuthError{Kind: WrongUser}) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("privilege refused", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Driver = DriverLAN
		cfg.Username, cfg.Password = "user", []byte("userpw")
		_, err := Open(testContext(t, 2*time.Second), cfg)
		if !errors.Is(err, &AuthError{Kind: PrivilegeRefused}) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad packets dropped", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.Driver = DriverLAN
		s := mustOpen(t, cfg)
		if _, err := readSensor(t, s, wire.Target{}); err != nil {
			t.Fatal(err)
		}
		b.set(func(b *fakeBMC) {
			b.faults.tamperFirst, b.faults.wrongSessionFirst, b.faults.replayPrevious, b.faults.staleRqSeq = 1, 1, 1, 1
		})
		if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
			t.Fatal(v, err)
		}
	})
}

func TestConcurrentCallers(t *testing.T) {
	for _, window := range []int{1, 4} {
		t.Run(fmt.Sprint("window ", window), func(t *testing.T) {
			b := newFakeBMC(t)
			cfg := testConfig(b, nil)
			cfg.Window = window
			s := mustOpen(t, cfg)
			b.set(func(b *fakeBMC) { b.faults.dropReplies = 3 })
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 4; i++ {
						target := wire.Target{}
						want := uint8(0x58)
						if i%2 == 1 {
							target, want = wire.Target{Addr: 0x30}, 0x29
						}
						code, data, err := s.Exchange(testContext(t, 5*time.Second), target, wire.NetFnSensorEvent, 0x2D, []byte{1})
						if err != nil || code != 0 || len(data) == 0 || (window > 1 && data[0] != want) {
							errs <- fmt.Errorf("%v %v % x", code, err, data)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	b := newFakeBMC(t)
	cfg := testConfig(b, nil)
	cfg.Timeout = 10 * time.Second
	s := mustOpen(t, cfg)
	b.set(func(b *fakeBMC) { b.faults.silent = true })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := s.Exchange(ctx, wire.Target{}, wire.NetFnSensorEvent, 0x2D, []byte{1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

func TestCloseWithDeadBMC(t *testing.T) {
	b := newFakeBMC(t)
	cfg := testConfig(b, nil)
	cfg.Timeout = 10 * time.Second
	s := mustOpen(t, cfg)
	b.set(func(b *fakeBMC) { b.faults.silent = true })
	start := time.Now()
	err := s.Close(testContext(t, 150*time.Millisecond))
	if err == nil {
		t.Error("close of a session the BMC does not answer reported success")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close took %v", d)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestCloseWhileRequestInFlight(t *testing.T) {
	b := newFakeBMC(t)
	cfg := testConfig(b, nil)
	cfg.Timeout = 10 * time.Second
	s := mustOpen(t, cfg)
	b.set(func(b *fakeBMC) { b.faults.silent = true })
	b.mu.Lock()
	before := b.received
	b.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Exchange(context.Background(), wire.Target{}, wire.NetFnSensorEvent, 0x2D, []byte{1})
		done <- err
	}()
	// The request is in flight once the BMC has received it.
	if !eventually(func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.received > before }) {
		t.Fatal("the request never reached the BMC")
	}
	start := time.Now()
	if err := s.Close(testContext(t, 200*time.Millisecond)); err == nil {
		t.Error("close with the only slot taken reported success")
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("in-flight exchange: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("in-flight exchange still running after Close")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close took %v", d)
	}
}

func TestCommandName(t *testing.T) {
	if n := CommandName(wire.NetFnSensorEvent, 0x2D); n != "get_sensor_reading" {
		t.Error(n)
	}
	if n := CommandName(wire.NetFnStorage|1, 0x43); n != "get_sel_entry" {
		t.Error(n)
	}
	if n := CommandName(wire.NetFnOEMGroup, 0x9A); n != "oem_group_0x9a" {
		t.Error(n)
	}
}

func TestAuthErrorStrings(t *testing.T) {
	for k := WrongUser; k <= PrivilegeRefused; k++ {
		e := &AuthError{Kind: k, Detail: "x"}
		if e.Error() == "" || k.String() == "" || errors.Is(e, &AuthError{Kind: k%5 + 1}) {
			t.Errorf("%d: %q %q", k, e.Error(), k.String())
		}
	}
}

func TestKeepAliveDue(t *testing.T) {
	e := idleExpiry{staleAfter: 20 * time.Second, recheckEvery: 8}
	if e.keepAliveDue(25*time.Second, 0) {
		t.Error("keep-alive due for a BMC never seen to drop a session")
	}
	e.outlived(60*time.Second, true) // dropped after 60 s of quiet
	for _, c := range []struct {
		quiet time.Duration
		due   bool
	}{{10 * time.Second, false}, {20 * time.Second, true}, {50 * time.Second, true}, {53 * time.Second, false}} {
		if got := e.keepAliveDue(c.quiet, 0); got != c.due {
			t.Errorf("limit 60 s, quiet %v: due %v, want %v", c.quiet, got, c.due)
		}
	}
	e = idleExpiry{staleAfter: 20 * time.Second, recheckEvery: 8}
	e.outlived(30*time.Second, true) // dropped after 30 s: half of it
	if !e.keepAliveDue(15*time.Second, 0) || e.keepAliveDue(14*time.Second, 0) {
		t.Error("limit 30 s: keep-alive not due from 15 s of quiet")
	}
	// Another BMC of the module lost a session after 60 s: a BMC that
	// learnt nothing yet keeps its session alive as if it had; one that
	// kept a session through more quiet than that does not; its own
	// limit comes before the hint.
	fresh := idleExpiry{staleAfter: 20 * time.Second, recheckEvery: 8}
	if !fresh.keepAliveDue(25*time.Second, 60*time.Second) || fresh.keepAliveDue(53*time.Second, 60*time.Second) {
		t.Error("hint 60 s: keep-alive not due at 25 s of quiet, or due past 7/8 of it")
	}
	if p, expired := fresh.verdict(59 * time.Second); expired || !p {
		t.Error("a hint made the session presume its own BMC's session gone")
	}
	keeps := idleExpiry{staleAfter: 20 * time.Second, recheckEvery: 8}
	keeps.outlived(90*time.Second, false)
	if keeps.keepAliveDue(25*time.Second, 60*time.Second) {
		t.Error("keep-alive due from a hint for a BMC that kept a session through more quiet")
	}
	if e.keepAliveDue(14*time.Second, 60*time.Second) {
		t.Error("the hint overrode the BMC's own limit of 30 s")
	}
}

// TestExpiryHintShared: two sessions share a hint (as a module's BMCs do);
// when the first finds its session dropped while idle, the second, which
// never lost one, sends keep-alives too.
func TestExpiryHintShared(t *testing.T) {
	b := newFakeBMC(t)
	hint := &ExpiryHint{}
	cfg := testConfig(b, nil)
	cfg.StaleAfter = 100 * time.Millisecond
	cfg.ExpiryHint = hint
	b.set(func(b *fakeBMC) { b.faults.idleTimeout = 300 * time.Millisecond })
	first := mustOpen(t, cfg)
	second := mustOpen(t, cfg)
	defer closeSession(t, second)
	if _, err := readSensor(t, second, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // past StaleAfter, within the BMC's 300 ms
	if sent, err := second.KeepAlive(testContext(t, time.Second)); sent || err != nil {
		t.Fatalf("keep-alive sent (%v, %v) before any BMC dropped a session", sent, err)
	}
	time.Sleep(200 * time.Millisecond) // the first session's BMC timer is what is tested
	if _, err := readSensor(t, first, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	if hint.get() == 0 {
		t.Fatal("the first session's lost session taught the hint nothing")
	}
	closeSession(t, first) // before its BMC's idle timer ends it
	if _, err := readSensor(t, second, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	opened := b.counter("sessions_opened")
	time.Sleep(200 * time.Millisecond)
	if sent, err := second.KeepAlive(testContext(t, 2*time.Second)); !sent || err != nil {
		t.Fatalf("second session, hinted: keep-alive sent %v, err %v", sent, err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := readSensor(t, second, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	if n := b.counter("sessions_opened"); n != opened {
		t.Errorf("%d sessions opened after the hinted keep-alive, want none: it kept the session through 400 ms", n-opened)
	}
}

// TestKeepAlive: once the session has learnt that the BMC drops idle
// sessions, a keep-alive within the limit keeps it: the next request
// needs no new login.
func TestKeepAlive(t *testing.T) {
	b := newFakeBMC(t)
	cfg := testConfig(b, nil)
	cfg.StaleAfter = 100 * time.Millisecond
	b.set(func(b *fakeBMC) { b.faults.idleTimeout = 300 * time.Millisecond })
	s := mustOpen(t, cfg)
	defer closeSession(t, s)
	if sent, err := s.KeepAlive(testContext(t, time.Second)); sent || err != nil {
		t.Fatalf("keep-alive sent (%v, %v) before any drop was seen", sent, err)
	}
	time.Sleep(400 * time.Millisecond) // the BMC's idle timer is what is tested
	if _, err := readSensor(t, s, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	if n := b.counter("sessions_opened"); n != 2 {
		t.Fatalf("%d sessions opened, want 2 (the first dropped while idle)", n)
	}
	for range 3 {
		time.Sleep(200 * time.Millisecond) // past StaleAfter, within the BMC's 300 ms
		if sent, err := s.KeepAlive(testContext(t, 2*time.Second)); !sent || err != nil {
			t.Fatalf("keep-alive: sent %v, err %v", sent, err)
		}
	}
	if _, err := readSensor(t, s, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	if n := b.counter("sessions_opened"); n != 2 {
		t.Errorf("%d sessions opened, want 2: keep-alives kept the session through 600 ms of no scrapes", n)
	}
}
