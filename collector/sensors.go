package collector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The ipmi collector: one Get Sensor Reading per sensor of the SDR
// repository, in repository order (starting, after a scrape the deadline
// cut short, with the first sensor that one did not read). A first SDR
// walk the deadline cuts short goes on in the next scrape.
//
// Compatibility with prometheus-community/ipmi_exporter (FreeIPMI backend,
// ipmimonitoring):
//
//   - id is the SDR record ID in decimal, as ipmimonitoring's ID column and
//     so as ipmi_exporter's id label and its exclude_sensor_ids (the
//     bougou/go-ipmi "native" backend uses the sensor number instead; the
//     record ID is unique per BMC, sensor numbers are only unique per
//     owner and LUN). The sensors of a shared Compact record all carry
//     that record's ID, as with ipmimonitoring --shared-sensors, and are
//     told apart by name.
//   - Sensors in degrees C, RPM, Volts, Amps and Watts get their typed
//     families; fans in percent get ipmi_fan_speed_ratio (value / 100);
//     everything else, discrete sensors included, ipmi_sensor_value and
//     ipmi_sensor_state with a type label. A discrete sensor's value is NaN
//     (ipmimonitoring prints N/A there); its asserted states are
//     ipmi_sensor_discrete_state series.
//   - State: 0 nominal, 1 warning, 2 critical, NaN unknown. Non-recoverable
//     is reported as 2, as ipmi_exporter knows no higher level; the
//     thresholds (ipmi_sensor_threshold) tell the two apart. Unlike
//     FreeIPMI, a reading beyond a non-critical threshold is a warning.
//   - An unreadable sensor (completion code 0xCB/0xCC/0xCD and the like,
//     an empty reply, "reading unavailable", scanning disabled, an
//     unreachable owner) has no value series, state NaN and its info and
//     thresholds; ipmi_exporter drops such sensors or reports value NaN.
//     It never fails the collector.
//   - Names are unique per target: when several sensors share an ID
//     string, the one with the lowest (channel, owner, LUN, number) keeps
//     it and the others get " (<owner> #0x<number>)" appended, e.g.
//     "CPU Temp (0x2c/ch6/lun0 #0x01)".
//
// Thresholds come from the Full records and are converted once per
// repository; a value changed with Set Sensor Thresholds shows after the
// next SDR change. Thresholds of non-linear sensors are not reported.

var (
	sensorStateFamily = newFamily("sensor_state",
		"Indicates the severity of the state reported by an IPMI sensor (0=nominal, 1=warning, 2=critical, NaN=unknown).", prometheus.GaugeValue, "id", "name", "type")
	sensorValueFamily = newFamily("sensor_value",
		"Generic data read from an IPMI sensor of unknown type, relying on labels for context.", prometheus.GaugeValue, "id", "name", "type")
	fanSpeedRPMFamily = newFamily("fan_speed_rpm",
		"Fan speed in rotations per minute.", prometheus.GaugeValue, "id", "name")
	fanSpeedRatioFamily = newFamily("fan_speed_ratio",
		"Fan speed as a proportion of the maximum speed.", prometheus.GaugeValue, "id", "name")
	fanSpeedStateFamily = newFamily("fan_speed_state",
		"Reported state of a fan speed sensor (0=nominal, 1=warning, 2=critical, NaN=unknown).", prometheus.GaugeValue, "id", "name")
	temperatureFamily = newFamily("temperature_celsius",
		"Temperature reading in degree Celsius.", prometheus.GaugeValue, "id", "name")
	temperatureStateFamily = newFamily("temperature_state",
		"Reported state of a temperature sensor (0=nominal, 1=warning, 2=critical, NaN=unknown).", prometheus.GaugeValue, "id", "name")
	voltageFamily = newFamily("voltage_volts",
		"Voltage reading in Volts.", prometheus.GaugeValue, "id", "name")
	voltageStateFamily = newFamily("voltage_state",
		"Reported state of a voltage sensor (0=nominal, 1=warning, 2=critical, NaN=unknown).", prometheus.GaugeValue, "id", "name")
	currentFamily = newFamily("current_amperes",
		"Current reading in Amperes.", prometheus.GaugeValue, "id", "name")
	currentStateFamily = newFamily("current_state",
		"Reported state of a current sensor (0=nominal, 1=warning, 2=critical, NaN=unknown).", prometheus.GaugeValue, "id", "name")
	powerFamily = newFamily("power_watts",
		"Power reading in Watts.", prometheus.GaugeValue, "id", "name")
	powerStateFamily = newFamily("power_state",
		"Reported state of a power sensor (0=nominal, 1=warning, 2=critical, NaN=unknown).", prometheus.GaugeValue, "id", "name")
	sensorThresholdFamily = newFamily("sensor_threshold",
		"A readable threshold of a sensor, in the unit of its value series.", prometheus.GaugeValue, "id", "name", "threshold")
	sensorInfoFamily = newFamily("sensor_info",
		"Constant 1 per sensor, describing it: sensor type, unit and entity.", prometheus.GaugeValue, "id", "name", "type", "unit", "entity")
	sensorDiscreteStateFamily = newFamily("sensor_discrete_state",
		"1 for every state a discrete sensor asserts.", prometheus.GaugeValue, "id", "name", "type", "state")
)

// familyID selects the metric family a sensor's value and state go to.
type familyID uint8

const (
	familyGeneric familyID = iota
	familyTemperature
	familyFanRPM
	familyFanRatio
	familyVoltage
	familyCurrent
	familyPower
)

// family is a value and a state descriptor; typed families are labelled
// {id, name}, the generic one {id, name, type}. scale converts the
// sensor's unit to the family's (percent to ratio).
type family struct {
	value, state *Family
	scale        float64
	typed        bool
}

func (f familyID) family() family {
	switch f {
	case familyTemperature:
		return family{temperatureFamily, temperatureStateFamily, 1, true}
	case familyFanRPM:
		return family{fanSpeedRPMFamily, fanSpeedStateFamily, 1, true}
	case familyFanRatio:
		return family{fanSpeedRatioFamily, fanSpeedStateFamily, 0.01, true}
	case familyVoltage:
		return family{voltageFamily, voltageStateFamily, 1, true}
	case familyCurrent:
		return family{currentFamily, currentStateFamily, 1, true}
	case familyPower:
		return family{powerFamily, powerStateFamily, 1, true}
	}
	return family{sensorValueFamily, sensorStateFamily, 1, false}
}

// familyOf chooses by unit, as ipmi_exporter does: only sensors with an
// analog reading in a plain unit (no modifier unit) get a typed family.
func familyOf(info *sdr.SensorInfo) familyID {
	u := info.Units
	if info.EventType.IsDiscrete() || u.Analog == sdr.AnalogNone || u.Relation != sdr.ModifierNone {
		return familyGeneric
	}
	if u.Percentage {
		if info.SensorType == sdr.SensorTypeFan && (u.Base == sdr.UnitUnspecified || u.Base == sdr.UnitRPM) {
			return familyFanRatio
		}
		return familyGeneric
	}
	switch u.Base {
	case sdr.UnitDegreesC:
		return familyTemperature
	case sdr.UnitRPM:
		return familyFanRPM
	case sdr.UnitVolts:
		return familyVoltage
	case sdr.UnitAmps:
		return familyCurrent
	case sdr.UnitWatts:
		return familyPower
	}
	return familyGeneric
}

// thresholdLabel is the threshold label value of each threshold.
func thresholdLabel(th sdr.Threshold) string {
	switch th {
	case sdr.LowerNonRecoverable:
		return "lower_non_recoverable"
	case sdr.LowerCritical:
		return "lower_critical"
	case sdr.LowerNonCritical:
		return "lower_non_critical"
	case sdr.UpperNonCritical:
		return "upper_non_critical"
	case sdr.UpperCritical:
		return "upper_critical"
	case sdr.UpperNonRecoverable:
		return "upper_non_recoverable"
	}
	return th.String()
}

// stateValue maps a severity to the ipmi_exporter state value.
func stateValue(s sdr.Severity) float64 {
	switch s {
	case sdr.Nominal:
		return 0
	case sdr.Warning:
		return 1
	case sdr.Critical, sdr.NonRecoverable:
		return 2
	}
	return math.NaN()
}

// maxStates is the number of discrete state offsets (bits 0-14).
const maxStates = 15

// sensorTable is what a warm scrape needs, prepared once per repository
// (and module): the sensors to read, in repository order, with their
// label pairs and constant series built. A table is immutable once built,
// apart from the discrete state series it builds on first use (atomic):
// BMCs with the same SDR records and module share one through
// SensorTables and read it concurrently. What is per BMC (the reading
// buffer, the factors of non-linear sensors) lives in State.
type sensorTable struct {
	// records are the SDR records the table was built from; a BMC whose
	// records are the same keeps these instead of its own copy.
	records []sdr.Record
	module  *config.Module
	sensors []sensorEntry
}

type sensorEntry struct {
	info   sdr.SensorInfo
	name   string // unique per target
	target wire.Target
	fam    familyID
	// nonLinear sensors convert with factors from Get Sensor Reading
	// Factors, cached per BMC in State.factors.
	nonLinear bool
	// Label pairs: {id, name} and {id, name, type}.
	idName, idNameType []*dto.LabelPair
	// static holds the series that do not change between scrapes: info
	// and thresholds.
	static []prometheus.Metric
	// states holds the discrete state series, built the first time a
	// state is asserted and shared by later scrapes (of every BMC sharing
	// the table).
	states [maxStates]atomic.Pointer[sample]
}

// stateSample returns the series of discrete state off.
func (e *sensorEntry) stateSample(off uint8) *sample {
	if s := e.states[off].Load(); s != nil {
		return s
	}
	s := &sample{desc: sensorDiscreteStateFamily.desc, value: 1,
		labels: withPair(e.idNameType, labelPair("state", discreteStateName(&e.info, off)))}
	if e.states[off].CompareAndSwap(nil, s) {
		return s
	}
	return e.states[off].Load()
}

// factorCache remembers the factors of a non-linear sensor: they hold
// for raw readings from..next-1 (to 255 when next <= from).
type factorCache struct {
	valid      bool
	from, next uint8
	factors    command.ReadingFactors
}

func (c *factorCache) covers(raw uint8) bool {
	if !c.valid || raw < c.from {
		return false
	}
	return c.next <= c.from || raw < c.next
}

// buildSensorTable prepares the sensors of repo that module does not
// exclude.
func buildSensorTable(repo *sdr.Repository, module *config.Module) *sensorTable {
	infos := repo.Sensors()
	names := uniqueNames(infos)
	tbl := &sensorTable{records: repo.Records, module: module}
	assumeBMC := module.HasWorkaround(workaroundAssumeBMCOwner)
	var controllers map[[2]uint8]bool
	if assumeBMC {
		controllers = make(map[[2]uint8]bool)
		for _, r := range repo.Records {
			if mc, ok := r.(*sdr.MCDeviceLocator); ok {
				controllers[[2]uint8{mc.Channel, mc.SlaveAddress}] = true
			}
		}
	}
	tbl.sensors = make([]sensorEntry, 0, len(infos))
	// The six threshold label pairs are shared by every sensor.
	var thresholdPairs [6]*dto.LabelPair
	for i, th := range sdr.AllThresholdsInOrder {
		thresholdPairs[i] = labelPair("threshold", thresholdLabel(th))
	}
	for i := range infos {
		info := &infos[i]
		if module.ExcludesSensor(info.RecordID) {
			continue
		}
		target := info.Target()
		if assumeBMC && !target.IsBMC() && !controllers[[2]uint8{target.Channel, target.Addr}] {
			// The SDR names an owner the repository knows no
			// controller for (FreeIPMI's assumebmcowner): the sensor is
			// the BMC's own. Satellites with a locator keep theirs.
			target = wire.Target{Addr: wire.BMCSlaveAddress, LUN: info.Owner.LUN}
		}
		tbl.sensors = append(tbl.sensors, sensorEntry{
			info:      *info,
			name:      names[i],
			target:    target,
			fam:       familyOf(info),
			nonLinear: info.NeedsFactors(),
		})
		e := &tbl.sensors[len(tbl.sensors)-1]
		id := strconv.Itoa(int(info.RecordID))
		typeName := labelValue(info.SensorType.String())
		idPair, namePair := labelPair("id", id), labelPair("name", e.name)
		e.idName = sortedPairs([]*dto.LabelPair{idPair, namePair})
		e.idNameType = withPair(e.idName, labelPair("type", typeName))
		e.static = append(e.static, &sample{
			desc: sensorInfoFamily.desc,
			labels: withPair(e.idNameType, labelPair("unit", labelValue(info.Unit)),
				labelPair("entity", labelValue(entityLabel(info.Entity)))),
			value: 1,
		})
		if info.EventType.IsThreshold() && !e.nonLinear {
			scale := e.fam.family().scale
			for j, th := range sdr.AllThresholdsInOrder {
				v, ok := info.Thresholds.Value(th, &info.Conversion)
				if !ok {
					continue
				}
				e.static = append(e.static, &sample{desc: sensorThresholdFamily.desc,
					labels: withPair(e.idName, thresholdPairs[j]), value: v * scale})
			}
		}
		e.static = slices.Clip(e.static)
	}
	tbl.sensors = slices.Clip(tbl.sensors)
	return tbl
}

// entityLabel names an entity as "<entity name> <instance>", e.g.
// "Processor 2".
func entityLabel(e sdr.Entity) string {
	return e.ID.String() + " " + strconv.Itoa(int(e.Instance))
}

// uniqueNames returns a name per sensor, unique among infos (see the
// comment at the top of this file).
func uniqueNames(infos []sdr.SensorInfo) []string {
	names := make([]string, len(infos))
	groups := make(map[string][]int, len(infos))
	for i := range infos {
		names[i] = labelValue(infos[i].Name)
		groups[names[i]] = append(groups[names[i]], i)
	}
	taken := make(map[string]bool, len(infos))
	var dups []string
	for name, members := range groups {
		taken[name] = true
		if len(members) > 1 {
			dups = append(dups, name)
		}
	}
	// Deterministic whatever the repository order: groups by name, members
	// by location.
	slices.Sort(dups)
	for _, dup := range dups {
		members := groups[dup]
		slices.SortFunc(members, func(a, b int) int { return compareSensorKeys(&infos[a], &infos[b]) })
		for _, i := range members[1:] {
			s := &infos[i]
			name := fmt.Sprintf("%s (%s #0x%02x)", names[i], s.Owner, s.Number)
			for n := 2; taken[name]; n++ {
				name = fmt.Sprintf("%s (%s #0x%02x, %d)", names[i], s.Owner, s.Number, n)
			}
			taken[name] = true
			names[i] = name
		}
	}
	return names
}

// compareSensorKeys orders sensors by where they live: channel, owner
// address, LUN, number, then record ID.
func compareSensorKeys(a, b *sdr.SensorInfo) int {
	ta, tb := a.Target(), b.Target()
	ka := [...]int{int(ta.Channel), int(ownerSortAddr(ta)), int(ta.LUN), int(a.Number), int(a.RecordID)}
	kb := [...]int{int(tb.Channel), int(ownerSortAddr(tb)), int(tb.LUN), int(b.Number), int(b.RecordID)}
	return slices.Compare(ka[:], kb[:])
}

// ownerSortAddr sorts the BMC first.
func ownerSortAddr(t wire.Target) uint8 {
	if t.IsBMC() {
		return 0
	}
	return t.Addr
}

// discreteStateName names state offset of a discrete sensor; unnamed
// states are "state N", and a name the state set uses for several
// offsets (the reserved Watchdog 2 states) gets the offset appended.
func discreteStateName(info *sdr.SensorInfo, offset uint8) string {
	name := sdr.StateName(info.EventType, info.SensorType, offset)
	if name == "" {
		return "state " + strconv.Itoa(int(offset))
	}
	for o := uint8(0); o < maxStates; o++ {
		if o != offset && sdr.StateName(info.EventType, info.SensorType, o) == name {
			return fmt.Sprintf("%s (state %d)", name, offset)
		}
	}
	return labelValue(name)
}

// FreeIPMI's workaround flags for sensor readings that the module's
// workaround_flags may name; without them the collector follows the spec,
// as neither can be detected safely (a disabled sensor, a discrete reading
// byte full of junk and a satellite's sensor look the same as the quirk).
const (
	workaroundAssumeBMCOwner         config.WorkaroundFlag = "assumebmcowner"
	workaroundIgnoreScanningDisabled config.WorkaroundFlag = "ignorescanningdisabled"
	workaroundDiscreteReading        config.WorkaroundFlag = "discretereading"
)

type sensorCollector struct{}

func (sensorCollector) Name() config.Collector { return config.CollectorIPMI }

func (sensorCollector) Families() []*Family {
	return []*Family{temperatureFamily, temperatureStateFamily, fanSpeedRPMFamily, fanSpeedRatioFamily, fanSpeedStateFamily,
		voltageFamily, voltageStateFamily, currentFamily, currentStateFamily, powerFamily, powerStateFamily,
		sensorValueFamily, sensorStateFamily, sensorThresholdFamily, sensorInfoFamily, sensorDiscreteStateFamily}
}

func (sensorCollector) Collect(ctx context.Context, t *Target, ch chan<- prometheus.Metric) error {
	unlock, err := acquire(ctx, t)
	if err != nil {
		return err
	}
	defer unlock()
	tbl, err := prepareSensors(ctx, t)
	if err != nil {
		return err
	}
	return readSensors(ctx, t, tbl, ch)
}

// prepareSensors returns the sensor table for the BMC's current SDR
// repository: after one Get SDR Repository Info when the cached
// repository is still current, after a walk when not.
func prepareSensors(ctx context.Context, t *Target) (*sensorTable, error) {
	st, module := t.State, moduleOf(t)
	opts := sdr.ReadOptions{Device: st.deviceSDR, Cached: st.repo, Resume: st.sdrProgress}
	if n := module.SDRReadSize; n > 0 {
		opts.ChunkSize = uint8(min(n, int(command.ReadWholeRecord)-1))
	}
	if len(t.Clients) > 1 {
		// The walk keeps as many requests in flight as the session lets.
		opts.Parallel = make([]sdr.Requester, len(t.Clients))
		for i, c := range t.Clients {
			opts.Parallel[i] = c
		}
	}
	var fromDisk *sdr.Repository
	if st.repo == nil && st.sdrProgress == nil {
		// After a restart: the repository stored on disk, if any, is
		// used when the BMC's repository info still matches it.
		fromDisk = loadDiskSDR(ctx, t)
		if fromDisk != nil {
			opts.Cached = fromDisk
		}
	}
	st.sdrProgress = nil
	repo, err := sdr.ReadRepository(ctx, t.Client, opts)
	if inc := (*sdr.IncompleteError)(nil); errors.As(err, &inc) {
		// The deadline came first: the next scrape goes on from here.
		st.sdrProgress = inc.Progress
	}
	if err != nil && st.repo == nil && !opts.Device && wire.IsCompletionCode(err, wire.CCInvalidCommand) {
		// No SDR repository (Get SDR Repository Info unknown): a
		// satellite-style controller keeps its sensors as device SDRs.
		opts.Device = true
		if devRepo, devErr := sdr.ReadRepository(ctx, t.Client, opts); devErr == nil {
			repo, err = devRepo, nil
			st.deviceSDR = true
		}
	}
	if err != nil {
		if st.repo == nil || !staleRepositoryUsable(err) {
			return nil, fmt.Errorf("reading the SDR repository: %w", err)
		}
		// The BMC answered, but not with a repository (busy, in update
		// mode, changing all the time): read the sensors of the one
		// known, and try again next scrape.
		level.Warn(loggerOf(t)).Log("msg", "SDR repository unavailable, using the cached one", "err", err)
		repo = st.repo
	}
	if repo == st.repo || repo == fromDisk {
		st.cacheHits.Add(1)
	} else {
		st.walks.Add(1)
		storeDiskSDR(ctx, t, repo)
	}
	if repo != st.repo {
		if st.repo != nil {
			// A changed repository (firmware update, hot plug): the
			// bmc collector reads the device identity again.
			st.sdrGeneration++
		}
		st.repo, st.ownerRetry = repo, nil
		st.setSensors(nil)
		logger := loggerOf(t)
		level.Debug(logger).Log("msg", "SDR repository read", "records", len(repo.Records),
			"restarts", repo.Restarts, "device_sdrs", repo.Device)
		if repo.Truncated != "" {
			level.Warn(logger).Log("msg", "SDR repository walk stopped early", "reason", repo.Truncated)
		}
		for _, re := range repo.Errors {
			level.Warn(logger).Log("msg", "SDR record did not decode", "record_id", re.RecordID, "err", re.Err)
		}
	}
	if st.sensors == nil || st.sensors.module != module {
		tbl := t.Tables.table(st.repo, module)
		st.setSensors(tbl)
		if len(tbl.records) > 0 && len(st.repo.Records) > 0 && &tbl.records[0] != &st.repo.Records[0] {
			// Shared with a BMC whose records are the same: keep those,
			// and let this walk's copy go. Info stays this BMC's, for
			// the next Get SDR Repository Info to compare with.
			shared := *st.repo
			shared.Records = tbl.records
			st.repo = &shared
		}
	}
	return st.sensors, nil
}

// staleRepositoryUsable reports SDR errors after which the cached
// repository is still the best guess: a completion code from the BMC, or
// a repository that kept changing during the walk.
func staleRepositoryUsable(err error) bool {
	var ce *wire.CompletionCodeError
	return errors.As(err, &ce) || errors.Is(err, sdr.ErrRepositoryChanged) || errors.Is(err, sdr.ErrReservationLost)
}

// readOutcome classifies the result of one Get Sensor Reading.
type readOutcome uint8

const (
	readOK         readOutcome = iota
	readUnreadable             // this sensor has no reading now
	readOwnerDown              // the satellite controller is unreachable
	readFatal                  // the session or the deadline failed: stop
)

func classifyReadError(ctx context.Context, err error, target wire.Target) readOutcome {
	if err == nil {
		return readOK
	}
	return classifyFailure(ctx, err, target)
}

// classifyFailure is the error path of classifyReadError, apart so that
// its escaping variables cost nothing on the success path.
func classifyFailure(ctx context.Context, err error, target wire.Target) readOutcome {
	var se SessionError
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &se) && se.SessionBroken() {
		return readFatal
	}
	var ce *wire.CompletionCodeError
	if errors.As(err, &ce) && ce.NetFn == wire.NetFnSensorEvent && ce.Command == command.CmdGetSensorReading {
		// The owner answered, with a completion code.
		if !target.IsBMC() && (ce.Code == wire.CCDestinationUnavailable || ce.Code == wire.CCTimeout) {
			return readOwnerDown
		}
		return readUnreadable
	}
	if errors.Is(err, wire.ErrShort) || errors.Is(err, wire.ErrMalformed) {
		return readUnreadable // an empty reply, as some BMCs send for absent sensors
	}
	if !target.IsBMC() {
		// Bridging failed (Send Message refused, no answer from the
		// target): the BMC itself may be fine.
		return readOwnerDown
	}
	return readFatal
}

// sensorRead is the outcome of one sensor's Get Sensor Reading.
type sensorRead struct {
	// read is set once the sensor's outcome is known; a walk stopped by
	// the deadline leaves the sensors it did not get to unread.
	read    bool
	outcome readOutcome
	resp    command.GetSensorReadingResponse
	err     error
}

// readAll issues Get Sensor Reading for every sensor of tbl and records
// each outcome in reads. With one client the requests go one after the
// other; with more (a module window above 1) that many are in flight at
// once on the same session, which on a BMC 5 ms away divides the walk's
// time by about the window. It returns how many sensors were read and
// the error that stopped it early, if any.
func readAll(ctx context.Context, clients []*ipmi.Client, st *State, tbl *sensorTable, reads []sensorRead, now time.Time) (int, error) {
	// The walk starts at st.sensorStart and wraps around (see State).
	start := st.sensorStart
	at := func(k int) int {
		if k += start; k >= len(tbl.sensors) {
			k -= len(tbl.sensors)
		}
		return k
	}
	// downNow holds owners found unreachable during this walk, so their
	// other sensors do not each wait out a timeout. st.ownerRetry is only
	// read here; readSensors updates it after the walk.
	var (
		downMu  sync.Mutex
		downNow map[wire.Target]bool
	)
	read := func(c *ipmi.Client, i int) {
		e := &tbl.sensors[i]
		r := &reads[i]
		r.read, r.outcome, r.err = true, readUnreadable, nil
		if retryAt, down := st.ownerRetry[e.target]; down && now.Before(retryAt) {
			return
		}
		if !e.target.IsBMC() {
			downMu.Lock()
			skip := downNow[e.target]
			downMu.Unlock()
			if skip {
				r.outcome = readOwnerDown
				return
			}
		}
		req := command.GetSensorReadingRequest{Number: e.info.Number}
		r.err = c.DoTarget(ctx, e.target, &req, &r.resp)
		r.outcome = classifyReadError(ctx, r.err, e.target)
		if r.outcome == readOwnerDown {
			downMu.Lock()
			if downNow == nil {
				downNow = map[wire.Target]bool{}
			}
			downNow[e.target] = true
			downMu.Unlock()
		}
	}
	for i := range reads {
		reads[i].read = false
	}
	if len(clients) <= 1 {
		for k := range tbl.sensors {
			if err := ctx.Err(); err != nil {
				return k, err
			}
			i := at(k)
			read(clients[0], i)
			if reads[i].outcome == readFatal {
				reads[i].read = false
				return k, reads[i].err
			}
		}
		return len(tbl.sensors), nil
	}
	// Workers take sensors in order; the first fatal error or the
	// deadline stops everyone. Every sensor read by then is reported.
	var (
		next    atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
	)
	for _, c := range clients {
		wg.Add(1)
		go func(c *ipmi.Client) {
			defer wg.Done()
			for !stopped.Load() && ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(tbl.sensors) {
					return
				}
				i := at(k)
				read(c, i)
				if reads[i].outcome == readFatal {
					stopped.Store(true)
				}
			}
		}(c)
	}
	wg.Wait()
	n := 0
	var fatal error
	for i := range tbl.sensors {
		switch r := &reads[i]; {
		case !r.read:
		case r.outcome == readFatal:
			r.read = false
			if fatal == nil {
				fatal = r.err
			}
		default:
			n++
		}
	}
	if fatal != nil {
		return n, fatal
	}
	if n < len(tbl.sensors) {
		return n, ctx.Err()
	}
	return n, nil
}

// readSensors reads every sensor of tbl and sends its series. When the
// deadline passes part way, the series of the sensors read so far are
// sent and the error returned.
func readSensors(ctx context.Context, t *Target, tbl *sensorTable, ch chan<- prometheus.Metric) error {
	st := t.State
	now := st.now()
	logger := loggerOf(t)
	clients := t.Clients
	if len(clients) == 0 {
		clients = []*ipmi.Client{t.Client}
	}
	if cap(st.reads) < len(tbl.sensors) {
		st.reads = make([]sensorRead, len(tbl.sensors))
	}
	reads := st.reads[:len(tbl.sensors)]
	if st.sensorStart >= len(tbl.sensors) {
		st.sensorStart = 0
	}
	n, stopErr := readAll(ctx, clients, st, tbl, reads, now)
	if n < len(tbl.sensors) {
		// Cut short: the next scrape starts with the first sensor this
		// one did not get to.
		for k := range tbl.sensors {
			if i := (st.sensorStart + k) % len(tbl.sensors); !reads[i].read {
				st.sensorStart = i
				break
			}
		}
	}

	// At most two fresh series per sensor: value and state. One
	// allocation for all of them.
	samples := make([]sample, 0, 2*n)
	emit := func(desc *prometheus.Desc, labels []*dto.LabelPair, v float64) {
		samples = append(samples, sample{desc: desc, labels: labels, value: v})
		ch <- &samples[len(samples)-1]
	}
	for i := range tbl.sensors {
		e := &tbl.sensors[i]
		r := &reads[i]
		if !r.read {
			continue
		}
		switch r.outcome {
		case readOwnerDown:
			if _, already := st.ownerRetry[e.target]; !already {
				if st.ownerRetry == nil {
					st.ownerRetry = make(map[wire.Target]time.Time)
				}
				st.ownerRetry[e.target] = now.Add(ownerRetryInterval)
				level.Warn(logger).Log("msg", "sensor owner unreachable, skipping its sensors", "sensor", e.name,
					"owner", e.info.Owner, "retry_in", ownerRetryInterval, "err", r.err)
			}
		case readUnreadable:
			if r.err != nil {
				level.Debug(logger).Log("msg", "sensor unreadable", "sensor", e.name, "err", r.err)
			}
		case readOK:
			delete(st.ownerRetry, e.target)
		}
		for _, m := range e.static {
			ch <- m
		}
		fam := e.fam.family()
		stateLabels := e.idName
		if !fam.typed {
			stateLabels = e.idNameType
		}
		s := sdr.Sensor{SensorInfo: &e.info, Reading: r.resp}
		if t.Module.HasWorkaround(workaroundIgnoreScanningDisabled) {
			// The BMC sets "scanning disabled" on valid readings
			// (FreeIPMI's ignorescanningdisabled).
			s.Reading.ScanningDisabled = false
		}
		if r.outcome != readOK || !s.Available() {
			emit(fam.state.desc, stateLabels, math.NaN())
			continue
		}
		emit(fam.value.desc, stateLabels, sensorValue(ctx, t, i, e, &s)*fam.scale)
		emit(fam.state.desc, stateLabels, stateValue(s.Severity()))
		if states, ok := s.States(); ok {
			for off := uint8(0); off < maxStates; off++ {
				if states&(1<<off) == 0 {
					continue
				}
				ch <- e.stateSample(off)
			}
		}
	}
	if stopErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(stopErr, ctxErr) {
			// The deadline stopped the walk; the request it cut short
			// may have failed in its own way, but that is not why.
			stopErr = fmt.Errorf("%w (the last request: %v)", ctxErr, stopErr)
		}
		if n < len(tbl.sensors) {
			return fmt.Errorf("reading sensors: stopped after %d of %d: %w", n, len(tbl.sensors), stopErr)
		}
		return fmt.Errorf("reading sensors: %w", stopErr)
	}
	return nil
}

// sensorValue converts a reading; NaN when the sensor has no numeric
// reading (discrete sensors, no analog format) or a non-linear sensor's
// factors cannot be read.
func sensorValue(ctx context.Context, t *Target, i int, e *sensorEntry, s *sdr.Sensor) float64 {
	if s.EventType.IsDiscrete() {
		if t.Module.HasWorkaround(workaroundDiscreteReading) {
			if v, ok := s.DiscreteValue(); ok {
				return v
			}
		}
		return math.NaN()
	}
	if !e.nonLinear {
		if v, ok := s.Value(); ok {
			return v
		}
		return math.NaN()
	}
	raw := s.Reading.Reading
	st := t.State
	fc := st.factors[i]
	if !fc.covers(raw) {
		var resp command.GetSensorReadingFactorsResponse
		req := command.GetSensorReadingFactorsRequest{Number: e.info.Number, Reading: raw}
		if err := t.Client.DoTarget(ctx, e.target, &req, &resp); err != nil {
			level.Debug(loggerOf(t)).Log("msg", "reading factors unavailable", "sensor", e.name, "err", err)
			return math.NaN()
		}
		fc = factorCache{valid: true, from: raw, next: resp.NextReading, factors: resp.Factors}
		if st.factors == nil {
			st.factors = make(map[int]factorCache)
		}
		st.factors[i] = fc
	}
	if v, ok := s.ValueWithFactors(fc.factors); ok {
		return v
	}
	return math.NaN()
}
