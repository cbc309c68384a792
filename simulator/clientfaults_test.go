package simulator_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

func faultFleet(t *testing.T, profile string, spec simulator.FaultSpec) *simulator.BMC {
	t.Helper()
	p, err := model.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
		Count:      1,
		BMC:        simulator.BMCConfig{Users: []simulator.User{{Name: "monitor", Password: "secret-pw", Privilege: wire.PrivilegeUser}}},
		NewHandler: simulator.ModelHandlers(p, 3, nil, model.Quirks{}),
		Seed:       3,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.ApplyFaultSpec(spec); err != nil {
		t.Fatal(err)
	}
	return f.BMC(0)
}

func open(ctx context.Context, b *simulator.BMC, suite int) (*session.Session, error) {
	return session.Open(ctx, session.Config{
		Host: b.Addr().String(), Username: "monitor", Password: []byte("secret-pw"),
		CipherSuite: suite, RetryInterval: 100 * time.Millisecond, Timeout: time.Second,
	})
}

// readSensors walks the SDR repository and reads every sensor.
func readSensors(ctx context.Context, c *ipmi.Client) (ok, failed int, err error) {
	repo, err := sdr.ReadRepository(ctx, c, sdr.ReadOptions{})
	if err != nil {
		return 0, 0, err
	}
	for _, info := range repo.Sensors() {
		var resp command.GetSensorReadingResponse
		if err := c.DoTarget(ctx, info.Target(), &command.GetSensorReadingRequest{Number: info.Number}, &resp); err != nil {
			if ctx.Err() != nil {
				return ok, failed, err
			}
			failed++
			continue
		}
		ok++
	}
	return ok, failed, nil
}

// bounded fails the test if f takes longer than limit: every fault must
// end within the caller's deadline plus a small margin for cleanup.
func bounded(t *testing.T, limit time.Duration, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if took := time.Since(start); took > limit {
		t.Fatalf("took %s, bounded by %s", took, limit)
	}
}

// Faults a BMC shows that a client survives: the session opens, every
// sensor reads, and closing leaves no session behind.
func TestClientSurvivesFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		spec    simulator.FaultSpec
		suite   int
	}{
		{"30% packet loss", "dual-socket-1u", simulator.FaultSpec{Faults: simulator.Faults{Loss: 0.3}}, 3},
		// Replies arrive after the 100 ms first retransmit: the client must
		// drop the duplicate answers and keep its sequence numbers apart.
		{"latency 150ms jitter 50ms", "edge-node", simulator.FaultSpec{Faults: simulator.Faults{Latency: 150 * time.Millisecond, Jitter: 50 * time.Millisecond}}, 17},
		{"AES pads a full extra block", "dual-socket-1u", simulator.FaultSpec{Faults: simulator.Faults{AESPadFullBlock: true}}, 17},
		{"RAKP2 with message tag 0", "dual-socket-1u", simulator.FaultSpec{Faults: simulator.Faults{RAKP2ZeroTag: true}}, 3},
		{"0xCA on SDR reads over 16 bytes", "dual-socket-1u", simulator.FaultSpec{SDRMaxRead: 16}, 17},
		{"bridged answer embedded in Send Message", "dual-socket-1u", simulator.FaultSpec{Faults: simulator.Faults{BridgeEmbedded: true}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := faultFleet(t, tc.profile, tc.spec)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			bounded(t, 61*time.Second, func() {
				s, err := open(ctx, b, tc.suite)
				if err != nil {
					t.Fatal(err)
				}
				ok, failed, err := readSensors(ctx, ipmi.NewClient(s))
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				for _, snap := range b.Model().Sensors() {
					if !snap.Absent && snap.Record != "event_only" {
						want++
					}
				}
				if ok < want {
					t.Errorf("read %d sensors (%d failed), the BMC has %d readable", ok, failed, want)
				}
				if err := s.Close(ctx); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			if n := b.ActiveSessions(); n != 0 && tc.spec.Faults.Loss == 0 {
				t.Errorf("%d sessions left on the BMC after Close", n)
			}
		})
	}
}

// An absent component answered with an empty reading reply is an error the
// caller can tell from a broken session: it wraps wire.ErrShort and the
// session stays usable.
func TestClientEmptyReadingForAbsentSensor(t *testing.T) {
	b := faultFleet(t, "dual-socket-1u", simulator.FaultSpec{EmptyReadingForAbsent: true})
	var absent *model.SensorSnapshot
	snaps := b.Model().Sensors()
	for i := range snaps {
		if snaps[i].Absent {
			absent = &snaps[i]
			break
		}
	}
	if absent == nil {
		t.Fatal("dual-socket-1u has no absent sensor")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := open(ctx, b, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	c := ipmi.NewClient(s)
	var resp command.GetSensorReadingResponse
	err = c.DoTarget(ctx, absent.Owner, &command.GetSensorReadingRequest{Number: absent.Number}, &resp)
	if !errors.Is(err, wire.ErrShort) {
		t.Fatalf("absent sensor: %v, want an error wrapping wire.ErrShort", err)
	}
	if _, err := c.ChassisStatus(ctx); err != nil {
		t.Fatalf("session unusable after the empty reply: %v", err)
	}
}

// Faults a client cannot get past end by the caller's deadline with a
// typed error, leave no session on the BMC, and the next attempt after the
// fault clears succeeds.
func TestClientFailsFastAndTypedUnderFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults simulator.Faults
		want   []error
	}{
		{"silent BMC", simulator.Faults{Silent: true}, []error{session.ErrUnreachable, session.ErrTimeout}},
		{"garbage replies", simulator.Faults{Garbage: 1}, []error{session.ErrUnreachable, session.ErrTimeout, session.ErrProtocol}},
		{"truncated replies", simulator.Faults{Truncate: 1}, []error{session.ErrUnreachable, session.ErrTimeout, session.ErrProtocol}},
		{"session table full", simulator.Faults{SessionsFull: true}, []error{session.ErrSessionTableFull}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := faultFleet(t, "edge-node", simulator.FaultSpec{Faults: tc.faults})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			bounded(t, 3*time.Second, func() {
				s, err := open(ctx, b, 17)
				if err == nil {
					s.Close(context.Background())
					t.Fatal("session opened despite the fault")
				}
				typed := false
				for _, w := range tc.want {
					typed = typed || errors.Is(err, w)
				}
				if !typed {
					t.Fatalf("error %v is none of %v", err, tc.want)
				}
			})
			if n := b.ActiveSessions(); n != 0 {
				t.Errorf("%d sessions on the BMC after a failed open", n)
			}
			if err := b.SetFaults(simulator.Faults{}); err != nil {
				t.Fatal(err)
			}
			ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel2()
			s, err := open(ctx2, b, 17)
			if err != nil {
				t.Fatalf("after the fault cleared: %v", err)
			}
			s.Close(ctx2)
		})
	}
}

// A BMC reboot drops the session; the next request re-establishes it
// within the same call. A reboot that keeps the BMC away past the caller's
// deadline ends the call by the deadline with a typed error.
func TestClientAcrossBMCReboot(t *testing.T) {
	b := faultFleet(t, "edge-node", simulator.FaultSpec{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := open(ctx, b, 17)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	c := ipmi.NewClient(s)
	if _, err := c.ChassisStatus(ctx); err != nil {
		t.Fatal(err)
	}
	b.Reboot(0)
	if _, err := c.ChassisStatus(ctx); err != nil {
		t.Fatalf("after a reboot: %v", err)
	}
	if got := b.Counters().SessionsOpened; got != 2 {
		t.Fatalf("%d logins, want 2 (the first and the re-established one)", got)
	}

	b.Reboot(30 * time.Second)
	short, cancelShort := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancelShort()
	bounded(t, 2500*time.Millisecond, func() {
		_, err = c.ChassisStatus(short)
	})
	if err == nil || !(errors.Is(err, session.ErrTimeout) || errors.Is(err, session.ErrUnreachable) ||
		errors.Is(err, session.ErrSessionLost) || errors.Is(err, context.DeadlineExceeded)) {
		t.Fatalf("BMC away past the deadline: %v, want a typed timeout", err)
	}
}

// A session the BMC expired while it sat idle (BMCs end idle sessions
// after 30-60 s, about a scrape interval, and drop requests for it without
// an answer) is logged into again after a short probe, not after the full
// request timeout.
func TestClientReopensExpiredIdleSessionQuickly(t *testing.T) {
	p, err := model.LoadProfile("edge-node")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f, err := simulator.NewFleet(simulator.FleetConfig{
		Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
		Count:      1,
		BMC:        simulator.BMCConfig{Users: []simulator.User{{Name: "monitor", Password: "secret-pw", Privilege: wire.PrivilegeUser}}, SessionTimeout: 30 * time.Second},
		NewHandler: simulator.ModelHandlers(p, 3, nil, model.Quirks{}),
		Seed:       3,
		Clock:      clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := f.BMC(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := session.Open(ctx, session.Config{Host: b.Addr().String(), Username: "monitor", Password: []byte("secret-pw"),
		Timeout: 4 * time.Second, StaleAfter: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	c := ipmi.NewClient(s)
	if _, err := c.ChassisStatus(ctx); err != nil {
		t.Fatal(err)
	}
	// The BMC's clock jumps past its idle timeout: it expires the session
	// and drops what is sent on it. Our side must also have been quiet
	// for a while: wait out the client's (shortened) staleness threshold.
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	time.Sleep(2100 * time.Millisecond)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	start := time.Now()
	if _, err := c.ChassisStatus(ctx2); err != nil {
		t.Fatalf("after the BMC expired the idle session: %v", err)
	}
	// Bounded by the 1 s probe plus a handshake, far below the 4 s timeout.
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("re-establishing an expired idle session took %s", took)
	}
	if got := b.Counters().SessionsOpened; got != 2 {
		t.Fatalf("%d logins, want 2", got)
	}
}
