package session

import (
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestRTTEstimate(t *testing.T) {
	ms := time.Millisecond
	minRTO := DefaultMinRetryInterval
	var e rttEstimate
	if got := (&rttTable{}).timeout(1, 500*ms); got != 500*ms {
		t.Errorf("no samples: %v, want the initial 500ms", got)
	}
	e.sample(10 * ms)
	if e.srtt != 10*ms || e.rttvar != 5*ms || e.timeout(minRTO, time.Second, 0) != 30*ms {
		t.Errorf("first sample: srtt %v rttvar %v rto %v", e.srtt, e.rttvar, e.timeout(minRTO, time.Second, 0))
	}
	for range 50 {
		e.sample(10 * ms)
	}
	if rto := e.timeout(minRTO, time.Second, 0); rto != 20*ms {
		t.Errorf("steady 10ms: rto %v, want twice the round trip", rto)
	}
	e.backedOff = 80 * ms
	if rto := e.timeout(minRTO, time.Second, 0); rto != 80*ms {
		t.Errorf("backed off: rto %v, want 80ms", rto)
	}
	e.sample(10 * ms)
	if e.backedOff != 0 {
		t.Error("a sample keeps the backed-off timeout")
	}
	var fast rttEstimate
	fast.sample(20 * time.Microsecond)
	if rto := fast.timeout(minRTO, time.Second, 0); rto != minRTO {
		t.Errorf("loopback: rto %v, want the floor %v", rto, minRTO)
	}

	table := rttTable{floor: minRTO, ceiling: 2 * time.Second}
	sensor, sdr := kindOf(wire.NetFnSensorEvent, 0x2D, false), kindOf(wire.NetFnStorage, 0x23, false)
	for range 20 {
		table.sample(sensor, 2*ms)
	}
	if rto := table.timeout(sdr, 500*ms); rto != 500*ms {
		t.Errorf("unmeasured kind: %v, want the initial 500ms", rto)
	}
	if rto := table.timeout(sensor, 500*ms); rto != 4*ms {
		t.Errorf("measured kind: %v, want twice the 2ms round trip", rto)
	}
	table.backOff(sdr, 40*ms)
	if rto := table.timeout(sdr, 500*ms); rto != 80*ms {
		t.Errorf("after a retransmit at 40ms: %v, want 80ms", rto)
	}

	// A kind sampled rarely takes the variation every kind shows: on a
	// busy host, answers to sensor readings that vary by 6 ms make the
	// timeout of a Get SEL Info measured once at 1 ms more than its 2 ms.
	busy := rttTable{floor: minRTO, ceiling: 2 * time.Second}
	sel := kindOf(wire.NetFnStorage, 0x40, false)
	busy.sample(sel, 1*ms)
	if rto := busy.timeout(sel, 500*ms); rto != 3*ms {
		t.Errorf("one sample of 1ms: %v, want 1ms + 4 × 0.5ms", rto)
	}
	for i := range 40 {
		busy.sample(sensor, time.Duration(2+6*(i%2))*ms)
	}
	if busy.jitter < 2*ms {
		t.Errorf("jitter %v after samples 6ms apart, want at least 2ms", busy.jitter)
	}
	if rto := busy.timeout(sel, 500*ms); rto < 9*ms {
		t.Errorf("rare kind on a jittery path: %v, want at least 1ms + 4 × 2ms", rto)
	}
	// The jitter is each sample against its own kind: two steady kinds of
	// different speeds show none.
	steady := rttTable{floor: minRTO, ceiling: 2 * time.Second}
	for range 40 {
		steady.sample(sensor, 2*ms)
		steady.sample(sdr, 20*ms)
	}
	if rto := steady.timeout(sensor, 500*ms); rto != 4*ms {
		t.Errorf("two steady kinds: sensor timeout %v, want 4ms", rto)
	}
}

// TestRetransmitTimeoutFollowsResponseTime: a BMC answering in 80 ms is not
// sent duplicates (a fixed 50 ms interval would send one per request), and
// a lost reply from a fast BMC is retransmitted after a few of its round
// trips, not after the configured 50 ms.
func TestRetransmitTimeoutFollowsResponseTime(t *testing.T) {
	t.Parallel()
	t.Run("slow BMC", func(t *testing.T) {
		b := newFakeBMC(t)
		rec := &recorder{}
		cfg := testConfig(b, rec)
		s := mustOpen(t, cfg)
		defer closeSession(t, s)
		b.set(func(b *fakeBMC) { b.faults.delayReply = 80 * time.Millisecond })
		for range 6 {
			if v, err := readSensor(t, s, wire.Target{}); err != nil || v != 0x58 {
				t.Fatal(v, err)
			}
		}
		// The first read retransmits once (the configured 50 ms is
		// shorter than the BMC's 80), and the next one or two may, queued
		// behind the duplicates at this one-at-a-time BMC; once measured,
		// none.
		if n := rec.retransmitCount(); n > 3 {
			t.Errorf("%d retransmits to a BMC answering every request in 80 ms", n)
		}
		before := rec.retransmitCount()
		for range 4 {
			if _, err := readSensor(t, s, wire.Target{}); err != nil {
				t.Fatal(err)
			}
		}
		if n := rec.retransmitCount(); n != before {
			t.Errorf("%d more retransmits after the response time was measured", n-before)
		}
	})
	t.Run("lost reply from a fast BMC", func(t *testing.T) {
		b := newFakeBMC(t)
		cfg := testConfig(b, nil)
		cfg.RetryInterval = 400 * time.Millisecond
		s := mustOpen(t, cfg)
		defer closeSession(t, s)
		for range 20 {
			if _, err := readSensor(t, s, wire.Target{}); err != nil {
				t.Fatal(err)
			}
		}
		s.mu.Lock()
		rto := s.rtt.timeout(kindOf(wire.NetFnSensorEvent, 0x2D, false), cfg.RetryInterval)
		s.mu.Unlock()
		if rto != cfg.MinRetryInterval {
			t.Errorf("measured retransmission timeout %v: loopback answers should give the floor %v", rto, cfg.MinRetryInterval)
		}
		b.set(func(b *fakeBMC) { b.faults.dropReplies = 1 })
		tr := &traceLog{}
		start := time.Now()
		code, _, err := s.Exchange(WithTracer(testContext(t, 5*time.Second), tr), wire.Target{}, wire.NetFnSensorEvent, 0x2D, []byte{1})
		if err != nil || code != wire.CCOK {
			t.Fatal(code, err)
		}
		if d := time.Since(start); d >= cfg.RetryInterval {
			t.Errorf("a lost reply cost %v, the configured interval or more", d)
		}
		if !strings.Contains(tr.String(), "retransmit command=get_sensor_reading") {
			t.Errorf("no retransmit traced:\n%s", tr)
		}
	})
}
