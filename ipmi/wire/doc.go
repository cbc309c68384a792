// Package wire holds the IPMI LAN wire formats: RMCP framing, ASF presence
// ping/pong, the IPMI v1.5 and RMCP+ (v2.0) session headers, the IPMI LAN
// message with its two checksums, and the constants (network functions,
// completion codes, payload types) shared by the client and the simulator.
//
// Every format is a small typed struct with an Append/Decode pair so the hot
// path can encode into a reused buffer without allocating. Decoders never
// panic on hostile input: they return an error wrapping ErrShort or
// ErrMalformed.
package wire
