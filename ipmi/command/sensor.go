package command

import (
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Sensor commands (sensor/event netFn, IPMI v2.0 section 35).
const (
	CmdGetSensorReadingFactors uint8 = 0x23
	CmdGetSensorThresholds     uint8 = 0x27
	CmdGetSensorReading        uint8 = 0x2D
)

// GetSensorReadingRequest reads sensor Number of the addressed controller
// (the LUN travels in the message header, see wire.Target).
type GetSensorReadingRequest struct {
	Number uint8
}

func (GetSensorReadingRequest) Op() Op {
	return Op{NetFn: wire.NetFnSensorEvent, Cmd: CmdGetSensorReading}
}

func (r *GetSensorReadingRequest) AppendTo(b []byte) []byte { return append(b, r.Number) }

func (r *GetSensorReadingRequest) Unmarshal(data []byte) error {
	return sensorNumberOnly("get sensor reading request", data, &r.Number)
}

// GetSensorReadingResponse is a sensor reading. BMCs differ in how much of
// it they send: the reading alone, reading and flags, or reading, flags and
// one or two state bytes. Len records how many data bytes were present.
// An empty reply (seen for absent sensors) is an error wrapping
// wire.ErrShort; callers treat it as "reading unavailable".
type GetSensorReadingResponse struct {
	Reading uint8
	// Flags from byte 2. The wire carries "enabled" bits; these are the
	// negations so that the zero value (and a 1-byte reply) means
	// "enabled, available".
	EventMessagesDisabled bool
	ScanningDisabled      bool
	ReadingUnavailable    bool
	// States holds byte 3 | byte 4<<8 with bit 15 (reserved, sent as 1)
	// masked off. For threshold sensors bits 0-5 are the comparison status
	// (see ThresholdMask); for discrete sensors bits 0-14 are the asserted
	// state offsets.
	States uint16
	// Len is the number of data bytes present (1-4). When encoding, 0
	// means a full 4-byte reply.
	Len uint8
}

// HasFlags reports whether the reply carried the flags byte.
func (r *GetSensorReadingResponse) HasFlags() bool { return r.Len == 0 || r.Len >= 2 }

// HasStates reports whether the reply carried at least the first state byte.
func (r *GetSensorReadingResponse) HasStates() bool { return r.Len == 0 || r.Len >= 3 }

func (r *GetSensorReadingResponse) AppendTo(b []byte) []byte {
	n := r.Len
	if n == 0 || n > 4 {
		n = 4
	}
	b = append(b, r.Reading)
	if n >= 2 {
		var flags uint8
		if !r.EventMessagesDisabled {
			flags |= 0x80
		}
		if !r.ScanningDisabled {
			flags |= 0x40
		}
		if r.ReadingUnavailable {
			flags |= 0x20
		}
		b = append(b, flags)
	}
	if n >= 3 {
		b = append(b, uint8(r.States))
	}
	if n >= 4 {
		// Bit 7 of the last byte is reserved and "returned as 1b".
		b = append(b, 0x80|uint8(r.States>>8)&0x7F)
	}
	return b
}

func (r *GetSensorReadingResponse) Unmarshal(data []byte) error {
	if len(data) == 0 {
		return short("get sensor reading response", 0, 1)
	}
	*r = GetSensorReadingResponse{Reading: data[0], Len: 1}
	if len(data) >= 2 {
		r.EventMessagesDisabled = data[1]&0x80 == 0
		r.ScanningDisabled = data[1]&0x40 == 0
		r.ReadingUnavailable = data[1]&0x20 != 0
		r.Len = 2
	}
	if len(data) >= 3 {
		r.States = uint16(data[2])
		r.Len = 3
	}
	if len(data) >= 4 {
		r.States |= uint16(data[3]&0x7F) << 8
		r.Len = 4
	}
	return nil
}

// ThresholdMask is a set of the six thresholds, in the bit order every IPMI
// structure uses for them (Get Sensor Thresholds, the SDR readable/settable
// masks and the threshold comparison status of Get Sensor Reading).
type ThresholdMask uint8

const (
	LowerNonCritical    ThresholdMask = 1 << 0
	LowerCritical       ThresholdMask = 1 << 1
	LowerNonRecoverable ThresholdMask = 1 << 2
	UpperNonCritical    ThresholdMask = 1 << 3
	UpperCritical       ThresholdMask = 1 << 4
	UpperNonRecoverable ThresholdMask = 1 << 5

	AllThresholds ThresholdMask = 0x3F
)

// Has reports whether every threshold in t is in m.
func (m ThresholdMask) Has(t ThresholdMask) bool { return m&t == t }

// GetSensorThresholdsRequest reads the thresholds of sensor Number.
type GetSensorThresholdsRequest struct {
	Number uint8
}

func (GetSensorThresholdsRequest) Op() Op {
	return Op{NetFn: wire.NetFnSensorEvent, Cmd: CmdGetSensorThresholds}
}

func (r *GetSensorThresholdsRequest) AppendTo(b []byte) []byte { return append(b, r.Number) }

func (r *GetSensorThresholdsRequest) Unmarshal(data []byte) error {
	return sensorNumberOnly("get sensor thresholds request", data, &r.Number)
}

// GetSensorThresholdsResponse holds raw threshold readings. Only those in
// Readable are meaningful; the others are sent as anything.
type GetSensorThresholdsResponse struct {
	Readable            ThresholdMask
	LowerNonCritical    uint8
	LowerCritical       uint8
	LowerNonRecoverable uint8
	UpperNonCritical    uint8
	UpperCritical       uint8
	UpperNonRecoverable uint8
}

func (r *GetSensorThresholdsResponse) AppendTo(b []byte) []byte {
	return append(b, uint8(r.Readable&AllThresholds),
		r.LowerNonCritical, r.LowerCritical, r.LowerNonRecoverable,
		r.UpperNonCritical, r.UpperCritical, r.UpperNonRecoverable)
}

func (r *GetSensorThresholdsResponse) Unmarshal(data []byte) error {
	if len(data) < 7 {
		return short("get sensor thresholds response", len(data), 7)
	}
	*r = GetSensorThresholdsResponse{
		Readable:            ThresholdMask(data[0]) & AllThresholds,
		LowerNonCritical:    data[1],
		LowerCritical:       data[2],
		LowerNonRecoverable: data[3],
		UpperNonCritical:    data[4],
		UpperCritical:       data[5],
		UpperNonRecoverable: data[6],
	}
	return nil
}

// ReadingFactors are the conversion factors of IPMI v2.0 section 36.3 in
// the 6-byte layout shared by the Full Sensor Record (bytes 25-30) and
// Get Sensor Reading Factors.
type ReadingFactors struct {
	M           int16  // 10-bit two's complement
	Tolerance   uint8  // 6 bits, in +/- half raw counts
	B           int16  // 10-bit two's complement
	Accuracy    uint16 // 10 bits, in 1/100 percent, scaled by 10^AccuracyExp
	AccuracyExp uint8  // 2 bits
	Direction   uint8  // 2 bits; sensor direction in the SDR, reserved in Get Sensor Reading Factors
	RExp        int8   // 4-bit two's complement result exponent
	BExp        int8   // 4-bit two's complement B exponent
}

// ReadingFactorsLen is the encoded size of ReadingFactors.
const ReadingFactorsLen = 6

// DecodeReadingFactors decodes the 6 factor bytes at the start of b.
func DecodeReadingFactors(b []byte) (ReadingFactors, error) {
	if len(b) < ReadingFactorsLen {
		return ReadingFactors{}, short("reading factors", len(b), ReadingFactorsLen)
	}
	return ReadingFactors{
		M:           sensorSignExtend(uint16(b[0])|uint16(b[1]>>6)<<8, 10),
		Tolerance:   b[1] & 0x3F,
		B:           sensorSignExtend(uint16(b[2])|uint16(b[3]>>6)<<8, 10),
		Accuracy:    uint16(b[3]&0x3F) | uint16(b[4]>>4)<<6,
		AccuracyExp: (b[4] >> 2) & 0x03,
		Direction:   b[4] & 0x03,
		RExp:        int8(sensorSignExtend(uint16(b[5]>>4), 4)),
		BExp:        int8(sensorSignExtend(uint16(b[5]&0x0F), 4)),
	}, nil
}

// AppendTo appends the 6 factor bytes. Out-of-range fields are truncated
// to their bit widths.
func (f ReadingFactors) AppendTo(b []byte) []byte {
	m, bb := uint16(f.M)&0x3FF, uint16(f.B)&0x3FF
	return append(b,
		uint8(m), uint8(m>>8)<<6|f.Tolerance&0x3F,
		uint8(bb), uint8(bb>>8)<<6|uint8(f.Accuracy)&0x3F,
		uint8(f.Accuracy>>6)<<4|(f.AccuracyExp&0x03)<<2|f.Direction&0x03,
		uint8(f.RExp)<<4|uint8(f.BExp)&0x0F)
}

// sensorSignExtend interprets the low bits of v as a two's complement number.
func sensorSignExtend(v uint16, bits uint) int16 {
	shift := 16 - bits
	return int16(v<<shift) >> shift
}

// GetSensorReadingFactorsRequest asks for the factors that apply to raw
// value Reading of a non-linear sensor (linearization 70h-7Fh).
type GetSensorReadingFactorsRequest struct {
	Number  uint8
	Reading uint8
}

func (GetSensorReadingFactorsRequest) Op() Op {
	return Op{NetFn: wire.NetFnSensorEvent, Cmd: CmdGetSensorReadingFactors}
}

func (r *GetSensorReadingFactorsRequest) AppendTo(b []byte) []byte {
	return append(b, r.Number, r.Reading)
}

func (r *GetSensorReadingFactorsRequest) Unmarshal(data []byte) error {
	if len(data) != 2 {
		if len(data) < 2 {
			return short("get sensor reading factors request", len(data), 2)
		}
		return malformed("get sensor reading factors request", "%d bytes, want 2", len(data))
	}
	r.Number, r.Reading = data[0], data[1]
	return nil
}

// GetSensorReadingFactorsResponse holds the factors valid from the
// requested reading up to (excluding) NextReading.
type GetSensorReadingFactorsResponse struct {
	NextReading uint8
	Factors     ReadingFactors
}

func (r *GetSensorReadingFactorsResponse) AppendTo(b []byte) []byte {
	return r.Factors.AppendTo(append(b, r.NextReading))
}

func (r *GetSensorReadingFactorsResponse) Unmarshal(data []byte) error {
	if len(data) < 1+ReadingFactorsLen {
		return short("get sensor reading factors response", len(data), 1+ReadingFactorsLen)
	}
	f, err := DecodeReadingFactors(data[1:])
	if err != nil {
		return err
	}
	r.NextReading, r.Factors = data[0], f
	return nil
}

// sensorNumberOnly decodes the one-byte body of requests that take only a
// sensor number.
func sensorNumberOnly(what string, data []byte, number *uint8) error {
	if len(data) != 1 {
		if len(data) == 0 {
			return short(what, 0, 1)
		}
		return malformed(what, "%d bytes, want 1", len(data))
	}
	*number = data[0]
	return nil
}
