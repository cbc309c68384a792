package simulator

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestPresencePong(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	ping := wire.NewPresencePing(0x42)
	reply := exchange(b, ping.AppendTo(nil))
	p, err := wire.ParsePacket(reply)
	if err != nil || p.ASF == nil {
		t.Fatalf("reply % x: %v", reply, err)
	}
	pong, err := wire.DecodePresencePong(*p.ASF)
	if err != nil || p.ASF.Tag != 0x42 || !pong.IPMISupport || !pong.ASFVersion1 || pong.IANA != wire.ASFIANA {
		t.Fatalf("pong %+v tag %#x: %v", pong, p.ASF.Tag, err)
	}
	if got := b.Counters().Command(stepPresencePing); got != 1 {
		t.Fatalf("presence_ping counter %d, want 1", got)
	}
}

func TestHandshakeEverySuite(t *testing.T) {
	for _, id := range crypto.SupportedCipherSuiteIDs() {
		t.Run(fmt.Sprintf("suite%d", id), func(t *testing.T) {
			b, _, h := newTestBMC(t, func(c *BMCConfig) { c.KG = []byte("bmc-key-kg") })
			c := newV2Console(t, b, id, "admin", "secret", wire.PrivilegeAdmin)
			c.kg = []byte("bmc-key-kg")
			resp := c.openSession(wire.PrivilegeHighest)
			if resp.Status != wire.RAKPStatusOK || resp.MaxPrivilege != wire.PrivilegeAdmin {
				t.Fatalf("open session %+v", resp)
			}
			if resp.AuthAlgorithm != uint8(c.suite.Auth) || resp.IntegrityAlgorithm != uint8(c.suite.Integrity) ||
				resp.ConfidentialityAlgorithm != uint8(c.suite.Confidentiality) {
				t.Fatalf("open session chose %d/%d/%d for %s", resp.AuthAlgorithm, resp.IntegrityAlgorithm, resp.ConfidentialityAlgorithm, c.suite)
			}
			r2, ok := c.rakp1()
			if r2.Status != wire.RAKPStatusOK || !ok {
				t.Fatalf("RAKP2 %+v matches=%v", r2, ok)
			}
			if r2.BMCGUID != fakeGUID {
				t.Fatalf("RAKP2 GUID % x, want the handler's system GUID", r2.BMCGUID)
			}
			if r4 := c.rakp3(); r4.Status != wire.RAKPStatusOK {
				t.Fatalf("RAKP4 %+v", r4)
			}
			cc, data := c.command(wire.NetFnApp, 0x01, nil)
			if cc != wire.CCOK || !bytes.Equal(data, fakeDeviceID) {
				t.Fatalf("get device id: %s % x", cc, data)
			}
			if call := h.lastCall(); call.priv != wire.PrivilegeUser {
				t.Fatalf("handler saw privilege %s before Set Session Privilege, want user", call.priv)
			}
			if cc, _ := c.command(wire.NetFnChassis, 0x02, []byte{1}); cc != wire.CCInsufficientPrivilege {
				t.Fatalf("chassis control at user level: %s", cc)
			}
			cc, data = c.command(wire.NetFnApp, command.CmdSetSessionPrivilegeLevel, []byte{uint8(wire.PrivilegeAdmin)})
			if cc != wire.CCOK || len(data) != 1 || data[0] != uint8(wire.PrivilegeAdmin) {
				t.Fatalf("set session privilege: %s % x", cc, data)
			}
			if cc, _ := c.command(wire.NetFnChassis, 0x02, []byte{1}); cc != wire.CCOK {
				t.Fatalf("chassis control at admin level: %s", cc)
			}
			if n := b.ActiveSessions(); n != 1 {
				t.Fatalf("active sessions %d, want 1", n)
			}
			close := binary.LittleEndian.AppendUint32(nil, c.bmcID)
			if cc, _ := c.command(wire.NetFnApp, command.CmdCloseSession, close); cc != wire.CCOK {
				t.Fatalf("close session: %s", cc)
			}
			if n := b.ActiveSessions(); n != 0 {
				t.Fatalf("active sessions after close %d, want 0", n)
			}
			if reply := exchange(b, c.requestPacket(wire.NetFnApp, 0x01, nil)); reply != nil {
				t.Fatal("closed session still answers")
			}
			s := b.Counters()
			if s.SessionsOpened != 1 || s.SessionsClosed != 1 || s.HandshakeFailures != 0 || s.SessionsActive != 0 {
				t.Fatalf("counters %s", s)
			}
			if s.Command("open_session") != 1 || s.Command("rakp1") != 1 || s.Command("rakp3") != 1 ||
				s.Command("get_device_id") != 1 || s.Command("chassis_control") != 2 || s.Command("close_session") != 1 {
				t.Fatalf("command counters %v", s.Commands)
			}
			if s.PacketsIn != 9 || s.PacketsDropped != 1 {
				t.Fatalf("packets in %d dropped %d, want 9 and 1", s.PacketsIn, s.PacketsDropped)
			}
		})
	}
}

func TestOpenSessionHonoursEnabledSuites(t *testing.T) {
	b, _, _ := newTestBMC(t, func(c *BMCConfig) { c.CipherSuites = []uint8{3, 17} })
	for id, want := range map[uint8]wire.RAKPStatus{
		3:  wire.RAKPStatusOK,
		17: wire.RAKPStatusOK,
		2:  wire.RAKPStatusInvalidConfidentiality, // SHA1 + HMAC-SHA1-96 offered only with AES
		16: wire.RAKPStatusInvalidConfidentiality,
		7:  wire.RAKPStatusInvalidAuthAlgorithm, // no MD5 suite enabled
		15: wire.RAKPStatusInvalidIntegrityAlgorithm,
	} {
		c := newV2Console(t, b, id, "admin", "secret", wire.PrivilegeAdmin)
		if got := c.openSession(wire.PrivilegeAdmin).Status; got != want {
			t.Errorf("suite %d: status %s, want %s", id, got, want)
		}
	}
	if got := b.Counters().SessionsRejected; got != 4 {
		t.Errorf("sessions rejected %d, want 4", got)
	}
}

func TestRAKP1Lookup(t *testing.T) {
	cases := []struct {
		name     string
		user     string
		role     uint8
		openPriv wire.PrivilegeLevel
		want     wire.RAKPStatus
	}{
		{"unknown user", "nobody", uint8(wire.PrivilegeUser) | wire.RoleNameOnlyLookup, wire.PrivilegeAdmin, wire.RAKPStatusUnauthorizedName},
		{"role above user limit", "viewer", uint8(wire.PrivilegeAdmin) | wire.RoleNameOnlyLookup, wire.PrivilegeAdmin, wire.RAKPStatusUnauthorizedRole},
		{"name+privilege lookup misses", "viewer", uint8(wire.PrivilegeOperator), wire.PrivilegeAdmin, wire.RAKPStatusUnauthorizedName},
		{"name+privilege lookup hits", "viewer", uint8(wire.PrivilegeUser), wire.PrivilegeAdmin, wire.RAKPStatusOK},
		{"role above open session max", "admin", uint8(wire.PrivilegeAdmin) | wire.RoleNameOnlyLookup, wire.PrivilegeOperator, wire.RAKPStatusUnauthorizedRole},
		{"reserved role", "admin", 0 | wire.RoleNameOnlyLookup, wire.PrivilegeAdmin, wire.RAKPStatusInvalidRole},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _, _ := newTestBMC(t, nil)
			c := newV2Console(t, b, 3, tc.user, "look", 0)
			c.role = tc.role
			c.openSession(tc.openPriv)
			r2, _ := c.rakp1()
			if r2.Status != tc.want {
				t.Fatalf("RAKP2 status %s, want %s", r2.Status, tc.want)
			}
			if tc.want != wire.RAKPStatusOK {
				if got := b.Counters().HandshakeFailures; got != 1 {
					t.Fatalf("handshake failures %d, want 1", got)
				}
				if n := b.ActiveSessions(); n != 0 {
					t.Fatalf("a failed RAKP1 left %d sessions occupying slots", n)
				}
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	c := newV2Console(t, b, 17, "admin", "not-the-password", wire.PrivilegeAdmin)
	c.openSession(wire.PrivilegeAdmin)
	r2, ok := c.rakp1()
	if r2.Status != wire.RAKPStatusOK {
		t.Fatalf("RAKP2 status %s: the BMC cannot know the console's password is wrong", r2.Status)
	}
	if ok {
		t.Fatal("RAKP2 auth code verified with the wrong password")
	}
	// A console that presses on anyway is refused at RAKP3.
	if r4 := c.rakp3(); r4.Status != wire.RAKPStatusInvalidIntegrityCheck {
		t.Fatalf("RAKP4 status %s, want invalid integrity check", r4.Status)
	}
	if s := b.Counters(); s.HandshakeFailures != 1 || s.SessionsOpened != 0 || s.SessionsActive != 0 {
		t.Fatalf("counters %s", s)
	}
}

func TestRAKP3ErrorStatusEndsSession(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	c := newV2Console(t, b, 3, "admin", "wrong", wire.PrivilegeAdmin)
	c.openSession(wire.PrivilegeAdmin)
	c.rakp1()
	m := wire.RAKP3{Tag: 1, Status: wire.RAKPStatusInvalidIntegrityCheck, BMCSessionID: c.bmcID}
	if reply := exchange(b, c.v2Packet(wire.PayloadRAKP3, m.AppendTo(nil), false)); reply != nil {
		t.Fatalf("BMC answered a console's error RAKP3: % x", reply)
	}
	if n := b.ActiveSessions(); n != 0 {
		t.Fatalf("%d sessions left after the console aborted", n)
	}
}

func TestSessionTableFull(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	var consoles []*v2Console
	for i := range DefaultMaxSessions {
		c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
		c.consoleID += uint32(i) << 8
		c.login(wire.PrivilegeAdmin)
		consoles = append(consoles, c)
	}
	extra := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
	extra.consoleID = 0xFEED
	if got := extra.openSession(wire.PrivilegeAdmin).Status; got != wire.RAKPStatusInsufficientResources {
		t.Fatalf("open session beyond the table: %s, want insufficient resources", got)
	}
	// Get Session Info sees the table from the inside.
	cc, data := consoles[0].command(wire.NetFnApp, command.CmdGetSessionInfo, []byte{0})
	var info command.GetSessionInfoResponse
	if err := info.Unmarshal(data); cc != wire.CCOK || err != nil {
		t.Fatalf("get session info: %s %v", cc, err)
	}
	if info.MaxSessions != DefaultMaxSessions || info.ActiveSessions != DefaultMaxSessions || info.UserID != 2 ||
		info.ProtocolAux != 1 || info.Channel != DefaultLANChannel {
		t.Fatalf("session info %+v", info)
	}
	ip, _, port, ok := info.LANSession()
	if !ok || ip != [4]byte{127, 0, 0, 1} || port != testConsoleAddr.Port() {
		t.Fatalf("session info LAN data %v %d %v", ip, port, ok)
	}
	close := binary.LittleEndian.AppendUint32(nil, consoles[1].bmcID)
	if cc, _ := consoles[1].command(wire.NetFnApp, command.CmdCloseSession, close); cc != wire.CCOK {
		t.Fatalf("close: %s", cc)
	}
	extra.login(wire.PrivilegeAdmin)
	if s := b.Counters(); s.SessionsRejected != 1 || s.SessionsActive != DefaultMaxSessions {
		t.Fatalf("counters %s", s)
	}
}

func TestSessionTimeout(t *testing.T) {
	b, clock, _ := newTestBMC(t, func(c *BMCConfig) { c.SessionTimeout = 30 * time.Second })
	c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
	clock.Advance(29 * time.Second)
	if cc, _ := c.command(wire.NetFnApp, 0x01, nil); cc != wire.CCOK {
		t.Fatalf("command before timeout: %s", cc)
	}
	clock.Advance(29 * time.Second) // activity restarted the timer
	if cc, _ := c.command(wire.NetFnApp, 0x01, nil); cc != wire.CCOK {
		t.Fatalf("command within timeout of last activity: %s", cc)
	}
	clock.Advance(30 * time.Second)
	if reply := exchange(b, c.requestPacket(wire.NetFnApp, 0x01, nil)); reply != nil {
		t.Fatal("expired session still answers")
	}
	if s := b.Counters(); s.SessionsExpired != 1 || s.SessionsActive != 0 {
		t.Fatalf("counters %s", s)
	}
}

func TestTamperedPacketsDropped(t *testing.T) {
	for _, id := range []uint8{2, 3, 7, 11, 16, 17} {
		t.Run(fmt.Sprintf("suite%d", id), func(t *testing.T) {
			b, _, _ := newTestBMC(t, nil)
			c := newV2Console(t, b, id, "admin", "secret", wire.PrivilegeAdmin)
			c.login(wire.PrivilegeAdmin)
			pkt := c.requestPacket(wire.NetFnApp, 0x01, nil)
			for _, off := range []int{5, 9, 16, 20, len(pkt) - 1} {
				bad := append([]byte(nil), pkt...)
				bad[off] ^= 0x01
				if reply := exchange(b, bad); reply != nil {
					t.Fatalf("byte %d flipped: the BMC answered", off)
				}
			}
			if reply := exchange(b, pkt); reply == nil {
				t.Fatal("the untampered packet was not answered")
			}
			if got := b.Counters().PacketsDropped; got != 5 {
				t.Fatalf("dropped %d, want 5", got)
			}
		})
	}
}

func TestUnprotectedPacketInProtectedSessionDropped(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
	integrity, aes := c.integrity, c.aes
	c.integrity, c.aes = nil, nil
	if reply := exchange(b, c.requestPacket(wire.NetFnApp, 0x01, nil)); reply != nil {
		t.Fatal("unauthenticated packet answered in an authenticated session")
	}
	c.integrity = integrity
	if reply := exchange(b, c.requestPacket(wire.NetFnApp, 0x01, nil)); reply != nil {
		t.Fatal("unencrypted packet answered in an encrypted session")
	}
	c.aes = aes
	if cc, _ := c.command(wire.NetFnApp, 0x01, nil); cc != wire.CCOK {
		t.Fatalf("proper packet: %s", cc)
	}
}

func TestReplayedSequenceDropped(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
	first := c.requestPacket(wire.NetFnApp, 0x01, nil)
	if exchange(b, first) == nil {
		t.Fatal("first packet not answered")
	}
	if exchange(b, first) != nil {
		t.Fatal("replayed packet answered")
	}
	// Out of order but within the window and unseen: accepted.
	c.seq += 3
	later := c.requestPacket(wire.NetFnApp, 0x01, nil)
	c.seq -= 2
	earlier := c.requestPacket(wire.NetFnApp, 0x01, nil)
	if exchange(b, later) == nil || exchange(b, earlier) == nil {
		t.Fatal("in-window packets not answered")
	}
	if exchange(b, earlier) != nil {
		t.Fatal("replayed in-window packet answered")
	}
	c.seq += 100
	if exchange(b, c.requestPacket(wire.NetFnApp, 0x01, nil)) != nil {
		t.Fatal("packet far ahead of the window answered")
	}
}

func TestSeqWindow(t *testing.T) {
	var w seqWindow
	steps := []struct {
		seq  uint32
		want bool
	}{
		{0, false}, {10, true}, {10, false}, {11, true}, {9, true}, {9, false}, {27, true}, {28, true},
		{11, false}, {13, true}, {12, false}, {14, true}, {45, false}, {44, true}, {0xFFFFFFF0, false},
	}
	for i, s := range steps {
		if got := w.accept(s.seq); got != s.want {
			t.Fatalf("step %d: accept(%d) = %v, want %v", i, s.seq, got, s.want)
		}
	}
	var wrap seqWindow
	wrap.start(0xFFFFFFFE)
	for _, seq := range []uint32{0xFFFFFFFE, 0xFFFFFFFF, 1, 2} {
		if !wrap.accept(seq) {
			t.Fatalf("wrap: %#x refused", seq)
		}
	}
}

func TestSetSessionPrivilegeLimits(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	c := newV2Console(t, b, 3, "longpass", "01234567890123456789", wire.PrivilegeOperator)
	c.login(wire.PrivilegeOperator)
	if cc, _ := c.command(wire.NetFnApp, command.CmdSetSessionPrivilegeLevel, []byte{uint8(wire.PrivilegeAdmin)}); cc != ccPrivilegeAboveLimit {
		t.Fatalf("raise above the negotiated limit: %s", cc)
	}
	cc, data := c.command(wire.NetFnApp, command.CmdSetSessionPrivilegeLevel, []byte{0})
	if cc != wire.CCOK || data[0] != uint8(wire.PrivilegeUser) {
		t.Fatalf("query level: %s % x", cc, data)
	}
	cc, data = c.command(wire.NetFnApp, command.CmdSetSessionPrivilegeLevel, []byte{uint8(wire.PrivilegeOperator)})
	if cc != wire.CCOK || data[0] != uint8(wire.PrivilegeOperator) {
		t.Fatalf("raise to operator: %s % x", cc, data)
	}
}

func TestGetChannelAuthCapabilities(t *testing.T) {
	b, _, _ := newTestBMC(t, func(c *BMCConfig) {
		c.KG = []byte{1}
		c.Users = append(c.Users, User{Name: "", Password: ""})
	})
	// IPMI 1.5 form, outside a session, in an IPMI 1.5 packet.
	m := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Cmd: 0x38, Data: []byte{0x0E, 0x04}}
	_, rm := parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeNone, "", 0, 0, m)), "")
	var resp command.GetChannelAuthCapabilitiesResponse
	if err := resp.Unmarshal(rm.Data[1:]); rm.Data[0] != 0 || err != nil {
		t.Fatalf("cc %#x: %v", rm.Data[0], err)
	}
	want := command.GetChannelAuthCapabilitiesResponse{Channel: 1, AuthTypes: 1<<0 | 1<<2 | 1<<4, KGNonZero: true,
		NonNullUserNames: true, AnonymousLogin: true}
	if resp != want {
		t.Fatalf("1.5 form: %+v, want %+v", resp, want)
	}
	// IPMI 2.0 form, in an RMCP+ packet.
	cc, data := sessionlessV2(t, b, wire.NetFnApp, 0x38, []byte{0x8E, 0x04})
	if err := resp.Unmarshal(data); cc != wire.CCOK || err != nil {
		t.Fatalf("2.0 form: %s %v", cc, err)
	}
	want.ExtendedCapabilities, want.SupportsIPMIv15, want.SupportsIPMIv20 = true, true, true
	if resp != want {
		t.Fatalf("2.0 form: %+v, want %+v", resp, want)
	}
	if cc, _ := sessionlessV2(t, b, wire.NetFnApp, 0x38, []byte{0x05, 0x04}); cc != wire.CCInvalidDataField {
		t.Fatalf("other channel: %s", cc)
	}
	// Anything else outside a session is ignored.
	c := &v2Console{t: t, b: b}
	dev := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Cmd: 0x01}
	if exchange(b, c.v2Packet(wire.PayloadIPMI, dev.AppendTo(nil), false)) != nil {
		t.Fatal("Get Device ID answered outside a session")
	}
}

func TestGetChannelCipherSuites(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	var all []byte
	for index := uint8(0); ; index++ {
		cc, data := sessionlessV2(t, b, wire.NetFnApp, 0x54, []byte{0x0E, 0x00, 0x80 | index})
		if cc != wire.CCOK || data[0] != 1 {
			t.Fatalf("index %d: %s % x", index, cc, data)
		}
		if len(data)-1 > 16 {
			t.Fatalf("index %d: %d record bytes, at most 16 per page", index, len(data)-1)
		}
		all = append(all, data[1:]...)
		if len(data)-1 < 16 {
			break
		}
	}
	recs, err := command.ParseCipherSuiteRecords(all)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint8
	for _, r := range recs {
		cs, _ := crypto.LookupCipherSuite(r.ID)
		if r.AuthAlg != uint8(cs.Auth) || r.IntegrityAlgs[0] != uint8(cs.Integrity) || r.ConfidentialityAlgs[0] != uint8(cs.Confidentiality) {
			t.Fatalf("record %+v does not describe %s", r, cs)
		}
		ids = append(ids, r.ID)
	}
	if !bytes.Equal(ids, crypto.SupportedCipherSuiteIDs()) {
		t.Fatalf("suites %v, want %v", ids, crypto.SupportedCipherSuiteIDs())
	}
	cc, data := sessionlessV2(t, b, wire.NetFnApp, 0x54, []byte{0x0E, 0x00, 0x00})
	algs, err := command.ParseSupportedAlgorithms(data[1:])
	if cc != wire.CCOK || err != nil || len(algs.Auth) != 4 || len(algs.Integrity) != 5 || len(algs.Confidentiality) != 2 {
		t.Fatalf("algorithm list %+v: %s %v", algs, cc, err)
	}
}

func checkBridgedResponse(t *testing.T, raw []byte) {
	t.Helper()
	var inner command.IPMBResponse
	if err := inner.Unmarshal(raw); err != nil {
		t.Fatalf("bridged response % x: %v", raw, err)
	}
	if inner.RqAddr != wire.RemoteConsoleSWID || inner.RsAddr != 0x2C || inner.RqSeq != 0x17 || inner.Cmd != 0x01 ||
		inner.NetFn != wire.NetFnApp.Response() || inner.Code != wire.CCOK || inner.Data[0] != 0x2C {
		t.Fatalf("bridged response %+v", inner)
	}
}

func TestSendMessageBridging(t *testing.T) {
	b, _, h := newTestBMC(t, nil)
	c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
	target := wire.Target{Channel: 6, Addr: 0x2C}
	req := command.AppendBridgedRequest(nil, target, 0x17, wire.NetFnApp, 0x01, nil)

	// By default: a Send Message response without data, then the
	// target's response as a message of its own in the same session.
	reply, followUp := exchange2(b, c.requestPacket(wire.NetFnApp, command.CmdSendMessage, req))
	if cc, data := c.parseResponse(reply, wire.NetFnApp, command.CmdSendMessage); cc != wire.CCOK || len(data) != 0 {
		t.Fatalf("send message: %s % x", cc, data)
	}
	if call := h.lastCall(); call.target != target || call.netFn != wire.NetFnApp || call.cmd != 0x01 {
		t.Fatalf("handler call %+v, want get device id at %+v", call, target)
	}
	if followUp == nil {
		t.Fatal("no separate bridged response")
	}
	h2, payload := c.parseV2(followUp)
	if h2.SessionID != c.consoleID || h2.Sequence <= binary.LittleEndian.Uint32(reply[10:]) {
		t.Fatalf("bridged response header %+v", h2)
	}
	checkBridgedResponse(t, payload)

	// With the quirk, one packet: the response embedded.
	b.SetFaults(Faults{BridgeEmbedded: true})
	reply, followUp = exchange2(b, c.requestPacket(wire.NetFnApp, command.CmdSendMessage, req))
	cc, data := c.parseResponse(reply, wire.NetFnApp, command.CmdSendMessage)
	if cc != wire.CCOK || followUp != nil {
		t.Fatalf("send message: %s, follow-up % x", cc, followUp)
	}
	// ipmitool tells an embedded response by a payload longer than 8
	// bytes (7-byte header, completion code, checksum).
	resp := command.SendMessageResponse{Data: data}
	var inner command.IPMBResponse
	if ok, err := resp.BridgedResponse(&inner); !ok || err != nil || len(data) == 0 {
		t.Fatalf("embedded response: %v %v", ok, err)
	}
	checkBridgedResponse(t, data)
	if s := b.Counters(); s.Command("send_message") != 2 || s.Command("get_device_id") != 2 {
		t.Fatalf("command counters %v", s.Commands)
	}
	if cc, _ := c.command(wire.NetFnApp, command.CmdSendMessage, []byte{0x46, 0x2C, 0x18, 0x00}); cc != wire.CCInvalidDataField {
		t.Fatalf("corrupt embedded request: %s", cc)
	}
}

func TestIPMI15Sessions(t *testing.T) {
	for _, at := range []wire.AuthType{wire.AuthTypeNone, wire.AuthTypeStraight, wire.AuthTypeMD5} {
		t.Run(at.String(), func(t *testing.T) {
			b, _, h := newTestBMC(t, nil)
			const user, password = "admin", "secret"
			msg := func(seq uint8, cmd uint8, data []byte) wire.Message {
				return wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Seq: seq, Cmd: cmd, Data: data}
			}
			var chReq command.GetSessionChallengeRequest
			chReq.AuthType = at
			chReq.SetUserName(user)
			_, rm := parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeNone, "", 0, 0, msg(1, 0x39, chReq.AppendTo(nil)))), "")
			var ch command.GetSessionChallengeResponse
			if err := ch.Unmarshal(rm.Data[1:]); rm.Data[0] != 0 || err != nil {
				t.Fatalf("challenge: cc %#x %v", rm.Data[0], err)
			}
			act := command.ActivateSessionRequest{AuthType: at, MaxPrivilege: wire.PrivilegeAdmin, Challenge: ch.Challenge, InitialOutboundSeq: 0x100}
			// A wrong password on Activate Session is dropped.
			if at != wire.AuthTypeNone {
				if exchange(b, v15Packet(t, at, "wrong", ch.TemporarySessionID, 0, msg(2, 0x3A, act.AppendTo(nil)))) != nil {
					t.Fatal("activate session with the wrong password answered")
				}
				_, rm = parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeNone, "", 0, 0, msg(1, 0x39, chReq.AppendTo(nil)))), "")
				ch.Unmarshal(rm.Data[1:])
				act.Challenge = ch.Challenge
			}
			hdr, rm := parseV15(t, exchange(b, v15Packet(t, at, password, ch.TemporarySessionID, 0, msg(2, 0x3A, act.AppendTo(nil)))), password)
			var as command.ActivateSessionResponse
			if err := as.Unmarshal(rm.Data[1:]); rm.Data[0] != 0 || err != nil {
				t.Fatalf("activate: cc %#x %v", rm.Data[0], err)
			}
			if hdr.SessionID != ch.TemporarySessionID || hdr.Sequence != 0x100 || as.AuthType != at || as.MaxPrivilege != wire.PrivilegeAdmin || as.SessionID == 0 {
				t.Fatalf("activate response %+v header %+v", as, hdr)
			}
			seq := as.InitialInboundSeq
			call := func(cmd uint8, data []byte, netFn wire.NetFn) (wire.CompletionCode, []byte, uint32) {
				t.Helper()
				m := msg(3, cmd, data)
				m.NetFn = netFn
				hdr, rm := parseV15(t, exchange(b, v15Packet(t, at, password, as.SessionID, seq, m)), password)
				seq++
				if hdr.SessionID != as.SessionID || hdr.AuthType != at || rm.Cmd != cmd {
					t.Fatalf("reply header %+v message %+v", hdr, rm)
				}
				return wire.CompletionCode(rm.Data[0]), rm.Data[1:], hdr.Sequence
			}
			if cc, data, outSeq := call(0x01, nil, wire.NetFnApp); cc != 0 || !bytes.Equal(data, fakeDeviceID) || outSeq != 0x101 {
				t.Fatalf("get device id: %s % x, BMC sequence %#x (want the one after the console's initial 0x100)", cc, data, outSeq)
			}
			if cc, _, _ := call(0x3B, []byte{4}, wire.NetFnApp); cc != 0 {
				t.Fatalf("set privilege: %s", cc)
			}
			if cc, _, _ := call(0x02, []byte{1}, wire.NetFnChassis); cc != 0 {
				t.Fatalf("chassis control: %s", cc)
			}
			if got := h.lastCall().priv; got != wire.PrivilegeAdmin {
				t.Fatalf("handler privilege %s", got)
			}
			// Replay of an old sequence number is dropped.
			if exchange(b, v15Packet(t, at, password, as.SessionID, seq-1, msg(9, 0x01, nil))) != nil {
				t.Fatal("replayed 1.5 packet answered")
			}
			if at != wire.AuthTypeNone {
				if exchange(b, v15Packet(t, at, "wrong", as.SessionID, seq, msg(9, 0x01, nil))) != nil {
					t.Fatal("1.5 packet with a bad auth code answered")
				}
			}
			if cc, _, _ := call(0x3C, binary.LittleEndian.AppendUint32(nil, as.SessionID), wire.NetFnApp); cc != 0 {
				t.Fatalf("close: %s", cc)
			}
			if s := b.Counters(); s.SessionsOpened != 1 || s.SessionsClosed != 1 || s.SessionsActive != 0 {
				t.Fatalf("counters %s", s)
			}
		})
	}
}

func TestIPMI15Refusals(t *testing.T) {
	b, _, _ := newTestBMC(t, func(c *BMCConfig) { c.AuthTypes15 = []wire.AuthType{wire.AuthTypeMD5} })
	ask := func(at wire.AuthType, user string) wire.CompletionCode {
		var req command.GetSessionChallengeRequest
		req.AuthType = at
		req.SetUserName(user)
		m := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Cmd: 0x39, Data: req.AppendTo(nil)}
		_, rm := parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeNone, "", 0, 0, m)), "")
		return wire.CompletionCode(rm.Data[0])
	}
	if cc := ask(wire.AuthTypeStraight, "admin"); cc != wire.CCInvalidDataField {
		t.Errorf("disabled auth type: %s", cc)
	}
	if cc := ask(wire.AuthTypeMD5, "nobody"); cc != ccInvalidUserName {
		t.Errorf("unknown user: %s", cc)
	}
	if cc := ask(wire.AuthTypeMD5, ""); cc != ccNullUserNameNotEnabled {
		t.Errorf("null user: %s", cc)
	}
	if cc := ask(wire.AuthTypeMD5, "longpass"); cc != ccInvalidUserName {
		t.Errorf("user with a 20-byte password (too long for IPMI 1.5): %s", cc)
	}
}

// TestAltBridgingRefusesSelf: under altbridging a Send Message bridged to
// the BMC's own address is refused with 0xD3; to a satellite it works.
func TestAltBridgingRefusesSelf(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	if err := b.SetFaults(Faults{AltBridging: true}); err != nil {
		t.Fatal(err)
	}
	c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
	self := command.AppendBridgedRequest(nil, wire.Target{Addr: wire.BMCSlaveAddress, LUN: 1}, 0x18, wire.NetFnSensorEvent, 0x2D, []byte{1})
	reply, _ := exchange2(b, c.requestPacket(wire.NetFnApp, command.CmdSendMessage, self))
	if cc, _ := c.parseResponse(reply, wire.NetFnApp, command.CmdSendMessage); cc != wire.CCDestinationUnavailable {
		t.Fatalf("send message to itself: %s, want 0xd3", cc)
	}
	other := command.AppendBridgedRequest(nil, wire.Target{Channel: 6, Addr: 0x2C}, 0x19, wire.NetFnApp, 0x01, nil)
	reply, _ = exchange2(b, c.requestPacket(wire.NetFnApp, command.CmdSendMessage, other))
	if cc, _ := c.parseResponse(reply, wire.NetFnApp, command.CmdSendMessage); cc != wire.CCOK {
		t.Fatalf("send message to a satellite: %s", cc)
	}
}
