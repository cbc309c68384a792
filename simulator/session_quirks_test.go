package simulator

import (
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// The session quirks of the catalogue, each checked on the bytes the BMC
// sends (the exporter's side is in interop/session_quirks_test.go).

func TestQuirkOpenSessPriv(t *testing.T) {
	for _, quirk := range []bool{false, true} {
		b, _, _ := newTestBMC(t, nil)
		b.SetFaults(Faults{OpenSessPriv: quirk})
		c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
		resp := c.openSession(wire.PrivilegeHighest)
		want := wire.PrivilegeAdmin
		if quirk {
			want = wire.PrivilegeHighest // echoed, as ipmi_sim does
		}
		if resp.MaxPrivilege != want {
			t.Errorf("quirk %v: Open Session grants %v, want %v", quirk, resp.MaxPrivilege, want)
		}
	}
}

func TestQuirkAuthCap(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	b.SetFaults(Faults{AuthCap: true})
	cc, data := sessionlessV2(t, b, wire.NetFnApp, 0x38, []byte{0x8E, 0x04})
	var resp command.GetChannelAuthCapabilitiesResponse
	if err := resp.Unmarshal(data); cc != wire.CCOK || err != nil {
		t.Fatalf("%s %v", cc, err)
	}
	if resp.AuthTypes != 0 || resp.NonNullUserNames || resp.NullUserNames || resp.AnonymousLogin || !resp.SupportsIPMIv20 {
		t.Fatalf("authcap reply %+v", resp)
	}
	b.SetFaults(Faults{AuthCapShort: true})
	if _, data := sessionlessV2(t, b, wire.NetFnApp, 0x38, []byte{0x8E, 0x04}); len(data) != 7 {
		t.Fatalf("authcap_short: %d data bytes, want 7", len(data))
	}
}

func TestQuirkIntegrityCheckValue(t *testing.T) {
	for _, quirk := range []bool{false, true} {
		b, _, _ := newTestBMC(t, func(c *BMCConfig) { c.CipherSuites = []uint8{0} })
		b.SetFaults(Faults{IntegrityCheckValue: quirk})
		c := newV2Console(t, b, 0, "admin", "secret", wire.PrivilegeAdmin)
		c.openSession(wire.PrivilegeAdmin)
		if _, ok := c.rakp1(); !ok {
			t.Fatal("RAKP1 refused")
		}
		m := wire.RAKP3{Tag: 0x33, BMCSessionID: c.bmcID, AuthCode: c.hs.RAKP3AuthCode()}
		_, payload := c.parseV2(exchange(b, c.v2Packet(wire.PayloadRAKP3, m.AppendTo(nil), false)))
		var r4 wire.RAKP4
		if err := r4.Unmarshal(payload); err != nil || r4.Status != wire.RAKPStatusOK {
			t.Fatalf("RAKP4 %+v %v", r4, err)
		}
		if want := map[bool]int{false: 0, true: 12}[quirk]; len(r4.IntegrityCheck) != want {
			t.Errorf("quirk %v: suite 0 RAKP4 integrity check value of %d bytes, want %d", quirk, len(r4.IntegrityCheck), want)
		}
	}
}

func TestQuirkNoChecksumCheck(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	b.SetFaults(Faults{NoChecksumCheck: true})
	m := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Cmd: 0x38, Data: []byte{0x0E, 0x04}}
	reply := exchange(b, v15Packet(t, wire.AuthTypeNone, "", 0, 0, m))
	_, payload, err := wire.DecodeSession15Header(reply[4:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wire.DecodeMessage(payload); err == nil {
		t.Fatal("reply checksums verify under nochecksumcheck")
	}
}

// v15Login runs Get Session Challenge and Activate Session (MD5) and
// returns the reply header and response of Activate Session.
func v15Login(t *testing.T, b *BMC) (wire.Session15Header, command.ActivateSessionResponse, uint32) {
	t.Helper()
	const user, password = "admin", "secret"
	msg := func(seq, cmd uint8, data []byte) wire.Message {
		return wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Seq: seq, Cmd: cmd, Data: data}
	}
	var chReq command.GetSessionChallengeRequest
	chReq.AuthType = wire.AuthTypeMD5
	chReq.SetUserName(user)
	_, rm := parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeNone, "", 0, 0, msg(1, 0x39, chReq.AppendTo(nil)))), "")
	var ch command.GetSessionChallengeResponse
	if err := ch.Unmarshal(rm.Data[1:]); rm.Data[0] != 0 || err != nil {
		t.Fatalf("challenge: cc %#x %v", rm.Data[0], err)
	}
	act := command.ActivateSessionRequest{AuthType: wire.AuthTypeMD5, MaxPrivilege: wire.PrivilegeAdmin, Challenge: ch.Challenge, InitialOutboundSeq: 0x100}
	hdr, rm := parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeMD5, password, ch.TemporarySessionID, 0, msg(2, 0x3A, act.AppendTo(nil)))), password)
	var as command.ActivateSessionResponse
	if err := as.Unmarshal(rm.Data[1:]); rm.Data[0] != 0 || err != nil {
		t.Fatalf("activate: cc %#x %v", rm.Data[0], err)
	}
	return hdr, as, ch.TemporarySessionID
}

func TestQuirksIPMI15(t *testing.T) {
	md5 := func(c *BMCConfig) { c.AuthTypes15 = []wire.AuthType{wire.AuthTypeMD5} }
	dev := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Seq: 3, Cmd: 0x01}
	raw := func(t *testing.T, reply []byte) (wire.Session15Header, []byte) {
		t.Helper()
		if reply == nil {
			t.Fatal("no reply")
		}
		h, payload, err := wire.DecodeSession15Header(reply[4:])
		if err != nil {
			t.Fatal(err)
		}
		return h, payload
	}

	t.Run("activate_new_id", func(t *testing.T) {
		b, _, _ := newTestBMC(t, md5)
		b.SetFaults(Faults{ActivateNewID: true})
		hdr, as, temp := v15Login(t, b)
		if hdr.SessionID != as.SessionID || hdr.SessionID == temp {
			t.Fatalf("Activate Session reply under session ID %#x; temporary %#x, new %#x", hdr.SessionID, temp, as.SessionID)
		}
	})
	t.Run("endianseq", func(t *testing.T) {
		b, _, _ := newTestBMC(t, md5)
		b.SetFaults(Faults{EndianSeq: true})
		_, as, _ := v15Login(t, b)
		h, _ := parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeMD5, "secret", as.SessionID, as.InitialInboundSeq, dev)), "secret")
		if h.Sequence != bits.ReverseBytes32(0x101) {
			t.Fatalf("sequence %#x, want 0x101 byte-swapped", h.Sequence)
		}
	})
	t.Run("noauthcodecheck", func(t *testing.T) {
		b, _, _ := newTestBMC(t, md5)
		b.SetFaults(Faults{NoAuthCodeCheck: true})
		_, as, _ := v15Login(t, b)
		h, payload := raw(t, exchange(b, v15Packet(t, wire.AuthTypeMD5, "secret", as.SessionID, as.InitialInboundSeq, dev)))
		want, _ := crypto.AuthCode15(wire.AuthTypeMD5, []byte("secret"), h.SessionID, h.Sequence, payload)
		if want == h.AuthCode {
			t.Fatal("reply auth code is right under noauthcodecheck")
		}
	})
	for _, tc := range []struct {
		name           string
		f              Faults
		unsignedAnswer bool
	}{{"unexpectedauth", Faults{UnexpectedAuth: true}, true}, {"forcepermsg", Faults{ForcePerMsg: true}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, _ := newTestBMC(t, md5)
			b.SetFaults(tc.f)
			cc, data := sessionlessV2(t, b, wire.NetFnApp, 0x38, []byte{0x8E, 0x04})
			var caps command.GetChannelAuthCapabilitiesResponse
			if err := caps.Unmarshal(data); cc != wire.CCOK || err != nil || !caps.PerMessageAuthDisabled {
				t.Fatalf("caps %+v %s %v: want per-message authentication disabled", caps, cc, err)
			}
			_, as, _ := v15Login(t, b)
			reply := exchange(b, v15Packet(t, wire.AuthTypeNone, "", as.SessionID, as.InitialInboundSeq, dev))
			if !tc.unsignedAnswer {
				if reply != nil {
					t.Fatal("unsigned in-session packet answered")
				}
				return
			}
			// Answered, and signed all the same.
			h, _ := parseV15(t, reply, "secret")
			if h.AuthType != wire.AuthTypeMD5 {
				t.Fatalf("reply auth type %v, want MD5", h.AuthType)
			}
		})
	}
}

// intel20 and opensesspriv_keys change what the RAKP hashes cover: a
// console computing by the spec fails RAKP2's check; one computing as the
// quirky BMC does passes it.
func TestQuirkRAKPHashing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     Faults
		adapt func(c *v2Console)
	}{
		{"intel20", Faults{Intel20: true}, func(c *v2Console) { c.hs.Username = "admin" + string(make([]byte, 11)) }},
		{"opensesspriv_keys", Faults{OpenSessPrivKeys: true}, func(c *v2Console) { c.hs.Role = uint8(wire.PrivilegeAdmin) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, _ := newTestBMC(t, nil)
			b.SetFaults(tc.f)
			c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
			c.openSession(wire.PrivilegeAdmin)
			r2, ok := c.rakp1()
			if ok || r2.Status != wire.RAKPStatusOK {
				t.Fatalf("RAKP2 status %v, verifies by the spec: %v", r2.Status, ok)
			}
			tc.adapt(c)
			if !crypto.Equal(r2.AuthCode, c.hs.RAKP2AuthCode()) {
				t.Fatal("RAKP2 does not verify the quirky way either")
			}
			if r4 := c.rakp3(); r4.Status != wire.RAKPStatusOK {
				t.Fatalf("RAKP4 status %v", r4.Status)
			}
		})
	}
}

func TestQuirkSupermicro20(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	b.SetFaults(Faults{Supermicro20: true})
	c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
	c.openSession(wire.PrivilegeAdmin)
	m := wire.RAKP1{Tag: 0x22, BMCSessionID: c.bmcID, Role: c.role, Username: c.user}
	reply := exchange(b, c.v2Packet(wire.PayloadRAKP1, m.AppendTo(nil), false))
	const at = wire.RMCPHeaderSize + 10
	if declared, sent := int(binary.LittleEndian.Uint16(reply[at:])), len(reply)-at-2; declared != sent+1 {
		t.Fatalf("RAKP2 payload length %d for %d bytes sent, want one more", declared, sent)
	}
}

func TestQuirkIDZero(t *testing.T) {
	b, _, _ := newTestBMC(t, func(c *BMCConfig) { c.AuthTypes15 = []wire.AuthType{wire.AuthTypeMD5} })
	b.SetFaults(Faults{IDZero: true})
	_, as, _ := v15Login(t, b)
	dev := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Seq: 3, Cmd: 0x01}
	h, _ := parseV15(t, exchange(b, v15Packet(t, wire.AuthTypeMD5, "secret", as.SessionID, as.InitialInboundSeq, dev)), "secret")
	if h.SessionID != 0 {
		t.Fatalf("in-session reply under session ID %#x, want 0", h.SessionID)
	}
}
