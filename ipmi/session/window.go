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
// per trouble event.
//
// A BMC's limit and a datagram lost on the path look alike: both show as
// a retransmit or a reply out of order (only a BMC answers "node busy" or
// corrupts replies). They differ in pattern. A limit strikes every time
// the window reaches it, before one full clean window there; a loss
// strikes at any size, and on a lossy path only sometimes that early.
// So growth is capped just below a size only after capStrikes strikes at
// it with no full clean window there (or above) in between, and none
// below a proven size the window is recovering to (the BMC sustained
// more). The count survives the cap, so a BMC's limit re-caps on the
// first failed probe; it clears once uncapWindows full clean windows in
// a row complete at that size (a BMC near its limit copes now and then),
// or one above. The BMC's own signals (node busy, a corrupt reply) are no
// loss: capBusy of them at a size cap it. After probeCleanAnswers clean
// answers since the cap, counted across trouble, it tries one more.
// Capping at the second strike, and probing only after 256 clean answers
// in a row (which never come at 2 % loss), ratcheted a lossy path's
// window down to 1-2 for good (docs/benchmarks.md).
//
// A retransmit or reordering at a size that had run provenWindows full
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
	// probeCleanAnswers is how many clean answers since the cap make the
	// window try one more request in flight: a few scrapes' worth, so a
	// BMC's limit is not probed on every scrape.
	probeCleanAnswers = 256
	// capStrikes is how many strikes (trouble before a full clean window
	// at a size, with none there in between) cap growth below that size.
	// At 4 % loss per exchange a size of 8 is struck by chance about 28 %
	// of the times it is reached; three in a row about 2 %.
	capStrikes = 3
	// capBusy: the BMC's own signals of trouble (node busy, a corrupt
	// reply) at a size that cap growth below it, clean windows there in
	// between or not: no loss on the path explains them, and a BMC near
	// its limit copes now and then. One alone may be a BMC busy with
	// something else.
	capBusy = 2
	// uncapWindows: full clean windows in a row at a capped size (after a
	// probe) that clear its strikes.
	uncapWindows = 4
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
	// strikes counts, per size, trouble there before a full clean window
	// completed there, since the last full clean window at it (or
	// uncapWindows in a row, once capped) or above; busy counts the BMC's
	// own signals there (node busy, a corrupt reply), since uncapWindows
	// full clean windows in a row there or a full clean window above.
	strikes [maxWindow + 1]uint8
	busy    [maxWindow + 1]uint8
	// cleanWindows: whole windows of clean answers completed, full, at
	// the present size.
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
	sinceCap  int // clean answers since growth was capped or last probed
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
		if w.ceiling < w.max {
			w.sinceCap++
			if w.sinceCap >= probeCleanAnswers {
				w.sinceCap = 0
				w.ceiling++
			}
		}
		w.clean++
		if w.clean >= w.limit {
			w.clean = 0
			if w.saturated {
				w.cleanWindows++
				// Every smaller size copes: their strikes were
				// losses. So does this one, unless it was capped:
				// a BMC near its limit copes now and then, so a
				// capped size must run uncapWindows in a row.
				clear(w.strikes[:w.limit])
				clear(w.busy[:w.limit])
				if w.strikes[w.limit] < capStrikes || w.cleanWindows >= uncapWindows {
					w.strikes[w.limit] = 0
				}
				if w.cleanWindows >= uncapWindows {
					w.busy[w.limit] = 0
				}
			}
			w.saturated = false
			if w.limit < w.ceiling {
				if w.limit < w.recoverTo {
					w.limit = min(2*w.limit, w.recoverTo, w.ceiling)
				} else {
					w.limit++
				}
				w.cleanWindows = 0
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
	w.clean = 0
	if w.limit > 1 {
		capped := false
		if bmcOnly {
			w.busy[w.limit] = min(w.busy[w.limit]+1, capBusy)
			capped = w.busy[w.limit] >= capBusy
		}
		// Below the proven size it is recovering to, trouble is a loss:
		// the BMC sustained more.
		if (w.cleanWindows == 0 || w.strikes[w.limit] >= capStrikes) && (bmcOnly || w.limit >= w.recoverTo) {
			w.strikes[w.limit] = min(w.strikes[w.limit]+1, capStrikes)
			capped = capped || w.strikes[w.limit] >= capStrikes
		}
		if capped {
			w.ceiling = min(w.ceiling, w.limit-1)
			w.sinceCap = 0
		}
	}
	switch {
	case !bmcOnly && w.cleanWindows >= provenWindows:
		w.recoverTo = w.limit
	case bmcOnly || w.limit >= w.recoverTo:
		// The BMC's own signal, or trouble at (or above) the size it was
		// recovering to before a clean window there: no proven size.
		w.recoverTo = 0
	}
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
