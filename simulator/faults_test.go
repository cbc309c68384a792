package simulator

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

func pingPacket(tag uint8) []byte {
	p := wire.NewPresencePing(tag)
	return p.AppendTo(nil)
}

func TestParseFaults(t *testing.T) {
	spec, err := ParseFaults("loss=0.3, latency=500ms,jitter=50ms,garbage,truncate=0.25,silent,sessions_full," +
		"aes_pad_full_block,rakp2_zero_tag,sdr_max_read=32,empty_reading_for_absent")
	if err != nil {
		t.Fatal(err)
	}
	want := FaultSpec{Faults: Faults{Latency: 500 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.3,
		Silent: true, Garbage: 1, Truncate: 0.25, SessionsFull: true, AESPadFullBlock: true, RAKP2ZeroTag: true},
		SDRMaxRead: 32, EmptyReadingForAbsent: true}
	if spec != want {
		t.Fatalf("got %+v\nwant %+v", spec, want)
	}
	for _, bad := range []string{"loss=1.5", "loss", "latency=fast", "jitter=-1s", "bogus", "garbage=-0.1", "sdr_max_read=300", "silent=maybe"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) accepted", bad)
		}
	}
	if spec, err := ParseFaults(""); err != nil || spec != (FaultSpec{}) {
		t.Errorf("empty spec: %+v %v", spec, err)
	}
}

func TestFaultLossRate(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	b.SetFaults(Faults{Loss: 0.3})
	const n = 4000
	answered := 0
	for i := range n {
		if exchange(b, pingPacket(uint8(i))) != nil {
			answered++
		}
	}
	// 30% loss of 4000: mean 2800 answered, sd ~29; allow 5 sd.
	if answered < 2655 || answered > 2945 {
		t.Fatalf("%d of %d answered with loss 0.3", answered, n)
	}
	s := b.Counters()
	if s.FaultDrops != uint64(n-answered) || s.PacketsIn != n {
		t.Fatalf("counters %s", s)
	}
}

func TestFaultLatencyAndJitter(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	b.SetFaults(Faults{Latency: 100 * time.Millisecond, Jitter: 20 * time.Millisecond})
	lo, hi := time.Hour, time.Duration(0)
	for i := range 500 {
		_, _, delay, ok := b.respond(pingPacket(uint8(i)), testConsoleAddr, nil)
		if !ok {
			t.Fatal("no reply")
		}
		lo, hi = min(lo, delay), max(hi, delay)
	}
	if lo < 80*time.Millisecond || hi > 120*time.Millisecond || lo > 85*time.Millisecond || hi < 115*time.Millisecond {
		t.Fatalf("delays spread %s..%s, want about 80ms..120ms", lo, hi)
	}
	b.SetFaults(Faults{Latency: 5 * time.Millisecond, Jitter: time.Second})
	for i := range 200 {
		if _, _, delay, _ := b.respond(pingPacket(uint8(i)), testConsoleAddr, nil); delay < 0 {
			t.Fatalf("negative delay %s", delay)
		}
	}
}

func TestFaultSilentGarbageTruncate(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	normal := exchange(b, pingPacket(7))
	b.SetFaults(Faults{Silent: true})
	if exchange(b, pingPacket(7)) != nil {
		t.Fatal("silent BMC answered")
	}
	b.SetFaults(Faults{Garbage: 1})
	g := exchange(b, pingPacket(7))
	if len(g) != len(normal) || bytes.Equal(g, normal) {
		t.Fatalf("garbage reply % x vs normal % x", g, normal)
	}
	b.SetFaults(Faults{Truncate: 1})
	for range 50 {
		tr := exchange(b, pingPacket(7))
		if len(tr) == 0 || len(tr) >= len(normal) || !bytes.Equal(tr, normal[:len(tr)]) {
			t.Fatalf("truncated reply % x vs normal % x", tr, normal)
		}
	}
	b.SetFaults(Faults{})
	if !bytes.Equal(exchange(b, pingPacket(7)), normal) {
		t.Fatal("faults cleared but reply differs")
	}
	if s := b.Counters(); s.FaultDrops != 1 || s.FaultReplies != 51 {
		t.Fatalf("counters %s", s)
	}
	if err := b.SetFaults(Faults{Loss: 2}); err == nil {
		t.Fatal("loss 2 accepted")
	}
}

func TestFaultSessionsFullAndReboot(t *testing.T) {
	b, clock, _ := newTestBMC(t, nil)
	c := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
	b.SetFaults(Faults{SessionsFull: true})
	other := newV2Console(t, b, 3, "admin", "secret", wire.PrivilegeAdmin)
	other.consoleID++
	if st := other.openSession(wire.PrivilegeAdmin).Status; st != wire.RAKPStatusInsufficientResources {
		t.Fatalf("open session with sessions_full: %s", st)
	}
	if cc, _ := c.command(wire.NetFnApp, 0x01, nil); cc != wire.CCOK {
		t.Fatalf("existing session under sessions_full: %s", cc)
	}
	b.SetFaults(Faults{})

	b.Reboot(10 * time.Second)
	if exchange(b, pingPacket(1)) != nil {
		t.Fatal("rebooting BMC answered a ping")
	}
	clock.Advance(11 * time.Second)
	if exchange(b, pingPacket(1)) == nil {
		t.Fatal("rebooted BMC does not answer a ping")
	}
	if exchange(b, c.requestPacket(wire.NetFnApp, 0x01, nil)) != nil {
		t.Fatal("session survived the reboot")
	}
	if s := b.Counters(); s.SessionsDropped != 1 || s.SessionsActive != 0 {
		t.Fatalf("counters %s", s)
	}
	c.consoleID++
	c.integrity, c.aes, c.seq = nil, nil, 0
	c.login(wire.PrivilegeAdmin)
}

func TestQuirkRAKP2ZeroTag(t *testing.T) {
	b, _, _ := newTestBMC(t, nil)
	b.SetFaults(Faults{RAKP2ZeroTag: true})
	c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
	c.openSession(wire.PrivilegeAdmin)
	m := wire.RAKP1{Tag: 0x22, BMCSessionID: c.bmcID, Role: c.role, Username: c.user}
	_, payload := c.parseV2(exchange(b, c.v2Packet(wire.PayloadRAKP1, m.AppendTo(nil), false)))
	if payload[0] != 0 || payload[1] != 0 {
		t.Fatalf("RAKP2 tag %#x status %#x, want tag 0 status 0", payload[0], payload[1])
	}
}

func TestQuirkAESPadFullBlock(t *testing.T) {
	for _, quirk := range []bool{false, true} {
		b, _, _ := newTestBMC(t, nil)
		b.SetFaults(Faults{AESPadFullBlock: quirk})
		c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
		c.login(wire.PrivilegeAdmin)
		// A 7-byte response body makes a 15-byte message: with the pad
		// length byte exactly one block.
		reply := exchange(b, c.requestPacket(wire.NetFnOEMGroup, 0x01, []byte{7}))
		h, payload, _, err := wire.DecodeSessionV2Header(reply[4:])
		if err != nil {
			t.Fatal(err)
		}
		wantLen := 32
		if quirk {
			wantLen = 48
		}
		if int(h.PayloadLength) != wantLen {
			t.Fatalf("quirk %v: encrypted payload %d bytes, want %d", quirk, h.PayloadLength, wantLen)
		}
		block, _ := aes.NewCipher(c.hs.DeriveKeys().K2[:16])
		plain := make([]byte, len(payload)-16)
		cipher.NewCBCDecrypter(block, payload[:16]).CryptBlocks(plain, payload[16:])
		if pad := plain[len(plain)-1]; (quirk && pad != 16) || (!quirk && pad != 0) {
			t.Fatalf("quirk %v: pad length %d", quirk, pad)
		}
		cc, data := c.parseResponse(reply, wire.NetFnOEMGroup, 0x01)
		if cc != wire.CCOK || !bytes.Equal(data, bytes.Repeat([]byte{0x5A}, 7)) {
			t.Fatalf("quirk %v: response %s % x", quirk, cc, data)
		}
	}
}

// TestDeterministic checks that two BMCs with the same seed answer the
// same packets with the same bytes, faults included.
func TestDeterministic(t *testing.T) {
	run := func(seed int64) [][]byte {
		cfg, _ := BMCConfig{Users: testUsers}.normalized()
		clock := newFakeClock()
		b := newBMC(3, &cfg, &fakeHandler{}, clock.Now, seed)
		b.SetFaults(Faults{Loss: 0.3, Garbage: 0.2, Truncate: 0.2, Jitter: time.Millisecond})
		var out [][]byte
		c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
		req := wire.OpenSessionRequest{Tag: 1, ConsoleSessionID: 77, AuthAlgorithm: 3, IntegrityAlgorithm: 4, ConfidentialityAlgorithm: 1}
		for i := range 100 {
			var pkt []byte
			if i%2 == 0 {
				pkt = pingPacket(uint8(i))
			} else {
				req.ConsoleSessionID++
				pkt = c.v2Packet(wire.PayloadOpenSessionReq, req.AppendTo(nil), false)
			}
			reply, _, delay, ok := b.respond(pkt, testConsoleAddr, nil)
			out = append(out, append([]byte{byte(delay), byte(delay >> 8), byte(delay >> 16)}, reply...))
			if !ok {
				out[len(out)-1] = nil
			}
			if i%10 == 0 {
				b.Reboot(0)
			}
		}
		return out
	}
	a, b2, other := run(42), run(42), run(43)
	same := true
	for i := range a {
		if !bytes.Equal(a[i], b2[i]) {
			t.Fatalf("packet %d differs between runs with the same seed", i)
		}
		same = same && bytes.Equal(a[i], other[i])
	}
	if same {
		t.Fatal("a different seed produced the same run")
	}
}

// TestHostilePacketsNeverPanic mutates valid packets of every kind at
// random against a BMC with live sessions.
func TestHostilePacketsNeverPanic(t *testing.T) {
	b, _, _ := newTestBMC(t, func(c *BMCConfig) { c.MaxSessions = 8 })
	var corpus [][]byte
	for _, id := range []uint8{0, 3, 8, 12, 17} {
		c := newV2Console(t, b, id, "admin", "secret", wire.PrivilegeAdmin)
		c.login(wire.PrivilegeAdmin)
		corpus = append(corpus, c.requestPacket(wire.NetFnApp, 0x01, nil),
			c.requestPacket(wire.NetFnApp, 0x34, []byte{0x46, 0x2C, 0x18, 0xBC, 0x81, 0x04, 0x01, 0x7A}),
			c.requestPacket(wire.NetFnApp, 0x3D, []byte{0xFF, 1, 2, 3, 4}))
	}
	corpus = append(corpus, hostileSeeds(t)...)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		pkt := append([]byte(nil), corpus[rng.IntN(len(corpus))]...)
		switch rng.IntN(4) {
		case 0:
			pkt[rng.IntN(len(pkt))] = uint8(rng.Uint32())
		case 1:
			pkt = pkt[:rng.IntN(len(pkt)+1)]
		case 2:
			for j := 0; j < 1+rng.IntN(8); j++ {
				pkt[rng.IntN(len(pkt))] ^= uint8(1 << rng.IntN(8))
			}
		case 3:
			pkt = append(pkt, make([]byte, rng.IntN(64))...)
		}
		b.respond(pkt, testConsoleAddr, nil)
		if i%1000 == 0 {
			b.Reboot(0)
			for _, id := range []uint8{0, 17} {
				c := newV2Console(t, b, id, "admin", "secret", wire.PrivilegeAdmin)
				c.consoleID += uint32(i)
				c.login(wire.PrivilegeAdmin)
			}
		}
	}
}

// hostileSeeds are valid packets of every pre-session kind.
func hostileSeeds(t testing.TB) [][]byte {
	c := &v2Console{t: t}
	cs, _ := crypto.LookupCipherSuite(17)
	c.suite = cs
	open := wire.OpenSessionRequest{Tag: 1, ConsoleSessionID: 5, AuthAlgorithm: 3, IntegrityAlgorithm: 4, ConfidentialityAlgorithm: 1}
	r1 := wire.RAKP1{BMCSessionID: 9, Role: 0x14, Username: "admin"}
	r3 := wire.RAKP3{BMCSessionID: 9, AuthCode: make([]byte, 32)}
	m := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Cmd: 0x38, Data: []byte{0x8E, 4}}
	chal := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Cmd: 0x39, Data: append([]byte{2}, []byte("admin\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")...)}
	act := wire.Message{DestAddr: 0x20, NetFn: wire.NetFnApp, SrcAddr: 0x81, Cmd: 0x3A, Data: make([]byte, 22)}
	return [][]byte{
		pingPacket(1),
		c.v2Packet(wire.PayloadOpenSessionReq, open.AppendTo(nil), false),
		c.v2Packet(wire.PayloadRAKP1, r1.AppendTo(nil), false),
		c.v2Packet(wire.PayloadRAKP3, r3.AppendTo(nil), false),
		c.v2Packet(wire.PayloadIPMI, m.AppendTo(nil), false),
		v15Packet(t, wire.AuthTypeNone, "", 0, 0, m),
		v15Packet(t, wire.AuthTypeNone, "", 0, 0, chal),
		v15Packet(t, wire.AuthTypeMD5, "secret", 1234, 0, act),
	}
}

func FuzzRespond(f *testing.F) {
	for _, s := range hostileSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b, _, _ := newTestBMC(t, nil)
		c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
		c.login(wire.PrivilegeAdmin)
		b.respond(pkt, testConsoleAddr, nil)
		// The session must still work whatever the packet was.
		if cc, _ := c.command(wire.NetFnApp, 0x01, nil); cc != wire.CCOK {
			t.Fatalf("session broken after % x", pkt)
		}
	})
}

// TestModelQuirksThroughFaultSpec: the model quirks named in a fault spec
// reach the model and show on the wire.
func TestModelQuirksThroughFaultSpec(t *testing.T) {
	p, err := model.LoadProfile("dual-socket-1u")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(p, model.Options{Seed: 1, Clock: peerClock})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := BMCConfig{Users: testUsers}.normalized()
	b := newBMC(0, &cfg, m, peerClock, 1)
	c := newV2Console(t, b, 17, "admin", "secret", wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin)
	var absent uint8
	for _, s := range m.Sensors() {
		if s.Absent && s.Owner.IsBMC() {
			absent = s.Number
		}
	}
	if absent == 0 {
		t.Fatal("profile has no absent sensor")
	}
	getSDR := []byte{0, 0, 0, 0, 0, 0xFF} // reservation 0, first record, offset 0, whole record
	if cc, _ := c.command(wire.NetFnStorage, 0x23, getSDR); cc != wire.CCOK {
		t.Fatalf("get sdr without quirk: %s", cc)
	}
	if cc, data := c.command(wire.NetFnSensorEvent, 0x2D, []byte{absent}); cc != wire.CCRequestedDataNotPresent {
		t.Fatalf("absent sensor without quirk: %s % x", cc, data)
	}
	spec, err := ParseFaults("sdr_max_read=16,empty_reading_for_absent")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ApplyFaultSpec(spec); err != nil {
		t.Fatal(err)
	}
	if cc, _ := c.command(wire.NetFnStorage, 0x23, getSDR); cc != wire.CCCannotReturnRequestedBytes {
		t.Fatalf("get sdr of a whole record with sdr_max_read=16: %s", cc)
	}
	if cc, data := c.command(wire.NetFnSensorEvent, 0x2D, []byte{absent}); cc != wire.CCOK || len(data) != 0 {
		t.Fatalf("absent sensor with the quirk: %s % x", cc, data)
	}
	if got := b.FaultSpec(); got != spec {
		t.Fatalf("fault spec %+v, want %+v", got, spec)
	}
}

// The catalogue's SDR and sensor quirks parse under their names (FreeIPMI's
// workaround flag where one exists) and render back to the same spec.
func TestParseCatalogueQuirks(t *testing.T) {
	in := "sdr_cancel_reservation=9,sdr_short_read=7,sdr_last_record_cc=0xc3,assumemaxsdrrecordcount=5," +
		"sdr_duplicate=6,sdr_same_name=Status,assumebmcowner=0x2c,ignorescanningdisabled," +
		"reading_cc=0xcb@CPU1 Temp,discretereading=CPU2 Temp"
	spec, err := ParseFaults(in)
	if err != nil {
		t.Fatal(err)
	}
	want := model.Quirks{SDRCancelReservation: 9, SDRShortRead: 7, SDRLastRecordCC: 0xC3, SDRCountShort: 5,
		SDRDuplicate: 6, SDRSameName: "Status", SDROwner: 0x2c, FalseScanningDisabled: true,
		ReadingCC: 0xCB, ReadingCCSensor: "CPU1 Temp", DiscreteReading: "CPU2 Temp"}
	if spec.Quirks != want {
		t.Fatalf("got %+v\nwant %+v", spec.Quirks, want)
	}
	again, err := ParseFaults(spec.String())
	if err != nil || again != spec {
		t.Fatalf("round trip %q: %+v, %v", spec.String(), again, err)
	}
	if spec, err := ParseFaults("assumemaxsdrrecordcount,assumebmcowner"); err != nil || spec.Quirks.SDRCountShort != 0xFFFF || spec.Quirks.SDROwner != 0x2c {
		t.Errorf("flags alone: %+v, %v", spec.Quirks, err)
	}
	for _, bad := range []string{"reading_cc=0xcb", "reading_cc=0x1cb@X", "assumebmcowner=0x21", "assumebmcowner=0x20",
		"sdr_short_read=300", "sdr_same_name=", "discretereading", "sdr_duplicate=-1"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) accepted", bad)
		}
	}
}

// The session quirks parse under their names and render back.
func TestParseSessionQuirks(t *testing.T) {
	in := "opensesspriv,integritycheckvalue,authcap,authcap_short,nochecksumcheck,activate_new_id," +
		"unexpectedauth,forcepermsg,endianseq,noauthcodecheck,idzero,intel20,supermicro20,opensesspriv_keys"
	spec, err := ParseFaults(in)
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{OpenSessPriv: true, IntegrityCheckValue: true, AuthCap: true, AuthCapShort: true,
		NoChecksumCheck: true, ActivateNewID: true, UnexpectedAuth: true, ForcePerMsg: true, EndianSeq: true,
		NoAuthCodeCheck: true, IDZero: true, Intel20: true, Supermicro20: true, OpenSessPrivKeys: true}
	if spec.Faults != want {
		t.Fatalf("got %+v\nwant %+v", spec.Faults, want)
	}
	if spec.String() != in {
		t.Fatalf("String() = %q, want %q", spec.String(), in)
	}
}

// FuzzParseFaults: any spec either fails to parse or renders back to a
// spec that parses to the same value.
func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"", "loss=0.3,latency=1s", "reading_cc=0xcb@CPU1 Temp,sdr_duplicate=3",
		"assumemaxsdrrecordcount,assumebmcowner=0x30,opensesspriv,endianseq", "sdr_same_name=Status"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseFaults(s)
		if err != nil {
			return
		}
		again, err := ParseFaults(spec.String())
		if err != nil || again != spec {
			t.Fatalf("%q parsed to %+v, rendered %q, reparsed %+v (%v)", s, spec, spec.String(), again, err)
		}
	})
}
