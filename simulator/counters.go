package simulator

import (
	"fmt"
	"sync/atomic"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Counted protocol steps outside IPMI messages.
const (
	stepPresencePing = "presence_ping"
	stepOpenSession  = "open_session"
	stepRAKP1        = "rakp1"
	stepRAKP3        = "rakp3"
	stepOther        = "other"
)

// commandKey identifies a command for counting: netFn, command and for the
// group extension netFn the defining body (DCMI = 0xDC).
type commandKey struct {
	netFn wire.NetFn
	cmd   uint8
	group uint8
}

// commandNames are the names commands are counted under. Anything not
// listed counts as "other".
var commandNames = map[commandKey]string{
	{wire.NetFnApp, 0x01, 0}: "get_device_id",
	{wire.NetFnApp, 0x02, 0}: "cold_reset",
	{wire.NetFnApp, 0x03, 0}: "warm_reset",
	{wire.NetFnApp, 0x04, 0}: "get_self_test_results",
	{wire.NetFnApp, 0x07, 0}: "get_acpi_power_state",
	{wire.NetFnApp, 0x08, 0}: "get_device_guid",
	{wire.NetFnApp, 0x25, 0}: "get_watchdog_timer",
	{wire.NetFnApp, 0x2F, 0}: "get_bmc_global_enables",
	{wire.NetFnApp, 0x33, 0}: "get_message",
	{wire.NetFnApp, 0x34, 0}: "send_message",
	{wire.NetFnApp, 0x37, 0}: "get_system_guid",
	{wire.NetFnApp, 0x38, 0}: "get_channel_authentication_capabilities",
	{wire.NetFnApp, 0x39, 0}: "get_session_challenge",
	{wire.NetFnApp, 0x3A, 0}: "activate_session",
	{wire.NetFnApp, 0x3B, 0}: "set_session_privilege_level",
	{wire.NetFnApp, 0x3C, 0}: "close_session",
	{wire.NetFnApp, 0x3D, 0}: "get_session_info",
	{wire.NetFnApp, 0x41, 0}: "get_channel_access",
	{wire.NetFnApp, 0x42, 0}: "get_channel_info",
	{wire.NetFnApp, 0x44, 0}: "get_user_access",
	{wire.NetFnApp, 0x46, 0}: "get_user_name",
	{wire.NetFnApp, 0x54, 0}: "get_channel_cipher_suites",

	{wire.NetFnChassis, 0x00, 0}: "get_chassis_capabilities",
	{wire.NetFnChassis, 0x01, 0}: "get_chassis_status",
	{wire.NetFnChassis, 0x02, 0}: "chassis_control",
	{wire.NetFnChassis, 0x07, 0}: "get_system_restart_cause",
	{wire.NetFnChassis, 0x09, 0}: "get_system_boot_options",
	{wire.NetFnChassis, 0x0F, 0}: "get_poh_counter",

	{wire.NetFnSensorEvent, 0x20, 0}: "get_device_sdr_info",
	{wire.NetFnSensorEvent, 0x21, 0}: "get_device_sdr",
	{wire.NetFnSensorEvent, 0x22, 0}: "reserve_device_sdr_repository",
	{wire.NetFnSensorEvent, 0x23, 0}: "get_sensor_reading_factors",
	{wire.NetFnSensorEvent, 0x27, 0}: "get_sensor_thresholds",
	{wire.NetFnSensorEvent, 0x29, 0}: "get_sensor_event_enable",
	{wire.NetFnSensorEvent, 0x2B, 0}: "get_sensor_event_status",
	{wire.NetFnSensorEvent, 0x2D, 0}: "get_sensor_reading",
	{wire.NetFnSensorEvent, 0x2F, 0}: "get_sensor_type",

	{wire.NetFnStorage, 0x10, 0}: "get_fru_inventory_area_info",
	{wire.NetFnStorage, 0x11, 0}: "read_fru_data",
	{wire.NetFnStorage, 0x20, 0}: "get_sdr_repository_info",
	{wire.NetFnStorage, 0x21, 0}: "get_sdr_repository_allocation_info",
	{wire.NetFnStorage, 0x22, 0}: "reserve_sdr_repository",
	{wire.NetFnStorage, 0x23, 0}: "get_sdr",
	{wire.NetFnStorage, 0x40, 0}: "get_sel_info",
	{wire.NetFnStorage, 0x41, 0}: "get_sel_allocation_info",
	{wire.NetFnStorage, 0x42, 0}: "reserve_sel",
	{wire.NetFnStorage, 0x43, 0}: "get_sel_entry",
	{wire.NetFnStorage, 0x47, 0}: "clear_sel",
	{wire.NetFnStorage, 0x48, 0}: "get_sel_time",
	{wire.NetFnStorage, 0x5C, 0}: "get_sel_time_utc_offset",

	{wire.NetFnTransport, 0x02, 0}: "get_lan_configuration_parameters",

	{wire.NetFnGroupExt, 0x01, wire.DCMIGroupID}: "dcmi_get_capabilities",
	{wire.NetFnGroupExt, 0x02, wire.DCMIGroupID}: "dcmi_get_power_reading",
	{wire.NetFnGroupExt, 0x03, wire.DCMIGroupID}: "dcmi_get_power_limit",
	{wire.NetFnGroupExt, 0x07, wire.DCMIGroupID}: "dcmi_get_sensor_info",
	{wire.NetFnGroupExt, 0x10, wire.DCMIGroupID}: "dcmi_get_temperature_readings",
}

// counterNames lists every name a Counters can count, in index order:
// the protocol steps, the named commands (sorted), then "other".
type counterIndex struct {
	names []string
	index map[string]int
	byKey map[commandKey]int
}

func newCounterIndex() *counterIndex {
	ci := &counterIndex{index: map[string]int{}, byKey: map[commandKey]int{}}
	add := func(n string) int {
		if i, ok := ci.index[n]; ok {
			return i
		}
		ci.index[n] = len(ci.names)
		ci.names = append(ci.names, n)
		return ci.index[n]
	}
	for _, s := range []string{stepPresencePing, stepOpenSession, stepRAKP1, stepRAKP3} {
		add(s)
	}
	for k, n := range commandNames {
		ci.byKey[k] = add(n)
	}
	add(stepOther)
	return ci
}

// counterNames is built once and only read afterwards.
var counterNames = newCounterIndex()

// commandCounterIndex returns the counter slot of a command.
func commandCounterIndex(netFn wire.NetFn, cmd uint8, data []byte) int {
	k := commandKey{netFn: netFn &^ 1, cmd: cmd}
	if k.netFn == wire.NetFnGroupExt && len(data) > 0 {
		k.group = data[0]
	}
	if i, ok := counterNames.byKey[k]; ok {
		return i
	}
	return counterNames.index[stepOther]
}

// Counters are one BMC's traffic counters. Every field is updated
// atomically, so tests and benchmarks can read them while the BMC serves.
type Counters struct {
	PacketsIn  atomic.Uint64
	PacketsOut atomic.Uint64
	// PacketsDropped counts packets the BMC ignored as invalid: malformed,
	// unknown session, failed integrity, replayed or out-of-window
	// sequence number, failed IPMI 1.5 auth code.
	PacketsDropped atomic.Uint64
	// FaultDrops counts packets dropped by the loss, silent, reboot and
	// window_drop faults; FaultReplies counts replies garbled, truncated,
	// or answered busy, corrupted or out of order by a window quirk.
	FaultDrops   atomic.Uint64
	FaultReplies atomic.Uint64

	// SessionsOpened counts completed logins (RAKP4 sent with status 0, or
	// Activate Session answered with 0).
	SessionsOpened atomic.Uint64
	// SessionsClosed counts Close Session, SessionsExpired inactivity
	// timeouts, SessionsDropped sessions lost in a reboot.
	SessionsClosed  atomic.Uint64
	SessionsExpired atomic.Uint64
	SessionsDropped atomic.Uint64
	// SessionsRejected counts session requests refused for resources or
	// policy (table full, no matching cipher suite, privilege too high).
	SessionsRejected atomic.Uint64
	// HandshakeFailures counts failed authentications: unknown user or
	// role in RAKP1, wrong RAKP3 auth code, bad IPMI 1.5 challenge or
	// auth code on Activate Session.
	HandshakeFailures atomic.Uint64

	commands []atomic.Uint64
}

func newCounters() *Counters {
	return &Counters{commands: make([]atomic.Uint64, len(counterNames.names))}
}

func (c *Counters) countStep(name string) { c.commands[counterNames.index[name]].Add(1) }

func (c *Counters) countCommand(netFn wire.NetFn, cmd uint8, data []byte) {
	c.commands[commandCounterIndex(netFn, cmd, data)].Add(1)
}

// CounterSnapshot is a point-in-time copy of counters, summed over a
// fleet or for one BMC.
type CounterSnapshot struct {
	PacketsIn         uint64            `json:"packets_in"`
	PacketsOut        uint64            `json:"packets_out"`
	PacketsDropped    uint64            `json:"packets_dropped"`
	FaultDrops        uint64            `json:"fault_drops"`
	FaultReplies      uint64            `json:"fault_replies"`
	SessionsOpened    uint64            `json:"sessions_opened"`
	SessionsActive    uint64            `json:"sessions_active"`
	SessionsClosed    uint64            `json:"sessions_closed"`
	SessionsExpired   uint64            `json:"sessions_expired"`
	SessionsDropped   uint64            `json:"sessions_dropped"`
	SessionsRejected  uint64            `json:"sessions_rejected"`
	HandshakeFailures uint64            `json:"handshake_failures"`
	Commands          map[string]uint64 `json:"commands"` // only non-zero entries
}

// Command returns how often the named command or step was handled.
func (s CounterSnapshot) Command(name string) uint64 { return s.Commands[name] }

// add accumulates c into s (Commands must be non-nil).
func (s *CounterSnapshot) add(c *Counters, active int) {
	s.PacketsIn += c.PacketsIn.Load()
	s.PacketsOut += c.PacketsOut.Load()
	s.PacketsDropped += c.PacketsDropped.Load()
	s.FaultDrops += c.FaultDrops.Load()
	s.FaultReplies += c.FaultReplies.Load()
	s.SessionsOpened += c.SessionsOpened.Load()
	s.SessionsActive += uint64(active)
	s.SessionsClosed += c.SessionsClosed.Load()
	s.SessionsExpired += c.SessionsExpired.Load()
	s.SessionsDropped += c.SessionsDropped.Load()
	s.SessionsRejected += c.SessionsRejected.Load()
	s.HandshakeFailures += c.HandshakeFailures.Load()
	for i := range c.commands {
		if v := c.commands[i].Load(); v != 0 {
			s.Commands[counterNames.names[i]] += v
		}
	}
}

// CounterNames lists every command and step name counters use.
func CounterNames() []string { return append([]string(nil), counterNames.names...) }

func (s CounterSnapshot) String() string {
	return fmt.Sprintf("in=%d out=%d dropped=%d fault_drops=%d sessions opened=%d active=%d closed=%d rejected=%d handshake_failures=%d",
		s.PacketsIn, s.PacketsOut, s.PacketsDropped, s.FaultDrops, s.SessionsOpened, s.SessionsActive,
		s.SessionsClosed, s.SessionsRejected, s.HandshakeFailures)
}
