package session

import (
	"bytes"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

const (
	testConsoleID = 0xA0A1A2A3
	testBMCID     = 0x00000200
)

// v2Pair returns the console's codec and a mirror codec that seals packets
// as the BMC would (addressed to the console's session ID, same keys).
func v2Pair(t testing.TB, suiteID uint8) (console, bmc *v2Codec) {
	t.Helper()
	suite, ok := crypto.LookupCipherSuite(suiteID)
	if !ok {
		t.Fatalf("suite %d", suiteID)
	}
	k1 := bytes.Repeat([]byte{0x11}, 32)
	k2 := bytes.Repeat([]byte{0x22}, 32)
	mk := func(own, peer uint32) *v2Codec {
		c := &v2Codec{consoleID: own, bmcID: peer, outSeq: 1}
		var err error
		if c.integrity, err = crypto.NewIntegrity(suite.Integrity, k1, []byte("password")); err != nil {
			t.Fatal(err)
		}
		if suite.Confidentiality == crypto.ConfidentialityAESCBC128 {
			if c.aes, err = crypto.NewAESCBC128(k2); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	return mk(testConsoleID, testBMCID), mk(testBMCID, testConsoleID)
}

func v15Pair(auth wire.AuthType) (console, bmc *v15Codec) {
	pw := []byte("password")
	return &v15Codec{id: 0x1234, outAuth: auth, inAuth: auth, password: pw, outSeq: 7},
		&v15Codec{id: 0x1234, outAuth: auth, inAuth: auth, password: pw, outSeq: 100}
}

func testResponse(seq uint8) []byte {
	m := wire.Message{DestAddr: wire.RemoteConsoleSWID, NetFn: wire.NetFnSensorEvent.Response(), SrcAddr: wire.BMCSlaveAddress,
		Seq: seq, Cmd: 0x2D, Data: []byte{0, 0x58, 0xC0, 0, 0}}
	return m.AppendTo(nil)
}

func TestCodecRoundTripAndTamper(t *testing.T) {
	for _, suite := range []uint8{0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17} {
		console, bmc := v2Pair(t, suite)
		msg := testResponse(5)
		pkt, err := bmc.seal(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		m, res := console.open(append([]byte(nil), pkt...))
		if res != openOK || m.Seq != 5 || !bytes.Equal(m.Data, []byte{0, 0x58, 0xC0, 0, 0}) {
			t.Fatalf("suite %d: open = %v %+v", suite, res, m)
		}
		// The same packet again is a replay.
		if _, res := console.open(append([]byte(nil), pkt...)); !res.dropped() {
			t.Errorf("suite %d: replay accepted", suite)
		}
		// Every single-bit change is caught: by the integrity check, or
		// without one by the headers, the AES padding or the message
		// checksums. (Suites 0, 1, 6 cannot catch compensating changes;
		// single flips they do.)
		for i := range pkt {
			for _, bit := range []byte{0x01, 0x80} {
				next, err := bmc.seal(nil, msg)
				if err != nil {
					t.Fatal(err)
				}
				next[i] ^= bit
				// Nothing covers RMCP bytes 1 and 2 (reserved, RMCP
				// sequence), nor, without an integrity algorithm, the
				// session sequence number (bytes 10-13).
				uncovered := i == 1 || i == 2 || (console.integrity == nil && i >= 10 && i < 14)
				if _, res := console.open(next); res == openOK && !uncovered {
					t.Errorf("suite %d: flipping bit %#x of byte %d went unnoticed", suite, bit, i)
				}
			}
		}
	}
}

func TestCodec15(t *testing.T) {
	for _, auth := range []wire.AuthType{wire.AuthTypeNone, wire.AuthTypeStraight, wire.AuthTypeMD5} {
		console, bmc := v15Pair(auth)
		pkt, err := bmc.seal(nil, testResponse(9))
		if err != nil {
			t.Fatal(err)
		}
		if m, res := console.open(append([]byte(nil), pkt...)); res != openOK || m.Seq != 9 {
			t.Fatalf("%s: %v", auth, res)
		}
		if _, res := console.open(append([]byte(nil), pkt...)); !res.dropped() {
			t.Errorf("%s: replay accepted", auth)
		}
		if auth == wire.AuthTypeMD5 {
			for i := 4; i < len(pkt); i++ {
				next, _ := bmc.seal(nil, testResponse(9))
				next[i] ^= 1
				if _, res := console.open(next); res == openOK {
					t.Errorf("md5: flipping byte %d went unnoticed", i)
				}
			}
		}
	}
	// Legacy pad: a 56-byte datagram grows by one zero byte, and the
	// receiver ignores it.
	c := &v15Codec{id: 1, outAuth: wire.AuthTypeMD5, password: []byte("x")}
	msg := make([]byte, 56-4-26)
	pkt, _ := c.seal(nil, msg)
	if len(pkt) != 57 || pkt[56] != 0 {
		t.Errorf("legacy pad: %d bytes", len(pkt))
	}
}

// fuzzSession is a session with two requests in flight and codec c, for
// feeding datagrams to the inbound path.
func fuzzSession(c codec) (*Session, *request, *request) {
	cfg, _ := Config{Host: "fuzz", CipherSuite: CipherSuiteAuto}.withDefaults()
	s := newSession(cfg, "fuzz", nil)
	s.codec, s.established = c, true
	plain := &request{rqSeq: 5, netFn: wire.NetFnSensorEvent, cmd: 0x2D, done: make(chan struct{}, 1)}
	bridged := &request{rqSeq: 6, netFn: wire.NetFnSensorEvent, cmd: 0x2D, bridged: true, target: wire.Target{Addr: 0x30},
		done: make(chan struct{}, 1)}
	s.pending[5], s.pending[6] = plain, bridged
	return s, plain, bridged
}

func FuzzInboundV2(f *testing.F) {
	console, bmc := v2Pair(f, 3)
	for _, seq := range []uint8{5, 6, 7} {
		pkt, _ := bmc.seal(nil, testResponse(seq))
		f.Add(pkt)
	}
	// a Send Message answer with an embedded response, and one without
	sm := wire.Message{DestAddr: 0x81, NetFn: wire.NetFnApp.Response(), SrcAddr: 0x20, Seq: 6, Cmd: 0x34,
		Data: append([]byte{0}, testResponse(6)...)}
	pkt, _ := bmc.seal(nil, sm.AppendTo(nil))
	f.Add(pkt)
	sm.Data = []byte{0}
	pkt, _ = bmc.seal(nil, sm.AppendTo(nil))
	f.Add(pkt)
	f.Add(fakeSessionless15(testResponse(5)))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := *console
		s, plain, bridged := fuzzSession(&c)
		s.dispatchLocked(b)
		for _, r := range []*request{plain, bridged} {
			if r.completed && r.err == nil && len(r.resp) > 300 {
				t.Fatalf("response of %d bytes", len(r.resp))
			}
		}
	})
}

func FuzzInboundV15(f *testing.F) {
	console, bmc := v15Pair(wire.AuthTypeMD5)
	pkt, _ := bmc.seal(nil, testResponse(5))
	f.Add(pkt)
	f.Add(fakeSessionless15(testResponse(6)))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := *console
		s, _, _ := fuzzSession(&c)
		s.dispatchLocked(b)
		// the pre-session codec and the handshake's parsers see the same
		// bytes
		_, _ = sessionless15{}.open(b)
	})
}

// TestCodecBadChecksum: a message with wrong checksums (Supermicro X9,
// FreeIPMI's nochecksumcheck) is taken when an integrity check value
// covered it, and dropped as "checksum" when nothing else did.
func TestCodecBadChecksum(t *testing.T) {
	for _, c := range []struct {
		suite uint8
		want  openResult
	}{{3, openOK}, {17, openOK}, {2, openOK}, {1, dropChecksum}, {0, dropChecksum}} {
		console, bmc := v2Pair(t, c.suite)
		msg := testResponse(7)
		msg[len(msg)-1] ^= 0x5A // data checksum
		msg[2] ^= 0x01          // header checksum
		pkt, err := bmc.seal(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		m, res := console.open(pkt)
		if res != c.want {
			t.Errorf("suite %d: %v (%s), want %v", c.suite, res, res.dropReason(), c.want)
		}
		if res == openOK && (m.Seq != 7 || !bytes.Equal(m.Data, []byte{0, 0x58, 0xC0, 0, 0})) {
			t.Errorf("suite %d: message %+v", c.suite, m)
		}
	}
}

// TestCodec15Quirks: the IPMI 1.5 quirks the codec adapts to without
// configuration.
func TestCodec15Quirks(t *testing.T) {
	t.Run("endianseq", func(t *testing.T) {
		console, bmc := v15Pair(wire.AuthTypeMD5)
		console.firstSeq = 0x01020304
		for i := uint32(0); i < 3; i++ {
			bmc.outSeq = bswap32(console.firstSeq + i) // the BMC writes it big-endian
			pkt, err := bmc.seal(nil, testResponse(uint8(i)))
			if err != nil {
				t.Fatal(err)
			}
			if _, res := console.open(pkt); res != openOK {
				t.Fatalf("reply %d: %v (%s)", i, res, res.dropReason())
			}
		}
		if !console.swapSeq {
			t.Error("byte order not detected")
		}
		// A replay is still one.
		bmc.outSeq = bswap32(console.firstSeq + 1)
		pkt, _ := bmc.seal(nil, testResponse(1))
		if _, res := console.open(pkt); res != dropSequence {
			t.Errorf("replayed swapped number: %v", res)
		}
	})
	t.Run("unexpectedauth", func(t *testing.T) {
		console, bmc := v15Pair(wire.AuthTypeNone)
		console.signedToo = wire.AuthTypeMD5
		bmc.outAuth = wire.AuthTypeMD5
		pkt, _ := bmc.seal(nil, testResponse(1))
		if _, res := console.open(pkt); res != openOK {
			t.Fatalf("signed reply with per-message authentication off: %v", res)
		}
		pkt, _ = bmc.seal(nil, testResponse(2))
		pkt[len(pkt)-3] ^= 1 // still verified
		if _, res := console.open(pkt); res != dropIntegrity {
			t.Errorf("tampered signed reply: %v", res)
		}
	})
	t.Run("activate under the new session ID", func(t *testing.T) {
		console, bmc := v15Pair(wire.AuthTypeMD5)
		console.activating, console.noWindow = true, true
		bmc.id = 0x9999
		pkt, _ := bmc.seal(nil, testResponse(1))
		if _, res := console.open(pkt); res != openOK {
			t.Fatalf("activate reply under another ID: %v", res)
		}
		console.activating = false
		if _, res := console.open(pkt); res != dropUnknownSession {
			t.Errorf("after activation: %v", res)
		}
	})
}
