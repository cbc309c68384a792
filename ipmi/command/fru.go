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

// ReadFRUDataResponse is the count returned and the data. Data is a copy.
type ReadFRUDataResponse struct {
	Data []byte
}

// AppendTo writes the count byte from len(Data), which must fit a byte.
func (r *ReadFRUDataResponse) AppendTo(b []byte) []byte {
	n := min(len(r.Data), 0xFF)
	b = append(b, uint8(n))
	return append(b, r.Data[:n]...)
}

// Unmarshal checks the count against the bytes that follow it: fewer is
// an error, more are ignored (some controllers pad the reply).
func (r *ReadFRUDataResponse) Unmarshal(data []byte) error {
	if err := checkFixedLen("read fru data response", data, 1); err != nil {
		return err
	}
	n := int(data[0])
	if len(data)-1 < n {
		return short("read fru data response", len(data), n+1)
	}
	r.Data = append(r.Data[:0:0], data[1:1+n]...)
	return nil
}
