package collector

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func exposition(t *testing.T, r *result) string {
	t.Helper()
	var b bytes.Buffer
	for _, mf := range r.list {
		if mf.GetName() == "ipmi_scrape_duration_seconds" {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// With a window above 1 the sensor walk keeps several requests in flight
// on the same session and reports exactly what the sequential walk does.
func TestSensorWalkWithWindowMatchesSequential(t *testing.T) {
	seq := newFixture(t, loadProfile(t, "dual-socket-1u"))
	seq.scrape(t) // cold: SDR walk
	want, wantRT := seq.scrape(t)

	par := newFixture(t, loadProfile(t, "dual-socket-1u"))
	var clients []*ipmi.Client
	for i := 0; i < 4; i++ {
		clients = append(clients, ipmi.NewClient(par.tr))
	}
	par.target.Client, par.target.Clients = clients[0], clients

	// Prove the requests overlap: the first sensor reading waits (bounded)
	// for a second one to arrive before answering.
	var inFlight, overlapped atomic.Int32
	second := make(chan struct{})
	var closed atomic.Bool
	par.tr.intercept = func(ctx context.Context, target wire.Target, op command.Op, data []byte) (wire.CompletionCode, []byte, bool, error) {
		if op.Cmd != 0x2D {
			return 0, nil, false, nil
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > 1 {
			overlapped.Store(1)
			if closed.CompareAndSwap(false, true) {
				close(second)
			}
			return 0, nil, false, nil
		}
		select {
		case <-second:
		case <-time.After(2 * time.Second):
		}
		return 0, nil, false, nil
	}
	par.scrape(t)
	got, gotRT := par.scrape(t)
	if overlapped.Load() == 0 {
		t.Fatal("no two sensor readings were in flight at once with a window of 4")
	}
	if g, w := exposition(t, got), exposition(t, want); g != w {
		t.Fatalf("window 4 scrape differs from the sequential one:\n--- got\n%s\n--- want\n%s", g, w)
	}
	if gotRT.total != wantRT.total {
		t.Fatalf("round trips: window 4 %d, sequential %d", gotRT.total, wantRT.total)
	}
}

// A deadline that passes during a windowed walk reports the sensors read
// by then and fails the collector, as the sequential walk does.
func TestSensorWalkWithWindowStopsAtDeadline(t *testing.T) {
	f := newFixture(t, loadProfile(t, "dual-socket-1u"))
	f.scrape(t)
	var clients []*ipmi.Client
	for i := 0; i < 4; i++ {
		clients = append(clients, ipmi.NewClient(f.tr))
	}
	f.target.Client, f.target.Clients = clients[0], clients
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var readings atomic.Int32
	f.tr.intercept = func(_ context.Context, _ wire.Target, op command.Op, _ []byte) (wire.CompletionCode, []byte, bool, error) {
		if op.Cmd == 0x2D && readings.Add(1) == 10 {
			cancel()
		}
		return 0, nil, false, nil
	}
	r, _ := f.scrapeCtx(t, ctx)
	if up := r.up(t, "ipmi"); up != 0 {
		t.Fatalf("ipmi_up = %v after a deadline mid-walk", up)
	}
	n := len(r.series("ipmi_sensor_info"))
	if n == 0 || n >= len(f.bmc.Sensors()) {
		t.Fatalf("%d sensors reported after the deadline, want some but not all %d", n, len(f.bmc.Sensors()))
	}
}
