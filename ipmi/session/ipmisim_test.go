package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Integration tests against OpenIPMI's ipmi_sim, started on loopback by
// internal/testbed (skipped when ipmi_sim is not installed, unless CI is
// set).

func simConfig(sim *testbed.IPMISim, obs Observer) Config {
	return Config{
		Host:          sim.Addr,
		Username:      sim.User,
		Password:      []byte(sim.Password),
		Privilege:     wire.PrivilegeAdmin,
		CipherSuite:   CipherSuiteAuto,
		Timeout:       2 * time.Second,
		RetryInterval: 250 * time.Millisecond,
		Observer:      obs,
	}
}

// simSensor returns a readable sensor of the simulated BMC and one on the
// satellite controller.
func simSensors(t *testing.T) (bmc, satellite testbed.Sensor) {
	t.Helper()
	bmc, ok := testbed.SensorByName("CPU1 Temp")
	if !ok {
		t.Fatal("testbed has no CPU1 Temp")
	}
	satellite, ok = testbed.SensorByName("Riser Temp")
	if !ok {
		t.Fatal("testbed has no Riser Temp")
	}
	return bmc, satellite
}

func readSimSensor(t *testing.T, s *Session, sensor testbed.Sensor) {
	t.Helper()
	target := wire.Target{LUN: sensor.LUN}
	if sensor.Owner != wire.BMCSlaveAddress {
		target.Addr = sensor.Owner
	}
	code, data, err := s.Exchange(testContext(t, 5*time.Second), target, wire.NetFnSensorEvent, 0x2D, []byte{sensor.Number})
	if err != nil {
		t.Fatalf("get sensor reading %s: %v", sensor.Name, err)
	}
	if code != wire.CCOK || len(data) < 2 || data[0] != sensor.Raw {
		t.Fatalf("get sensor reading %s: code %s data % x, want raw %#x", sensor.Name, code, data, sensor.Raw)
	}
}

// ourSessions is how many sessions the simulator holds besides the one
// ipmitool opens to count them.
func ourSessions(t *testing.T, sim *testbed.IPMISim) int {
	t.Helper()
	n, err := sim.ActiveSessions(testContext(t, 20*time.Second))
	if err != nil {
		t.Fatalf("session info: %v", err)
	}
	return n - 1
}

func TestIPMISimSuites(t *testing.T) {
	t.Parallel()
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	bmcSensor, satSensor := simSensors(t)
	// 100 stands for suite 3 with the name-only lookup role bit.
	for _, suite := range []int{0, 1, 2, 3, 6, 11, CipherSuiteAuto, 100} {
		t.Run(fmt.Sprint("suite ", suite), func(t *testing.T) {
			rec := &recorder{}
			cfg := simConfig(sim, rec)
			cfg.CipherSuite = suite
			if suite == 100 {
				cfg.CipherSuite, cfg.Lookup = 3, LookupNameOnly
			}
			s, err := Open(testContext(t, 10*time.Second), cfg)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			readSimSensor(t, s, bmcSensor)
			readSimSensor(t, s, satSensor)
			readSimSensor(t, s, bmcSensor)
			if suite == CipherSuiteAuto {
				s.mu.Lock()
				c := s.codec.(*v2Codec)
				s.mu.Unlock()
				// ipmi_sim offers 0-12 (no SHA-256): auto must take suite 3
				if c.aes == nil || c.integrity == nil || c.integrity.AuthCodeLen() != 12 {
					t.Error("auto negotiation did not pick suite 3")
				}
			}
			if n := ourSessions(t, sim); n != 1 {
				t.Errorf("%d sessions open on the BMC, want 1", n)
			}
			if err := s.Close(testContext(t, 5*time.Second)); err != nil {
				t.Fatalf("close: %v", err)
			}
			if n := ourSessions(t, sim); n != 0 {
				t.Errorf("%d sessions left on the BMC after Close", n)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.retransmits != nil {
				t.Errorf("retransmits on loopback: %v", rec.retransmits)
			}
		})
	}
}

// TestIPMISimOddSuites records what the suites ipmitool cannot use do:
// OpenIPMI derives the RAKP-HMAC-MD5 session keys K1 and K2 from 16-byte
// constants instead of the spec's 20, and keys HMAC-MD5-128 with the
// password instead of K1 (docs/bmc-quirks.md), so for suites 7, 8 and 12
// it accepts the handshake and then drops every message of the session.
// It offers no SHA-256 suites at all.
func TestIPMISimOddSuites(t *testing.T) {
	t.Parallel()
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	for _, suite := range []int{7, 8, 12} {
		t.Run(fmt.Sprint("suite ", suite), func(t *testing.T) {
			cfg := simConfig(sim, nil)
			cfg.CipherSuite = suite
			cfg.Timeout = 500 * time.Millisecond
			_, err := Open(testContext(t, 10*time.Second), cfg)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("suite %d: got %v, want the session's first message to go unanswered", suite, err)
			}
		})
	}
	for _, suite := range []int{15, 16, 17} {
		t.Run(fmt.Sprint("suite ", suite), func(t *testing.T) {
			cfg := simConfig(sim, nil)
			cfg.CipherSuite = suite
			_, err := Open(testContext(t, 10*time.Second), cfg)
			if !errors.Is(err, &AuthError{Kind: NoCipherSuite}) {
				t.Fatalf("suite %d: got %v", suite, err)
			}
		})
	}
}

func TestIPMISimLAN15(t *testing.T) {
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	bmcSensor, satSensor := simSensors(t)
	for _, at := range []AuthType15{AuthType15MD5, AuthType15Straight, AuthType15None} {
		t.Run(fmt.Sprint("auth ", at.wire()), func(t *testing.T) {
			cfg := simConfig(sim, nil)
			cfg.Driver = DriverLAN
			cfg.AuthType15 = at
			s, err := Open(testContext(t, 10*time.Second), cfg)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			for i := 0; i < 3; i++ {
				readSimSensor(t, s, bmcSensor)
			}
			readSimSensor(t, s, satSensor)
			if err := s.Close(testContext(t, 5*time.Second)); err != nil {
				t.Fatalf("close: %v", err)
			}
			if n := ourSessions(t, sim); n != 0 {
				t.Errorf("%d sessions left on the BMC after Close", n)
			}
		})
	}
}

func TestIPMISimFailures(t *testing.T) {
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	free, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	nothing := free.LocalAddr().String()
	free.Close()

	cases := []struct {
		name    string
		driver  Driver
		change  func(*Config)
		want    error
		maxTime time.Duration
	}{
		{"wrong password", DriverLAN20, func(c *Config) { c.Password = []byte("wrong") }, &AuthError{Kind: WrongPassword}, 3 * time.Second},
		{"wrong user", DriverLAN20, func(c *Config) { c.Username = "nobody" }, &AuthError{Kind: WrongUser}, 3 * time.Second},
		{"nothing listening", DriverLAN20, func(c *Config) { c.Host = nothing }, ErrUnreachable, 3 * time.Second},
		// ipmi_sim does not enforce users' privilege limits, only the
		// channel's (admin): asking for OEM is refused up front.
		{"privilege above the channel limit", DriverLAN20, func(c *Config) { c.Privilege = wire.PrivilegeOEM },
			&AuthError{Kind: PrivilegeRefused}, 3 * time.Second},
		// ipmi_sim drops an Activate Session it cannot authenticate, so a
		// wrong IPMI v1.5 password costs one Timeout.
		{"v1.5 wrong password", DriverLAN, func(c *Config) { c.Password = []byte("wrong"); c.Timeout = 500 * time.Millisecond },
			&AuthError{Kind: WrongPassword}, 4 * time.Second},
		{"v1.5 wrong user", DriverLAN, func(c *Config) { c.Username = "nobody" }, &AuthError{Kind: WrongUser}, 3 * time.Second},
		{"v1.5 nothing listening", DriverLAN, func(c *Config) { c.Host = nothing }, ErrUnreachable, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			cfg := simConfig(sim, nil)
			cfg.Driver = tc.driver
			cfg.Timeout = 5 * time.Second
			tc.change(&cfg)
			start := time.Now()
			s, err := Open(testContext(t, 10*time.Second), cfg)
			if err == nil {
				s.Close(context.Background())
				t.Fatal("opened")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > tc.maxTime {
				t.Errorf("took %v, want under %v", d, tc.maxTime)
			}
			if n := ourSessions(t, sim); n != 0 {
				t.Errorf("%d sessions left on the BMC", n)
			}
		})
	}
}

// TestIPMISimReestablish restarts the simulator on the same port, as an
// expired session or a BMC reboot looks to the client: the next Exchange
// re-establishes the session by itself.
func TestIPMISimReestablish(t *testing.T) {
	t.Parallel()
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{ConsolePort: -1})
	bmcSensor, _ := simSensors(t)
	parent := t
	for _, driver := range []Driver{DriverLAN20, DriverLAN} {
		t.Run(driver.String(), func(t *testing.T) {
			rec := &recorder{}
			cfg := simConfig(sim, rec)
			cfg.Driver = driver
			cfg.Timeout = time.Second
			s, err := Open(testContext(t, 10*time.Second), cfg)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close(context.Background())
			readSimSensor(t, s, bmcSensor)

			port := sim.Port
			sim.Stop()
			sim = testbed.StartIPMISim(parent, testbed.IPMISimOptions{Port: port, ConsolePort: -1})

			readSimSensor(t, s, bmcSensor)
			readSimSensor(t, s, bmcSensor)
			rec.mu.Lock()
			opened, closed := rec.opened, rec.closed
			rec.mu.Unlock()
			if opened != 2 || closed != 1 {
				t.Errorf("sessions opened %d, closed %d; want 2 and 1", opened, closed)
			}
			if n := ourSessions(t, sim); n != 1 {
				t.Errorf("%d sessions on the BMC, want 1", n)
			}
		})
	}
}

func TestIPMISimConcurrent(t *testing.T) {
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{ConsolePort: -1})
	bmcSensor, satSensor := simSensors(t)
	for _, window := range []int{1, 3} {
		t.Run(fmt.Sprint("window ", window), func(t *testing.T) {
			cfg := simConfig(sim, nil)
			cfg.Window = window
			s, err := Open(testContext(t, 10*time.Second), cfg)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close(context.Background())
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failures []string
			for g := 0; g < 6; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 10; i++ {
						sensor := bmcSensor
						if (g+i)%3 == 0 {
							sensor = satSensor
						}
						target := wire.Target{}
						if sensor.Owner != wire.BMCSlaveAddress {
							target.Addr = sensor.Owner
						}
						code, data, err := s.Exchange(testContext(t, 10*time.Second), target, wire.NetFnSensorEvent, 0x2D, []byte{sensor.Number})
						// With Window 1 the data is only valid until the next
						// Exchange, which another goroutine may start at once.
						if err != nil || code != 0 || (window > 1 && (len(data) == 0 || data[0] != sensor.Raw)) {
							mu.Lock()
							failures = append(failures, fmt.Sprintf("%s: %v %v % x", sensor.Name, code, err, data))
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			for _, f := range failures {
				t.Error(f)
			}
		})
	}
}

func TestIPMISimPing(t *testing.T) {
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{ConsolePort: -1})
	pong, err := Ping(testContext(t, 5*time.Second), sim.Addr)
	if err != nil || !pong.IPMISupport {
		t.Fatalf("%+v %v", pong, err)
	}
}

func BenchmarkExchangeIPMISim(b *testing.B) {
	sim := testbed.StartIPMISim(b, testbed.IPMISimOptions{ConsolePort: -1})
	cfg := simConfig(sim, nil)
	cfg.CipherSuite = 3
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	data := []byte{1}
	b.ReportAllocs()
	for b.Loop() {
		if code, _, err := s.Exchange(ctx, wire.Target{}, wire.NetFnSensorEvent, 0x2D, data); err != nil || code != 0 {
			b.Fatal(code, err)
		}
	}
}

// TestExchangeAllocations pins the hot path: an Exchange on an open
// session allocates nothing in this package. (ipmi_sim runs in another
// process, so only the client's allocations are counted.) The AES suite's
// two come from crypto.AESCBC128, which builds a CBC mode per packet.
func TestExchangeAllocations(t *testing.T) {
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{ConsolePort: -1})
	for suite, want := range map[int]float64{2: 0, 3: 2} {
		obs := &countingObserver{}
		cfg := simConfig(sim, obs)
		cfg.CipherSuite = suite
		s, err := Open(testContext(t, 10*time.Second), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := testContext(t, time.Minute)
		data := []byte{1}
		allocs := testing.AllocsPerRun(200, func() {
			if code, _, err := s.Exchange(ctx, wire.Target{}, wire.NetFnSensorEvent, 0x2D, data); err != nil || code != 0 {
				t.Fatal(code, err)
			}
		})
		if allocs > want {
			t.Errorf("suite %d: %.1f allocations per Exchange, want at most %.0f", suite, allocs, want)
		}
		if n := obs.requests.Load(); n < 200 {
			t.Errorf("observer saw %d requests", n)
		}
		s.Close(ctx)
	}
}

// countingObserver counts without allocating.
type countingObserver struct{ requests atomic.Int64 }

func (*countingObserver) Handshake(HandshakeResult, time.Duration) {}
func (o *countingObserver) Request(string, RequestResult, wire.CompletionCode, time.Duration) {
	o.requests.Add(1)
}
func (*countingObserver) Retransmit(string) {}
func (*countingObserver) SessionOpened()    {}
func (*countingObserver) SessionClosed()    {}

// TestIPMISimLoginMatrix logs in to ipmi_sim with every account at every
// privilege, with default settings otherwise (cipher suite and lookup
// auto), and with ipmitool's defaults (name-only lookup) as the oracle:
// wherever ipmitool logs in, so must we; where it fails, we fail with a
// clear error. Until issue 11, a module at privilege user could not log
// in to an administrator account here, which no test caught because every
// test logged in at the account's own privilege.
func TestIPMISimLoginMatrix(t *testing.T) {
	t.Parallel()
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	privileges := map[string]wire.PrivilegeLevel{
		"USER": wire.PrivilegeUser, "OPERATOR": wire.PrivilegeOperator, "ADMINISTRATOR": wire.PrivilegeAdmin,
	}
	logins, refusals := 0, 0
	accounts := append(slices.Clone(testbed.Users),
		testbed.User{Name: "admin", Password: "wrong password"}, testbed.User{Name: "nobody", Password: "password"})
	for _, user := range accounts {
		for _, privName := range []string{"USER", "OPERATOR", "ADMINISTRATOR"} {
			name := user.Name
			if name == "" {
				name = "(anonymous)"
			}
			if user.Privilege == "" {
				name += " (" + user.Password + ")"
			}
			t.Run(name+" at "+privName, func(t *testing.T) {
				o := testbed.ClientOptions{User: user.Name, Password: user.Password, Anonymous: user.Name == "", Privilege: privName}
				_, toolErr := sim.IpmitoolAs(testContext(t, 30*time.Second), o, "mc", "info")
				cfg := Config{Host: sim.Addr, Username: user.Name, Password: []byte(user.Password),
					Privilege: privileges[privName], CipherSuite: CipherSuiteAuto, Memory: &Memory{}}
				s, err := Open(testContext(t, 10*time.Second), cfg)
				switch {
				case toolErr == nil && err != nil:
					t.Fatalf("ipmitool logs in, we do not: %v", err)
				case toolErr != nil && err == nil:
					_ = s.Close(testContext(t, 5*time.Second))
					t.Fatalf("we log in where ipmitool does not (%v)", toolErr)
				case err != nil:
					var ae *AuthError
					if !errors.As(err, &ae) || !strings.Contains(err.Error(), "privilege "+privileges[privName].String()) {
						t.Fatalf("refused without a clear reason: %v", err)
					}
					t.Logf("refused as by ipmitool: %v", err)
					refusals++
					return
				}
				logins++
				code, data, err := s.Exchange(testContext(t, 5*time.Second), wire.Target{}, wire.NetFnApp, 0x01, nil)
				if err != nil || code != wire.CCOK || len(data) < 11 {
					t.Errorf("get device id: %v %v % x", code, err, data)
				}
				if cfg.Memory.Lookup() != LookupNameOnly {
					t.Errorf("learnt %v, want name-only lookup (ipmi_sim supports it)", cfg.Memory.Lookup())
				}
				if err := s.Close(testContext(t, 5*time.Second)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	// ipmi_sim lets the administrator and operator accounts log in at
	// every level (it does not cap the operator at its limit) and the
	// user accounts at user: at least those eight.
	if logins < 8 || refusals < 6 {
		t.Errorf("%d logins and %d refusals, want at least 8 and the 6 of the wrong password and unknown user", logins, refusals)
	}
}
