package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func supportedIDs() []uint8 { return crypto.SupportedCipherSuiteIDs() }

// TestLookupModes logs in to BMCs that look users up in different ways,
// with accounts whose privilege limit differs from the one asked for, as
// happens in the field (issue 11): the default (LookupAuto) must log in
// wherever ipmitool's default name-only lookup or its -L PRIV+ would.
func TestLookupModes(t *testing.T) {
	type want struct {
		ok       bool
		nameOnly int // RAKP1 messages with the name-only bit
		namePriv int // ... without it
		learnt   LookupMode
	}
	cases := []struct {
		name   string
		fault  func(*fakeBMC)
		lookup LookupMode
		user   string
		priv   wire.PrivilegeLevel
		want   want
		errHas []string
	}{
		{"admin account at user privilege, strict role lookup BMC", func(b *fakeBMC) { b.faults.roleLookupStrict = true },
			LookupAuto, "admin", wire.PrivilegeUser, want{ok: true, nameOnly: 1, learnt: LookupNameOnly}, nil},
		{"same with name+privilege forced", func(b *fakeBMC) { b.faults.roleLookupStrict = true },
			LookupNamePrivilege, "admin", wire.PrivilegeUser, want{namePriv: 1},
			[]string{"unknown user name", `user "admin"`, "privilege user", "name+privilege lookup"}},
		{"BMC without name-only lookup", func(b *fakeBMC) { b.faults.nameOnlyUnsupported = true },
			LookupAuto, "admin", wire.PrivilegeAdmin, want{ok: true, nameOnly: 1, namePriv: 1, learnt: LookupNamePrivilege}, nil},
		{"same with name-only forced", func(b *fakeBMC) { b.faults.nameOnlyUnsupported = true },
			LookupNameOnly, "admin", wire.PrivilegeAdmin, want{nameOnly: 1}, []string{"name-only lookup"}},
		{"unknown user: both modes, then a clear error", func(b *fakeBMC) {},
			LookupAuto, "nobody", wire.PrivilegeUser, want{nameOnly: 1, namePriv: 1},
			[]string{"unknown user name", "status 0x0d", `user "nobody"`, "privilege user", "name-only lookup, then name+privilege lookup"}},
		{"user account above its limit: no second try", func(b *fakeBMC) {},
			LookupAuto, "user", wire.PrivilegeAdmin, want{nameOnly: 1}, []string{"privilege level refused", "privilege administrator"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBMC(t)
			b.set(c.fault)
			mem := &Memory{}
			cfg := testConfig(b, nil)
			cfg.Username, cfg.Privilege, cfg.Lookup, cfg.Memory = c.user, c.priv, c.lookup, mem
			if c.user == "user" {
				cfg.Password = []byte("userpw")
			}
			s, err := Open(testContext(t, 5*time.Second), cfg)
			if c.want.ok != (err == nil) {
				t.Fatalf("open: %v, want ok %v", err, c.want.ok)
			}
			for _, sub := range c.errHas {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not say %q", err, sub)
				}
			}
			if got := [2]int{b.counter("rakp1 name-only true"), b.counter("rakp1 name-only false")}; got != [2]int{c.want.nameOnly, c.want.namePriv} {
				t.Errorf("RAKP1 name-only/name+privilege: %v, want %v", got, [2]int{c.want.nameOnly, c.want.namePriv})
			}
			if got := mem.Lookup(); got != c.want.learnt {
				t.Errorf("learnt %v, want %v", got, c.want.learnt)
			}
			if s == nil {
				return
			}
			if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
				t.Fatal(v, err)
			}
			closeSession(t, s)
			// The next login to this BMC goes straight to what worked:
			// one RAKP1, and no Get Channel Cipher Suites.
			before := [3]int{b.counter("rakp1"), b.counter("open_session"), b.counter("cipher_suites")}
			s = mustOpen(t, cfg)
			closeSession(t, s)
			after := [3]int{b.counter("rakp1"), b.counter("open_session"), b.counter("cipher_suites")}
			if after != [3]int{before[0] + 1, before[1] + 1, before[2]} {
				t.Errorf("second login: rakp1/open session/cipher suites went %v -> %v, want one RAKP1 and Open Session, no cipher suite list", before, after)
			}
		})
	}
}

// TestAutoSuiteOtherAlgorithms: a BMC that answers Open Session with
// status OK but other algorithms than proposed has refused that suite;
// auto tries the next one and remembers what worked.
func TestAutoSuiteOtherAlgorithms(t *testing.T) {
	b := newFakeBMC(t)
	b.set(func(b *fakeBMC) { b.faults.otherAlgorithms = map[uint8]bool{17: true} })
	mem := &Memory{}
	cfg := testConfig(b, nil)
	cfg.Memory = mem
	s := mustOpen(t, cfg)
	closeSession(t, s)
	if id, ok := mem.CipherSuite(); !ok || id != 3 {
		t.Fatalf("remembered suite %d (%v), want 3", id, ok)
	}
	if n := b.counter("open_session"); n != 2 {
		t.Errorf("%d Open Session requests, want 2 (17 refused, then 3)", n)
	}
	s = mustOpen(t, cfg)
	closeSession(t, s)
	if n := b.counter("open_session"); n != 3 {
		t.Errorf("%d Open Session requests after the second login, want 3: straight to suite 3", n)
	}

	// A configured suite that the BMC answers with other algorithms is
	// a clear refusal, not a protocol error.
	cfg = testConfig(b, nil)
	cfg.CipherSuite = 17
	_, err := Open(testContext(t, 5*time.Second), cfg)
	if !errors.Is(err, &AuthError{Kind: NoCipherSuite}) || !strings.Contains(err.Error(), "algorithms 1/0/0") {
		t.Fatalf("got %v", err)
	}
}

// TestRememberedSuiteRefused: a BMC whose configuration changed refuses
// the remembered suite; the login goes on with the others and forgets it.
func TestRememberedSuiteRefused(t *testing.T) {
	b := newFakeBMC(t)
	mem := &Memory{}
	mem.remember(LookupNameOnly, mustSuite(t, 17))
	b.set(func(b *fakeBMC) { b.suites = []uint8{3} })
	cfg := testConfig(b, nil)
	cfg.Memory = mem
	s := mustOpen(t, cfg)
	closeSession(t, s)
	if id, ok := mem.CipherSuite(); !ok || id != 3 {
		t.Fatalf("remembered suite %d (%v), want 3", id, ok)
	}
}

// TestAutoPreference: 11 and 12 come after every suite with SHA-1 or
// HMAC-MD5 integrity (ipmi_sim 2.0.33 crashes on some of their sessions).
func TestAutoPreference(t *testing.T) {
	order := preferenceOrder([]uint8{0, 1, 2, 3, 6, 7, 8, 11, 12})
	var ids []uint8
	for _, s := range order {
		ids = append(ids, s.ID)
	}
	want := []uint8{3, 8, 2, 7, 12, 11, 1, 6}
	if string(ids) != string(want) {
		t.Fatalf("order %v, want %v", ids, want)
	}
}

func mustSuite(t *testing.T, id uint8) crypto.CipherSuite {
	t.Helper()
	s, ok := crypto.LookupCipherSuite(id)
	if !ok {
		t.Fatalf("no suite %d", id)
	}
	return s
}

func closeSession(t *testing.T, s *Session) {
	t.Helper()
	if err := s.Close(testContext(t, 2*time.Second)); err != nil {
		t.Fatalf("close: %v", err)
	}
}
