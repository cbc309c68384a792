package session

import (
	"context"
	"fmt"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Ping sends ASF presence pings (retransmitting with backoff) to host
// until a matching pong arrives or ctx's deadline (DefaultTimeout if it
// has none) passes. host is in Config.Host's format. A host that answers
// nothing, or refuses the datagram, yields ErrUnreachable.
func Ping(ctx context.Context, host string) (wire.PresencePong, error) {
	addr, err := HostPort(host)
	if err != nil {
		return wire.PresencePong{}, err
	}
	deadline := time.Now().Add(DefaultTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	conn, err := dial(ctx, nil, addr)
	if err != nil {
		return wire.PresencePong{}, err
	}
	defer conn.Close()
	s := &Session{addr: addr, conn: conn}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}

	buf := make([]byte, readBufferSize)
	interval := DefaultRetryInterval
	for tag := uint8(1); ; tag++ {
		if tag == 0xFF {
			tag = 1 // 0xFF means "no response expected" in RMCP
		}
		ping := wire.NewPresencePing(tag)
		if _, err := conn.Write(ping.AppendTo(nil)); err != nil {
			return wire.PresencePong{}, s.netError(err)
		}
		wake := time.Now().Add(interval)
		if deadline.Before(wake) {
			wake = deadline
		}
		for {
			if err := conn.SetReadDeadline(wake); err != nil {
				return wire.PresencePong{}, s.netError(err)
			}
			if err := ctx.Err(); err != nil {
				return wire.PresencePong{}, fmt.Errorf("%w: ping %s: %w", ErrUnreachable, addr, err)
			}
			n, err := conn.Read(buf)
			if err != nil {
				if !isTimeout(err) {
					return wire.PresencePong{}, s.netError(err)
				}
				if err := ctx.Err(); err != nil {
					return wire.PresencePong{}, fmt.Errorf("%w: ping %s: %w", ErrUnreachable, addr, err)
				}
				if time.Now().Before(wake) {
					continue
				}
				break
			}
			h, err := wire.DecodeRMCPHeader(buf[:n])
			if err != nil || h.Class != wire.RMCPClassASF {
				continue
			}
			m, err := wire.DecodeASF(buf[wire.RMCPHeaderSize:n])
			if err != nil || m.Type != wire.ASFTypePresencePog || m.Tag == 0 || m.Tag > tag {
				// A pong to any ping sent so far will do.
				continue
			}
			pong, err := wire.DecodePresencePong(m)
			if err != nil {
				continue
			}
			return pong, nil
		}
		if !time.Now().Before(deadline) {
			return wire.PresencePong{}, fmt.Errorf("%w: no pong from %s", ErrUnreachable, addr)
		}
		interval = min(2*interval, maxRetryInterval)
	}
}
