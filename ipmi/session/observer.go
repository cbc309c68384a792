package session

import (
	"context"
	"errors"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// HandshakeResult is the outcome of one session setup, as a metric label.
type HandshakeResult string

// Handshake results besides the AuthErrorKind names (wrong_user,
// wrong_password, wrong_kg, no_cipher_suite, privilege_refused).
const (
	HandshakeOK          HandshakeResult = "ok"
	HandshakeUnreachable HandshakeResult = "unreachable"
	HandshakeTimeout     HandshakeResult = "timeout"
	HandshakeError       HandshakeResult = "error"
	// HandshakeTableFull: the BMC had no free session slot.
	HandshakeTableFull HandshakeResult = "session_table_full"
)

// RequestResult is the outcome of one Exchange, as a metric label.
type RequestResult string

const (
	RequestOK             RequestResult = "ok"
	RequestCompletionCode RequestResult = "completion_code" // the BMC answered with a non-zero completion code
	RequestTimeout        RequestResult = "timeout"
	RequestError          RequestResult = "error"
)

// Observer receives the events an exporter turns into metrics. Calls come
// from the goroutines calling into the Session, possibly concurrently, and
// must not block. A nil Config.Observer observes nothing.
type Observer interface {
	// Handshake reports one session setup (initial or re-establishing) and
	// how long it took.
	Handshake(result HandshakeResult, took time.Duration)
	// Request reports one Exchange: the command name (see CommandName),
	// its result, the completion code when result is RequestCompletionCode,
	// and its latency including retransmits and any re-establishing.
	Request(command string, result RequestResult, code wire.CompletionCode, took time.Duration)
	// Retransmit reports one retransmission of a request.
	Retransmit(command string)
	// SessionOpened and SessionClosed count sessions established with and
	// closed on (or abandoned by) the BMC.
	SessionOpened()
	SessionClosed()
}

type nopObserver struct{}

func (nopObserver) Handshake(HandshakeResult, time.Duration)                          {}
func (nopObserver) Request(string, RequestResult, wire.CompletionCode, time.Duration) {}
func (nopObserver) Retransmit(string)                                                 {}
func (nopObserver) SessionOpened()                                                    {}
func (nopObserver) SessionClosed()                                                    {}

// handshakeResultOf maps a setup error to its metric label.
func handshakeResultOf(err error) HandshakeResult {
	if err == nil {
		return HandshakeOK
	}
	var ae *AuthError
	switch {
	case errors.As(err, &ae):
		return HandshakeResult(ae.Kind.String())
	case errors.Is(err, ErrSessionTableFull):
		return HandshakeTableFull
	case errors.Is(err, ErrUnreachable):
		return HandshakeUnreachable
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return HandshakeTimeout
	}
	return HandshakeError
}

// commandNames names the commands an exporter sends, for metric labels.
// Unlisted commands are named by CommandName's fallback.
var commandNames = map[[2]uint8]string{
	{uint8(wire.NetFnApp), 0x01}:         "get_device_id",
	{uint8(wire.NetFnApp), 0x34}:         "send_message",
	{uint8(wire.NetFnApp), 0x37}:         "get_system_guid",
	{uint8(wire.NetFnApp), 0x38}:         "get_channel_auth_capabilities",
	{uint8(wire.NetFnApp), 0x39}:         "get_session_challenge",
	{uint8(wire.NetFnApp), 0x3A}:         "activate_session",
	{uint8(wire.NetFnApp), 0x3B}:         "set_session_privilege_level",
	{uint8(wire.NetFnApp), 0x3C}:         "close_session",
	{uint8(wire.NetFnApp), 0x3D}:         "get_session_info",
	{uint8(wire.NetFnApp), 0x54}:         "get_channel_cipher_suites",
	{uint8(wire.NetFnChassis), 0x01}:     "get_chassis_status",
	{uint8(wire.NetFnSensorEvent), 0x20}: "get_device_sdr_info",
	{uint8(wire.NetFnSensorEvent), 0x21}: "get_device_sdr",
	{uint8(wire.NetFnSensorEvent), 0x22}: "reserve_device_sdr_repository",
	{uint8(wire.NetFnSensorEvent), 0x23}: "get_sensor_reading_factors",
	{uint8(wire.NetFnSensorEvent), 0x27}: "get_sensor_thresholds",
	{uint8(wire.NetFnSensorEvent), 0x2D}: "get_sensor_reading",
	{uint8(wire.NetFnSensorEvent), 0x2F}: "get_sensor_type",
	{uint8(wire.NetFnStorage), 0x10}:     "get_fru_inventory_area_info",
	{uint8(wire.NetFnStorage), 0x11}:     "read_fru_data",
	{uint8(wire.NetFnStorage), 0x20}:     "get_sdr_repository_info",
	{uint8(wire.NetFnStorage), 0x22}:     "reserve_sdr_repository",
	{uint8(wire.NetFnStorage), 0x23}:     "get_sdr",
	{uint8(wire.NetFnStorage), 0x40}:     "get_sel_info",
	{uint8(wire.NetFnStorage), 0x42}:     "reserve_sel",
	{uint8(wire.NetFnStorage), 0x43}:     "get_sel_entry",
	{uint8(wire.NetFnStorage), 0x48}:     "get_sel_time",
	{uint8(wire.NetFnGroupExt), 0x01}:    "dcmi_get_capabilities",
	{uint8(wire.NetFnGroupExt), 0x02}:    "dcmi_get_power_reading",
}

// CommandName is the metric label of a command: a snake_case name for the
// commands an exporter sends, "<netfn>_0x<cmd>" for others.
func CommandName(netFn wire.NetFn, cmd uint8) string {
	if n, ok := commandNames[[2]uint8{uint8(netFn &^ 1), cmd}]; ok {
		return n
	}
	const hexdigits = "0123456789abcdef"
	return netFn.String() + "_0x" + string([]byte{hexdigits[cmd>>4], hexdigits[cmd&15]})
}
