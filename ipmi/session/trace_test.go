package session

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// traceLog is a Tracer that keeps every event as a line.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) Trace(event string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := event
	for i := 0; i+1 < len(kv); i += 2 {
		line += fmt.Sprintf(" %v=%v", kv[i], kv[i+1])
	}
	l.lines = append(l.lines, line)
}

func (l *traceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// dropRecorder is an Observer that also counts dropped replies by reason.
type dropRecorder struct {
	recorder
	dropMu  sync.Mutex
	dropped map[string]int
}

func (d *dropRecorder) ReplyDropped(reason string) {
	d.dropMu.Lock()
	defer d.dropMu.Unlock()
	if d.dropped == nil {
		d.dropped = map[string]int{}
	}
	d.dropped[reason]++
}

func (d *dropRecorder) count(reason string) int {
	d.dropMu.Lock()
	defer d.dropMu.Unlock()
	return d.dropped[reason]
}

// TestTraceLogin: a traced context sees the login's steps, with the lookup
// mode and suite of each attempt.
func TestTraceLogin(t *testing.T) {
	b := newFakeBMC(t)
	b.set(func(b *fakeBMC) { b.faults.nameOnlyUnsupported = true })
	tr := &traceLog{}
	s, err := Open(WithTracer(testContext(t, 5*time.Second), tr), testConfig(b, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer closeSession(t, s)
	got := tr.String()
	for _, want := range []string{
		"cipher suites offered=",
		"login attempt suite=17 lookup=name-only lookup privilege=administrator user=admin err=ipmi session: unknown user name",
		"login attempt suite=17 lookup=name+privilege lookup",
		"login driver=LAN_2_0 result=ok",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
}

// TestTraceRequestsAndDrops: requests show their outcome and completion
// code by name; replies the session drops are counted by reason and shown.
func TestTraceRequestsAndDrops(t *testing.T) {
	cases := []struct {
		fault  func(*fakeBMC)
		reason string
	}{
		{func(b *fakeBMC) { b.faults.tamperFirst = 1 }, "integrity"},
		{func(b *fakeBMC) { b.faults.wrongSessionFirst = 1 }, "unknown_session"},
		{func(b *fakeBMC) { b.faults.duplicateReplies = 1 }, "sequence"},
		{func(b *fakeBMC) { b.faults.staleRqSeq = 1 }, "late_or_duplicate"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			b := newFakeBMC(t)
			obs := &dropRecorder{}
			s := mustOpen(t, testConfig(b, obs))
			defer closeSession(t, s)
			b.set(c.fault)
			tr := &traceLog{}
			ctx := WithTracer(testContext(t, 5*time.Second), tr)
			for range 2 {
				if code, _, err := s.Exchange(ctx, wire.Target{}, wire.NetFnSensorEvent, 0x2D, []byte{1}); err != nil || code != wire.CCOK {
					t.Fatal(code, err)
				}
			}
			if obs.count(c.reason) == 0 {
				t.Errorf("no reply dropped for %s: %v", c.reason, obs.dropped)
			}
			if got := tr.String(); !strings.Contains(got, "reply dropped reason="+c.reason) ||
				!strings.Contains(got, "request command=get_sensor_reading result=ok") {
				t.Errorf("trace:\n%s", got)
			}
		})
	}
	t.Run("completion code", func(t *testing.T) {
		b := newFakeBMC(t)
		s := mustOpen(t, testConfig(b, nil))
		defer closeSession(t, s)
		tr := &traceLog{}
		ctx := WithTracer(testContext(t, 5*time.Second), tr)
		// The fake BMC does not implement Get SEL Info.
		if code, _, err := s.Exchange(ctx, wire.Target{}, wire.NetFnStorage, 0x40, nil); err != nil || code == wire.CCOK {
			t.Fatal(code, err)
		}
		if got := tr.String(); !strings.Contains(got, "request command=get_sel_info result=completion_code took=") ||
			!strings.Contains(got, "completion_code=0xc1 (invalid command)") {
			t.Errorf("trace:\n%s", got)
		}
	})
}
