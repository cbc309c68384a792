package interop

import (
	"strings"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// sessionQuirk is one session or RMCP+ behaviour of the catalogue.
type sessionQuirk struct {
	name   string
	sim    simOpts
	module []string
	// wantUp: the login succeeds and every default collector reads.
	// Otherwise the scrape reports ipmi_up 0 and the log names refusal.
	wantUp  bool
	refusal string
}

// runSessionQuirk scrapes the quirky BMC twice with an otherwise default
// module and checks the outcome, that no series repeats (scrape does), and
// that no session is left behind.
func runSessionQuirk(t *testing.T, q sessionQuirk) {
	b := startSim(t, q.sim)
	e := startExporter(t, defaultModule(simUser, simPassword, q.module...))
	for i := 0; i < 2; i++ {
		r := e.scrape(t, b.Addr().String())
		for _, c := range []string{"ipmi", "chassis", "bmc", "sel"} {
			want := 0.0
			if q.wantUp {
				want = 1
			}
			if r.up[c] != want {
				t.Errorf("scrape %d: ipmi_up{collector=%q} = %v, want %v", i, c, r.up[c], want)
			}
		}
		if q.wantUp && len(r.readings()) < 20 {
			t.Errorf("scrape %d: only %d readings", i, len(r.readings()))
		}
	}
	if q.refusal != "" && !strings.Contains(e.logs.String(), q.refusal) {
		t.Errorf("log lacks %q", q.refusal)
	}
	e.close()
	requireNoSessions(t, b)
}

// Session and RMCP+ quirks the exporter copes with today, with an
// otherwise default module.
func TestSessionQuirks(t *testing.T) {
	v15 := []wire.AuthType{wire.AuthTypeMD5}
	for _, q := range []sessionQuirk{
		{name: "none", wantUp: true},
		{name: "opensesspriv", sim: simOpts{faults: "opensesspriv"}, wantUp: true},
		{name: "rakp2_zero_tag", sim: simOpts{faults: "rakp2_zero_tag"}, wantUp: true},
		{name: "suite17_only", sim: simOpts{cipherSuites: []uint8{17}}, wantUp: true},
		{name: "suite3_disabled", sim: simOpts{cipherSuites: []uint8{1, 2, 15, 16, 17}}, wantUp: true},
		{name: "authcap", sim: simOpts{faults: "authcap"}, wantUp: true}, // RMCP+; IPMI 1.5 below
		{name: "authcap_short", sim: simOpts{faults: "authcap_short"}, wantUp: true},
		{name: "integritycheckvalue_suite3", sim: simOpts{faults: "integritycheckvalue"}, wantUp: true},
		{name: "integritycheckvalue_suite0", sim: simOpts{cipherSuites: []uint8{0}, faults: "integritycheckvalue"},
			module: []string{"cipher_suite: 0"}, wantUp: true},
		{name: "aes_pad_full_block", sim: simOpts{faults: "aes_pad_full_block"}, wantUp: true},
		{name: "insufficient_resources", sim: simOpts{faults: "sessions_full"}, refusal: "no free session slot"},
		{name: "ipmi15_md5", sim: simOpts{authTypes15: v15}, module: []string{"driver: LAN"}, wantUp: true},
		{name: "ipmi15_authcap_short", sim: simOpts{authTypes15: v15, faults: "authcap_short"}, module: []string{"driver: LAN"}, wantUp: true},
	} {
		t.Run(q.name, func(t *testing.T) { runSessionQuirk(t, q) })
	}
}

// Session quirks the exporter copes with by adapting, without
// configuration (ipmi/session: checksums covered by an integrity check
// value or auth code, or outside any session; the Activate Session reply
// under the new ID; signed replies with per-message authentication off;
// byte-swapped sequence numbers; capabilities listing no auth type).
func TestSessionQuirksAdapted(t *testing.T) {
	v15 := []wire.AuthType{wire.AuthTypeMD5}
	lan := []string{"driver: LAN"}
	for _, q := range []sessionQuirk{
		{name: "nochecksumcheck", sim: simOpts{faults: "nochecksumcheck"}, wantUp: true},
		{name: "activate_new_id", sim: simOpts{authTypes15: v15, faults: "activate_new_id"}, module: lan, wantUp: true},
		{name: "unexpectedauth", sim: simOpts{authTypes15: v15, faults: "unexpectedauth"}, module: lan, wantUp: true},
		{name: "endianseq", sim: simOpts{authTypes15: v15, faults: "endianseq"}, module: lan, wantUp: true},
		{name: "ipmi15_authcap", sim: simOpts{authTypes15: v15, faults: "authcap"}, module: lan, wantUp: true},
		{name: "ipmi15_nochecksumcheck", sim: simOpts{authTypes15: v15, faults: "nochecksumcheck"}, module: lan, wantUp: true},
		// Unsigned Set Session Privilege unanswered: signs and asks again.
		{name: "forcepermsg", sim: simOpts{authTypes15: v15, faults: "forcepermsg"}, module: lan, wantUp: true},
		// RAKP2 checked against the known variants of the key values.
		{name: "intel20", sim: simOpts{faults: "intel20"}, wantUp: true},
		{name: "intel20_hmac_md5", sim: simOpts{faults: "intel20"}, module: []string{"cipher_suite: 8"}, wantUp: true},
		{name: "opensesspriv_keys", sim: simOpts{faults: "opensesspriv_keys"}, wantUp: true},
		// Sun ILOM: keys hashed as above, and with HMAC-SHA1 a RAKP2 auth
		// code one byte too long.
		{name: "sun20", sim: simOpts{faults: "sun20"}, wantUp: true},
		{name: "sun20_hmac_sha1", sim: simOpts{faults: "sun20"}, module: []string{"cipher_suite: 3"}, wantUp: true},
		// A RAKP2 declaring one byte more than it has.
		{name: "supermicro20", sim: simOpts{faults: "supermicro20"}, wantUp: true},
		// IPMI 1.5 replies under session ID 0, signed.
		{name: "idzero", sim: simOpts{authTypes15: v15, faults: "idzero"}, module: lan, wantUp: true},
	} {
		t.Run(q.name, func(t *testing.T) { runSessionQuirk(t, q) })
	}
}

// Session quirks the exporter does not read through: it degrades with a
// named reason, leaves no session behind and does not hang.
// noauthcodecheck (wrong auth codes in replies, Intel/Quanta Windmill) is
// an IPMI 1.5 quirk whose workaround removes a check: not guessed.
func TestSessionQuirksDegraded(t *testing.T) {
	v15 := []wire.AuthType{wire.AuthTypeMD5}
	lan := []string{"driver: LAN"}
	for _, q := range []sessionQuirk{
		{name: "noauthcodecheck", sim: simOpts{authTypes15: v15, faults: "noauthcodecheck"}, module: lan,
			refusal: "the BMC accepted the handshake but not the session's first message"},
	} {
		t.Run(q.name, func(t *testing.T) { runSessionQuirk(t, q) })
	}
}
