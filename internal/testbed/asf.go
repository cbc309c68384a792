package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// asfPing is an RMCP presence ping (DSP0136): RMCP header version 6,
// sequence 0xff (no ack), class ASF; ASF IANA 4542, message type 0x80
// (Presence Ping), the given tag, reserved, data length 0.
func asfPing(tag byte) []byte {
	return []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, tag, 0x00, 0x00}
}

// isPong reports whether b is an ASF Presence Pong (type 0x40) for tag.
func isPong(b []byte, tag byte) bool {
	return len(b) >= 12 && b[0] == 0x06 && b[3] == 0x06 &&
		b[4] == 0x00 && b[5] == 0x00 && b[6] == 0x11 && b[7] == 0xbe &&
		b[8] == 0x40 && b[9] == tag
}

// Ping sends one RMCP presence ping to addr (host:port) and waits up to
// timeout for the pong.
func Ping(ctx context.Context, addr string, timeout time.Duration) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	const tag = 0x5a
	if _, err := conn.Write(asfPing(tag)); err != nil {
		return err
	}
	buf := make([]byte, 512)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("no RMCP pong from %s within %v", addr, timeout)
			}
			return err
		}
		if isPong(buf[:n], tag) {
			return nil
		}
	}
}
