package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Console runs one emulator command (see man ipmi_sim_cmd) on the
// simulator's telnet console and returns its output. Output lines starting
// with "**" (ipmi_sim's error marker) make it an error. Examples:
//
//	sensor_set_value 0x20 0 14 0x20 1   (owner, LUN, number, raw, generate event)
//	sensor_set_bit 0x20 0 44 0 1 1      (owner, LUN, number, bit, value, event)
//	sel_add 0x20 0x02 ...13 bytes...
func (s *IPMISim) Console(ctx context.Context, command string) (string, error) {
	if s.ConsoleAddr == "" {
		return "", errors.New("testbed: simulator started without a console (ConsolePort -1)")
	}
	if strings.ContainsAny(command, "\r\n") {
		return "", errors.New("testbed: console command must be a single line")
	}
	s.consoleMu.Lock()
	defer s.consoleMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.ConsoleAddr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	if err := conn.SetDeadline(dl); err != nil {
		return "", err
	}
	r := &telnetReader{conn: conn}
	if _, err := r.untilPrompt(); err != nil {
		return "", fmt.Errorf("console %s: waiting for prompt: %w", s.ConsoleAddr, err)
	}
	if _, err := conn.Write([]byte(command + "\n")); err != nil {
		return "", err
	}
	out, err := r.untilPrompt()
	if err != nil {
		return "", fmt.Errorf("console %s: %q: %w", s.ConsoleAddr, command, err)
	}
	// The console echoes the command line first.
	out = strings.ReplaceAll(out, "\r", "")
	if i := strings.IndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	} else {
		out = ""
	}
	out = strings.TrimSpace(out)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "**") {
			return out, fmt.Errorf("ipmi_sim console: %q: %s", command, strings.TrimPrefix(line, "**"))
		}
	}
	return out, nil
}

// telnetReader reads text from ipmi_sim's console, dropping telnet option
// negotiation (IAC sequences), up to the "> " prompt.
type telnetReader struct {
	conn net.Conn
	buf  []byte
}

func (r *telnetReader) untilPrompt() (string, error) {
	var text bytes.Buffer
	tmp := make([]byte, 1024)
	for {
		// Strip complete IAC sequences from the pending bytes.
		for len(r.buf) > 0 {
			c := r.buf[0]
			if c == 0xff {
				if len(r.buf) < 2 {
					break
				}
				if r.buf[1] >= 0xfb && r.buf[1] <= 0xfe { // WILL, WONT, DO, DONT + option
					if len(r.buf) < 3 {
						break
					}
					r.buf = r.buf[3:]
				} else {
					r.buf = r.buf[2:]
				}
				continue
			}
			text.WriteByte(c)
			r.buf = r.buf[1:]
			if bytes.HasSuffix(text.Bytes(), []byte("> ")) {
				t := text.Bytes()
				return string(t[:len(t)-2]), nil
			}
		}
		n, err := r.conn.Read(tmp)
		if n > 0 {
			r.buf = append(r.buf, tmp[:n]...)
			continue
		}
		if err != nil {
			return text.String(), err
		}
	}
}

// SetSensorRaw sets the raw reading of a threshold sensor; ipmi_sim
// re-evaluates its thresholds (and logs SEL events when genEvent is set and
// the sensor has events enabled).
func (s *IPMISim) SetSensorRaw(ctx context.Context, sensor Sensor, raw uint8, genEvent bool) error {
	_, err := s.Console(ctx, fmt.Sprintf("sensor_set_value 0x%02x %d %d 0x%02x %d", sensor.Owner, sensor.LUN, sensor.Number, raw, b2i(genEvent)))
	return err
}

// SetSensorState asserts or deasserts one state offset (0-14) of a
// discrete sensor.
func (s *IPMISim) SetSensorState(ctx context.Context, sensor Sensor, offset uint8, asserted, genEvent bool) error {
	_, err := s.Console(ctx, fmt.Sprintf("sensor_set_bit 0x%02x %d %d %d %d %d", sensor.Owner, sensor.LUN, sensor.Number, offset, b2i(asserted), b2i(genEvent)))
	return err
}

// AddSEL appends a record to the BMC's SEL (record type and the 13 bytes
// after it; ipmi_sim sets the timestamp).
func (s *IPMISim) AddSEL(ctx context.Context, recordType uint8, data [13]byte) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sel_add 0x20 0x%02x", recordType)
	for _, c := range data {
		fmt.Fprintf(&b, " 0x%02x", c)
	}
	_, err := s.Console(ctx, b.String())
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
