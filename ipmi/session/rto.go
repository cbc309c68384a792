package session

import (
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The retransmission timeout follows the BMC's measured response times, as
// TCP's does (RFC 6298): a smoothed round trip and its variation, sampled
// only from requests answered at their first send (Karn's rule), kept per
// kind of command, since an SDR read or a bridged request can take ten
// times what a sensor reading does. A lost datagram then costs a few round
// trips instead of a fixed half second: at 2 % loss that was most of a warm
// scrape's time. Before a kind has samples, Config.RetryInterval serves (a
// BMC's handshake says little about how long its SDR reads take, and a
// guess too short sends duplicates that queue behind the slow answer).
// Each retransmit of the same
// request doubles its timeout (up to maxRetryInterval), and the BMC sees
// the same rqSeq again, which its retry handling answers like the first.
const (
	// DefaultMinRetryInterval is the floor of the retransmission timeout
	// (Config.MinRetryInterval): a BMC on the same switch answers in
	// about a millisecond; the floor leaves room for scheduling jitter on
	// a busy exporter, where a retransmit too early only costs the BMC a
	// duplicate to answer.
	DefaultMinRetryInterval = 2 * time.Millisecond
	// rttGranularity stands in for a variation too small to measure.
	rttGranularity = 200 * time.Microsecond
)

// rttEstimate is a smoothed round-trip time and its mean deviation.
// backedOff is the timeout a retransmitted request of this kind ended
// with: kept for the next request until an answer at the first send gives
// a sample (as TCP keeps a backed-off RTO), so a BMC slower than the
// estimate does not get every request twice, or a pile of duplicates.
type rttEstimate struct {
	srtt, rttvar time.Duration
	samples      int
	backedOff    time.Duration
}

// sample adds a measured round trip.
func (e *rttEstimate) sample(rtt time.Duration) {
	if e.samples == 0 {
		e.srtt, e.rttvar = rtt, rtt/2
	} else {
		dev := e.srtt - rtt
		if dev < 0 {
			dev = -dev
		}
		e.rttvar = (3*e.rttvar + dev) / 4
		e.srtt = (7*e.srtt + rtt) / 8
	}
	e.samples++
	e.backedOff = 0
}

// timeout is the retransmission timeout the estimate gives, within
// [floor, ceiling], taking the variation as at least minVar.
func (e *rttEstimate) timeout(floor, ceiling, minVar time.Duration) time.Duration {
	// At least twice the smoothed round trip: with several requests in
	// flight a BMC answers them one after another, so the last waits for
	// the queue; the samples that would teach that are the retransmitted
	// ones Karn's rule leaves out. A lost datagram still costs only
	// about two round trips.
	rto := max(e.srtt+max(4*max(e.rttvar, minVar), rttGranularity), 2*e.srtt)
	return min(max(rto, floor, e.backedOff), ceiling)
}

// commandKind keys the estimates: bridged requests wait for a second
// controller, so they are a kind of their own.
type commandKind uint32

func kindOf(netFn wire.NetFn, cmd uint8, bridged bool) commandKind {
	k := commandKind(netFn)<<8 | commandKind(cmd)
	if bridged {
		k |= 1 << 16
	}
	return k
}

// rttTable holds the estimates of one session (guarded by Session.mu).
type rttTable struct {
	floor time.Duration // Config.MinRetryInterval
	// ceiling bounds an estimate's timeout: a quarter of the session's
	// request timeout (so a request gets at least four sends), at most
	// maxRetryInterval.
	ceiling time.Duration
	byKind  map[commandKind]*rttEstimate
	// jitter is the mean deviation of every sample from its own kind's
	// smoothed round trip: what the path and the hosts add, whatever the
	// command. A kind sampled once per scrape (Get SEL Info, Get Chassis
	// Status) has a variation learnt from a few samples far apart; on a
	// busy exporter its timeout then sat at the floor while scheduling
	// delays passed it, and each such answer was sent twice. The kind's
	// variation is taken as at least this.
	jitter time.Duration
}

// sample records a round trip of a request of kind k.
func (t *rttTable) sample(k commandKind, rtt time.Duration) {
	e := t.estimate(k)
	if e.samples > 0 {
		dev := e.srtt - rtt
		if dev < 0 {
			dev = -dev
		}
		t.jitter = (3*t.jitter + dev) / 4
	}
	e.sample(rtt)
}

// backOff records that a request of kind k needed a retransmit after its
// first wait of first: the next one waits twice that until an answer at
// the first send gives a sample. It doubles once per retransmitted request,
// not with each retransmit of it, and stays within the table's ceiling, so
// that under heavy loss a request still gets several sends within the
// session's timeout.
func (t *rttTable) backOff(k commandKind, first time.Duration) {
	e := t.estimate(k)
	e.backedOff = min(2*first, t.ceiling)
}

// estimate returns kind k's estimate, adding it if new.
func (t *rttTable) estimate(k commandKind) *rttEstimate {
	e := t.byKind[k]
	if e == nil {
		if t.byKind == nil {
			t.byKind = make(map[commandKind]*rttEstimate)
		}
		e = &rttEstimate{}
		t.byKind[k] = e
	}
	return e
}

// timeout is the first retransmission timeout for a request of kind k:
// its kind's estimate, or initial for a kind not measured yet.
func (t *rttTable) timeout(k commandKind, initial time.Duration) time.Duration {
	if e := t.byKind[k]; e != nil && (e.samples > 0 || e.backedOff > 0) {
		return e.timeout(t.floor, t.ceiling, t.jitter)
	}
	return initial
}
