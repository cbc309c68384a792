package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPresencePing(t *testing.T) {
	ping := NewPresencePing(0)
	got := ping.AppendTo(nil)
	want := unhex(t, "060 0ff06 000011be 80 00 00 00")
	if !bytes.Equal(got, want) {
		t.Fatalf("ping = % x, want % x", got, want)
	}
	pong := NewPresencePong(7)
	p, err := ParsePacket(pong.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	pp, err := DecodePresencePong(*p.ASF)
	if err != nil {
		t.Fatal(err)
	}
	if !pp.IPMISupport || p.ASF.Tag != 7 || pp.IANA != ASFIANA {
		t.Fatalf("pong = %+v", pp)
	}
	if _, err := DecodePresencePong(ping); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ping as pong: %v", err)
	}
}

// The Get Channel Authentication Capabilities request every IPMI 1.5 client
// sends first (channel 0x0E, v2.0 data bit, administrator).
const getChanAuthCapsV15 = "0600ff07 00 00000000 00000000 09 20 18 c8 81 00 38 8e 04 b5"

func TestSession15Request(t *testing.T) {
	msg := Message{DestAddr: BMCSlaveAddress, NetFn: NetFnApp, SrcAddr: RemoteConsoleSWID, Cmd: 0x38, Data: []byte{0x8e, 0x04}}
	payload := msg.AppendTo(nil)
	h := Session15Header{AuthType: AuthTypeNone, PayloadLength: uint8(len(payload))}
	b := IPMIRMCPHeader.AppendTo(nil)
	b = h.AppendTo(b)
	b = append(b, payload...)
	if want := unhex(t, getChanAuthCapsV15); !bytes.Equal(b, want) {
		t.Fatalf("encoded\n% x\nwant\n% x", b, want)
	}
	p, err := ParsePacket(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.V15 == nil || p.V15.AuthType != AuthTypeNone || p.V15.PayloadLength != 9 {
		t.Fatalf("header = %+v", p.V15)
	}
	m, err := DecodeMessage(p.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if m.NetFn != NetFnApp || m.Cmd != 0x38 || !bytes.Equal(m.Data, []byte{0x8e, 0x04}) || m.SrcAddr != 0x81 {
		t.Fatalf("message = %+v", m)
	}
}

func TestSession15WithAuthCode(t *testing.T) {
	h := Session15Header{AuthType: AuthTypeMD5, Sequence: 0x01020304, SessionID: 0xa0b0c0d0, PayloadLength: 0}
	for i := range h.AuthCode {
		h.AuthCode[i] = byte(i)
	}
	b := h.AppendTo(nil)
	want := unhex(t, "02 04030201 d0c0b0a0 000102030405060708090a0b0c0d0e0f 00")
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x", b)
	}
	got, payload, err := DecodeSession15Header(b)
	if err != nil || got != h || len(payload) != 0 {
		t.Fatalf("decode = %+v %v %v", got, payload, err)
	}
}

func TestMessageChecksumErrors(t *testing.T) {
	good := unhex(t, "20 18 c8 81 00 38 8e 04 b5")
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"six bytes", good[:6], ErrShort},
		{"bad header checksum", append([]byte{0x20, 0x18, 0xc9}, good[3:]...), ErrChecksum},
		{"bad data checksum", append(append([]byte{}, good[:8]...), 0xb4), ErrChecksum},
	} {
		if _, err := DecodeMessage(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A response: completion code 0 and data.
	resp := Message{DestAddr: 0x81, NetFn: NetFnApp.Response(), SrcAddr: 0x20, Seq: 5, Cmd: 0x01, Data: []byte{0, 0x20, 0x01}}
	m, err := DecodeMessage(resp.AppendTo(nil))
	if err != nil || m.Seq != 5 || m.NetFn != 0x07 || !bytes.Equal(m.Data, resp.Data) {
		t.Fatalf("round trip = %+v, %v", m, err)
	}
}

func TestSessionV2Header(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    SessionV2Header
		hex  string
	}{
		{"open session request", SessionV2Header{PayloadType: PayloadOpenSessionReq, PayloadLength: 32},
			"06 10 00000000 00000000 2000"},
		{"authenticated encrypted ipmi", SessionV2Header{PayloadType: PayloadIPMI, Encrypted: true, Authenticated: true,
			SessionID: 0x11223344, Sequence: 3, PayloadLength: 0x20},
			"06 c0 44332211 03000000 2000"},
		{"oem explicit", SessionV2Header{PayloadType: PayloadOEMExplicit, OEMIANA: 0x1234, OEMPayloadID: 0x0506, PayloadLength: 0},
			"06 02 34120000 0605 00000000 00000000 0000"},
	} {
		b := tc.h.AppendTo(nil)
		if want := unhex(t, tc.hex); !bytes.Equal(b, want) {
			t.Errorf("%s: got % x want % x", tc.name, b, want)
			continue
		}
		if len(b) != tc.h.Size() {
			t.Errorf("%s: Size %d, encoded %d", tc.name, tc.h.Size(), len(b))
		}
		b = append(b, make([]byte, tc.h.PayloadLength)...)
		got, payload, rest, err := DecodeSessionV2Header(b)
		if err != nil || got != tc.h || len(payload) != int(tc.h.PayloadLength) || len(rest) != 0 {
			t.Errorf("%s: decode %+v %d %d %v", tc.name, got, len(payload), len(rest), err)
		}
	}
	if _, _, _, err := DecodeSessionV2Header(unhex(t, "06 00 00000000 00000000 0500 0102")); !errors.Is(err, ErrShort) {
		t.Errorf("truncated payload: %v", err)
	}
}

func TestIntegrityPad(t *testing.T) {
	for payloadLen := 0; payloadLen < 8; payloadLen++ {
		h := SessionV2Header{PayloadType: PayloadIPMI, Authenticated: true, PayloadLength: uint16(payloadLen)}
		b := IPMIRMCPHeader.AppendTo(nil)
		start := len(b)
		b = h.AppendTo(b)
		b = append(b, make([]byte, payloadLen)...)
		b = AppendIntegrityPad(b, start)
		if (len(b)-start)%4 != 0 {
			t.Fatalf("payload %d: signed length %d not a multiple of 4", payloadLen, len(b)-start)
		}
		b = append(b, bytes.Repeat([]byte{0xAA}, 12)...)
		_, _, rest, err := DecodeSessionV2Header(b[start:])
		if err != nil {
			t.Fatal(err)
		}
		code, err := CheckIntegrityTrailer(rest, 12)
		if err != nil || len(code) != 12 || code[0] != 0xAA {
			t.Fatalf("payload %d: trailer %v %v", payloadLen, code, err)
		}
	}
	if _, err := CheckIntegrityTrailer(unhex(t, "ff ff 01 07 aaaa"), 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("inconsistent pad length accepted: %v", err)
	}
	if _, err := CheckIntegrityTrailer(unhex(t, "00 06 aaaa"), 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad next header accepted: %v", err)
	}
}

func TestOpenSessionAndRAKPRoundTrip(t *testing.T) {
	req := OpenSessionRequest{Tag: 1, MaxPrivilege: PrivilegeAdmin, ConsoleSessionID: 0xa0a1a2a3, AuthAlgorithm: 1, IntegrityAlgorithm: 1, ConfidentialityAlgorithm: 1}
	b := req.AppendTo(nil)
	want := unhex(t, "01 04 0000 a3a2a1a0 00000008 01000000 01000008 01000000 02000008 01000000")
	if !bytes.Equal(b, want) {
		t.Fatalf("open session request % x", b)
	}
	var req2 OpenSessionRequest
	if err := req2.Unmarshal(b); err != nil || req2 != req {
		t.Fatalf("decode %+v %v", req2, err)
	}
	resp := OpenSessionResponse{Tag: 1, MaxPrivilege: PrivilegeAdmin, ConsoleSessionID: 0xa0a1a2a3, BMCSessionID: 0x02000000, AuthAlgorithm: 3, IntegrityAlgorithm: 4, ConfidentialityAlgorithm: 1}
	var resp2 OpenSessionResponse
	if err := resp2.Unmarshal(resp.AppendTo(nil)); err != nil || resp2 != resp {
		t.Fatalf("open session response %+v %v", resp2, err)
	}
	// Error response truncated after the console session ID.
	if err := resp2.Unmarshal(unhex(t, "01 11 00 00 a3a2a1a0")); err != nil || resp2.Status != RAKPStatusNoCipherSuiteMatch {
		t.Fatalf("error response %+v %v", resp2, err)
	}
	if err := resp2.Unmarshal(unhex(t, "01 00 04 00 a3a2a1a0 00000002")); !errors.Is(err, ErrShort) {
		t.Fatalf("short ok response: %v", err)
	}

	r1 := RAKP1{Tag: 2, BMCSessionID: 0x02000000, Role: uint8(PrivilegeUser) | RoleNameOnlyLookup, Username: "admin"}
	for i := range r1.ConsoleRandom {
		r1.ConsoleRandom[i] = byte(0x10 + i)
	}
	b = r1.AppendTo(nil)
	want = unhex(t, "02 000000 00000002 101112131415161718191a1b1c1d1e1f 12 0000 05 61646d696e")
	if !bytes.Equal(b, want) {
		t.Fatalf("rakp1 % x", b)
	}
	var r1b RAKP1
	if err := r1b.Unmarshal(b); err != nil || r1b != r1 {
		t.Fatalf("rakp1 decode %+v %v", r1b, err)
	}
	b[27] = 17
	if err := r1b.Unmarshal(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("rakp1 name length 17: %v", err)
	}

	r2 := RAKP2{Tag: 2, ConsoleSessionID: 7, AuthCode: bytes.Repeat([]byte{0x55}, 20)}
	r2.BMCGUID[0] = 0xEE
	var r2b RAKP2
	if err := r2b.Unmarshal(r2.AppendTo(nil)); err != nil || !bytes.Equal(r2b.AuthCode, r2.AuthCode) || r2b.BMCGUID != r2.BMCGUID {
		t.Fatalf("rakp2 %+v %v", r2b, err)
	}
	if err := r2b.Unmarshal(unhex(t, "02 0d 0000 07000000")); err != nil || r2b.Status != RAKPStatusUnauthorizedName {
		t.Fatalf("rakp2 error %+v %v", r2b, err)
	}
	r3 := RAKP3{Tag: 3, BMCSessionID: 9, AuthCode: []byte{1, 2, 3}}
	var r3b RAKP3
	if err := r3b.Unmarshal(r3.AppendTo(nil)); err != nil || r3b.BMCSessionID != 9 || !bytes.Equal(r3b.AuthCode, r3.AuthCode) {
		t.Fatalf("rakp3 %+v %v", r3b, err)
	}
	r4 := RAKP4{Tag: 3, ConsoleSessionID: 9, IntegrityCheck: bytes.Repeat([]byte{1}, 12)}
	var r4b RAKP4
	if err := r4b.Unmarshal(r4.AppendTo(nil)); err != nil || !bytes.Equal(r4b.IntegrityCheck, r4.IntegrityCheck) {
		t.Fatalf("rakp4 %+v %v", r4b, err)
	}
	if got := RAKPStatusUnauthorizedName.String(); !strings.Contains(got, "unauthorized name") {
		t.Errorf("status string %q", got)
	}
}

func TestCompletionCodeError(t *testing.T) {
	var err error = &CompletionCodeError{NetFn: NetFnStorage, Command: 0x23, Code: CCReservationCanceled}
	wrapped := errors.Join(errors.New("walk"), err)
	if !IsCompletionCode(wrapped, CCReservationCanceled) || IsCompletionCode(wrapped, CCOK) {
		t.Fatal("IsCompletionCode")
	}
	if !strings.Contains(err.Error(), "storage command 0x23") || !strings.Contains(err.Error(), "reservation canceled") {
		t.Errorf("message %q", err)
	}
}

func TestParsePacketRejects(t *testing.T) {
	for _, h := range []string{"", "06", "05 00 ff 07 00", "06 00 ff 09 00", "06 00 ff 07", "06 00 ff 06 000011be 40 00 00 10 00"} {
		if _, err := ParsePacket(unhex(t, h)); err == nil {
			t.Errorf("%q accepted", h)
		}
	}
}

func FuzzParsePacket(f *testing.F) {
	f.Add(unhex(f, getChanAuthCapsV15))
	f.Add(unhex(f, "0600ff07 06 c0 44332211 03000000 0400 01020304 ffff0207 aaaaaaaaaaaaaaaaaaaaaaaa"))
	pong := NewPresencePong(1)
	f.Add(pong.AppendTo(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			return
		}
		if p.ASF != nil {
			_, _ = DecodePresencePong(*p.ASF)
		}
		if p.V2 != nil {
			_, _ = CheckIntegrityTrailer(p.Trailer, 12)
			_, _ = CheckIntegrityTrailer(p.Trailer, 16)
		}
		if p.Payload != nil {
			_, _ = DecodeMessage(p.Payload)
		}
	})
}

func FuzzRAKPMessages(f *testing.F) {
	f.Add(unhex(f, "02 000000 00000002 101112131415161718191a1b1c1d1e1f 12 0000 05 61646d696e"))
	f.Add(unhex(f, "01 04 0000 a3a2a1a0 00000008 01000000 01000008 01000000 02000008 01000000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var osq OpenSessionRequest
		if osq.Unmarshal(b) == nil {
			var again OpenSessionRequest
			if err := again.Unmarshal(osq.AppendTo(nil)); err != nil || again != osq {
				t.Fatalf("open session request does not round-trip: %+v %+v %v", osq, again, err)
			}
		}
		var osr OpenSessionResponse
		_ = osr.Unmarshal(b)
		var r1 RAKP1
		if r1.Unmarshal(b) == nil {
			var again RAKP1
			if err := again.Unmarshal(r1.AppendTo(nil)); err != nil || again != r1 {
				t.Fatalf("rakp1 does not round-trip")
			}
		}
		var r2 RAKP2
		_ = r2.Unmarshal(b)
		var r3 RAKP3
		_ = r3.Unmarshal(b)
		var r4 RAKP4
		_ = r4.Unmarshal(b)
	})
}
