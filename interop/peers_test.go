package interop

import (
	"strings"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
)

// pyghmi's BMC server, written independently of our simulator: suite 3
// only, Get Device ID and chassis, 0xC1 to every other command. With an
// otherwise default module (privilege user, cipher_suite auto) the
// exporter logs in, reports power state and BMC info, and reports the
// sensor and SEL collectors down with the BMC's reason.
func TestPyghmiBMC(t *testing.T) {
	peer := testbed.StartPyghmiBMC(t, testbed.PeerOptions{})
	e := startExporter(t, defaultModule(peer.User, peer.Password))
	for i := 0; i < 2; i++ { // the second scrape reuses the pooled session
		r := e.scrape(t, peer.Addr)
		// dcmi stays up: a BMC without DCMI is not a failure (no power
		// series, asked again later).
		want := map[string]float64{"chassis": 1, "bmc": 1, "ipmi": 0, "sel": 0}
		for c, v := range want {
			if got, ok := r.up[c]; !ok || got != v {
				t.Errorf("scrape %d: ipmi_up{collector=%q} = %v (present %v), want %v", i, c, got, ok, v)
			}
		}
		if s := r.series("ipmi_chassis_power_state", nil); len(s) != 1 || value(s[0]) != 1 {
			t.Errorf("scrape %d: ipmi_chassis_power_state = %v, want one series with 1", i, s)
		}
		info := r.series("ipmi_bmc_info", nil)
		if len(info) != 1 || label(info[0], "firmware_revision") != "1.00" {
			t.Errorf("scrape %d: ipmi_bmc_info = %v, want firmware_revision 1.00", i, info)
		}
	}
	// The reason for each collector that is down is the BMC's answer,
	// named: 0xC1 (invalid command) to the SDR and SEL commands.
	logs := e.logs.String()
	for _, c := range []string{"ipmi", "sel"} {
		if !logLineHas(logs, `msg="collector failed"`, "collector="+c, "0xc1") {
			t.Errorf("no log line says why collector %s is down (0xC1, invalid command)", c)
		}
	}
	if exited, err := peer.Exited(); exited {
		t.Fatalf("pyghmi BMC exited during the test (%v): %s", err, peer.Output())
	}
}

// bougou/go-ipmi's goipmi-server: a second, independent suite-17 peer
// (suites 3 and 17, IPMI 1.5 MD5, an SDR repository with one MC locator,
// no SEL).
func TestGoIPMIServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		suites string // GOIPMI_SERVER_CIPHER_SUITES
		module []string
	}{
		{name: "default", module: nil},       // auto picks 17
		{name: "suite17_only", suites: "17"}, // the only suite
		{name: "suite3", suites: "3", module: []string{"cipher_suite: 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := testbed.StartGoIPMIServer(t, testbed.PeerOptions{CipherSuites: tc.suites})
			e := startExporter(t, defaultModule(peer.User, peer.Password, tc.module...))
			for i := 0; i < 2; i++ {
				r := e.scrape(t, peer.Addr)
				want := map[string]float64{"chassis": 1, "bmc": 1, "ipmi": 1, "sel": 0}
				for c, v := range want {
					if got, ok := r.up[c]; !ok || got != v {
						t.Errorf("scrape %d: ipmi_up{collector=%q} = %v (present %v), want %v", i, c, got, ok, v)
					}
				}
				if s := r.series("ipmi_chassis_power_state", nil); len(s) != 1 {
					t.Errorf("scrape %d: ipmi_chassis_power_state: %d series, want 1", i, len(s))
				}
				if info := r.series("ipmi_bmc_info", nil); len(info) != 1 || label(info[0], "manufacturer_id") == "" {
					t.Errorf("scrape %d: ipmi_bmc_info = %v, want one with a manufacturer_id", i, info)
				}
			}
			if t.Failed() {
				t.Logf("goipmi-server output:\n%s", peer.Output())
			}
			if !logLineHas(e.logs.String(), `msg="collector failed"`, "collector=sel") {
				t.Errorf("no log line says why the SEL collector is down")
			}
			if exited, err := peer.Exited(); exited {
				t.Fatalf("goipmi-server exited during the test (%v): %s", err, peer.Output())
			}
		})
	}
}

// goipmi-server over IPMI 1.5 with MD5 (its default 1.5 auth type), the
// module otherwise default. goipmi-server v0.9.1 sends the Activate Session
// response under the new session ID (and signs it with that ID), where
// ipmi_sim and our simulator use the temporary one; ipmitool does not check
// and logs in. See docs/bmc-quirks.md.
func TestGoIPMIServerIPMI15(t *testing.T) {
	peer := testbed.StartGoIPMIServer(t, testbed.PeerOptions{})
	e := startExporter(t, defaultModule(peer.User, peer.Password, "driver: LAN"))
	r := e.scrape(t, peer.Addr)
	for c, v := range map[string]float64{"chassis": 1, "bmc": 1, "ipmi": 1, "sel": 0} {
		if got, ok := r.up[c]; !ok || got != v {
			t.Errorf("ipmi_up{collector=%q} = %v (present %v), want %v", c, got, ok, v)
		}
	}
	if t.Failed() {
		t.Logf("goipmi-server output:\n%s", peer.Output())
	}
}

// logLineHas reports whether one line of the log holds every part
// (case-insensitive).
func logLineHas(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		l := strings.ToLower(line)
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, strings.ToLower(p))
		}
		if ok {
			return true
		}
	}
	return false
}
