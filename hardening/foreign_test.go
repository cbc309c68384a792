package hardening

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
)

// TestForeignBMCLearns checks what a host that is not one of our BMCs
// receives when a module without allowed_targets is pointed at it
// (docs/security.md): the foreign BMC below has the account name but not
// its password, and everything the exporter sends it is captured.
//
// Over RMCP+ it learns the user name (RAKP1 carries it in the clear) and
// nothing derived from the password: our RAKP2 check fails, so the RAKP3
// we send carries an error status and no auth code. (The name is enough
// to get a crackable RAKP2 from any real BMC that has the account, an
// IPMI v2.0 design flaw; hence allowed_targets.)
//
// Over IPMI 1.5 (driver LAN) a login proves the password to the peer: an
// MD5 auth code is crackable offline, which is inherent; but a peer that
// offers only "straight password" authentication must not be handed the
// password in the clear.
func TestForeignBMCLearns(t *testing.T) {
	const ours = "Our-real-pw-77"
	foreign := []simulator.User{{Name: simUser, Password: "foreign-pw", Privilege: wire.PrivilegeUser}}
	containsSecret := func(pkts [][]byte) string {
		for i, p := range pkts {
			for _, form := range [][]byte{[]byte(ours), []byte(hex.EncodeToString([]byte(ours)))} {
				if bytes.Contains(p, form) {
					return fmt.Sprintf("datagram %d (%d bytes) carries the password: %x", i, len(p), p)
				}
			}
		}
		return ""
	}

	t.Run("rmcpplus", func(t *testing.T) {
		fleet := startFleet(t, fleetOpts{users: foreign})
		r := startRelay(t, fleet.BMC(0).Addr())
		e := startExporter(t, "modules:\n  default:\n    user: "+simUser+"\n    pass: "+ours+"\n", envOpts{})
		requireAllDown(t, "scrape of a foreign BMC", e.scrape(t, r.addr().String(), "", 5*time.Second))
		// The RAKP3 abort goes out as the handshake fails, and the relay
		// records it asynchronously: wait for it (bounded).
		var sawName, sawRAKP3 bool
		for deadline := time.Now().Add(5 * time.Second); ; {
			pkts := r.sent()
			if leak := containsSecret(pkts); leak != "" {
				t.Fatal(leak)
			}
			sawName, sawRAKP3 = false, false
			for _, p := range pkts {
				pkt, err := wire.ParsePacket(p)
				if err != nil || pkt.V2 == nil {
					continue
				}
				switch pkt.V2.PayloadType {
				case wire.PayloadRAKP1:
					var m wire.RAKP1
					if m.Unmarshal(pkt.Payload) == nil && m.Username == simUser {
						sawName = true
					}
				case wire.PayloadRAKP3:
					sawRAKP3 = true
					var m wire.RAKP3
					if err := m.Unmarshal(pkt.Payload); err != nil {
						t.Fatalf("RAKP3: %v", err)
					}
					if m.Status == 0 || len(m.AuthCode) != 0 {
						t.Fatalf("RAKP3 to a BMC whose RAKP2 did not verify: status %v, %d-byte auth code (an HMAC of the password)", m.Status, len(m.AuthCode))
					}
				}
			}
			if (sawName && sawRAKP3) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !sawName || !sawRAKP3 {
			t.Fatalf("the exchange did not happen as expected: RAKP1 with the name %v, RAKP3 %v", sawName, sawRAKP3)
		}
		e.close()
		requireNoBMCSessions(t, fleet)
	})

	t.Run("lan15StraightPassword", func(t *testing.T) {
		fleet := startFleet(t, fleetOpts{users: foreign, authTypes15: []wire.AuthType{wire.AuthTypeStraight}})
		r := startRelay(t, fleet.BMC(0).Addr())
		e := startExporter(t, "modules:\n  default:\n    user: "+simUser+"\n    pass: "+ours+"\n    driver: LAN\n", envOpts{})
		requireAllDown(t, "scrape of a foreign BMC", e.scrape(t, r.addr().String(), "", 5*time.Second))
		// auth_type auto never picks straight password: the exporter asks
		// what the BMC offers and stops before any login.
		if c := fleet.BMC(0).Counters(); c.Command("get_channel_authentication_capabilities") == 0 ||
			c.Command("get_session_challenge") != 0 || c.Command("activate_session") != 0 {
			t.Fatalf("want capabilities asked and no login attempted: %v", c.Commands)
		}
		if leak := containsSecret(r.sent()); leak != "" {
			t.Errorf("an IPMI 1.5 peer that offers only straight-password authentication got our password in the clear "+
				"(the session layer picks it automatically): %s", leak)
		}
		e.close()
		requireNoBMCSessions(t, fleet)
	})
}
