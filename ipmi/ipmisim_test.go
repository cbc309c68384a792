package ipmi_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// ourSensor is what our client reads for one sensor.
type ourSensor struct {
	info    sdr.SensorInfo
	reading command.GetSensorReadingResponse
	readErr error
}

func (o *ourSensor) sensor() *sdr.Sensor { return &sdr.Sensor{SensorInfo: &o.info, Reading: o.reading} }

// readAll walks ipmi_sim's SDR repository with our client and reads every
// sensor, bridging to the second controller where the SDR says so.
func readAll(ctx context.Context, t *testing.T, c *ipmi.Client) []ourSensor {
	t.Helper()
	repo, err := sdr.ReadRepository(ctx, c, sdr.ReadOptions{})
	if err != nil {
		t.Fatalf("reading the SDR repository: %v", err)
	}
	var out []ourSensor
	for _, info := range repo.Sensors() {
		o := ourSensor{info: info}
		req := command.GetSensorReadingRequest{Number: info.Number}
		o.readErr = c.DoTarget(ctx, info.Target(), &req, &o.reading)
		out = append(out, o)
	}
	return out
}

var ipmitoolStatus = map[sdr.Severity]string{
	sdr.Nominal: "ok", sdr.Warning: "nc", sdr.Critical: "cr", sdr.NonRecoverable: "nr",
}

// Our client and ipmitool read the same ipmi_sim and agree on every
// sensor: names, values (to the three decimals ipmitool prints), units,
// thresholds, threshold status and discrete states.
func TestClientAgreesWithIpmitool(t *testing.T) {
	testbed.RequireTool(t, "ipmi_sim")
	testbed.RequireTool(t, "ipmitool")
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s, err := session.OpenRMCPPlus(ctx, session.Config{
		Host: sim.Addr, Username: sim.User, Password: []byte(sim.Password),
		Privilege: wire.PrivilegeAdmin, CipherSuite: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ours := readAll(ctx, t, ipmi.NewClient(s))

	sensorOut, err := sim.Ipmitool(ctx, "sensor")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := testbed.ParseIpmitoolSensor(sensorOut)
	if err != nil {
		t.Fatal(err)
	}
	elist, err := sim.SDRElist(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}

	byName := map[string][]*ourSensor{}
	for i := range ours {
		byName[ours[i].info.Name] = append(byName[ours[i].info.Name], &ours[i])
	}
	compared, discrete := 0, 0
	for _, row := range rows {
		cands := byName[row.Name]
		if len(cands) == 0 {
			// ipmitool lists a shared compact record once, under its
			// base name, reading the first sensor; we name each shared
			// sensor as FreeIPMI does ("DIMM 1" ... "DIMM 4").
			cands = byName[row.Name+" 1"]
		}
		if len(cands) == 0 {
			t.Errorf("ipmitool lists %q, our client does not", row.Name)
			continue
		}
		if len(cands) > 1 {
			continue // the same name on two controllers: matched by elist below
		}
		o := cands[0]
		sn := o.sensor()
		if row.Discrete {
			if o.readErr != nil {
				t.Errorf("%s: ipmitool reads states %#x, our client: %v", row.Name, row.States, o.readErr)
				continue
			}
			states, ok := sn.States()
			if !ok || states != row.States {
				t.Errorf("%s: states %#04x (ok %v), ipmitool %#04x", row.Name, states, ok, row.States)
			}
			discrete++
			continue
		}
		if o.info.Unit != row.Unit && row.HasValue {
			t.Errorf("%s: unit %q, ipmitool %q", row.Name, o.info.Unit, row.Unit)
		}
		// ipmitool reads thresholds with Get Sensor Thresholds, which
		// fails like the reading for a sensor that is not there; we report
		// the thresholds the SDR declares. Compare them where both read.
		for th := sdr.LowerNonCritical; th <= sdr.UpperNonRecoverable && o.readErr == nil; th++ {
			v, ok := o.info.Thresholds.Value(th, &o.info.Conversion)
			if ok != row.ThreshValid[th] || (ok && math.Abs(v-row.Thresholds[th]) > 0.0006) {
				t.Errorf("%s: threshold %s = %v (%v), ipmitool %v (%v)", row.Name, th, v, ok, row.Thresholds[th], row.ThreshValid[th])
			}
		}
		v, ok := sn.Value()
		if o.readErr != nil {
			ok = false
		}
		if ok != row.HasValue {
			t.Errorf("%s: has value %v (err %v), ipmitool %v", row.Name, ok, o.readErr, row.HasValue)
			continue
		}
		if !ok {
			continue
		}
		if math.Abs(v-row.Value) > 0.0006 {
			t.Errorf("%s: value %v, ipmitool %v", row.Name, v, row.Value)
		}
		if want := ipmitoolStatus[sn.Severity()]; want != row.Status {
			t.Errorf("%s: status %s, ipmitool %s", row.Name, want, row.Status)
		}
		compared++
	}
	if compared < 30 || discrete < 4 {
		t.Fatalf("compared only %d analog and %d discrete sensors", compared, discrete)
	}

	// sdr elist full names every full record with its number and entity,
	// including the ones behind the second controller.
	for _, e := range elist {
		found := false
		for _, o := range byName[e.Name] {
			if o.info.Number == e.Number && uint8(o.info.Entity.ID) == e.EntityID && o.info.Entity.Instance == e.EntityInstance {
				found = true
				if e.HasValue {
					v, ok := o.sensor().Value()
					if !ok || o.readErr != nil || math.Abs(v-e.Value) > 0.006 || !strings.EqualFold(o.info.Unit, e.Unit) {
						t.Errorf("elist %s #%d: %v %s, ours %v %s (ok %v err %v)", e.Name, e.Number, e.Value, e.Unit, v, o.info.Unit, ok, o.readErr)
					}
				}
			}
		}
		if !found {
			t.Errorf("sdr elist full has %s #%d (entity %d.%d), our client does not", e.Name, e.Number, e.EntityID, e.EntityInstance)
		}
	}
	if len(elist) < 40 {
		t.Fatalf("sdr elist full listed only %d records", len(elist))
	}
}

// Both transports implement the one Transport interface, declared here
// where it is used.
var _ ipmi.Transport = (*session.Session)(nil)
