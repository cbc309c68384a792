package load

import (
	"errors"
	"net"
	"slices"
	"time"
)

// PingRTT sends count RMCP presence pings (ASF, DSP0136) to addr one after
// another and returns the sorted round-trip times of those answered. It
// measures the network path a BMC request takes (through a delaying relay,
// for example) with almost no BMC work.
func PingRTT(addr string, count int, timeout time.Duration) ([]time.Duration, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, 512)
	var rtts []time.Duration
	for i := 0; i < count; i++ {
		tag := byte(i)
		ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, tag, 0x00, 0x00}
		t0 := time.Now()
		if _, err := conn.Write(ping); err != nil {
			return rtts, err
		}
		conn.SetReadDeadline(t0.Add(timeout))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break // lost or refused: not counted
			}
			b := buf[:n]
			if len(b) >= 12 && b[0] == 0x06 && b[3] == 0x06 && b[8] == 0x40 && b[9] == tag {
				rtts = append(rtts, time.Since(t0))
				break
			}
		}
	}
	if len(rtts) == 0 {
		return nil, errors.New("no pong from " + addr)
	}
	slices.Sort(rtts)
	return rtts, nil
}
