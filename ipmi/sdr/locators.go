package sdr

const locatorMinLen = 16 // all three locators: up to the ID type/length byte

// GenericDeviceLocator is a Generic Device Locator Record (type 10h, IPMI
// v2.0 table 43-7): a non-IPMI device (EEPROM, sensor chip) behind a
// controller's private or IPMB bus.
type GenericDeviceLocator struct {
	Header
	AccessAddress uint8 // 8-bit slave address of the controller to use (bit 0 clear)
	SlaveAddress  uint8 // 8-bit I2C address of the device on the bus (bit 0 clear)
	Channel       uint8 // 4 bits, split over two bytes on the wire
	AccessLUN     uint8 // 2 bits: LUN for Master Write-Read
	PrivateBus    uint8 // 3 bits
	AddressSpan   uint8 // 3 bits
	DeviceType    uint8
	DeviceTypeMod uint8
	Entity        Entity
	OEM           uint8
	IDString      IDString
}

func (*GenericDeviceLocator) Type() RecordType { return TypeGenericDeviceLocator }

// Name returns the decoded device ID string.
func (g *GenericDeviceLocator) Name() string { return g.IDString.String() }

func parseGenericLocator(b []byte) (*GenericDeviceLocator, error) {
	h, err := parseHeaderFor(b, locatorMinLen)
	if err != nil {
		return nil, err
	}
	return &GenericDeviceLocator{
		Header:        h,
		AccessAddress: b[5] & 0xFE,
		SlaveAddress:  b[6] & 0xFE,
		// Bit 0 of the slave address byte is the channel's most
		// significant bit (bit 3); bits 7:5 of the next byte the rest.
		Channel:       (b[6]&0x01)<<3 | b[7]>>5,
		AccessLUN:     (b[7] >> 3) & 0x03,
		PrivateBus:    b[7] & 0x07,
		AddressSpan:   b[8] & 0x07,
		DeviceType:    b[10],
		DeviceTypeMod: b[11],
		Entity:        decodeEntity(b[12], b[13]),
		OEM:           b[14],
		IDString:      decodeIDString(b[15], b[16:]),
	}, nil
}

func (g *GenericDeviceLocator) AppendTo(b []byte) []byte {
	start, b := appendHeader(b, g.Header, TypeGenericDeviceLocator)
	entID, entInst := g.Entity.bytes()
	b = append(b,
		g.AccessAddress&0xFE,
		g.SlaveAddress&0xFE|(g.Channel>>3)&0x01,
		(g.Channel&0x07)<<5|(g.AccessLUN&0x03)<<3|g.PrivateBus&0x07,
		g.AddressSpan&0x07, 0, g.DeviceType, g.DeviceTypeMod, entID, entInst, g.OEM)
	b = g.IDString.appendTo(b)
	return finishRecord(b, start)
}

// FRUDeviceLocator is a FRU Device Locator Record (type 11h, IPMI v2.0
// table 43-8): where to read a FRU inventory area.
type FRUDeviceLocator struct {
	Header
	AccessAddress uint8 // 8-bit slave address of the controller (bit 0 clear)
	// DeviceID is the FRU device ID for a logical FRU device, or the 8-bit
	// slave address of a non-intelligent FRU device.
	DeviceID      uint8
	Logical       bool // logical FRU device (accessed with FRU commands)
	AccessLUN     uint8
	PrivateBus    uint8
	Channel       uint8
	DeviceType    uint8
	DeviceTypeMod uint8
	Entity        Entity
	OEM           uint8
	IDString      IDString
}

func (*FRUDeviceLocator) Type() RecordType { return TypeFRUDeviceLocator }

// Name returns the decoded device ID string.
func (f *FRUDeviceLocator) Name() string { return f.IDString.String() }

func parseFRULocator(b []byte) (*FRUDeviceLocator, error) {
	h, err := parseHeaderFor(b, locatorMinLen)
	if err != nil {
		return nil, err
	}
	return &FRUDeviceLocator{
		Header:        h,
		AccessAddress: b[5] & 0xFE,
		DeviceID:      b[6],
		Logical:       b[7]&0x80 != 0,
		AccessLUN:     (b[7] >> 3) & 0x03,
		PrivateBus:    b[7] & 0x07,
		Channel:       b[8] >> 4,
		DeviceType:    b[10],
		DeviceTypeMod: b[11],
		Entity:        decodeEntity(b[12], b[13]),
		OEM:           b[14],
		IDString:      decodeIDString(b[15], b[16:]),
	}, nil
}

func (f *FRUDeviceLocator) AppendTo(b []byte) []byte {
	start, b := appendHeader(b, f.Header, TypeFRUDeviceLocator)
	entID, entInst := f.Entity.bytes()
	flags := (f.AccessLUN&0x03)<<3 | f.PrivateBus&0x07
	if f.Logical {
		flags |= 0x80
	}
	b = append(b, f.AccessAddress&0xFE, f.DeviceID, flags, (f.Channel&0x0F)<<4, 0,
		f.DeviceType, f.DeviceTypeMod, entID, entInst, f.OEM)
	b = f.IDString.appendTo(b)
	return finishRecord(b, start)
}

// MCCapabilities is the device capabilities byte of the Management
// Controller Device Locator.
type MCCapabilities uint8

func (c MCCapabilities) ChassisDevice() bool      { return c&0x80 != 0 }
func (c MCCapabilities) Bridge() bool             { return c&0x40 != 0 }
func (c MCCapabilities) IPMBEventGenerator() bool { return c&0x20 != 0 }
func (c MCCapabilities) IPMBEventReceiver() bool  { return c&0x10 != 0 }
func (c MCCapabilities) FRUInventory() bool       { return c&0x08 != 0 }
func (c MCCapabilities) SELDevice() bool          { return c&0x04 != 0 }
func (c MCCapabilities) SDRRepository() bool      { return c&0x02 != 0 }
func (c MCCapabilities) SensorDevice() bool       { return c&0x01 != 0 }

// MCDeviceLocator is a Management Controller Device Locator Record (type
// 12h, IPMI v2.0 table 43-9): a controller on IPMB. The exporter uses it to
// find satellite controllers whose sensors need bridging.
type MCDeviceLocator struct {
	Header
	SlaveAddress uint8 // 8-bit slave address (bit 0 clear)
	Channel      uint8 // 4 bits
	// PowerStateInit is the power state notification / global
	// initialization byte, kept whole.
	PowerStateInit uint8
	Capabilities   MCCapabilities
	Entity         Entity
	OEM            uint8
	IDString       IDString
}

func (*MCDeviceLocator) Type() RecordType { return TypeMCDeviceLocator }

// Name returns the decoded device ID string.
func (m *MCDeviceLocator) Name() string { return m.IDString.String() }

func parseMCLocator(b []byte) (*MCDeviceLocator, error) {
	h, err := parseHeaderFor(b, locatorMinLen)
	if err != nil {
		return nil, err
	}
	return &MCDeviceLocator{
		Header:         h,
		SlaveAddress:   b[5] & 0xFE,
		Channel:        b[6] & 0x0F,
		PowerStateInit: b[7],
		Capabilities:   MCCapabilities(b[8]),
		Entity:         decodeEntity(b[12], b[13]),
		OEM:            b[14],
		IDString:       decodeIDString(b[15], b[16:]),
	}, nil
}

func (m *MCDeviceLocator) AppendTo(b []byte) []byte {
	start, b := appendHeader(b, m.Header, TypeMCDeviceLocator)
	entID, entInst := m.Entity.bytes()
	b = append(b, m.SlaveAddress&0xFE, m.Channel&0x0F, m.PowerStateInit, uint8(m.Capabilities),
		0, 0, 0, entID, entInst, m.OEM)
	b = m.IDString.appendTo(b)
	return finishRecord(b, start)
}
