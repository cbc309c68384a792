package collector

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sel"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Cache lifetimes.
const (
	// deviceInfoTTL bounds how long Get Device ID, Get System GUID and the
	// system firmware version are reused (they are also re-read after the
	// SDR repository changed, which is what a firmware update does).
	deviceInfoTTL = 10 * time.Minute
	// dcmiRetryInterval is how long a BMC that answered DCMI Get Power
	// Reading with a "not supported" completion code is believed.
	dcmiRetryInterval = 30 * time.Minute
	// ownerRetryInterval is how long the sensors of a satellite controller
	// that could not be reached through the BMC are skipped.
	ownerRetryInterval = 5 * time.Minute
)

// State is what the collectors remember about one (target, module) pair
// between scrapes; it outlives the sessions the pool opens and closes. The
// zero value is not usable: call NewState.
//
// Every collector holds the State for the whole of its Collect (the pool
// already serializes scrapes of one entry; the lock makes overlapping
// scrapes safe anyway, e.g. against counting SEL entries twice). The lock
// honours the scrape's context, so a stuck scrape cannot hold the next one
// past its deadline.
type State struct {
	sem chan struct{} // one-slot semaphore guarding the fields below
	now func() time.Time

	// SDR repository and the sensor table prepared from it.
	repo      *sdr.Repository
	deviceSDR bool         // the BMC has no SDR repository: walk its device SDRs
	sensors   *sensorTable // possibly shared with other BMCs: read only
	// reads is the per-scrape outcome buffer of the sensor walk, reused
	// across scrapes.
	reads []sensorRead
	// factors caches the reading factors of the non-linear sensors, by
	// index in sensors.
	factors       map[int]factorCache
	sdrGeneration uint64 // incremented whenever a new repository was read
	ownerRetry    map[wire.Target]time.Time
	// sdrProgress is an SDR walk a scrape's deadline cut short: the next
	// scrape goes on from it, so a BMC whose walk takes longer than one
	// scrape gets its sensors after a few instead of never.
	sdrProgress *sdr.Progress
	// sensorStart is where the next sensor walk starts, in table order: a
	// walk cut short by the deadline leaves it at the first sensor it did
	// not read, so consecutive cut-short scrapes cover every sensor
	// instead of the same first ones.
	sensorStart int
	// diskTried is set once the on-disk SDR cache was consulted.
	diskTried bool

	// BMC identity (bmc collector).
	device *deviceInfo

	// DCMI (dcmi collector): set while the BMC is believed not to support
	// Get Power Reading.
	dcmiUnsupported error
	dcmiRetryAt     time.Time

	// LAN (lan collector): the LAN channel found, once found; lanNone is
	// set while no channel is believed to answer, until lanRetryAt.
	lanChannel      uint8
	lanChannelKnown bool
	lanNone         error
	lanRetryAt      time.Time

	// SEL (sel and sel-events collectors, pollSEL).
	selCursor  sel.Cursor
	selEvents  [severityCount]float64
	selNamed   []selNamedCount // by index in the module's SELEvents
	selPollErr error           // of the last pollSEL

	smLAN smLANState // sm-lan-mode collector
	fru   *fruCache  // fru collector

	walks, cacheHits atomic.Uint64
}

// NewState returns an empty State: the first scrape walks the SDR
// repository and reads the device ID and the whole SEL.
func NewState() *State {
	return &State{sem: make(chan struct{}, 1), now: time.Now}
}

func (s *State) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the target's state: %w", ctx.Err())
	}
}

func (s *State) unlock() { <-s.sem }

// setSensors replaces the sensor table, and drops what was kept per
// sensor of the old one.
func (s *State) setSensors(tbl *sensorTable) {
	s.sensors, s.factors, s.sensorStart = tbl, nil, 0
}

// SDRWalks is how many times the SDR repository was read in full.
func (s *State) SDRWalks() uint64 { return s.walks.Load() }

// SDRCacheHits is how many scrapes reused the cached SDR repository after
// Get SDR Repository Info showed it unchanged.
func (s *State) SDRCacheHits() uint64 { return s.cacheHits.Load() }

// acquire locks t's State for one Collect; the returned function unlocks.
func acquire(ctx context.Context, t *Target) (func(), error) {
	if err := t.State.lock(ctx); err != nil {
		return nil, err
	}
	return t.State.unlock, nil
}

// moduleOf returns t's module, or an empty one.
func moduleOf(t *Target) *config.Module {
	if t.Module == nil {
		return &config.Module{}
	}
	return t.Module
}
