package interop

import (
	"testing"

	simmodel "github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// TestAltBridging: a BMC that refuses to be reached by bridging to
// itself (Lenovo SR650 v3 and ThinkSystem, FreeIPMI's altbridging) and
// owns sensors on LUN 1: with a default module the exporter reads them
// with the LUN in the message header, as FreeIPMI does only with the flag
// and ipmitool always does; no Send Message goes to the BMC itself.
func TestAltBridging(t *testing.T) {
	p, err := simmodel.LoadProfile(quirkProfile)
	if err != nil {
		t.Fatal(err)
	}
	var lun1 []string
	for _, s := range p.Sensors {
		if s.Unit == "" || s.Owner != (simmodel.OwnerSpec{}) || len(lun1) == 2 {
			continue
		}
		s.Name = "LUN1 " + s.Name
		s.Number = 0xE0 + uint8(len(lun1))
		s.Owner.LUN = 1
		p.Sensors = append(p.Sensors, s)
		lun1 = append(lun1, s.Name)
	}
	if len(lun1) != 2 {
		t.Fatalf("profile %s has no analog BMC sensors to copy", quirkProfile)
	}
	b := startSim(t, simOpts{faults: "altbridging", profile: p})
	e := startExporter(t, defaultModule(simUser, simPassword))
	want := analogSensors(b)
	for i := range 2 {
		r := e.scrape(t, b.Addr().String())
		for _, c := range []string{"ipmi", "chassis", "bmc", "sel"} {
			if r.up[c] != 1 {
				t.Errorf("scrape %d: ipmi_up{collector=%q} = %v", i, c, r.up[c])
			}
		}
		got := r.readings()
		if m := missing(want, got); len(m) > 0 {
			t.Errorf("scrape %d: sensors missing: %v", i, m)
		}
		for _, name := range lun1 {
			if _, ok := got[name]; !ok {
				t.Errorf("scrape %d: the BMC's LUN 1 sensor %q has no reading", i, name)
			}
		}
	}
	// The satellite controller of the profile is bridged to; the BMC
	// itself never is (the quirk would refuse it).
	if n := b.Counters().Command("send_message"); n != 0 && len(p.Controllers) == 0 {
		t.Errorf("%d Send Message to a BMC without satellites", n)
	}
	e.close()
	requireNoSessions(t, b)
}
