package model

import (
	"fmt"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/fru"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// FRUInventory is the content of a FRU device (profile key inventory of a
// frus entry). Every field is optional; the serial numbers get the fleet
// index appended ("-000042"), so every BMC of a fleet has its own.
type FRUInventory struct {
	ChassisType         uint8     `yaml:"chassis_type"` // SMBIOS type; default 17h rack mount
	ChassisPartNumber   string    `yaml:"chassis_part_number"`
	ChassisSerial       string    `yaml:"chassis_serial"`
	BoardManufacturer   string    `yaml:"board_manufacturer"`
	BoardProduct        string    `yaml:"board_product"`
	BoardSerial         string    `yaml:"board_serial"`
	BoardPartNumber     string    `yaml:"board_part_number"`
	BoardMfgDate        time.Time `yaml:"board_mfg_date"`
	ProductManufacturer string    `yaml:"product_manufacturer"`
	ProductName         string    `yaml:"product_name"`
	ProductPartNumber   string    `yaml:"product_part_number"`
	ProductVersion      string    `yaml:"product_version"`
	ProductSerial       string    `yaml:"product_serial"`
	AssetTag            string    `yaml:"asset_tag"`
}

// fruDef is one FRU device the BMC serves.
type fruDef struct {
	id  uint8
	inv FRUInventory
}

// newFRUDef fills the defaults of a profile's FRU entry: device 0 (the
// BMC's own, the system) gets chassis, board and product areas; the others
// a board and a product area named after the record.
func newFRUDef(f *FRUSpec) fruDef {
	var inv FRUInventory
	if f.Inventory != nil {
		inv = *f.Inventory
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&inv.BoardManufacturer, "IPMI Fleet")
	def(&inv.BoardProduct, f.Name)
	def(&inv.BoardSerial, fmt.Sprintf("BRD%02X", f.DeviceID))
	def(&inv.BoardPartNumber, fmt.Sprintf("PN-%02X", f.DeviceID))
	def(&inv.ProductManufacturer, inv.BoardManufacturer)
	def(&inv.ProductName, f.Name)
	def(&inv.ProductSerial, fmt.Sprintf("SN%02X", f.DeviceID))
	if f.DeviceID == 0 {
		def(&inv.ChassisSerial, "CHS")
		if inv.ChassisType == 0 {
			inv.ChassisType = 0x17
		}
	}
	if inv.BoardMfgDate.IsZero() {
		inv.BoardMfgDate = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return fruDef{id: f.DeviceID, inv: inv}
}

// image encodes the device for the BMC of fleet index idx.
func (d *fruDef) image(idx int) []byte {
	v := &d.inv
	serial := func(s string) fru.Field {
		if s == "" {
			return fru.Field{}
		}
		return fru.TextField(fmt.Sprintf("%s-%06d", s, idx))
	}
	info := &fru.Info{
		Board: &fru.BoardInfo{MfgDate: v.BoardMfgDate, Manufacturer: fru.TextField(v.BoardManufacturer),
			Product: fru.TextField(v.BoardProduct), Serial: serial(v.BoardSerial), PartNumber: fru.TextField(v.BoardPartNumber)},
		Product: &fru.ProductInfo{Manufacturer: fru.TextField(v.ProductManufacturer), Name: fru.TextField(v.ProductName),
			PartNumber: fru.TextField(v.ProductPartNumber), Version: fru.TextField(v.ProductVersion),
			Serial: serial(v.ProductSerial), AssetTag: fru.TextField(v.AssetTag)},
	}
	if v.ChassisType != 0 || v.ChassisSerial != "" || v.ChassisPartNumber != "" {
		info.Chassis = &fru.ChassisInfo{Type: v.ChassisType, PartNumber: fru.TextField(v.ChassisPartNumber), Serial: serial(v.ChassisSerial)}
	}
	img, err := fru.Encode(info)
	if err != nil {
		return nil // fields are cut to 63 bytes: three areas always fit
	}
	return img
}

func (b *BMC) fruDevice(id uint8) *fruDef {
	for i := range b.p.frus {
		if b.p.frus[i].id == id {
			return &b.p.frus[i]
		}
	}
	return nil
}

func (b *BMC) getFRUInventoryAreaInfo(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.GetFRUInventoryAreaInfoRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	d := b.fruDevice(req.DeviceID)
	if d == nil {
		return wire.CCRequestedDataNotPresent, nil
	}
	return respond(&command.GetFRUInventoryAreaInfoResponse{Size: uint16(len(d.image(b.index)))}, 3)
}

// maxFRURead is the most a Read FRU Data answers at once: the reply must
// fit the BMC's message buffer, as on real controllers (ipmitool asks for
// less then).
const maxFRURead = 64

func (b *BMC) readFRUData(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.ReadFRUDataRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	d := b.fruDevice(req.DeviceID)
	if d == nil {
		return wire.CCRequestedDataNotPresent, nil
	}
	if req.Count > maxFRURead {
		return wire.CCCannotReturnRequestedBytes, nil
	}
	img := d.image(b.index)
	off := int(req.Offset)
	if off > len(img) {
		return wire.CCParameterOutOfRange, nil
	}
	end := min(off+int(req.Count), len(img))
	return respond(command.NewReadFRUDataResponse(img[off:end], false), 1+end-off)
}
