package hardening

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
)

// promTimeout is the scrape timeout these tests send as Prometheus does
// (X-Prometheus-Scrape-Timeout-Seconds); the exporter keeps 500ms of it
// for the response.
const promTimeout = 10 * time.Second

// offsetClock is a BMC clock the test can move forward, to let a
// simulated BMC expire sessions without waiting.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// faultEnv is one fault test's BMC and exporter.
type faultEnv struct {
	fleet  *simulator.Fleet
	bmc    *simulator.BMC
	e      *exporterEnv
	target string
}

func newFaultEnv(t *testing.T, o fleetOpts) *faultEnv {
	t.Helper()
	fe := &faultEnv{}
	fe.fleet = startFleet(t, o)
	fe.bmc = fe.fleet.BMC(0)
	fe.target = fe.bmc.Addr().String()
	fe.e = startExporter(t, moduleYAML("default", simUser, simPassword, ""), envOpts{})
	return fe
}

// scrape scrapes the BMC with promTimeout and requires the answer by the
// deadline, as a complete exposition with an ipmi_up per collector.
func (fe *faultEnv) scrape(t *testing.T, what string) scrapeResult {
	t.Helper()
	r := fe.e.scrape(t, fe.target, "", promTimeout)
	requireScrapeInTime(t, what, r, promTimeout)
	return r
}

func requireScrapeInTime(t testing.TB, what string, r scrapeResult, timeout time.Duration) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%s: HTTP %d: %s", what, r.status, r.body)
	}
	if r.elapsed >= timeout {
		t.Fatalf("%s: answered after %v, past the %v scrape timeout", what, r.elapsed, timeout)
	}
	for _, c := range []string{"ipmi", "sel", "chassis", "dcmi", "bmc"} {
		if _, ok := r.up[c]; !ok {
			t.Fatalf("%s: no ipmi_up for collector %s: %v", what, c, r.up)
		}
	}
	if r.families["ipmi_scrape_duration_seconds"] == nil {
		t.Fatalf("%s: no ipmi_scrape_duration_seconds", what)
	}
	t.Logf("%s: %v in %v", what, fmtUp(r.up), r.elapsed.Round(time.Millisecond))
}

func fmtUp(up map[string]float64) string {
	keys := make([]string, 0, len(up))
	for k := range up {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s=%g ", k, up[k])
	}
	return s
}

func requireAllUp(t testing.TB, what string, r scrapeResult) {
	t.Helper()
	if !r.allUp() {
		t.Fatalf("%s: want every collector up, got %s", what, fmtUp(r.up))
	}
}

func requireAllDown(t testing.TB, what string, r scrapeResult) {
	t.Helper()
	if !r.allDown() {
		t.Errorf("%s: want every collector down (the BMC answered nothing usable in this scrape), got %s", what, fmtUp(r.up))
	}
}

// warm runs the first scrape: session open, SDR and device caches full.
func (fe *faultEnv) warm(t *testing.T) {
	t.Helper()
	requireAllUp(t, "warm-up scrape", fe.scrape(t, "warm-up scrape"))
}

// finish closes the exporter (logging out), checks the BMC side holds no
// session of ours and stops the BMC.
func (fe *faultEnv) finish(t *testing.T) {
	t.Helper()
	fe.e.close()
	requireNoBMCSessions(t, fe.fleet)
	fe.fleet.Close()
}

// TestFaults runs one scrape per misbehaviour against a simulated BMC over
// real UDP with the production session layer, pool and handler: every
// scrape must answer by its deadline with the ipmi_up values the fault
// calls for, the next healthy scrape must recover, and nothing may leak
// (goroutines, descriptors, sessions on the BMC). The cases run at the
// same time (mostly they wait for deadlines), each with its own BMC and
// exporter; goroutines and descriptors are checked once all have finished.
func TestFaults(t *testing.T) {
	leaks := startLeakCheck(t)
	var wg sync.WaitGroup
	for _, c := range faultCases {
		wg.Add(1)
		// Subtests started from several goroutines run concurrently,
		// without the -parallel limit (GOMAXPROCS, 2 in CI).
		go func() { defer wg.Done(); t.Run(c.name, c.run) }()
	}
	wg.Wait()
	leaks.verify(t)
}

var faultCases = []struct {
	name string
	run  func(t *testing.T)
}{
	{"loss30", func(t *testing.T) {
		fe := newFaultEnv(t, fleetOpts{})
		fe.warm(t)
		fe.bmc.SetFaults(simulator.Faults{Loss: 0.3})
		before := fe.bmc.Counters()
		// Retransmits carry a warm scrape (about 20 requests) through
		// 30% loss well within the deadline, several times in a row.
		for i := range 3 {
			requireAllUp(t, "scrape at 30% loss", fe.scrape(t, fmt.Sprintf("scrape %d at 30%% loss", i)))
		}
		if drops := fe.bmc.Counters().FaultDrops - before.FaultDrops; drops == 0 {
			t.Fatal("the BMC dropped no packet: the fault was not in effect")
		}
		fe.bmc.SetFaults(simulator.Faults{})
		requireAllUp(t, "healthy scrape", fe.scrape(t, "healthy scrape"))
		fe.finish(t)
	}},

	{"latency500ms", func(t *testing.T) {
		fe := newFaultEnv(t, fleetOpts{})
		fe.warm(t)
		fe.bmc.SetFaults(simulator.Faults{Latency: 500 * time.Millisecond})
		// A warm scrape of this BMC is about 18 round trips: at 500ms
		// each the sensor walk cannot finish within a 5s scrape timeout
		// (4.5s for the BMC), the single-request collectors, which run
		// first, can.
		const timeout = 5 * time.Second
		r := fe.e.scrape(t, fe.target, "", timeout)
		requireScrapeInTime(t, "scrape at 500ms latency", r, timeout)
		if r.up["ipmi"] != 0 || r.up["chassis"] != 1 || r.up["sel"] != 1 {
			t.Errorf("at 500ms latency want chassis=1 sel=1 ipmi=0 (walk cut by the deadline), got %s", fmtUp(r.up))
		}
		if r.elapsed < timeout-time.Second {
			t.Errorf("the scrape gave up after %v, long before its deadline", r.elapsed)
		}
		fe.bmc.SetFaults(simulator.Faults{})
		// Late answers to the abandoned walk may still be arriving; the
		// next scrape must not be confused by them.
		requireAllUp(t, "healthy scrape", fe.scrape(t, "healthy scrape"))
		fe.finish(t)
	}},

	{"rebootMidScrape", func(t *testing.T) {
		fe := newFaultEnv(t, fleetOpts{})
		fe.warm(t)
		// Slow the BMC down so the reboot lands inside the sensor walk.
		fe.bmc.SetFaults(simulator.Faults{Latency: 40 * time.Millisecond})
		readsBefore := fe.bmc.Counters().Command("get_sensor_reading")
		opened := fe.bmc.Counters().SessionsOpened
		done := make(chan scrapeResult, 1)
		go func() { done <- fe.e.scrape(t, fe.target, "", promTimeout) }()
		waitFor(t, promTimeout, "the sensor walk to start", func() (bool, string) {
			return fe.bmc.Counters().Command("get_sensor_reading") >= readsBefore+3, ""
		})
		fe.bmc.Reboot(time.Second)
		r := <-done
		requireScrapeInTime(t, "scrape with a reboot in the middle", r, promTimeout)
		c := fe.bmc.Counters()
		if c.SessionsDropped != 1 {
			t.Fatalf("reboot dropped %d sessions, want 1", c.SessionsDropped)
		}
		// The session is re-established within the same scrape: the
		// walk resumes and every collector is up.
		requireAllUp(t, "scrape with a reboot in the middle", r)
		if c.SessionsOpened != opened+1 {
			t.Errorf("sessions opened during the scrape: %d, want 1", c.SessionsOpened-opened)
		}
		fe.bmc.SetFaults(simulator.Faults{})
		requireAllUp(t, "healthy scrape", fe.scrape(t, "healthy scrape"))
		fe.finish(t)
	}},

	{"rebootShortScrapeTimeout", func(t *testing.T) {
		// A BMC that reboots between scrapes forgets our session and,
		// like many real BMCs, ignores requests in it. With a scrape
		// timeout shorter than the session layer's 4s request timeout
		// the session is never "unanswered for 4s" within one scrape:
		// the exporter must still notice and log in again, costing at
		// most one scrape.
		fe := newFaultEnv(t, fleetOpts{})
		fe.warm(t)
		fe.bmc.Reboot(0)
		const timeout = 3 * time.Second
		first := fe.e.scrape(t, fe.target, "", timeout)
		requireScrapeInTime(t, "first scrape after the reboot", first, timeout)
		for i := range 2 {
			r := fe.e.scrape(t, fe.target, "", timeout)
			requireScrapeInTime(t, fmt.Sprintf("scrape %d after the reboot", i+2), r, timeout)
			requireAllUp(t, fmt.Sprintf("scrape %d after the reboot", i+2), r)
		}
		fe.finish(t)
	}},

	{"sessionTableFull", func(t *testing.T) {
		fe := newFaultEnv(t, fleetOpts{maxSessions: 4})
		others := holdSessions(t, fe.target, 4)
		if n := fe.bmc.ActiveSessions(); n != 4 {
			t.Fatalf("other clients hold %d sessions, want 4", n)
		}
		r := fe.scrape(t, "scrape with the session table full")
		requireAllDown(t, "scrape with the session table full", r)
		if n := fe.bmc.ActiveSessions(); n != 4 {
			t.Errorf("BMC holds %d sessions after a refused login, want the other clients' 4", n)
		}
		others.close(t, 1)
		requireAllUp(t, "scrape after a slot freed", fe.scrape(t, "scrape after a slot freed"))
		// The table is full again (our session and the other 3); the
		// pooled session carries on.
		if n := fe.bmc.ActiveSessions(); n != 4 {
			t.Fatalf("BMC holds %d sessions, want 4", n)
		}
		requireAllUp(t, "scrape with our session pooled", fe.scrape(t, "scrape with our session pooled, table full"))
		others.close(t, 3)
		fe.finish(t)
	}},

	{"garbage", func(t *testing.T) {
		fe := newFaultEnv(t, fleetOpts{})
		fe.warm(t)
		fe.bmc.SetFaults(simulator.Faults{Garbage: 1})
		// Every collector is down, including bmc and dcmi, whose cached
		// answers (device ID; "no DCMI") must not count as reading a BMC
		// that answers nothing usable.
		requireAllDown(t, "first scrape answered with garbage", fe.scrape(t, "first scrape answered with garbage"))
		requireAllDown(t, "second scrape answered with garbage", fe.scrape(t, "second scrape answered with garbage"))
		if fe.bmc.Counters().FaultReplies == 0 {
			t.Fatal("no reply was garbled: the fault was not in effect")
		}
		fe.bmc.SetFaults(simulator.Faults{})
		requireAllUp(t, "healthy scrape", fe.scrape(t, "healthy scrape"))
		// The BMC received every Close Session (only its replies were
		// garbled), so it holds nothing of ours.
		fe.finish(t)
	}},

	{"silent", func(t *testing.T) {
		clock := &offsetClock{}
		fe := newFaultEnv(t, fleetOpts{clock: clock.now, sessionTimeout: time.Minute})
		// Silent before we ever talked to it: nothing to log out of.
		fe.bmc.SetFaults(simulator.Faults{Silent: true})
		requireAllDown(t, "scrape of a BMC silent from the start", fe.scrape(t, "scrape of a BMC silent from the start"))
		fe.bmc.SetFaults(simulator.Faults{})
		requireAllUp(t, "healthy scrape", fe.scrape(t, "healthy scrape"))
		// Silent while we hold a session.
		fe.bmc.SetFaults(simulator.Faults{Silent: true})
		requireAllDown(t, "first scrape after the BMC fell silent", fe.scrape(t, "first scrape after the BMC fell silent"))
		requireAllDown(t, "second scrape of the silent BMC", fe.scrape(t, "second scrape of the silent BMC"))
		fe.bmc.SetFaults(simulator.Faults{})
		requireAllUp(t, "scrape after the BMC answers again", fe.scrape(t, "scrape after the BMC answers again"))
		// The session that was open when the BMC fell silent never got
		// its Close Session through (nothing can): the BMC holds it
		// until its own session timeout, and nothing else of ours.
		fe.e.close()
		if n := fe.bmc.ActiveSessions(); n != 1 {
			t.Errorf("BMC holds %d sessions after the pool closed, want the 1 stranded while it was silent: %v", n, fe.bmc.Sessions())
		}
		clock.advance(time.Minute + time.Second)
		fe.finish(t)
	}},
}

// heldSessions are sessions another client holds on a BMC.
type heldSessions struct{ s []*session.Session }

func holdSessions(t *testing.T, target string, n int) *heldSessions {
	t.Helper()
	h := &heldSessions{}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := session.Open(ctx, session.Config{Host: target, Username: simUser, Password: []byte(simPassword),
			CipherSuite: session.CipherSuiteAuto})
		cancel()
		if err != nil {
			t.Fatalf("another client opening a session: %v", err)
		}
		h.s = append(h.s, s)
	}
	t.Cleanup(func() { h.close(t, len(h.s)) })
	return h
}

// close logs n of the sessions out.
func (h *heldSessions) close(t *testing.T, n int) {
	t.Helper()
	for ; n > 0 && len(h.s) > 0; n-- {
		s := h.s[len(h.s)-1]
		h.s = h.s[:len(h.s)-1]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Close(ctx); err != nil {
			t.Errorf("closing another client's session: %v", err)
		}
		cancel()
	}
}
