package fru

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Requester sends one command (an *ipmi.Client, or a bridged form of it).
type Requester interface {
	Do(ctx context.Context, req command.Request, resp command.Response) error
}

// Read chunk sizes. 32 bytes fit every LAN session's payload with room to
// spare; a controller that refuses that many (C7h, C8h, CAh) gets smaller
// reads, down to minChunk, as ipmitool does.
const (
	maxChunk = 32
	minChunk = 8
)

// ErrNoDevice is wrapped by Read when the controller says the FRU device
// is absent or empty (size 0, or completion code CBh): not a failure of
// the scrape.
var ErrNoDevice = errors.New("fru: no such FRU device")

// Read reads FRU device id through r and decodes it. It reads only the
// common header and the chassis, board and product areas (two or three
// requests per area), never the multi-record area.
func Read(ctx context.Context, r Requester, id uint8) (*Info, error) {
	var ai command.GetFRUInventoryAreaInfoResponse
	if err := r.Do(ctx, &command.GetFRUInventoryAreaInfoRequest{DeviceID: id}, &ai); err != nil {
		if wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent) {
			return nil, fmt.Errorf("fru device %d: %w: %w", id, ErrNoDevice, err)
		}
		return nil, fmt.Errorf("fru device %d inventory area info: %w", id, err)
	}
	if ai.Size == 0 {
		return nil, fmt.Errorf("fru device %d: size 0: %w", id, ErrNoDevice)
	}
	d := &device{r: r, id: id, size: int(ai.Size), words: ai.WordAccess, chunk: maxChunk, img: make([]byte, int(ai.Size))}
	if err := d.fill(ctx, 0, HeaderLen); err != nil {
		return nil, err
	}
	h, err := DecodeHeader(d.img)
	if err != nil {
		return nil, fmt.Errorf("fru device %d: %w", id, err)
	}
	for _, off := range []int{h.Chassis, h.Board, h.Product} {
		if off == 0 || off+2 > d.size {
			continue // Decode reports an area past the end
		}
		if err := d.fill(ctx, off, 2); err != nil {
			return nil, err
		}
		n, err := AreaLen(d.img[off:])
		if err != nil {
			continue // Decode reports it
		}
		if err := d.fill(ctx, off+2, min(n, d.size-off)-2); err != nil {
			return nil, err
		}
	}
	return Decode(d.img[:d.read])
}

// device is one FRU device being read: img holds the bytes read so far
// (the image is sparse: only the areas needed are read; read is the end
// of the furthest).
type device struct {
	r     Requester
	id    uint8
	size  int
	words bool
	chunk int
	img   []byte
	read  int
}

// fill reads n bytes at off into the image.
func (d *device) fill(ctx context.Context, off, n int) error {
	end := off + n
	if end > d.size {
		end = d.size
	}
	for off < end {
		want := min(end-off, d.chunk)
		req := command.ReadFRUDataRequest{DeviceID: d.id, Offset: uint16(off), Count: uint8(want)}
		if d.words {
			// Word-addressed devices take offsets and counts in words.
			req.Offset, req.Count = uint16(off/2), uint8((want+1)/2)
		}
		var resp command.ReadFRUDataResponse
		if err := d.r.Do(ctx, &req, &resp); err != nil {
			if tooBig(err) && d.chunk > minChunk {
				d.chunk = max(d.chunk/2, minChunk)
				continue
			}
			return fmt.Errorf("fru device %d: reading %d bytes at %d: %w", d.id, want, off, err)
		}
		got, err := resp.Bytes(d.words)
		if err != nil {
			return fmt.Errorf("fru device %d: reading %d bytes at %d: %w", d.id, want, off, err)
		}
		if d.words && off%2 != 0 && len(got) > 0 {
			got = got[1:] // started at the word holding off
		}
		if len(got) == 0 {
			// Some controllers report a larger size than they hold: keep
			// what was read (ipmitool does the same).
			d.size = off
			break
		}
		got = got[:min(len(got), end-off)]
		copy(d.img[off:], got)
		off += len(got)
	}
	d.read = max(d.read, off)
	return nil
}

// tooBig reports the completion codes by which a controller says a read
// asked for more bytes than it can return.
func tooBig(err error) bool {
	return wire.IsCompletionCode(err, wire.CCRequestDataLengthInvalid) ||
		wire.IsCompletionCode(err, wire.CCRequestDataFieldLengthLimit) ||
		wire.IsCompletionCode(err, wire.CCCannotReturnRequestedBytes)
}
