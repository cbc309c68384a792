package model

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// testEpoch is the fixed time tests run at.
var testEpoch = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// newTestBMC builds a BMC of a built-in profile at testEpoch.
func newTestBMC(t testing.TB, profile string, index int) (*BMC, *fakeClock) {
	t.Helper()
	p, err := LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: testEpoch}
	b, err := New(p, Options{Seed: 42, Clock: clock.now, Index: index})
	if err != nil {
		t.Fatal(err)
	}
	return b, clock
}

// newYAMLBMC builds a BMC from inline YAML.
func newYAMLBMC(t testing.TB, yaml string) (*BMC, *fakeClock) {
	t.Helper()
	p, err := ParseProfile([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: testEpoch}
	b, err := New(p, Options{Seed: 7, Clock: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return b, clock
}

// requester sends typed commands to a BMC through Handle, the way a
// client's transport would; it satisfies sdr.Requester.
type requester struct {
	b      *BMC
	target wire.Target
	priv   wire.PrivilegeLevel
}

func (r requester) Do(_ context.Context, req command.Request, resp command.Response) error {
	op := req.Op()
	cc, data := r.b.Handle(r.target, op.NetFn, op.Cmd, req.AppendTo(nil), r.priv)
	if cc != wire.CCOK {
		return &wire.CompletionCodeError{NetFn: op.NetFn, Command: op.Cmd, Code: cc}
	}
	return resp.Unmarshal(data)
}

func admin(b *BMC) requester { return requester{b: b, priv: wire.PrivilegeAdmin} }

// do sends req as admin to the BMC and decodes into resp, failing the test
// on any error.
func do(t testing.TB, b *BMC, target wire.Target, req command.Request, resp command.Response) {
	t.Helper()
	r := requester{b: b, target: target, priv: wire.PrivilegeAdmin}
	if err := r.Do(context.Background(), req, resp); err != nil {
		t.Fatalf("%s: %v", req.Op(), err)
	}
}

// code sends raw request data and returns the completion code.
func code(b *BMC, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte, priv wire.PrivilegeLevel) wire.CompletionCode {
	cc, _ := b.Handle(target, netFn, cmd, data, priv)
	return cc
}

func ccOf(err error) wire.CompletionCode {
	var ce *wire.CompletionCodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return wire.CCOK
}
