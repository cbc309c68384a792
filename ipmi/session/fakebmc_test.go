package session

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// fakeBMC is a small BMC on 127.0.0.1 built from the wire and crypto
// packages, independent of this package's codecs. It speaks just enough
// RMCP+ and IPMI v1.5 to test the client's state machine byte for byte,
// and can misbehave on request (faults).
type fakeBMC struct {
	t    testing.TB
	conn *net.UDPConn
	addr string
	done chan struct{}

	mu       sync.Mutex
	users    map[string]fakeUser
	kg       []byte
	suites   []uint8 // offered, in Get Channel Cipher Suites and accepted by Open Session
	guid     [16]byte
	sessions map[uint32]*fakeSession // by BMC session ID
	nextID   uint32
	faults   fakeFaults
	// counters
	count     map[string]int
	received  int
	lastReply []byte
	peer      *net.UDPAddr
	sensor    uint8
	// sequence numbers of the client's packets (RMCP+ session packets)
	clientSeqs []uint32
	// rqSeqs of the client's IPMI requests in session, in arrival order
	clientRqSeqs []uint8
	// tempUsers maps IPMI v1.5 temporary session IDs to user names.
	tempUsers map[uint32]string
	// lostConsoleID is the console session ID of the last session the
	// BMC forgot (for statusOnLost).
	lostConsoleID uint32
}

type fakeUser struct {
	password []byte
	priv     wire.PrivilegeLevel
}

// fakeFaults are misbehaviours; each counter is consumed as it fires.
type fakeFaults struct {
	silent             bool // answer nothing at all
	noCipherSuitesCmd  bool // Get Channel Cipher Suites: 0xC1
	rejectExtendedCaps bool // Get Channel Auth Caps with bit 7: 0xCC
	rakp2Tag0          bool // RAKP2 carries message tag 0
	rakp4Full          bool // RAKP4 carries the untruncated HMAC
	dropReplies        int  // drop this many replies to in-session requests
	delayReply         time.Duration
	duplicateReplies   int // send this many in-session replies twice
	replayPrevious     int // before this many replies, resend the previous reply verbatim
	staleRqSeq         int // before this many replies, send a fresh packet answering the previous rqSeq
	tamperFirst        int // this many replies go out with a corrupted auth code first
	wrongSessionFirst  int // ... with another session ID first
	spoofPortFirst     int // ... from another source port first
	unauthFirst        int // ... unauthenticated first (integrity stripped)
	expireSessions     bool
	idleTimeout        time.Duration // forget a session quiet for longer, silently
	sessionlessOnLost  bool          // answer requests for unknown sessions outside a session (cc 0xFF)
	statusOnLost       bool          // answer them with an RMCP+ Open Session Response, status 0x02
	bridgeEmbedded     bool          // bridged answers embedded in the Send Message response
	bridgeNoAnswer     bool          // Send Message accepted, target never answers
	privRefuse         wire.CompletionCode
	rakp2Status        wire.RAKPStatus
	rakp4Status        wire.RAKPStatus
	openStatus         wire.RAKPStatus
	// roleLookupStrict: name+privilege lookup finds only accounts whose
	// limit equals the requested role, answering 0x0D otherwise
	// (OpenBMC's phosphor-net-ipmid).
	roleLookupStrict bool
	// nameOnlyUnsupported: name-only lookup answers 0x0D (a BMC that
	// only knows role lookup).
	nameOnlyUnsupported bool
	// otherAlgorithms: Open Session proposing these suites is answered
	// with status OK and the algorithms of suite 1 instead.
	otherAlgorithms map[uint8]bool
}

type fakeSession struct {
	v15       bool
	consoleID uint32
	bmcID     uint32
	suite     crypto.CipherSuite
	hs        crypto.Handshake
	integrity crypto.Integrity
	aes       *crypto.AESCBC128
	active    bool
	lastSeen  time.Time // of the last in-session request, for idleTimeout
	outSeq    uint32
	priv      wire.PrivilegeLevel
	// IPMI v1.5
	authType wire.AuthType
	password []byte
}

func newFakeBMC(t testing.TB) *fakeBMC {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBMC{
		t:    t,
		conn: conn,
		addr: conn.LocalAddr().String(),
		done: make(chan struct{}),
		users: map[string]fakeUser{
			"admin": {[]byte("password"), wire.PrivilegeAdmin},
			"user":  {[]byte("userpw"), wire.PrivilegeUser},
		},
		suites:    []uint8{0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17},
		sessions:  map[uint32]*fakeSession{},
		tempUsers: map[uint32]string{},
		nextID:    0x1000,
		count:     map[string]int{},
		sensor:    0x58,
	}
	copy(b.guid[:], "fake-bmc-guid-16")
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *fakeBMC) close() {
	b.conn.Close()
	<-b.done
}

func (b *fakeBMC) set(f func(*fakeBMC)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *fakeBMC) counter(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count[name]
}

// activeSessions counts the sessions the BMC holds, half-open RMCP+ ones
// included (IPMI v1.5 temporary sessions are not).
func (b *fakeBMC) activeSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, s := range b.sessions {
		if s.active || !s.v15 {
			n++
		}
	}
	return n
}

func (b *fakeBMC) serve() {
	defer close(b.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := b.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		b.mu.Lock()
		b.received++
		b.peer = from
		silent := b.faults.silent
		var replies [][]byte
		if !silent {
			replies = b.handle(pkt)
		}
		delay := b.faults.delayReply
		b.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		for _, r := range replies {
			if r == nil {
				continue
			}
			if _, err := b.conn.WriteToUDP(r, from); err != nil && !errors.Is(err, net.ErrClosed) {
				b.t.Logf("fake BMC write: %v", err)
			}
		}
	}
}

// spoof sends b from a different local port to the client.
func (b *fakeBMC) spoof(pkt []byte, to *net.UDPAddr) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.WriteToUDP(pkt, to)
}

func (b *fakeBMC) handle(pkt []byte) [][]byte {
	if len(pkt) < 5 || pkt[0] != wire.RMCPVersion1 {
		return nil
	}
	switch pkt[3] {
	case wire.RMCPClassASF:
		m, err := wire.DecodeASF(pkt[4:])
		if err != nil || m.Type != wire.ASFTypePresencePng {
			return nil
		}
		pong := wire.NewPresencePong(m.Tag)
		b.count["ping"]++
		return [][]byte{pong.AppendTo(nil)}
	case wire.RMCPClassIPMI:
	default:
		return nil
	}
	body := pkt[4:]
	if wire.AuthType(body[0]) == wire.AuthTypeRMCPPlus {
		return b.handleV2(body)
	}
	return b.handle15(body)
}

// --- IPMI v1.5 format (pre-session commands and v1.5 sessions) ---

func (b *fakeBMC) handle15(body []byte) [][]byte {
	h, payload, err := wire.DecodeSession15Header(body)
	if err != nil {
		return nil
	}
	m, err := wire.DecodeMessage(payload)
	if err != nil {
		return nil
	}
	if h.SessionID == 0 {
		return b.handleSessionless(m)
	}
	ss := b.sessions[h.SessionID]
	if ss == nil || !ss.v15 {
		return b.lostSession(m, false)
	}
	if h.AuthType != ss.authType {
		return nil
	}
	if h.AuthType != wire.AuthTypeNone {
		want, _ := crypto.AuthCode15(h.AuthType, ss.password, h.SessionID, h.Sequence, payload)
		if want != h.AuthCode {
			b.count["bad_auth15"]++
			return nil
		}
	}
	if !ss.active {
		// temporary session: only Activate Session
		if m.Cmd != command.CmdActivateSession || h.Sequence != 0 {
			return nil
		}
		var req command.ActivateSessionRequest
		if req.Unmarshal(m.Data) != nil {
			return nil
		}
		b.count["activate"]++
		delete(b.sessions, h.SessionID)
		user := b.userByTemp(h.SessionID)
		if req.MaxPrivilege > user.priv {
			return [][]byte{b.seal15(ss, h.SessionID, req.InitialOutboundSeq, reply(m, 0x86))}
		}
		b.nextID += 2
		act := &fakeSession{v15: true, bmcID: b.nextID, active: true, outSeq: req.InitialOutboundSeq,
			priv: wire.PrivilegeUser, authType: req.AuthType, password: ss.password}
		b.sessions[act.bmcID] = act
		resp := command.ActivateSessionResponse{AuthType: req.AuthType, SessionID: act.bmcID,
			InitialInboundSeq: 0x500, MaxPrivilege: req.MaxPrivilege}
		return [][]byte{b.seal15(ss, h.SessionID, req.InitialOutboundSeq, reply(m, 0, resp.AppendTo(nil)...))}
	}
	return b.inSession(ss, m, func(msg []byte) []byte {
		out := b.seal15(ss, ss.bmcID, ss.outSeq, msg)
		ss.outSeq++
		return out
	})
}

func (b *fakeBMC) userByTemp(id uint32) fakeUser {
	return b.users[b.tempUsers[id]]
}

func (b *fakeBMC) seal15(ss *fakeSession, id, seq uint32, msg []byte) []byte {
	out := wire.IPMIRMCPHeader.AppendTo(nil)
	h := wire.Session15Header{AuthType: ss.authType, Sequence: seq, SessionID: id, PayloadLength: uint8(len(msg))}
	if ss.authType != wire.AuthTypeNone {
		h.AuthCode, _ = crypto.AuthCode15(ss.authType, ss.password, id, seq, msg)
	}
	out = h.AppendTo(out)
	return append(out, msg...)
}

func fakeSessionless15(msg []byte) []byte {
	out := wire.IPMIRMCPHeader.AppendTo(nil)
	h := wire.Session15Header{PayloadLength: uint8(len(msg))}
	return append(h.AppendTo(out), msg...)
}

// reply builds the response message to request m.
func reply(m wire.Message, code wire.CompletionCode, data ...byte) []byte {
	r := wire.Message{DestAddr: m.SrcAddr, NetFn: m.NetFn.Response(), DestLUN: m.SrcLUN, SrcAddr: m.DestAddr,
		Seq: m.Seq, SrcLUN: m.DestLUN, Cmd: m.Cmd, Data: append([]byte{uint8(code)}, data...)}
	return r.AppendTo(nil)
}

func (b *fakeBMC) handleSessionless(m wire.Message) [][]byte {
	switch m.Cmd {
	case command.CmdGetChannelAuthCapabilities:
		b.count["auth_caps"]++
		var req command.GetChannelAuthCapabilitiesRequest
		if req.Unmarshal(m.Data) != nil {
			return [][]byte{fakeSessionless15(reply(m, wire.CCRequestDataLengthInvalid))}
		}
		if req.ExtendedData && b.faults.rejectExtendedCaps {
			return [][]byte{fakeSessionless15(reply(m, wire.CCInvalidDataField))}
		}
		resp := command.GetChannelAuthCapabilitiesResponse{Channel: 1, ExtendedCapabilities: req.ExtendedData,
			AuthTypes:        1<<wire.AuthTypeNone | 1<<wire.AuthTypeMD5 | 1<<wire.AuthTypeStraight,
			NonNullUserNames: true, SupportsIPMIv15: true, SupportsIPMIv20: req.ExtendedData}
		return [][]byte{fakeSessionless15(reply(m, 0, resp.AppendTo(nil)...))}
	case command.CmdGetChannelCipherSuites:
		b.count["cipher_suites"]++
		if b.faults.noCipherSuitesCmd {
			return [][]byte{fakeSessionless15(reply(m, wire.CCInvalidCommand))}
		}
		var req command.GetChannelCipherSuitesRequest
		if req.Unmarshal(m.Data) != nil {
			return nil
		}
		var all []byte
		for _, id := range b.suites {
			s, _ := crypto.LookupCipherSuite(id)
			all = command.AppendCipherSuiteRecord(all, &command.CipherSuiteRecord{ID: id, AuthAlg: uint8(s.Auth),
				IntegrityAlgs: []uint8{uint8(s.Integrity)}, ConfidentialityAlgs: []uint8{uint8(s.Confidentiality)}})
		}
		start := int(req.ListIndex) * 16
		if start > len(all) {
			start = len(all)
		}
		end := min(start+16, len(all))
		resp := command.GetChannelCipherSuitesResponse{Channel: 1, RecordData: all[start:end]}
		return [][]byte{fakeSessionless15(reply(m, 0, resp.AppendTo(nil)...))}
	case command.CmdGetSessionChallenge:
		b.count["challenge"]++
		var req command.GetSessionChallengeRequest
		if req.Unmarshal(m.Data) != nil {
			return nil
		}
		name := string(bytes.TrimRight(req.UserName[:], "\x00"))
		user, ok := b.users[name]
		if !ok {
			return [][]byte{fakeSessionless15(reply(m, 0x81))}
		}
		b.nextID += 2
		temp := b.nextID | 1
		b.tempUsers[temp] = name
		b.sessions[temp] = &fakeSession{v15: true, bmcID: temp, authType: req.AuthType, password: user.password}
		var resp command.GetSessionChallengeResponse
		resp.TemporarySessionID = temp
		_, _ = rand.Read(resp.Challenge[:])
		return [][]byte{fakeSessionless15(reply(m, 0, resp.AppendTo(nil)...))}
	}
	return [][]byte{fakeSessionless15(reply(m, wire.CCNotSupportedInPresentState))}
}

// lostSession answers a request for a session the BMC does not know.
func (b *fakeBMC) lostSession(m wire.Message, v2 bool) [][]byte {
	b.count["lost"]++
	if b.faults.statusOnLost && b.lostConsoleID != 0 {
		resp := wire.OpenSessionResponse{Status: wire.RAKPStatusInvalidSessionID, ConsoleSessionID: b.lostConsoleID}
		return [][]byte{b.sealV2(nil, wire.PayloadOpenSessionResp, resp.AppendTo(nil), false)}
	}
	if !b.faults.sessionlessOnLost {
		return nil
	}
	return [][]byte{fakeSessionless15(reply(m, wire.CCUnspecified))}
}

// --- RMCP+ ---

func (b *fakeBMC) sealV2(ss *fakeSession, pt wire.PayloadType, msg []byte, authenticate bool) []byte {
	out := wire.IPMIRMCPHeader.AppendTo(nil)
	h := wire.SessionV2Header{PayloadType: pt}
	if ss != nil && ss.active {
		h.SessionID = ss.consoleID
		ss.outSeq++
		h.Sequence = ss.outSeq
		h.Encrypted = ss.aes != nil
		h.Authenticated = ss.integrity != nil && authenticate
	}
	payload := msg
	if h.Encrypted {
		payload, _ = ss.aes.AppendEncrypt(nil, msg, rand.Reader)
	}
	h.PayloadLength = uint16(len(payload))
	out = h.AppendTo(out)
	out = append(out, payload...)
	if h.Authenticated {
		out = wire.AppendIntegrityPad(out, 4)
		out = ss.integrity.AppendAuthCode(out, out[4:])
	}
	return out
}

func (b *fakeBMC) handleV2(body []byte) [][]byte {
	h, payload, rest, err := wire.DecodeSessionV2Header(body)
	if err != nil {
		return nil
	}
	switch h.PayloadType {
	case wire.PayloadOpenSessionReq:
		return b.openSession(payload)
	case wire.PayloadRAKP1:
		return b.rakp1(payload)
	case wire.PayloadRAKP3:
		return b.rakp3(payload)
	case wire.PayloadIPMI:
	default:
		return nil
	}
	if h.SessionID == 0 {
		// ipmi_sim ignores pre-session commands in the RMCP+ format.
		b.count["v2_sessionless"]++
		return nil
	}
	ss := b.sessions[h.SessionID]
	if (ss == nil || ss.v15 || !ss.active) && b.faults.statusOnLost {
		return b.lostSession(wire.Message{}, true)
	}
	if ss == nil || ss.v15 || !ss.active {
		m, err := wire.DecodeMessage(payload)
		if err != nil {
			return nil
		}
		return b.lostSession(m, true)
	}
	if ss.integrity != nil {
		if !h.Authenticated {
			return nil
		}
		code, err := wire.CheckIntegrityTrailer(rest, ss.integrity.AuthCodeLen())
		if err != nil || !ss.integrity.Verify(body[:len(body)-len(code)], code) {
			b.count["bad_integrity"]++
			return nil
		}
	}
	b.clientSeqs = append(b.clientSeqs, h.Sequence)
	msg := payload
	if ss.aes != nil {
		if !h.Encrypted {
			return nil
		}
		if msg, err = ss.aes.Decrypt(append([]byte(nil), payload...)); err != nil {
			return nil
		}
	}
	m, err := wire.DecodeMessage(msg)
	if err != nil {
		return nil
	}
	return b.inSession(ss, m, func(msg []byte) []byte { return b.sealV2(ss, wire.PayloadIPMI, msg, true) })
}

func (b *fakeBMC) openSession(p []byte) [][]byte {
	var req wire.OpenSessionRequest
	if req.Unmarshal(p) != nil {
		return nil
	}
	b.count["open_session"]++
	resp := wire.OpenSessionResponse{Tag: req.Tag, ConsoleSessionID: req.ConsoleSessionID, MaxPrivilege: req.MaxPrivilege}
	var suite crypto.CipherSuite
	found := false
	for _, id := range b.suites {
		s, _ := crypto.LookupCipherSuite(id)
		if uint8(s.Auth) == req.AuthAlgorithm && uint8(s.Integrity) == req.IntegrityAlgorithm && uint8(s.Confidentiality) == req.ConfidentialityAlgorithm {
			suite, found = s, true
		}
	}
	switch {
	case b.faults.openStatus != 0:
		resp.Status = b.faults.openStatus
	case !found:
		resp.Status = wire.RAKPStatusNoCipherSuiteMatch
	}
	if resp.Status != 0 {
		return [][]byte{b.sealV2(nil, wire.PayloadOpenSessionResp, resp.AppendTo(nil), false)}
	}
	b.nextID += 2
	ss := &fakeSession{consoleID: req.ConsoleSessionID, bmcID: b.nextID, suite: suite}
	b.sessions[ss.bmcID] = ss
	resp.BMCSessionID = ss.bmcID
	resp.AuthAlgorithm, resp.IntegrityAlgorithm, resp.ConfidentialityAlgorithm = req.AuthAlgorithm, req.IntegrityAlgorithm, req.ConfidentialityAlgorithm
	if b.faults.otherAlgorithms[suite.ID] {
		resp.AuthAlgorithm, resp.IntegrityAlgorithm, resp.ConfidentialityAlgorithm = 1, 0, 0
	}
	return [][]byte{b.sealV2(nil, wire.PayloadOpenSessionResp, resp.AppendTo(nil), false)}
}

func (b *fakeBMC) rakp1(p []byte) [][]byte {
	var r1 wire.RAKP1
	if r1.Unmarshal(p) != nil {
		return nil
	}
	b.count["rakp1"]++
	ss := b.sessions[r1.BMCSessionID]
	if ss == nil {
		return nil
	}
	r2 := wire.RAKP2{Tag: r1.Tag, ConsoleSessionID: ss.consoleID, BMCGUID: b.guid}
	if b.faults.rakp2Tag0 {
		r2.Tag = 0
	}
	user, ok := b.users[r1.Username]
	nameOnly := r1.Role&wire.RoleNameOnlyLookup != 0
	b.count[fmt.Sprintf("rakp1 name-only %v", nameOnly)]++
	switch {
	case b.faults.rakp2Status != 0:
		r2.Status = b.faults.rakp2Status
	case !ok,
		nameOnly && b.faults.nameOnlyUnsupported,
		!nameOnly && b.faults.roleLookupStrict && user.priv != wire.PrivilegeLevel(r1.Role&0x0F):
		r2.Status = wire.RAKPStatusUnauthorizedName
	case wire.PrivilegeLevel(r1.Role&0x0F) > user.priv:
		r2.Status = wire.RAKPStatusUnauthorizedRole
	}
	if r2.Status != 0 {
		delete(b.sessions, ss.bmcID)
		return [][]byte{b.sealV2(nil, wire.PayloadRAKP2, r2.AppendTo(nil), false)}
	}
	_, _ = rand.Read(r2.BMCRandom[:])
	ss.hs = crypto.Handshake{Suite: ss.suite, Username: r1.Username, Password: user.password, KG: b.kg, Role: r1.Role,
		ConsoleSessionID: ss.consoleID, BMCSessionID: ss.bmcID, ConsoleRandom: r1.ConsoleRandom,
		BMCRandom: r2.BMCRandom, BMCGUID: b.guid}
	ss.priv = wire.PrivilegeLevel(r1.Role & 0x0F)
	r2.AuthCode = ss.hs.RAKP2AuthCode()
	return [][]byte{b.sealV2(nil, wire.PayloadRAKP2, r2.AppendTo(nil), false)}
}

func (b *fakeBMC) rakp3(p []byte) [][]byte {
	var r3 wire.RAKP3
	if r3.Unmarshal(p) != nil {
		return nil
	}
	b.count["rakp3"]++
	ss := b.sessions[r3.BMCSessionID]
	if ss == nil {
		return nil
	}
	if r3.Status != wire.RAKPStatusOK {
		// the console gives up: free the session, answer nothing
		b.count["rakp3_abort"]++
		delete(b.sessions, ss.bmcID)
		return nil
	}
	r4 := wire.RAKP4{Tag: r3.Tag, ConsoleSessionID: ss.consoleID}
	switch {
	case b.faults.rakp4Status != 0:
		r4.Status = b.faults.rakp4Status
	case !crypto.Equal(r3.AuthCode, ss.hs.RAKP3AuthCode()):
		r4.Status = wire.RAKPStatusInvalidIntegrityCheck
	}
	if r4.Status != 0 {
		delete(b.sessions, ss.bmcID)
		return [][]byte{b.sealV2(nil, wire.PayloadRAKP4, r4.AppendTo(nil), false)}
	}
	keys := ss.hs.DeriveKeys()
	r4.IntegrityCheck = ss.hs.RAKP4IntegrityCheck(keys.SIK)
	if b.faults.rakp4Full {
		// like a BMC sending more than the truncated value
		r4.IntegrityCheck = append(r4.IntegrityCheck, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE)
	}
	var err error
	if ss.integrity, err = crypto.NewIntegrity(ss.suite.Integrity, keys.K1, ss.hs.Password); err != nil {
		b.t.Errorf("fake BMC integrity: %v", err)
	}
	if ss.suite.Confidentiality == crypto.ConfidentialityAESCBC128 {
		ss.aes, _ = crypto.NewAESCBC128(keys.K2)
	}
	ss.active = true
	b.count["sessions_opened"]++
	return [][]byte{b.sealV2(nil, wire.PayloadRAKP4, r4.AppendTo(nil), false)}
}

// inSession handles an IPMI request on an active session; seal encodes
// one reply for the session (consuming a sequence number).
func (b *fakeBMC) inSession(ss *fakeSession, m wire.Message, seal func([]byte) []byte) [][]byte {
	if b.faults.expireSessions ||
		(b.faults.idleTimeout > 0 && !ss.lastSeen.IsZero() && time.Since(ss.lastSeen) > b.faults.idleTimeout) {
		delete(b.sessions, ss.bmcID)
		return b.lostSession(m, !ss.v15)
	}
	ss.lastSeen = time.Now()
	b.clientRqSeqs = append(b.clientRqSeqs, m.Seq)
	b.count["requests"]++
	var out []byte
	var extra [][]byte
	switch {
	case m.NetFn == wire.NetFnApp && m.Cmd == command.CmdSetSessionPrivilegeLevel:
		b.count["set_priv"]++
		if b.faults.privRefuse != 0 {
			out = reply(m, b.faults.privRefuse)
			break
		}
		p := wire.PrivilegeLevel(m.Data[0] & 0x0F)
		if p > ss.priv && !ss.v15 {
			out = reply(m, 0x81)
			break
		}
		out = reply(m, 0, uint8(p))
	case m.NetFn == wire.NetFnApp && m.Cmd == command.CmdCloseSession:
		b.count["close"]++
		id := binary.LittleEndian.Uint32(m.Data)
		if id != ss.bmcID {
			out = reply(m, 0x87)
			break
		}
		out = seal(reply(m, 0))
		ss.active = false
		delete(b.sessions, ss.bmcID)
		return [][]byte{out}
	case m.NetFn == wire.NetFnSensorEvent && m.Cmd == 0x2D:
		b.count["get_sensor_reading"]++
		out = reply(m, 0, b.sensor, 0xC0, 0x00, 0x00)
	case m.NetFn == wire.NetFnApp && m.Cmd == command.CmdSendMessage:
		b.count["send_message"]++
		inner, err := wire.DecodeMessage(m.Data[1:])
		if err != nil {
			out = reply(m, wire.CCInvalidDataField)
			break
		}
		if inner.DestAddr != 0x30 {
			out = reply(m, 0x83) // NAK on write
			break
		}
		// the target answers with a reading of 0x29
		target := wire.Message{DestAddr: 0x20, NetFn: inner.NetFn.Response(), DestLUN: inner.SrcLUN, SrcAddr: inner.DestAddr,
			Seq: inner.Seq, SrcLUN: inner.DestLUN, Cmd: inner.Cmd, Data: []byte{0, 0x29, 0xC0, 0, 0}}
		if b.faults.bridgeEmbedded {
			out = reply(m, 0, target.AppendTo(nil)...)
			break
		}
		out = reply(m, 0)
		if !b.faults.bridgeNoAnswer {
			extra = append(extra, target.AppendTo(nil))
		}
	default:
		out = reply(m, wire.CCInvalidCommand)
	}
	if b.faults.dropReplies > 0 {
		b.faults.dropReplies--
		b.count["dropped"]++
		return nil
	}
	var replies [][]byte
	if b.faults.replayPrevious > 0 && b.lastReply != nil {
		b.faults.replayPrevious--
		replies = append(replies, b.lastReply)
	}
	if b.faults.staleRqSeq > 0 {
		b.faults.staleRqSeq--
		stale := m
		stale.Seq = (m.Seq - 1) & 0x3F
		replies = append(replies, seal(reply(stale, 0, 0xBA, 0xD0)))
	}
	pkt := seal(out)
	if b.faults.tamperFirst > 0 {
		b.faults.tamperFirst--
		bad := append([]byte(nil), pkt...)
		bad[len(bad)-1] ^= 0x01
		replies = append(replies, bad)
	}
	if b.faults.wrongSessionFirst > 0 {
		b.faults.wrongSessionFirst--
		bad := append([]byte(nil), pkt...)
		if ss.v15 {
			bad[9] ^= 0x40
		} else {
			bad[6] ^= 0x40
		}
		replies = append(replies, bad)
	}
	if b.faults.unauthFirst > 0 && !ss.v15 {
		b.faults.unauthFirst--
		integ := ss.integrity
		ss.integrity = nil
		ss.outSeq += 100 // a forged packet would claim a high sequence number
		replies = append(replies, b.sealV2(ss, wire.PayloadIPMI, reply(m, 0, 0x66, 0, 0, 0), true))
		ss.outSeq -= 101
		ss.integrity = integ
		pkt = seal(out)
	}
	if b.faults.spoofPortFirst > 0 {
		b.faults.spoofPortFirst--
		fake := seal(reply(m, 0, 0x77, 0xC0, 0, 0))
		b.spoof(fake, b.peer)
	}
	replies = append(replies, pkt)
	for _, e := range extra {
		replies = append(replies, seal(e))
	}
	if b.faults.duplicateReplies > 0 {
		b.faults.duplicateReplies--
		replies = append(replies, pkt)
	}
	b.lastReply = pkt
	return replies
}
