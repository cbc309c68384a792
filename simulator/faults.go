package simulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// Faults are the misbehaviours a simulated BMC can be told to show. The
// zero value is a well-behaved BMC. Probabilities are in [0, 1] and are
// drawn from the BMC's seeded fault generator, so a run with the same seed
// and the same packet sequence misbehaves the same way.
type Faults struct {
	// Latency is added before every reply; Jitter adds a uniformly drawn
	// ±Jitter on top (the total never goes below zero).
	Latency time.Duration `json:"latency,omitempty"`
	Jitter  time.Duration `json:"jitter,omitempty"`
	// Loss is the probability that an incoming packet is dropped unseen.
	Loss float64 `json:"loss,omitempty"`
	// Silent drops every incoming packet (a BMC that stopped answering).
	Silent bool `json:"silent,omitempty"`
	// Garbage is the probability that a reply is replaced by random bytes
	// of the same length.
	Garbage float64 `json:"garbage,omitempty"`
	// Truncate is the probability that a reply is cut short at a random
	// length.
	Truncate float64 `json:"truncate,omitempty"`
	// SessionsFull makes every Open Session and Activate Session fail
	// as if the session table were full.
	SessionsFull bool `json:"sessions_full,omitempty"`

	// Vendor quirks of the LAN side.

	// AESPadFullBlock pads an encrypted payload that is already
	// block-aligned with a whole extra block (pad length 16) instead of
	// none, as some firmwares do.
	AESPadFullBlock bool `json:"aes_pad_full_block,omitempty"`
	// RAKP2ZeroTag answers RAKP1 with message tag 0 instead of echoing the
	// console's tag.
	RAKP2ZeroTag bool `json:"rakp2_zero_tag,omitempty"`
	// BridgeEmbedded returns a bridged target's response inside the Send
	// Message response instead of as a separate message (FreeIPMI cannot
	// read this form; ipmitool can).
	BridgeEmbedded bool `json:"bridge_embedded,omitempty"`

	// Session quirks of the catalogue (docs/bmc-quirks.md), named after
	// FreeIPMI's workaround flag for the behaviour where one exists.

	// OpenSessPriv echoes the requested maximum privilege in the Open
	// Session response (0, "highest", as ipmi_sim does) instead of the
	// level granted.
	OpenSessPriv bool `json:"opensesspriv,omitempty"`
	// IntegrityCheckValue sends a 12-byte integrity check value in RAKP4
	// where the suite has none (cipher suite 0).
	IntegrityCheckValue bool `json:"integritycheckvalue,omitempty"`
	// AuthCap answers Get Channel Authentication Capabilities with
	// wrong data: no IPMI 1.5 auth types and no kind of login enabled,
	// though logins work.
	AuthCap bool `json:"authcap,omitempty"`
	// AuthCapShort cuts that reply to 7 data bytes (the OEM auxiliary
	// byte missing), as some simulators send it.
	AuthCapShort bool `json:"authcap_short,omitempty"`
	// NoChecksumCheck sends replies whose IPMI message checksums are
	// wrong (Supermicro X9).
	NoChecksumCheck bool `json:"nochecksumcheck,omitempty"`
	// ActivateNewID sends the IPMI 1.5 Activate Session reply under the
	// new session ID instead of the temporary one (goipmi-server v0.9.1).
	ActivateNewID bool `json:"activate_new_id,omitempty"`
	// UnexpectedAuth advertises per-message authentication as disabled
	// and accepts unsigned IPMI 1.5 session packets, but signs its
	// replies all the same.
	UnexpectedAuth bool `json:"unexpectedauth,omitempty"`
	// ForcePerMsg advertises per-message authentication as disabled but
	// requires it (drops unsigned packets).
	ForcePerMsg bool `json:"forcepermsg,omitempty"`
	// EndianSeq writes IPMI 1.5 session sequence numbers big-endian.
	EndianSeq bool `json:"endianseq,omitempty"`
	// NoAuthCodeCheck signs IPMI 1.5 in-session replies with wrong auth
	// codes.
	NoAuthCodeCheck bool `json:"noauthcodecheck,omitempty"`
	// IDZero sends IPMI 1.5 in-session replies with session ID 0 (Tyan
	// S2882 with M3289 BMC).
	IDZero bool `json:"idzero,omitempty"`
	// Intel20 hashes the RAKP values with the user name NUL-padded to 16
	// bytes and, with HMAC-MD5, the password cut to 16 bytes (Intel
	// SE7520AF2 with the Server Management Module).
	Intel20 bool `json:"intel20,omitempty"`
	// Supermicro20 declares a RAKP2 payload one byte longer than sent
	// (Supermicro H8QME with Peppercon firmware).
	Supermicro20 bool `json:"supermicro20,omitempty"`
	// OpenSessPrivKeys hashes the RAKP values with Open Session's
	// requested privilege instead of RAKP1's role byte (FreeIPMI's
	// opensesspriv: Sun Fire X4150, Supermicro X8DTH/X8DTG, Intel
	// S5500WBV, Dell C5220).
	OpenSessPrivKeys bool `json:"opensesspriv_keys,omitempty"`
	// Sun20 is Sun ILOM's handshake (FreeIPMI's sun20: Sun Fire
	// 4100/4200/4500): the keys hashed as OpenSessPrivKeys, and with
	// RAKP-HMAC-SHA1 a RAKP2 auth code one byte longer than the 20 the
	// digest has (source: FreeIPMI's ipmi-lan-session-common.c, which
	// shortens it under that flag).
	Sun20 bool `json:"sun20,omitempty"`
	// AltBridging refuses (0xD3, destination unavailable) a Send Message
	// that bridges to the BMC's own address: on Lenovo SR650 v3 and
	// ThinkSystem, FreeIPMI's default of bridging the BMC's sensors on
	// LUN 1-3 that way leaves them "N/A", and its altbridging flag puts
	// the LUN in the message header instead (libfreeipmi's
	// ipmi-sensor-read.c).
	AltBridging bool `json:"altbridging,omitempty"`

	// Window quirks: BMCs that cope with only so many requests in
	// flight. In flight, for the simulator, are the in-session requests
	// it has executed and whose replies it still holds back (Latency and
	// Jitter delay them); without latency every reply leaves at once,
	// nothing is ever in flight and these quirks never trigger. A
	// request that arrives while N are in flight is one beyond N. The
	// handshake goes one packet at a time and is never beyond N for
	// N >= 1. Zero turns a quirk off.

	// WindowDrop drops every in-session request beyond this many in
	// flight, unexecuted and unanswered (a receive queue of N).
	WindowDrop int `json:"window_drop,omitempty"`
	// WindowReorder answers a request beyond this many in flight at
	// once, ahead of the replies it holds back (out of order).
	WindowReorder int `json:"window_reorder,omitempty"`
	// WindowBusy answers a request beyond this many in flight with
	// completion code 0xC0 (node busy), unexecuted.
	WindowBusy int `json:"window_busy,omitempty"`
	// WindowCorrupt executes a request beyond this many in flight but
	// corrupts its reply (the last byte flipped: the integrity code, or
	// the message checksum in a session without integrity).
	WindowCorrupt int `json:"window_corrupt,omitempty"`
}

// Validate reports values out of range.
func (f Faults) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", f.Loss}, {"garbage", f.Garbage}, {"truncate", f.Truncate}} {
		if p.v < 0 || p.v > 1 || p.v != p.v {
			return fmt.Errorf("fault %s=%v: want a probability in [0, 1]", p.name, p.v)
		}
	}
	if f.Latency < 0 || f.Jitter < 0 {
		return fmt.Errorf("fault latency %s / jitter %s: must not be negative", f.Latency, f.Jitter)
	}
	for _, w := range []struct {
		name string
		n    int
	}{{"window_drop", f.WindowDrop}, {"window_reorder", f.WindowReorder}, {"window_busy", f.WindowBusy}, {"window_corrupt", f.WindowCorrupt}} {
		if w.n < 0 || w.n > 0xFFFF {
			return fmt.Errorf("fault %s=%d: want a count 0-65535", w.name, w.n)
		}
	}
	return nil
}

// FaultKeys documents the keys ParseFaults accepts, in order.
const FaultKeys = "latency=DUR, jitter=DUR, loss=P, silent, garbage[=P], truncate[=P], sessions_full, " +
	"aes_pad_full_block, rakp2_zero_tag, bridge_embedded, opensesspriv, integritycheckvalue, authcap, authcap_short, " +
	"nochecksumcheck, activate_new_id, unexpectedauth, forcepermsg, endianseq, noauthcodecheck, " +
	"idzero, intel20, supermicro20, opensesspriv_keys, sun20, altbridging, " +
	"window_drop=N, window_reorder[=N], window_busy=N, window_corrupt=N, " +
	"sdr_max_read=N, empty_reading_for_absent, " +
	"sdr_cancel_reservation=N, sdr_short_read=N, sdr_last_record_cc=CC, assumemaxsdrrecordcount[=N], " +
	"sdr_duplicate=N, sdr_same_name=NAME, assumebmcowner[=ADDR], ignorescanningdisabled, " +
	"reading_cc=CC@SENSOR, discretereading=SENSOR"

// FaultSpec is a parsed --faults string: the LAN-side Faults and the
// model quirks it names.
type FaultSpec struct {
	Faults Faults
	// SDRMaxRead, when > 0, makes Get SDR answer 0xCA for reads longer
	// than that many bytes.
	SDRMaxRead int
	// EmptyReadingForAbsent answers Get Sensor Reading of absent sensors
	// with an empty reply instead of 0xCB.
	EmptyReadingForAbsent bool
	// Quirks holds the other model quirks (the catalogue of
	// docs/bmc-quirks.md); its SDRMaxRead and EmptyReadingForAbsent are
	// ignored in favour of the fields above.
	Quirks model.Quirks
}

// ModelQuirks returns the model quirks s names.
func (s FaultSpec) ModelQuirks() model.Quirks {
	q := s.Quirks
	q.SDRMaxRead, q.EmptyReadingForAbsent = s.SDRMaxRead, s.EmptyReadingForAbsent
	return q
}

// parseByte parses a byte written in decimal or 0x hex.
func parseByte(key, val string) (uint8, error) {
	v, err := strconv.ParseUint(val, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("fault %s=%q: want a byte (0x00-0xff): %w", key, val, err)
	}
	return uint8(v), nil
}

// parseCount parses a non-negative count.
func parseCount(key, val string) (int, error) {
	v, err := strconv.Atoi(val)
	if err != nil || v < 0 || v > 0xFFFF {
		return 0, fmt.Errorf("fault %s=%q: want a count 0-65535", key, val)
	}
	return v, nil
}

// ParseFaults parses a comma-separated list like
// "loss=0.3,latency=500ms,jitter=50ms,garbage". A flag without a value
// means true, or probability 1.
func ParseFaults(s string) (FaultSpec, error) {
	var spec FaultSpec
	f := &spec.Faults
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, hasVal := strings.Cut(item, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		prob := func(dst *float64) error {
			if !hasVal {
				*dst = 1
				return nil
			}
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return fmt.Errorf("fault %s=%q: %w", key, val, err)
			}
			*dst = v
			return nil
		}
		flag := func(dst *bool) error {
			if !hasVal {
				*dst = true
				return nil
			}
			v, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("fault %s=%q: %w", key, val, err)
			}
			*dst = v
			return nil
		}
		dur := func(dst *time.Duration) error {
			v, err := time.ParseDuration(val)
			if err != nil {
				return fmt.Errorf("fault %s=%q: %w", key, val, err)
			}
			*dst = v
			return nil
		}
		var err error
		switch key {
		case "latency":
			err = dur(&f.Latency)
		case "jitter":
			err = dur(&f.Jitter)
		case "loss":
			if !hasVal {
				return spec, fmt.Errorf("fault loss needs a probability, e.g. loss=0.3")
			}
			err = prob(&f.Loss)
		case "silent":
			err = flag(&f.Silent)
		case "garbage":
			err = prob(&f.Garbage)
		case "truncate", "truncated":
			err = prob(&f.Truncate)
		case "sessions_full":
			err = flag(&f.SessionsFull)
		case "aes_pad_full_block":
			err = flag(&f.AESPadFullBlock)
		case "rakp2_zero_tag":
			err = flag(&f.RAKP2ZeroTag)
		case "bridge_embedded":
			err = flag(&f.BridgeEmbedded)
		case "opensesspriv":
			err = flag(&f.OpenSessPriv)
		case "integritycheckvalue":
			err = flag(&f.IntegrityCheckValue)
		case "authcap":
			err = flag(&f.AuthCap)
		case "authcap_short":
			err = flag(&f.AuthCapShort)
		case "nochecksumcheck":
			err = flag(&f.NoChecksumCheck)
		case "activate_new_id":
			err = flag(&f.ActivateNewID)
		case "unexpectedauth":
			err = flag(&f.UnexpectedAuth)
		case "forcepermsg":
			err = flag(&f.ForcePerMsg)
		case "endianseq":
			err = flag(&f.EndianSeq)
		case "noauthcodecheck":
			err = flag(&f.NoAuthCodeCheck)
		case "idzero":
			err = flag(&f.IDZero)
		case "intel20":
			err = flag(&f.Intel20)
		case "supermicro20":
			err = flag(&f.Supermicro20)
		case "opensesspriv_keys":
			err = flag(&f.OpenSessPrivKeys)
		case "sun20":
			err = flag(&f.Sun20)
		case "altbridging":
			err = flag(&f.AltBridging)
		case "window_drop":
			f.WindowDrop, err = parseCount(key, val)
		case "window_reorder":
			// Alone: any two in flight are answered out of order.
			f.WindowReorder = 1
			if hasVal {
				f.WindowReorder, err = parseCount(key, val)
			}
		case "window_busy":
			f.WindowBusy, err = parseCount(key, val)
		case "window_corrupt":
			f.WindowCorrupt, err = parseCount(key, val)
		case "sdr_max_read":
			spec.SDRMaxRead, err = strconv.Atoi(val)
			if err == nil && (spec.SDRMaxRead < 0 || spec.SDRMaxRead > 255) {
				err = fmt.Errorf("fault sdr_max_read=%d: want 0-255", spec.SDRMaxRead)
			}
		case "empty_reading_for_absent":
			err = flag(&spec.EmptyReadingForAbsent)
		case "sdr_cancel_reservation":
			spec.Quirks.SDRCancelReservation, err = parseCount(key, val)
		case "sdr_short_read":
			spec.Quirks.SDRShortRead, err = parseCount(key, val)
			if err == nil && spec.Quirks.SDRShortRead > 255 {
				err = fmt.Errorf("fault sdr_short_read=%s: want 0-255", val)
			}
		case "sdr_last_record_cc":
			spec.Quirks.SDRLastRecordCC, err = parseByte(key, val)
		case "assumemaxsdrrecordcount":
			// Named after FreeIPMI's workaround flag for BMCs that
			// report fewer records than they hold; alone: report 0.
			spec.Quirks.SDRCountShort = 0xFFFF
			if hasVal {
				spec.Quirks.SDRCountShort, err = parseCount(key, val)
			}
		case "sdr_duplicate":
			spec.Quirks.SDRDuplicate, err = parseCount(key, val)
		case "sdr_same_name":
			if val == "" || len(val) > 16 {
				err = fmt.Errorf("fault sdr_same_name=%q: want 1-16 bytes", val)
			}
			spec.Quirks.SDRSameName = val
		case "assumebmcowner":
			// FreeIPMI's flag for SDRs naming a wrong owner; alone: 0x2c.
			spec.Quirks.SDROwner = 0x2c
			if hasVal {
				spec.Quirks.SDROwner, err = parseByte(key, val)
			}
			if err == nil && (spec.Quirks.SDROwner&1 != 0 || spec.Quirks.SDROwner == 0x20) {
				err = fmt.Errorf("fault assumebmcowner=%s: want an even slave address other than 0x20", val)
			}
		case "ignorescanningdisabled":
			err = flag(&spec.Quirks.FalseScanningDisabled)
		case "reading_cc":
			cc, sensor, ok := strings.Cut(val, "@")
			if !ok || sensor == "" {
				err = fmt.Errorf("fault reading_cc=%q: want CC@SENSOR, e.g. 0xcb@FAN2", val)
				break
			}
			spec.Quirks.ReadingCC, err = parseByte(key, cc)
			if err == nil && spec.Quirks.ReadingCC == 0 {
				err = fmt.Errorf("fault reading_cc=%q: completion code 0 is no failure", val)
			}
			spec.Quirks.ReadingCCSensor = sensor
		case "discretereading":
			if val == "" {
				err = fmt.Errorf("fault discretereading needs a threshold sensor's name")
			}
			spec.Quirks.DiscreteReading = val
		default:
			return spec, fmt.Errorf("unknown fault %q (known: %s)", key, FaultKeys)
		}
		if err != nil {
			return spec, err
		}
	}
	if err := f.Validate(); err != nil {
		return spec, err
	}
	return spec, nil
}

// String renders f in ParseFaults syntax ("" for no faults).
func (f Faults) String() string {
	var parts []string
	add := func(cond bool, s string) {
		if cond {
			parts = append(parts, s)
		}
	}
	add(f.Latency != 0, "latency="+f.Latency.String())
	add(f.Jitter != 0, "jitter="+f.Jitter.String())
	add(f.Loss != 0, "loss="+strconv.FormatFloat(f.Loss, 'g', -1, 64))
	add(f.Silent, "silent")
	add(f.Garbage != 0, "garbage="+strconv.FormatFloat(f.Garbage, 'g', -1, 64))
	add(f.Truncate != 0, "truncate="+strconv.FormatFloat(f.Truncate, 'g', -1, 64))
	add(f.SessionsFull, "sessions_full")
	add(f.AESPadFullBlock, "aes_pad_full_block")
	add(f.RAKP2ZeroTag, "rakp2_zero_tag")
	add(f.BridgeEmbedded, "bridge_embedded")
	add(f.OpenSessPriv, "opensesspriv")
	add(f.IntegrityCheckValue, "integritycheckvalue")
	add(f.AuthCap, "authcap")
	add(f.AuthCapShort, "authcap_short")
	add(f.NoChecksumCheck, "nochecksumcheck")
	add(f.ActivateNewID, "activate_new_id")
	add(f.UnexpectedAuth, "unexpectedauth")
	add(f.ForcePerMsg, "forcepermsg")
	add(f.EndianSeq, "endianseq")
	add(f.NoAuthCodeCheck, "noauthcodecheck")
	add(f.IDZero, "idzero")
	add(f.Intel20, "intel20")
	add(f.Supermicro20, "supermicro20")
	add(f.OpenSessPrivKeys, "opensesspriv_keys")
	add(f.Sun20, "sun20")
	add(f.AltBridging, "altbridging")
	add(f.WindowDrop != 0, "window_drop="+strconv.Itoa(f.WindowDrop))
	add(f.WindowReorder != 0, "window_reorder="+strconv.Itoa(f.WindowReorder))
	add(f.WindowBusy != 0, "window_busy="+strconv.Itoa(f.WindowBusy))
	add(f.WindowCorrupt != 0, "window_corrupt="+strconv.Itoa(f.WindowCorrupt))
	return strings.Join(parts, ",")
}

// String renders s in ParseFaults syntax.
func (s FaultSpec) String() string {
	out := s.Faults.String()
	add := func(cond bool, p string) {
		if !cond {
			return
		}
		if out != "" {
			out += ","
		}
		out += p
	}
	add(s.SDRMaxRead != 0, "sdr_max_read="+strconv.Itoa(s.SDRMaxRead))
	add(s.EmptyReadingForAbsent, "empty_reading_for_absent")
	q := s.Quirks
	add(q.SDRCancelReservation != 0, "sdr_cancel_reservation="+strconv.Itoa(q.SDRCancelReservation))
	add(q.SDRShortRead != 0, "sdr_short_read="+strconv.Itoa(q.SDRShortRead))
	add(q.SDRLastRecordCC != 0, fmt.Sprintf("sdr_last_record_cc=0x%02x", q.SDRLastRecordCC))
	add(q.SDRCountShort != 0, "assumemaxsdrrecordcount="+strconv.Itoa(q.SDRCountShort))
	add(q.SDRDuplicate != 0, "sdr_duplicate="+strconv.Itoa(q.SDRDuplicate))
	add(q.SDRSameName != "", "sdr_same_name="+q.SDRSameName)
	add(q.SDROwner != 0, fmt.Sprintf("assumebmcowner=0x%02x", q.SDROwner))
	add(q.FalseScanningDisabled, "ignorescanningdisabled")
	add(q.ReadingCC != 0, fmt.Sprintf("reading_cc=0x%02x@%s", q.ReadingCC, q.ReadingCCSensor))
	add(q.DiscreteReading != "", "discretereading="+q.DiscreteReading)
	return out
}
