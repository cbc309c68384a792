package session

// seqWindow is the anti-replay check on the session sequence numbers the
// BMC sends (IPMI v2.0 section 6.12.13 describes the BMC side; a console
// applies the same idea to what it receives). It accepts a number once:
// anything ahead of the highest seen (in serial-number arithmetic, so the
// 32-bit wrap works), and numbers up to seqWindowBehind below it that have
// not been seen yet, because UDP may reorder. Duplicates and anything
// older are refused.
//
// The window only defends authenticated sessions: without an integrity
// algorithm anyone can forge a packet with any number.
type seqWindow struct {
	started bool
	highest uint32
	// seen has bit i set when highest-1-i was received.
	seen uint64
}

const (
	seqWindowBehind = 32
	// seqWindowAhead bounds a forward jump. A BMC's number only advances
	// by the packets it sends us, so a jump of millions is not a lost
	// packet but a corrupt or foreign one.
	seqWindowAhead = 1 << 20
)

// accept reports whether seq is new and in range, and records it if so.
func (w *seqWindow) accept(seq uint32) bool {
	if !w.started {
		w.started, w.highest, w.seen = true, seq, 0
		return true
	}
	ahead := seq - w.highest
	switch {
	case ahead == 0:
		return false
	case ahead <= seqWindowAhead:
		if ahead > 64 {
			w.seen = 0
		} else {
			w.seen = w.seen<<ahead | 1<<(ahead-1)
		}
		w.highest = seq
		return true
	}
	behind := w.highest - seq
	if behind > seqWindowBehind {
		return false
	}
	bit := uint64(1) << (behind - 1)
	if w.seen&bit != 0 {
		return false
	}
	w.seen |= bit
	return true
}
