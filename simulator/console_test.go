package simulator

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// This file holds the console side the unit tests drive a BMC with: every
// packet is built byte by byte from package wire and keyed with package
// crypto, independently of the BMC code under test.

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeHandler stands in for the model: it answers Get Device ID, Get
// System GUID and Chassis Control (operator only) and records calls.
type fakeHandler struct {
	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	target wire.Target
	netFn  wire.NetFn
	cmd    uint8
	data   []byte
	priv   wire.PrivilegeLevel
}

var fakeGUID = [16]byte{0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF, 0xB0}

// fakeDeviceID is a Get Device ID response body (after the completion code).
var fakeDeviceID = []byte{0x20, 0x81, 0x03, 0x45, 0x02, 0xBF, 0x57, 0x01, 0x00, 0x34, 0x12}

func (h *fakeHandler) Handle(target wire.Target, netFn wire.NetFn, cmd uint8, data []byte, priv wire.PrivilegeLevel) (wire.CompletionCode, []byte) {
	h.mu.Lock()
	h.calls = append(h.calls, fakeCall{target, netFn, cmd, append([]byte(nil), data...), priv})
	h.mu.Unlock()
	switch {
	case netFn == wire.NetFnApp && cmd == 0x01:
		if target.Addr == 0x2C {
			return wire.CCOK, []byte{0x2C, 0x01, 0x04, 0x00, 0x02, 0x00, 0x57, 0x01, 0x00, 0x0B, 0x00}
		}
		return wire.CCOK, append([]byte(nil), fakeDeviceID...)
	case netFn == wire.NetFnApp && cmd == 0x37:
		return wire.CCOK, append([]byte(nil), fakeGUID[:]...)
	case netFn == wire.NetFnOEMGroup && cmd == 0x01 && len(data) == 1:
		// Test hook: a response of data[0] bytes.
		return wire.CCOK, bytes.Repeat([]byte{0x5A}, int(data[0]))
	case netFn == wire.NetFnChassis && cmd == 0x02:
		if priv < wire.PrivilegeOperator {
			return wire.CCInsufficientPrivilege, nil
		}
		return wire.CCOK, nil
	}
	return wire.CCInvalidCommand, nil
}

func (h *fakeHandler) lastCall() fakeCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[len(h.calls)-1]
}

var testUsers = []User{
	{Name: "admin", Password: "secret", Privilege: wire.PrivilegeAdmin},
	{Name: "viewer", Password: "look", Privilege: wire.PrivilegeUser},
	{Name: "longpass", Password: "01234567890123456789", Privilege: wire.PrivilegeOperator},
}

var testConsoleAddr = netip.MustParseAddrPort("127.0.0.1:40000")

// newTestBMC builds a socketless BMC with a fake clock and handler.
func newTestBMC(t testing.TB, mutate func(*BMCConfig)) (*BMC, *fakeClock, *fakeHandler) {
	t.Helper()
	cfg := BMCConfig{Users: testUsers}
	if mutate != nil {
		mutate(&cfg)
	}
	ncfg, err := cfg.normalized()
	if err != nil {
		t.Fatal(err)
	}
	clock, h := newFakeClock(), &fakeHandler{}
	return newBMC(0, &ncfg, h, clock.Now, 1), clock, h
}

// exchange sends one datagram and returns the immediate reply (nil when
// the BMC stays silent).
func exchange(b *BMC, pkt []byte) []byte {
	reply, _ := exchange2(b, pkt)
	return reply
}

// exchange2 is exchange that also returns the follow-up packet, if any.
func exchange2(b *BMC, pkt []byte) (reply, followUp []byte) {
	reply, followUp, _, ok := b.respond(pkt, testConsoleAddr, nil)
	if !ok {
		return nil, nil
	}
	if followUp != nil {
		followUp = append([]byte(nil), followUp...)
	}
	return append([]byte(nil), reply...), followUp
}

// v2Console is an RMCP+ console session under construction or open.
type v2Console struct {
	t         testing.TB
	b         *BMC
	suite     crypto.CipherSuite
	user      string
	password  string
	kg        []byte
	role      uint8
	consoleID uint32
	bmcID     uint32
	hs        crypto.Handshake
	integrity crypto.Integrity
	aes       *crypto.AESCBC128
	seq       uint32
	rqSeq     uint8
}

func newV2Console(t testing.TB, b *BMC, suiteID uint8, user, password string, priv wire.PrivilegeLevel) *v2Console {
	t.Helper()
	cs, ok := crypto.LookupCipherSuite(suiteID)
	if !ok {
		t.Fatalf("suite %d unknown", suiteID)
	}
	return &v2Console{t: t, b: b, suite: cs, user: user, password: password,
		role: uint8(priv) | wire.RoleNameOnlyLookup, consoleID: 0xC0DE0000 | uint32(suiteID)}
}

// v2Packet builds an RMCP+ packet; inSession protects it with the
// session's keys.
func (c *v2Console) v2Packet(pt wire.PayloadType, payload []byte, inSession bool) []byte {
	b := wire.IPMIRMCPHeader.AppendTo(nil)
	start := len(b)
	h := wire.SessionV2Header{PayloadType: pt}
	if inSession {
		c.seq++
		h.SessionID, h.Sequence = c.bmcID, c.seq
		h.Encrypted, h.Authenticated = c.aes != nil, c.integrity != nil
	}
	b = h.AppendTo(b)
	ps := len(b)
	if h.Encrypted {
		var err error
		if b, err = c.aes.AppendEncrypt(b, payload, rand.Reader); err != nil {
			c.t.Fatal(err)
		}
	} else {
		b = append(b, payload...)
	}
	binary.LittleEndian.PutUint16(b[ps-2:], uint16(len(b)-ps))
	if h.Authenticated {
		b = wire.AppendIntegrityPad(b, start)
		b = c.integrity.AppendAuthCode(b, b[start:])
	}
	return b
}

// parseV2 decodes a reply, checking integrity and decrypting.
func (c *v2Console) parseV2(reply []byte) (wire.SessionV2Header, []byte) {
	c.t.Helper()
	if len(reply) < 4 || reply[3] != wire.RMCPClassIPMI {
		c.t.Fatalf("reply % x is not an RMCP IPMI packet", reply)
	}
	body := reply[4:]
	h, payload, rest, err := wire.DecodeSessionV2Header(body)
	if err != nil {
		c.t.Fatalf("reply session header: %v", err)
	}
	if h.Authenticated {
		if c.integrity == nil {
			c.t.Fatal("authenticated reply in a session without integrity")
		}
		code, err := wire.CheckIntegrityTrailer(rest, c.integrity.AuthCodeLen())
		if err != nil {
			c.t.Fatalf("reply trailer: %v", err)
		}
		if !c.integrity.Verify(body[:len(body)-len(code)], code) {
			c.t.Fatal("reply auth code does not verify")
		}
	} else if len(rest) != 0 {
		c.t.Fatalf("unauthenticated reply has a %d-byte trailer", len(rest))
	}
	if h.Encrypted {
		if payload, err = c.aes.Decrypt(append([]byte(nil), payload...)); err != nil {
			c.t.Fatalf("decrypt reply: %v", err)
		}
	}
	return h, payload
}

func (c *v2Console) openSession(maxPriv wire.PrivilegeLevel) wire.OpenSessionResponse {
	c.t.Helper()
	req := wire.OpenSessionRequest{Tag: 0x11, MaxPrivilege: maxPriv, ConsoleSessionID: c.consoleID,
		AuthAlgorithm: uint8(c.suite.Auth), IntegrityAlgorithm: uint8(c.suite.Integrity),
		ConfidentialityAlgorithm: uint8(c.suite.Confidentiality)}
	reply := exchange(c.b, c.v2Packet(wire.PayloadOpenSessionReq, req.AppendTo(nil), false))
	if reply == nil {
		c.t.Fatal("no Open Session response")
	}
	h, payload := c.parseV2(reply)
	if h.PayloadType != wire.PayloadOpenSessionResp || h.SessionID != 0 {
		c.t.Fatalf("open session reply header %+v", h)
	}
	var resp wire.OpenSessionResponse
	if err := resp.Unmarshal(payload); err != nil {
		c.t.Fatal(err)
	}
	if resp.Tag != req.Tag || resp.ConsoleSessionID != c.consoleID {
		c.t.Fatalf("open session response %+v does not echo tag/console ID", resp)
	}
	c.bmcID = resp.BMCSessionID
	return resp
}

// rakp1 sends RAKP1 and returns RAKP2; on status OK it checks RAKP2's
// auth code against the console's password and reports whether it matched.
func (c *v2Console) rakp1() (wire.RAKP2, bool) {
	c.t.Helper()
	m := wire.RAKP1{Tag: 0x22, BMCSessionID: c.bmcID, Role: c.role, Username: c.user}
	copy(m.ConsoleRandom[:], "console-random-1")
	reply := exchange(c.b, c.v2Packet(wire.PayloadRAKP1, m.AppendTo(nil), false))
	if reply == nil {
		c.t.Fatal("no RAKP2")
	}
	h, payload := c.parseV2(reply)
	if h.PayloadType != wire.PayloadRAKP2 {
		c.t.Fatalf("reply payload %s, want rakp2", h.PayloadType)
	}
	var r2 wire.RAKP2
	if err := r2.Unmarshal(payload); err != nil {
		c.t.Fatal(err)
	}
	if r2.Status != wire.RAKPStatusOK {
		return r2, false
	}
	if r2.ConsoleSessionID != c.consoleID {
		c.t.Fatalf("RAKP2 console session ID %#x, want %#x", r2.ConsoleSessionID, c.consoleID)
	}
	c.hs = crypto.Handshake{Suite: c.suite, Username: c.user, Password: []byte(c.password), KG: c.kg,
		Role: c.role, ConsoleSessionID: c.consoleID, BMCSessionID: c.bmcID,
		ConsoleRandom: m.ConsoleRandom, BMCRandom: r2.BMCRandom, BMCGUID: r2.BMCGUID}
	return r2, crypto.Equal(r2.AuthCode, c.hs.RAKP2AuthCode())
}

// rakp3 sends RAKP3 with the console's auth code and returns RAKP4; on
// status OK it verifies the ICV and keys the session.
func (c *v2Console) rakp3() wire.RAKP4 {
	c.t.Helper()
	m := wire.RAKP3{Tag: 0x33, BMCSessionID: c.bmcID, AuthCode: c.hs.RAKP3AuthCode()}
	reply := exchange(c.b, c.v2Packet(wire.PayloadRAKP3, m.AppendTo(nil), false))
	if reply == nil {
		c.t.Fatal("no RAKP4")
	}
	h, payload := c.parseV2(reply)
	if h.PayloadType != wire.PayloadRAKP4 {
		c.t.Fatalf("reply payload %s, want rakp4", h.PayloadType)
	}
	var r4 wire.RAKP4
	if err := r4.Unmarshal(payload); err != nil {
		c.t.Fatal(err)
	}
	if r4.Status != wire.RAKPStatusOK {
		return r4
	}
	keys := c.hs.DeriveKeys()
	if !crypto.Equal(r4.IntegrityCheck, c.hs.RAKP4IntegrityCheck(keys.SIK)) {
		c.t.Fatalf("RAKP4 integrity check value % x does not verify", r4.IntegrityCheck)
	}
	var err error
	if c.integrity, err = crypto.NewIntegrity(c.suite.Integrity, keys.K1, []byte(c.password)); err != nil {
		c.t.Fatal(err)
	}
	if c.suite.Confidentiality == crypto.ConfidentialityAESCBC128 {
		if c.aes, err = crypto.NewAESCBC128(keys.K2); err != nil {
			c.t.Fatal(err)
		}
	}
	return r4
}

// login runs the whole handshake and fails the test unless it succeeds.
func (c *v2Console) login(maxPriv wire.PrivilegeLevel) {
	c.t.Helper()
	if resp := c.openSession(maxPriv); resp.Status != wire.RAKPStatusOK {
		c.t.Fatalf("open session: status %s", resp.Status)
	}
	r2, ok := c.rakp1()
	if r2.Status != wire.RAKPStatusOK || !ok {
		c.t.Fatalf("RAKP2 status %s, auth code matches: %v", r2.Status, ok)
	}
	if r4 := c.rakp3(); r4.Status != wire.RAKPStatusOK {
		c.t.Fatalf("RAKP4 status %s", r4.Status)
	}
}

// requestPacket builds an in-session command packet.
func (c *v2Console) requestPacket(netFn wire.NetFn, cmd uint8, data []byte) []byte {
	c.rqSeq = (c.rqSeq + 1) & 0x3F
	m := wire.Message{DestAddr: wire.BMCSlaveAddress, NetFn: netFn, SrcAddr: wire.RemoteConsoleSWID,
		Seq: c.rqSeq, Cmd: cmd, Data: data}
	return c.v2Packet(wire.PayloadIPMI, m.AppendTo(nil), true)
}

// parseResponse checks a reply to requestPacket and returns its
// completion code and data.
func (c *v2Console) parseResponse(reply []byte, netFn wire.NetFn, cmd uint8) (wire.CompletionCode, []byte) {
	c.t.Helper()
	h, payload := c.parseV2(reply)
	if h.PayloadType != wire.PayloadIPMI || h.SessionID != c.consoleID {
		c.t.Fatalf("reply header %+v, want IPMI payload for console session %#x", h, c.consoleID)
	}
	if (c.integrity != nil) != h.Authenticated || (c.aes != nil) != h.Encrypted {
		c.t.Fatalf("reply protection authenticated=%v encrypted=%v does not match the suite", h.Authenticated, h.Encrypted)
	}
	m, err := wire.DecodeMessage(payload)
	if err != nil {
		c.t.Fatalf("reply message: %v", err)
	}
	if m.NetFn != netFn.Response() || m.Cmd != cmd || m.Seq != c.rqSeq || m.DestAddr != wire.RemoteConsoleSWID || m.SrcAddr != wire.BMCSlaveAddress {
		c.t.Fatalf("reply message %+v does not answer netfn %s cmd %#x seq %d", m, netFn, cmd, c.rqSeq)
	}
	if len(m.Data) < 1 {
		c.t.Fatal("reply without completion code")
	}
	return wire.CompletionCode(m.Data[0]), m.Data[1:]
}

// command sends one in-session command and returns the response.
func (c *v2Console) command(netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte) {
	c.t.Helper()
	reply := exchange(c.b, c.requestPacket(netFn, cmd, data))
	if reply == nil {
		c.t.Fatalf("no reply to netfn %s cmd %#x", netFn, cmd)
	}
	return c.parseResponse(reply, netFn, cmd)
}

// sessionlessV2 sends an IPMI message outside any session in RMCP+ form.
func sessionlessV2(t testing.TB, b *BMC, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte) {
	t.Helper()
	c := &v2Console{t: t, b: b}
	m := wire.Message{DestAddr: wire.BMCSlaveAddress, NetFn: netFn, SrcAddr: wire.RemoteConsoleSWID, Seq: 5, Cmd: cmd, Data: data}
	reply := exchange(b, c.v2Packet(wire.PayloadIPMI, m.AppendTo(nil), false))
	if reply == nil {
		t.Fatalf("no sessionless reply to %#x", cmd)
	}
	h, payload := c.parseV2(reply)
	if h.SessionID != 0 || h.Sequence != 0 {
		t.Fatalf("sessionless reply header %+v", h)
	}
	rm, err := wire.DecodeMessage(payload)
	if err != nil || rm.Cmd != cmd || rm.Seq != 5 || len(rm.Data) < 1 {
		t.Fatalf("sessionless reply message %+v: %v", rm, err)
	}
	return wire.CompletionCode(rm.Data[0]), rm.Data[1:]
}

// v15Packet builds an IPMI 1.5 packet signed per authType.
func v15Packet(t testing.TB, authType wire.AuthType, password string, sessionID, seq uint32, m wire.Message) []byte {
	t.Helper()
	msg := m.AppendTo(nil)
	h := wire.Session15Header{AuthType: authType, Sequence: seq, SessionID: sessionID, PayloadLength: uint8(len(msg))}
	var err error
	if h.AuthCode, err = crypto.AuthCode15(authType, []byte(password), sessionID, seq, msg); err != nil {
		t.Fatal(err)
	}
	b := wire.IPMIRMCPHeader.AppendTo(nil)
	return append(h.AppendTo(b), msg...)
}

// parseV15 decodes an IPMI 1.5 reply, verifying its auth code.
func parseV15(t testing.TB, reply []byte, password string) (wire.Session15Header, wire.Message) {
	t.Helper()
	if reply == nil {
		t.Fatal("no IPMI 1.5 reply")
	}
	h, payload, err := wire.DecodeSession15Header(reply[4:])
	if err != nil {
		t.Fatalf("1.5 reply header: %v", err)
	}
	want, err := crypto.AuthCode15(h.AuthType, []byte(password), h.SessionID, h.Sequence, payload)
	if err != nil || want != h.AuthCode {
		t.Fatalf("1.5 reply auth code % x, want % x (%v)", h.AuthCode, want, err)
	}
	m, err := wire.DecodeMessage(payload)
	if err != nil {
		t.Fatalf("1.5 reply message: %v", err)
	}
	return h, m
}
