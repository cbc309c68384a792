package session

import (
	"context"
	"sync"
	"time"
)

// Requests in flight: a fixed Config.Window, or an adaptive window
// (WindowAuto) that finds how many a BMC handles. BMCs differ widely: some
// queue dozens of requests, some drop, corrupt or refuse (0xC0, node
// busy) the ones beyond their buffer, some answer out of order. One
// request at a time is safe everywhere and slow at any distance: a warm
// scrape is about 57 round trips.
//
// The adaptive window starts at 1 (or at what this BMC sustained before,
// from Config.Memory) and grows by one after each window's worth of clean
// answers (answered at the first send, in order, no busy code), up to
// Config.MaxWindow. Any sign of trouble (a retransmit, a busy BMC, a reply
// it had to drop as corrupt, a reply out of order) halves it at once, once
// per trouble event; trouble that recurs at the same size (or above) caps
// its growth just below, so it settles where the BMC copes, while a lost
// datagram on the path, which strikes at any size, does not; after
// probeCleanAnswers clean answers at that cap it tries one more.
//
// A lost datagram and a BMC's limit both show as a retransmit or a reply
// out of order; only a BMC answers "node busy" or corrupts replies. A
// retransmit or reordering at a size that had run provenWindows full
// clean windows is most likely a datagram lost on the path: the window
// still halves at once, but each clean window then doubles it back up to
// that size rather than adding one, so a loss costs a round trip or two
// instead of several (at 2 % loss, most scrapes meet one).
const (
	// WindowAuto selects the adaptive window (Config.Window).
	WindowAuto = -1
	// DefaultMaxWindow caps the adaptive window.
	DefaultMaxWindow = 8
	// maxWindow: requests in flight are told apart by the 6-bit rqSeq.
	maxWindow = 63
	// probeCleanAnswers is how many clean answers at the cap make the
	// window try one more request in flight: a few scrapes' worth, so a
	// BMC's limit is not probed on every scrape.
	probeCleanAnswers = 256
	// provenWindows is how many full clean windows make a size proven:
	// trouble there is taken for a loss on the path (see above).
	provenWindows = 2
)

// window is a semaphore for requests in flight whose size may change. The
// hot path (a slot free, nobody waiting) allocates nothing.
type window struct {
	mu       sync.Mutex
	adaptive bool
	limit    int // requests allowed in flight now
	max      int // Config.MaxWindow, or the fixed window
	ceiling  int // growth stops here (just below where trouble recurred)
	// troubleAt is the size at which trouble was last seen (0: never);
	// cleanWindows: whole windows of clean answers completed, full, at
	// the present size.
	troubleAt    int
	cleanWindows int
	// recoverTo is the proven size a loss last struck at: below it the
	// window doubles per clean window (0: grow by one).
	recoverTo int
	// saturated: the window was full at some point of the clean window
	// being counted (a clean window at a size never reached in flight
	// proves nothing about that size).
	saturated bool
	inflight  int
	clean     int // clean answers since the last change
	rounds    int // clean windows at the ceiling
	waiting   int
	wake      chan struct{} // closed when a slot frees or the limit grows
	// shrunk is when the window last shrank: trouble with a request sent
	// before then is the same event (one lost reply makes every later
	// answer arrive "out of order"), already paid for, as TCP reduces
	// its window once per loss event.
	shrunk time.Time
}

func newWindow(fixed, maxAuto, start int) *window {
	w := &window{wake: make(chan struct{})}
	if fixed != WindowAuto {
		w.limit, w.max, w.ceiling = fixed, fixed, fixed
		return w
	}
	w.adaptive = true
	w.max, w.ceiling = maxAuto, maxAuto
	w.limit = min(max(start, 1), maxAuto)
	return w
}

// acquire waits for a slot until ctx ends.
func (w *window) acquire(ctx context.Context) error {
	w.mu.Lock()
	for w.inflight >= w.limit {
		wake := w.wake
		w.waiting++
		w.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			w.mu.Lock()
			w.waiting--
			w.mu.Unlock()
			return ctx.Err()
		}
		w.mu.Lock()
		w.waiting--
	}
	w.inflight++
	if w.inflight == w.limit {
		w.saturated = true
	}
	w.mu.Unlock()
	return nil
}

// release frees a slot. clean says the request went without trouble: it
// counts towards growing the window.
func (w *window) release(clean bool) {
	w.mu.Lock()
	w.inflight--
	if w.adaptive && clean {
		w.clean++
		if w.clean >= w.limit {
			w.clean = 0
			if w.saturated {
				w.cleanWindows++
			}
			w.saturated = false
			switch {
			case w.limit < w.ceiling:
				if w.limit < w.recoverTo {
					w.limit = min(2*w.limit, w.recoverTo, w.ceiling)
				} else {
					w.limit++
				}
				w.cleanWindows = 0
			case w.ceiling < w.max:
				w.rounds += w.limit
				if w.rounds >= probeCleanAnswers {
					w.rounds = 0
					w.ceiling++
				}
			}
		}
	}
	w.wakeLocked()
	w.mu.Unlock()
}

// trouble halves the adaptive window and caps its growth below the size
// that saw trouble, for trouble with a request first sent at sent. bmcOnly
// says the trouble is one only a BMC causes (node busy, a corrupt reply),
// never a loss on the path. It reports whether the window changed.
func (w *window) trouble(sent time.Time, bmcOnly bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.adaptive || sent.Before(w.shrunk) {
		return false
	}
	w.shrunk = time.Now()
	w.clean, w.rounds = 0, 0
	// A BMC's limit shows as trouble again at the same size; a datagram
	// lost on the path as trouble at any size. Capping growth at the
	// first trouble kept a lossy path's window at 1-2 for good.
	// A size that cannot complete one clean window, twice, is beyond
	// what the BMC handles; one that did complete one and then lost a
	// datagram is not.
	if w.limit > 1 && w.cleanWindows == 0 && w.troubleAt > 0 && w.limit >= w.troubleAt {
		w.ceiling = w.limit - 1
	}
	switch {
	case !bmcOnly && w.cleanWindows >= provenWindows:
		w.recoverTo = w.limit
	case bmcOnly || w.limit >= w.recoverTo:
		// The BMC's own signal, or trouble at (or above) the size it was
		// recovering to before a clean window there: no proven size.
		w.recoverTo = 0
	}
	w.troubleAt = w.limit
	w.cleanWindows, w.saturated = 0, false
	next := max(w.limit/2, 1)
	changed := next != w.limit
	w.limit = next
	return changed
}

// wakeLocked wakes the waiters, if any.
func (w *window) wakeLocked() {
	if w.waiting > 0 {
		close(w.wake)
		w.wake = make(chan struct{})
	}
}

// size returns the requests allowed in flight now.
func (w *window) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.limit
}

// Window returns how many requests the session may have in flight now:
// the fixed window, or where the adaptive one stands.
func (s *Session) Window() int { return s.win.size() }
