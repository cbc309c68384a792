package simulator_test

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// Our client, with every cipher suite it supports and every IPMI 1.5
// auth type, opens a session to the simulator and reads every sensor of
// every shipped profile; each reading decodes to what the BMC holds.
func TestOurClientEverySuiteEveryProfile(t *testing.T) {
	epoch := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return epoch }
	type login struct {
		name string
		cfg  session.Config
	}
	var logins []login
	for _, id := range crypto.SupportedCipherSuiteIDs() {
		logins = append(logins, login{fmt.Sprintf("suite%d", id), session.Config{CipherSuite: int(id)}})
	}
	logins = append(logins,
		login{"lan-md5", session.Config{Driver: session.DriverLAN, AuthType15: session.AuthType15MD5}},
		login{"lan-password", session.Config{Driver: session.DriverLAN, AuthType15: session.AuthType15Straight}},
		login{"lan-none", session.Config{Driver: session.DriverLAN, AuthType15: session.AuthType15None}},
	)
	for _, profile := range model.ProfileNames() {
		p, err := model.LoadProfile(profile)
		if err != nil {
			t.Fatal(err)
		}
		fleet, err := simulator.NewFleet(simulator.FleetConfig{
			Addr:       netip.MustParseAddrPort("127.0.0.1:0"),
			Count:      1,
			BMC:        simulator.BMCConfig{Users: []simulator.User{{Name: "monitor", Password: "secret-pw", Privilege: wire.PrivilegeUser}}},
			NewHandler: simulator.ModelHandlers(p, 7, clock, model.Quirks{}),
			Seed:       7,
			Clock:      clock,
		})
		if err != nil {
			t.Fatal(err)
		}
		bmc := fleet.BMC(0)
		want := map[string]model.SensorSnapshot{}
		for _, s := range bmc.Model().Sensors() {
			want[fmt.Sprintf("%v/%d/%s", s.Owner, s.Number, s.Name)] = s
		}
		for _, l := range logins {
			t.Run(profile+"/"+l.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cfg := l.cfg
				cfg.Host, cfg.Username, cfg.Password = bmc.Addr().String(), "monitor", []byte("secret-pw")
				s, err := session.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close(ctx)
				c := ipmi.NewClient(s)
				repo, err := sdr.ReadRepository(ctx, c, sdr.ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				read := 0
				for _, info := range repo.Sensors() {
					snap, ok := want[fmt.Sprintf("%v/%d/%s", info.Target(), info.Number, info.Name)]
					if !ok {
						t.Errorf("SDR sensor %q #%d at %v is not in the profile", info.Name, info.Number, info.Target())
						continue
					}
					if snap.Absent || snap.Record == "event_only" {
						continue
					}
					var resp command.GetSensorReadingResponse
					if err := c.DoTarget(ctx, info.Target(), &command.GetSensorReadingRequest{Number: info.Number}, &resp); err != nil {
						t.Errorf("%s: %v", info.Name, err)
						continue
					}
					sn := sdr.Sensor{SensorInfo: &info, Reading: resp}
					if info.EventType.IsThreshold() && snap.Available && !info.NeedsFactors() {
						v, ok := sn.Value()
						if !ok || math.Abs(v-snap.Value) > 1e-9*math.Max(1, math.Abs(v)) {
							t.Errorf("%s = %v (%v), BMC holds %v", info.Name, v, ok, snap.Value)
						}
					}
					read++
				}
				if read < len(want)/2 {
					t.Fatalf("read %d of %d sensors", read, len(want))
				}
			})
		}
		if got := bmc.Counters(); got.SessionsActive != 0 || got.SessionsOpened != uint64(len(logins)) {
			t.Errorf("%s: %d sessions opened (want %d), %d still active", profile, got.SessionsOpened, len(logins), got.SessionsActive)
		}
		fleet.Close()
	}
}
