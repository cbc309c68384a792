package command

import (
	"encoding/binary"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// FRU inventory device commands (storage netFn, IPMI v2.0 section 34).
const (
	CmdGetFRUInventoryAreaInfo uint8 = 0x10
	CmdReadFRUData             uint8 = 0x11
)

// CCFRUDeviceBusy is Read FRU Data's "FRU device busy" completion code:
// the controller is updating the device; retry later.
const CCFRUDeviceBusy wire.CompletionCode = 0x81

// GetFRUInventoryAreaInfoRequest asks for the size of one FRU device.
type GetFRUInventoryAreaInfoRequest struct {
	DeviceID uint8 // FF is reserved
}

func (*GetFRUInventoryAreaInfoRequest) Op() Op {
	return Op{wire.NetFnStorage, CmdGetFRUInventoryAreaInfo}
}

func (r *GetFRUInventoryAreaInfoRequest) AppendTo(b []byte) []byte { return append(b, r.DeviceID) }

func (r *GetFRUInventoryAreaInfoRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("get fru inventory area info request", data, 1); err != nil {
		return err
	}
	r.DeviceID = data[0]
	return nil
}

// GetFRUInventoryAreaInfoResponse is the FRU device's size.
type GetFRUInventoryAreaInfoResponse struct {
	Size uint16 // in bytes
	// WordAccess: the device is addressed in 16-bit words, so offsets and
	// counts of Read FRU Data are in words.
	WordAccess bool
}

func (r *GetFRUInventoryAreaInfoResponse) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, r.Size)
	if r.WordAccess {
		return append(b, 1)
	}
	return append(b, 0)
}

func (r *GetFRUInventoryAreaInfoResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("get fru inventory area info response", data, 3); err != nil {
		return err
	}
	*r = GetFRUInventoryAreaInfoResponse{Size: binary.LittleEndian.Uint16(data), WordAccess: data[2]&0x01 != 0}
	return nil
}

// ReadFRUDataRequest reads Count bytes (or words) from Offset.
type ReadFRUDataRequest struct {
	DeviceID uint8
	Offset   uint16
	Count    uint8
}

func (*ReadFRUDataRequest) Op() Op { return Op{wire.NetFnStorage, CmdReadFRUData} }

func (r *ReadFRUDataRequest) AppendTo(b []byte) []byte {
	b = append(b, r.DeviceID)
	b = binary.LittleEndian.AppendUint16(b, r.Offset)
	return append(b, r.Count)
}

func (r *ReadFRUDataRequest) Unmarshal(data []byte) error {
	if err := checkFixedLen("read fru data request", data, 4); err != nil {
		return err
	}
	*r = ReadFRUDataRequest{DeviceID: data[0], Offset: binary.LittleEndian.Uint16(data[1:]), Count: data[3]}
	return nil
}

// ReadFRUDataResponse is the count returned and the data after it. The
// count is in bytes, or in words for a word-addressed device, which the
// response alone does not tell: Bytes applies it. Data is a copy.
type ReadFRUDataResponse struct {
	Count uint8
	Data  []byte
}

func (r *ReadFRUDataResponse) AppendTo(b []byte) []byte {
	b = append(b, r.Count)
	return append(b, r.Data...)
}

func (r *ReadFRUDataResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("read fru data response", data, 1); err != nil {
		return err
	}
	r.Count = data[0]
	r.Data = append(r.Data[:0:0], data[1:]...)
	return nil
}

// Bytes returns the data the count covers (Count bytes, or Count words
// when words), failing with ErrShort when fewer follow. Bytes past the
// count are ignored: some controllers pad the reply.
func (r *ReadFRUDataResponse) Bytes(words bool) ([]byte, error) {
	n := int(r.Count)
	if words {
		n *= 2
	}
	if len(r.Data) < n {
		return nil, short("read fru data response", len(r.Data)+1, n+1)
	}
	return r.Data[:n], nil
}

// NewReadFRUDataResponse returns the response carrying data (at most 255
// bytes, or words when words).
func NewReadFRUDataResponse(data []byte, words bool) *ReadFRUDataResponse {
	if words {
		data = data[:len(data)&^1]
		if len(data) > 2*0xFF {
			data = data[:2*0xFF]
		}
		return &ReadFRUDataResponse{Count: uint8(len(data) / 2), Data: data}
	}
	if len(data) > 0xFF {
		data = data[:0xFF]
	}
	return &ReadFRUDataResponse{Count: uint8(len(data)), Data: data}
}
