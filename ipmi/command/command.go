// Package command holds one typed struct per IPMI request and response, one
// file per command family. Both sides use them: the client encodes requests
// and decodes responses, the simulator decodes requests and encodes
// responses, so every type has AppendTo and Unmarshal.
//
// Response types never include the completion code byte: the transport
// strips it and turns a non-zero code into a *wire.CompletionCodeError.
package command

import (
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Op names a command: its request network function and command number.
type Op struct {
	NetFn wire.NetFn
	Cmd   uint8
}

func (o Op) String() string { return fmt.Sprintf("%s/0x%02x", o.NetFn, o.Cmd) }

// Request is a typed request body. The netFn and command come from Op.
type Request interface {
	Op() Op
	// AppendTo appends the request data bytes to b.
	AppendTo(b []byte) []byte
	// Unmarshal decodes request data (the simulator's side).
	Unmarshal(data []byte) error
}

// Response is a typed response body without the completion code.
type Response interface {
	// AppendTo appends the response data bytes (after the completion code).
	AppendTo(b []byte) []byte
	// Unmarshal decodes the response data after the completion code. It must
	// not keep a reference to data.
	Unmarshal(data []byte) error
}

// short returns an error wrapping wire.ErrShort for a body of the wrong size.
func short(what string, got, want int) error {
	return fmt.Errorf("%s: %d bytes, need %d: %w", what, got, want, wire.ErrShort)
}

// malformed returns an error wrapping wire.ErrMalformed.
func malformed(what string, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", what, fmt.Sprintf(format, args...), wire.ErrMalformed)
}
