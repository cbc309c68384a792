package interop

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// openedCounter is a session.Observer that counts sessions opened.
type openedCounter struct {
	mu     sync.Mutex
	opened int
}

func (o *openedCounter) Handshake(session.HandshakeResult, time.Duration) {}
func (o *openedCounter) Request(string, session.RequestResult, wire.CompletionCode, time.Duration) {
}
func (o *openedCounter) Retransmit(string) {}
func (o *openedCounter) SessionOpened()    { o.mu.Lock(); o.opened++; o.mu.Unlock() }
func (o *openedCounter) SessionClosed()    {}

// TestIPMISimIdleExpiry: ipmi_sim drops a session idle for 30 s (it has no
// setting for it), and the session logs in again transparently. It lives
// here, not in ipmi/session, because it waits those 30 s on the real BMC's
// timer; it runs in parallel with this package's other tests.
func TestIPMISimIdleExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 35 s; ipmi/session's TestIPMISimReestablish covers the same path quickly")
	}
	t.Parallel()
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{ConsolePort: -1})
	sensor, ok := testbed.SensorByName("CPU1 Temp")
	if !ok {
		t.Fatal("testbed has no CPU1 Temp")
	}
	obs := &openedCounter{}
	s, err := session.Open(ctxFor(t, 10*time.Second), session.Config{
		Host: sim.Addr, Username: sim.User, Password: []byte(sim.Password),
		Privilege: wire.PrivilegeUser, CipherSuite: session.CipherSuiteAuto, Timeout: time.Second, Observer: obs,
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close(context.Background())
	read := func() {
		t.Helper()
		code, data, err := s.Exchange(ctxFor(t, 10*time.Second), wire.Target{LUN: sensor.LUN}, wire.NetFnSensorEvent, 0x2D, []byte{sensor.Number})
		if err != nil || code != wire.CCOK || len(data) < 1 || data[0] != sensor.Raw {
			t.Fatalf("get sensor reading: %v %v % x", code, err, data)
		}
	}
	read()
	time.Sleep(35 * time.Second) // ipmi_sim's idle timer is what is tested
	read()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.opened != 2 {
		t.Errorf("sessions opened %d, want 2 (the first expired)", obs.opened)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
