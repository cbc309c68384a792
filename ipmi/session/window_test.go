package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// cleanRounds runs n windows' worth of clean requests, each window full
// (all its requests in flight at once).
func cleanRounds(w *window, n int) {
	for range n {
		size := w.size()
		for range size {
			_ = w.acquire(context.Background())
		}
		for range size {
			w.release(true)
		}
	}
}

// growTo runs clean windows until the window reaches size, and stops
// there (a full clean window at size would prove it); at most n windows.
func growTo(w *window, size, n int) {
	for i := 0; i < n && w.size() < size; i++ {
		cleanRounds(w, 1)
	}
}

func TestAdaptiveWindow(t *testing.T) {
	w := newWindow(WindowAuto, 8, 0)
	if w.size() != 1 {
		t.Fatalf("starts at %d, want 1", w.size())
	}
	cleanRounds(w, 20)
	if w.size() != 8 {
		t.Fatalf("after clean rounds: %d, want the cap 8", w.size())
	}
	// Trouble at 8, which had run full clean windows, halves the window;
	// one trouble is no limit (a lost datagram looks the same), so one
	// clean window at 4 doubles it back to 8.
	if !w.trouble(time.Now(), false) || w.size() != 4 {
		t.Fatalf("after trouble: %d, want 4", w.size())
	}
	cleanRounds(w, 1)
	if w.size() != 8 {
		t.Fatalf("regrown to %d, want 8", w.size())
	}
	// Trouble again at 8 before one clean window there, three times in a
	// row: that is the BMC's limit; growth stops at 7.
	for strike := 1; strike <= capStrikes; strike++ {
		if w.size() != 8 {
			t.Fatalf("before strike %d: %d, want 8", strike, w.size())
		}
		if !w.trouble(time.Now(), false) || w.size() != 4 {
			t.Fatalf("after strike %d: %d, want 4", strike, w.size())
		}
		growTo(w, 8, 10)
	}
	if w.size() != 7 {
		t.Fatalf("regrown to %d, want 7 (below where trouble recurred)", w.size())
	}
	// After probeCleanAnswers clean answers since the cap it tries 8
	// again; trouble there before a clean window is the limit once more,
	// and re-caps at once.
	growTo(w, 8, probeCleanAnswers/7+2)
	if w.size() != 8 {
		t.Fatalf("after probing: %d, want 8", w.size())
	}
	w.trouble(time.Now(), false)
	cleanRounds(w, 10)
	if w.size() != 7 {
		t.Fatalf("after a failed probe: %d, want 7 again", w.size())
	}
	// Trouble on the way to the cap does not hold back the next probe:
	// clean answers since the cap count across it.
	cleanRounds(w, probeCleanAnswers/7-4)
	w.trouble(time.Now(), false)
	cleanRounds(w, 10)
	if w.size() != 8 {
		t.Fatalf("probe after trouble below the cap: %d, want 8", w.size())
	}
	// Trouble at a size that completed clean windows (uncapWindows of
	// them since the probe, which clears its strikes) is a lost
	// datagram, not a limit: no cap.
	cleanRounds(w, 3)
	w.trouble(time.Now(), false)
	cleanRounds(w, 10)
	if w.size() != 8 {
		t.Fatalf("after trouble at a size that had clean windows: %d, want 8 again", w.size())
	}
	// A second loss while recovering (at 4, below the proven 8) halves
	// again, and the window still doubles back: 2, 4, 8.
	cleanRounds(w, 3)
	w.trouble(time.Now(), false)
	w.trouble(time.Now(), false)
	for _, want := range []int{2, 4, 8} {
		if w.size() != want {
			t.Fatalf("recovering after two losses: %d, want %d", w.size(), want)
		}
		cleanRounds(w, 1)
	}
	// Node busy at a proven size is the BMC's own signal, never a loss:
	// the window grows back by one per clean window.
	cleanRounds(w, 3)
	w.trouble(time.Now(), true)
	for _, want := range []int{4, 5, 6, 7, 8} {
		if w.size() != want {
			t.Fatalf("after node busy: %d, want %d", w.size(), want)
		}
		cleanRounds(w, 1)
	}
	// Trouble at 1 stays at 1.
	for range 5 {
		w.trouble(time.Now(), false)
	}
	if w.size() != 1 {
		t.Fatalf("after repeated trouble: %d, want 1", w.size())
	}
	if w.trouble(time.Now(), false) {
		t.Error("trouble at window 1 reported a change")
	}

	// A remembered window is where the next session starts.
	if w := newWindow(WindowAuto, 8, 5); w.size() != 5 {
		t.Errorf("start from memory: %d, want 5", w.size())
	}
	// A fixed window never changes.
	fixed := newWindow(3, 8, 0)
	cleanRounds(fixed, 10)
	if fixed.trouble(time.Now(), false) || fixed.size() != 3 {
		t.Errorf("fixed window moved to %d", fixed.size())
	}
}

// TestWindowWaits: a caller beyond the window waits until a slot frees,
// and gives up with its context.
func TestWindowWaits(t *testing.T) {
	w := newWindow(1, 1, 0)
	if err := w.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.acquire(ctx); err == nil {
		t.Fatal("acquired a second slot of a window of 1")
	}
	got := make(chan error, 1)
	go func() { got <- w.acquire(context.Background()) }()
	w.release(true)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	w.release(true)
	if w.inflight != 0 || w.waiting != 0 {
		t.Errorf("inflight %d waiting %d after all released", w.inflight, w.waiting)
	}
}

// TestAutoWindowSession: on a clean BMC the adaptive window grows to its
// cap under concurrent callers; a lost reply halves it, and the next
// session to the BMC starts where this one left off.
func TestAutoWindowSession(t *testing.T) {
	b := newFakeBMC(t)
	mem := &Memory{}
	cfg := testConfig(b, nil)
	cfg.Window, cfg.MaxWindow, cfg.Memory = WindowAuto, 4, mem
	s := mustOpen(t, cfg)
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for range 30 {
				if _, err := readSensor(t, s, wire.Target{}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := s.win.size(); n != 4 {
		t.Fatalf("window %d after 120 clean answers, want the cap 4", n)
	}
	b.set(func(b *fakeBMC) { b.faults.dropReplies = 1 })
	if _, err := readSensor(t, s, wire.Target{}); err != nil {
		t.Fatal(err)
	}
	if n := s.win.size(); n != 2 || mem.Window() != 2 {
		t.Fatalf("after a lost reply: window %d, remembered %d, want 2", n, mem.Window())
	}
	closeSession(t, s)
	s = mustOpen(t, cfg)
	defer closeSession(t, s)
	if n := s.win.size(); n != 2 {
		t.Errorf("next session starts at %d, want the remembered 2", n)
	}
}

// TestTroubleOncePerEvent: one lost reply makes every answer after it
// "out of order"; the window shrinks once for all requests sent before
// the shrink, and again only for trouble with a request sent after it.
func TestTroubleOncePerEvent(t *testing.T) {
	w := newWindow(WindowAuto, 8, 8)
	before := time.Now()
	if !w.trouble(before, false) || w.size() != 4 {
		t.Fatalf("first trouble: window %d, want 4", w.size())
	}
	for range 3 {
		if w.trouble(before, false) {
			t.Fatal("trouble with a request sent before the shrink shrank again")
		}
	}
	if w.size() != 4 {
		t.Fatalf("window %d, want 4", w.size())
	}
	if !w.trouble(time.Now(), false) || w.size() != 2 {
		t.Fatalf("trouble with a later request: window %d, want 2", w.size())
	}
}

// TestWindowUnderRandomLoss: a path that loses 4 % of exchanges at
// random (2 % each way) strikes the window at any size. Each loss halves
// it, but none is a limit: the window must not ratchet down to 1-2 for
// good (it did, capped by two early losses in a row and never probing
// again: 256 clean answers in a row almost never come at 4 % loss). A
// BMC's limit on the same path must still hold the window at it. The
// replies that overtake a lost request are the same loss (one trouble
// event). Seeded, so the run is the same each time; requests go a
// window's worth at a time, and a BMC with a limit drops those beyond it.
func TestWindowUnderRandomLoss(t *testing.T) {
	for _, tc := range []struct {
		loss    float64
		limit   int // the BMC drops requests beyond this many in flight (0: none)
		minMean float64
		// maxAbove is the largest share of requests sent with the
		// window beyond the BMC's limit.
		maxAbove float64
	}{
		{loss: 0, minMean: 7.5},
		{loss: 0.04, minMean: 5},
		{loss: 0.10, minMean: 2},
		{loss: 0, limit: 3, minMean: 2.5, maxAbove: 0.05},
		{loss: 0.04, limit: 3, minMean: 1.8, maxAbove: 0.05},
	} {
		t.Run(fmt.Sprintf("loss=%v,limit=%d", tc.loss, tc.limit), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			w := newWindow(WindowAuto, 8, 0)
			const requests = 20000
			sum, sent, above := 0, 0, 0
			for sent < requests {
				size := w.size()
				at := time.Now()
				for range size {
					_ = w.acquire(context.Background())
				}
				lost := false
				for i := range size {
					sum += size
					sent++
					if tc.limit > 0 && size > tc.limit {
						above++
					}
					if rng.Float64() < tc.loss || (tc.limit > 0 && i >= tc.limit) {
						lost = true
						w.release(false)
						w.trouble(at, false)
						continue
					}
					// After a loss, the rest of the window overtakes
					// the lost request: not clean, the same event.
					w.release(!lost)
					if lost {
						w.trouble(at, false)
					}
				}
			}
			mean := float64(sum) / float64(sent)
			share := float64(above) / float64(sent)
			t.Logf("mean window %.2f, %.1f%% of requests above the limit, ceiling %d at the end", mean, 100*share, w.ceiling)
			if mean < tc.minMean {
				t.Errorf("mean window %.2f, want at least %v", mean, tc.minMean)
			}
			if tc.limit > 0 && share > tc.maxAbove {
				t.Errorf("%.1f%% of requests sent with the window above the BMC's limit %d, want at most %.0f%%", 100*share, tc.limit, 100*tc.maxAbove)
			}
		})
	}
}

// TestTroubleSentOfOvertakingReply: a reply that overtook a request still
// waiting (most likely lost) is trouble that began when that request was
// sent, so every answer that overtakes it, sent after the window shrank
// or not, is the same trouble event.
func TestTroubleSentOfOvertakingReply(t *testing.T) {
	t0 := time.Now()
	t1 := t0.Add(time.Millisecond)
	for _, tc := range []struct {
		name string
		r    request
		want time.Time
	}{
		{"in order", request{firstSent: t1}, t1},
		{"retransmitted", request{firstSent: t1, retransmitted: true}, t1},
		{"overtook an earlier request", request{firstSent: t1, reordered: true, behind: t0}, t0},
	} {
		if got := tc.r.troubleSent(); !got.Equal(tc.want) {
			t.Errorf("%s: trouble sent at %v, want %v", tc.name, got.Sub(t0), tc.want.Sub(t0))
		}
	}
	// The window shrinks once for a loss, however many answers overtake
	// the lost request, including those sent after the shrink.
	w := newWindow(WindowAuto, 8, 8)
	lost := time.Now()
	after := request{firstSent: lost.Add(time.Millisecond), reordered: true, behind: lost}
	if !w.trouble(after.troubleSent(), false) || w.size() != 4 {
		t.Fatalf("first overtaking reply: window %d, want 4", w.size())
	}
	later := request{firstSent: time.Now().Add(time.Millisecond), reordered: true, behind: lost}
	if w.trouble(later.troubleSent(), false) || w.size() != 4 {
		t.Errorf("a reply sent after the shrink that overtook the same lost request shrank the window to %d", w.size())
	}
}
