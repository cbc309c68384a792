package session

import (
	"context"
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
	// Trouble again at 8 before one clean window there: that is the
	// BMC's limit; growth stops at 7.
	if !w.trouble(time.Now(), false) || w.size() != 4 {
		t.Fatalf("after trouble again: %d, want 4", w.size())
	}
	cleanRounds(w, 10)
	if w.size() != 7 {
		t.Fatalf("regrown to %d, want 7 (below where trouble recurred)", w.size())
	}
	// After probeCleanAnswers clean answers at 7 it tries 8 again.
	cleanRounds(w, probeCleanAnswers/7+2)
	if w.size() != 8 {
		t.Fatalf("after probing: %d, want 8", w.size())
	}
	// Trouble at a size that completed clean windows is a lost datagram,
	// not a limit: no cap.
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
