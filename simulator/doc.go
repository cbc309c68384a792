// Package simulator is the LAN side of simulated BMCs: RMCP/ASF, IPMI 1.5
// and RMCP+ sessions (cipher suites 0-3, 6-8, 11, 12, 15-17), the session
// table, bridging through Send Message, faults and vendor quirks, counters,
// and a fleet of BMCs on consecutive UDP ports with a JSON control API.
// Everything that is not session management is passed to a Handler,
// normally a *model.BMC (package simulator/model).
//
// A BMC processes one datagram at a time under its own mutex: decode,
// authenticate, run, encode. The serve loop owns a 1 KiB read buffer per
// BMC; reply buffers, sessions and scratch space are created on first use,
// so an idle BMC costs a socket, a parked goroutine and its model state
// (about 5.5 KB in all with the dual-socket-1u profile).
//
// Randomness (session IDs, RAKP random numbers, AES IVs and every fault
// decision) comes from generators seeded with (seed, BMC index), so a run
// with the same seed and the same packets produces the same bytes. That
// makes the IVs predictable: fine for a simulator, never for a BMC.
//
// See docs/simulator.md for the command, the fault syntax and the HTTP API.
package simulator
