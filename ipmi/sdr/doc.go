// Package sdr decodes and encodes Sensor Data Records (IPMI v2.0 section
// 43), converts raw sensor readings to engineering values (section 36.3),
// names sensor types, units, entities and event states (section 42), judges
// the severity of a reading, and walks a BMC's SDR repository.
//
// Both sides use it: the exporter decodes repositories and readings, the
// simulator builds repositories from the same record types (every record
// type has AppendTo) and converts engineering values back to raw bytes.
//
// Decoders never panic on bad input; they return errors wrapping
// wire.ErrShort or wire.ErrMalformed. Record types this package does not
// model (OEM, entity association, ...) decode to *UnknownRecord so that one
// odd record never spoils a repository.
package sdr
