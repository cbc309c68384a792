// Package model is the state of simulated BMCs: SDR repository, sensors,
// SEL, chassis, DCMI power, LAN configuration and device identity, and the
// handlers that answer the non-session IPMI commands against that state.
// The network side (package simulator) owns sessions, users and bridging
// envelopes and calls into this package through the contract below.
//
// Contract (kept in sync with package simulator):
//
//	// A BMC is one simulated management controller's state: SDR repository, sensors, SEL, chassis,
//	// DCMI, LAN config, device ID/GUID. Safe for concurrent use.
//	type BMC struct{ ... }
//	func New(p *Profile, opts Options) (*BMC, error)      // Options{Seed int64; Clock func() time.Time; Index int}
//	// Handle executes one non-session command addressed to the controller at target (wire.Target{} or
//	// addr 0x20 = the BMC; another address = a satellite controller from the profile, reached via bridging).
//	// It returns the completion code and the response data after it (AppendTo of the command's response type).
//	func (b *BMC) Handle(target wire.Target, netFn wire.NetFn, cmd uint8, data []byte, priv wire.PrivilegeLevel) (wire.CompletionCode, []byte)
//	// Runtime control (also exposed over HTTP by package simulator):
//	func (b *BMC) SetSensorValue(name string, v float64) error    // engineering units
//	func (b *BMC) SetSensorStates(name string, states uint16) error // discrete
//	func (b *BMC) AddSELEntry(e SELEntrySpec) (recordID uint16, err error)
//	func (b *BMC) ClearSEL()
//	func (b *BMC) SetPower(on bool)
//	func (b *BMC) SetChassisFaults(f ChassisFaults)
//	func (b *BMC) SetPowerReading(watts float64)
//	func (b *BMC) BumpSDR()  // change the repository (add/remove a record) so its timestamps change
//	func (b *BMC) Sensors() []SensorSnapshot
//	type Quirks struct { SDRMaxRead int; EmptyReadingForAbsent bool }
//	func (b *BMC) SetQuirks(q Quirks)
//	func LoadProfile(nameOrPath string) (*Profile, error) // built-in name or a YAML file
//	func ProfileNames() []string
//
// Beyond the contract: ParseProfile (YAML bytes), BMC.Sensor(name),
// ClearSensorValue, PowerOn, Quirks, SELEntries, GUID/IP/MAC, and
// HasController (whether a bridged target exists; Handle answers 0xD3 for
// one that does not). Clear SEL is only a runtime control: package command
// has no Clear SEL message yet, so over IPMI it answers 0xC1.
//
// Memory: a Profile is compiled once, on the first New that uses it, into
// the encoded SDR records, conversion factors and raw thresholds; every BMC
// built from the same *Profile shares that compiled form and keeps only its
// own mutable state (overrides, discrete states, SEL, reservations), a few
// hundred bytes. Edit a Profile only before its first New.
//
// Sensor values: each sensor's value at time t is
//
//	base + drift*sin(2π·t/period + phase(index)) + noise*u(seed, index, sensor, ⌊t⌋)
//
// with u uniform in [-1, 1] from a hash, so a reading is a pure function of
// (profile, Options, t) and tests can bound it by base ± drift ± noise.
// SetSensorValue replaces the formula with a fixed value. While the host is
// powered off, threshold sensors not marked standby read as unavailable and
// DCMI reports an inactive measurement; discrete sensors keep reading.
package model
